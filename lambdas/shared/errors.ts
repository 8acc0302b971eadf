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

/**
 * Adds to a failure what the failing step had already changed, so nothing half-done goes
 * unrecorded: the message lands in the execution, the status record and the logs. The error keeps
 * its type, so a transient one is still retried.
 */
export function withAppliedChanges(error: unknown, applied: { resource: string; action: string; detail: string }[]): unknown {
  if (!(error instanceof Error) || applied.length === 0) return error;
  const list = applied.map((c) => `${c.action} ${c.resource} (${c.detail})`).join('; ');
  error.message = `${error.message}. Already changed before the failure: ${list}. Running the workflow again finishes the rest`;
  return error;
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
