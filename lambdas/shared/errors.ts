// Errors that end a workflow. Step Functions sees `name` as the error type and `message` as the
// cause, so every message names the resource and the fix. Transient errors are retried by the ASL.

export type OnboardingErrorName =
  | 'InvalidInput' // the event or manual input cannot be served
  | 'ClusterNotFound'
  | 'ClusterGone' // the cluster a run began with was deleted or re-created under its name meanwhile
  | 'ClusterRefused' // a cluster this design cannot serve (Auto Mode, IPv6, CONFIG_MAP, no VPC CNI)
  | 'NetworkConflict' // CIDR overlap, association limit, route conflicts
  | 'WaitTimedOut' // a bounded wait ran out
  | 'ControllerError' // the Aviatrix controller refused or failed
  | 'GatewayConflict' // gateway state we must not change (single-IP SNAT, missing gateway)
  | 'GatewayNotFound' // no Aviatrix gateway serves the VPC, or a named gateway does not exist
  | 'ConfigError';

export class OnboardingError extends Error {
  constructor(
    readonly name: OnboardingErrorName,
    message: string,
  ) {
    super(message);
  }
}

/** Retryable by the ASL's Retry on "TransientError" (throttling, conflicts that clear, 5xx). */
export class TransientError extends Error {
  readonly name = 'TransientError';
}

/** Per error from a service call: the call that failed ("EC2 DescribeSubnets"). */
const failedCalls = new WeakMap<Error, string>();

/**
 * Marks `error` as the failure of `call`, so the step's message names the call as well as the
 * service's own words (an SDK timeout or an AccessDenied says neither which call nor which service).
 * The innermost call wins: a nested call marks first.
 */
export function withFailedCall(error: unknown, call: string): unknown {
  if (error instanceof Error && !failedCalls.has(error)) failedCalls.set(error, call);
  return error;
}

/** The call `error` came from, when withFailedCall marked it. */
export const failedCallOf = (error: unknown): string | undefined => (error instanceof Error ? failedCalls.get(error) : undefined);

type AppliedChange = { resource: string; action: string; detail: string };
/** Per error: its message before any list was added, and the list so far. */
const appliedOnError = new WeakMap<Error, { message: string; applied: AppliedChange[] }>();
const describeApplied = (c: AppliedChange) => `${c.action} ${c.resource} (${c.detail})`;

/**
 * Adds to a failure what the failing step had already changed, so nothing half-done goes
 * unrecorded: the message lands in the execution, the status record and the logs. The error keeps
 * its type, so a transient one is still retried. Called again (by a caller that ran other writes
 * beside the failed one), it adds to the same list: the message has one list.
 */
export function withAppliedChanges(error: unknown, applied: AppliedChange[]): unknown {
  if (!(error instanceof Error) || applied.length === 0) return error;
  const known = appliedOnError.get(error) ?? { message: error.message, applied: [] };
  const all = [...known.applied, ...applied];
  appliedOnError.set(error, { message: known.message, applied: all });
  error.message = `${known.message}. Already changed before the failure: ${all.map(describeApplied).join('; ')}. Running the workflow again finishes the rest`;
  return error;
}

/** The writes a failure was already said to have applied (withAppliedChanges). */
export function appliedChangesOf(error: unknown): AppliedChange[] {
  return (error instanceof Error && appliedOnError.get(error)?.applied) || [];
}

/**
 * Promise.all for writes run side by side: waits for every one to settle (so no write is still in
 * flight when the caller reports or reads back), then throws the first failure.
 */
export async function settleAll(work: Iterable<unknown>): Promise<unknown[]> {
  const settled = await Promise.allSettled(work);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
}
