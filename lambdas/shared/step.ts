// Wraps a step group's work: one log line in, one out, and errors that name the step and cluster.
import { AsyncLocalStorage } from 'node:async_hooks';
import { isTransient } from './classify';
import { failedCallOf, OnboardingError, TransientError } from './errors';
import { logger } from './logger';
import { flushMetrics } from './metrics';
import { currentTarget, scopedName, Target, targetOfInput, targetOfRequest, withTarget } from './target';

/** What the Lambda runtime passes as the handler's second argument (the part the logs use). */
export interface LambdaContextLike {
  awsRequestId: string;
  functionName: string;
  /** The runtime's: what is left before Lambda stops this invocation. Absent on direct calls. */
  getRemainingTimeInMillis?: () => number;
}

let invocation: { context?: LambdaContextLike; executionId?: string; eventId?: string; target?: Target } = {};

/** The execution id and CloudTrail event id an event carries, in any of the workflows' shapes. */
function idsOf(event: unknown): { executionId?: string; eventId?: string } {
  const e = (event ?? {}) as Record<string, unknown>;
  const state = (e.state ?? e) as Record<string, unknown>;
  const input = (state.input ?? (state.resolve as Record<string, unknown> | undefined)?.input ?? {}) as Record<string, unknown>;
  const detail = ((e.request ?? e) as { detail?: { eventID?: unknown } }).detail;
  const text = (value: unknown) => (typeof value === 'string' && value ? value : undefined);
  const executionId = text(e.executionId) ?? text(state.executionId) ?? text((e.detail as { executionArn?: unknown } | undefined)?.executionArn);
  const eventId = text(input.eventId) ?? text(detail?.eventID);
  return { ...(executionId ? { executionId } : {}), ...(eventId ? { eventId } : {}) };
}

/**
 * The cluster's account and Region (lambdas/shared/target.ts), from the normalized input wherever
 * the workflow passes it, else from the raw request the first steps normalize.
 */
function targetIn(event: unknown): Target | undefined {
  const e = (event ?? {}) as Record<string, unknown>;
  const state = (e.state ?? e) as Record<string, unknown>;
  const inputs = [state.input, (state.resolve as Record<string, unknown> | undefined)?.input, e.input];
  const normalized = inputs.find((input) => input !== null && typeof input === 'object') as { account?: unknown; region?: unknown } | undefined;
  if (normalized) return targetOfInput(normalized);
  return targetOfRequest(e.request ?? state.request);
}

/**
 * Called first by every handler: a warm Lambda's logger must not keep the previous invocation's
 * keys (cluster, step, execution), and every line of this one carries its request id, cold start,
 * execution id and event id.
 */
export function beginInvocation(event: unknown, context?: LambdaContextLike): void {
  const target = targetIn(event);
  invocation = { ...(context ? { context } : {}), ...idsOf(event), ...(target ? { target } : {}) };
}

/** The running step's clock and name, kept per step (not in `invocation`): the local world runs many at once. */
const clock = new AsyncLocalStorage<{ remaining: () => number; step: string; clusterName?: string }>();

/**
 * How long this invocation may still run before Lambda stops it (and Step Functions fails the
 * task with a timeout, which the workflows do not retry); undefined outside a step run by Lambda.
 */
export function remainingTimeMs(): number | undefined {
  return clock.getStore()?.remaining();
}

/** What a call leaves of the invocation for the step's cleanup: releasing its leases and reporting what it wrote. */
export const CLEANUP_MS = 5_000;
/** The very end of the invocation, left for the handler to return its error to Step Functions. */
const RETURN_MS = 1_000;

const cleaningUp = new AsyncLocalStorage<true>();

/**
 * Runs `release` as the step's cleanup (a lease release): its calls may use the CLEANUP_MS that
 * work calls leave, so a slow work call just before the deadline cannot leave a lease held.
 */
export function asCleanup<T>(release: () => Promise<T>): Promise<T> {
  return cleaningUp.run(true, release);
}

/**
 * How long one outbound call (its client's own retries included) may take from now so that the
 * step still ends in its own error before the Lambda timeout: the remaining time less CLEANUP_MS
 * for work, all but RETURN_MS for the cleanup (asCleanup). A work call with nothing left is refused
 * (ms <= 0). Undefined outside a step run by Lambda. `describe` names the step and cluster for the call's error.
 */
export function callBudget(): { ms: number; describe: string } | undefined {
  const store = clock.getStore();
  if (!store) return undefined;
  const left = store.remaining();
  const ms = cleaningUp.getStore() ? left - RETURN_MS : left - CLEANUP_MS;
  return { ms, describe: `${store.step}${store.clusterName ? ` for cluster "${scopedName(store.clusterName)}"` : ''}` };
}

/** Which step run made each deadline error: a shared promise may carry another run's (isDeadlineOfAnotherRun). */
const deadlineRuns = new WeakMap<Error, object>();

/**
 * The TransientError of a call that ran out of its step's time (callBudget), naming the call and the
 * step; `lastFailure`: why the call's last attempt failed, when a retry would have passed the deadline.
 */
export function callDeadlineError(call: string, budget: { ms: number; describe: string }, lastFailure?: string): TransientError {
  const error = new TransientError(
    `${budget.describe}: ${call} got no answer within the ${(Math.max(0, budget.ms) / 1000).toFixed(1)} s the step had left before its Lambda timeout ` +
      `(less ${CLEANUP_MS / 1000} s to release its leases and report what it wrote), so the step stopped there` +
      `${lastFailure ? ` (its last attempt: ${lastFailure}; a retry would have ended past that)` : ''}; ` +
      'the workflow retries the step, which re-reads what is in place (if it keeps happening, the service is slow or overloaded)',
  );
  const run = clock.getStore();
  if (run) deadlineRuns.set(error, run);
  return error;
}

/**
 * Whether `error` is the deadline of another step run than the one running now: what a promise
 * shared across runs (the controller login kept while warm) failed with says nothing about this run.
 */
export function isDeadlineOfAnotherRun(error: unknown): boolean {
  const run = error instanceof Error ? deadlineRuns.get(error) : undefined;
  return run !== undefined && run !== clock.getStore();
}

/**
 * Runs one outbound call within callBudget: refused unsent when nothing is left, else given up at the
 * deadline with callDeadlineError, and `signal` aborted so that its transport stops too (a write
 * must not land after the step released its leases). Outside a step (no Lambda clock) no bound.
 */
export async function withinCallBudget<T>(call: string, send: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  const budget = callBudget();
  if (!budget) return send();
  if (budget.ms <= 0) throw callDeadlineError(call, budget);
  const abort = new AbortController();
  const sent = send(abort.signal);
  // An abandoned call's own failure goes nowhere; the step re-reads what it may have done.
  sent.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(callDeadlineError(call, budget));
      abort.abort();
    }, budget.ms);
  });
  try {
    return await Promise.race([sent, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs one step's work with the cluster's account and Region ambient (lambdas/shared/target.ts):
 * the invocation's input's, or the one a caller set with withTarget around it.
 */
export function runStep<T>(step: string, clusterName: string | undefined, work: () => Promise<T>): Promise<T> {
  const run = () => withTarget(invocation.target ?? currentTarget(), () => loggedStep(step, clusterName, work), invocation.context?.functionName);
  const { context } = invocation;
  return context?.getRemainingTimeInMillis
    ? clock.run({ remaining: () => context.getRemainingTimeInMillis!(), step, ...(clusterName ? { clusterName } : {}) }, run)
    : run();
}

async function loggedStep<T>(step: string, clusterName: string | undefined, work: () => Promise<T>): Promise<T> {
  logger.resetKeys();
  if (invocation.context) logger.addContext(invocation.context as never);
  logger.appendKeys({
    step,
    ...(clusterName ? { clusterName } : {}),
    ...(currentTarget() ? { account: currentTarget()!.account, region: currentTarget()!.region } : {}),
    ...(invocation.executionId ? { executionId: invocation.executionId } : {}),
    ...(invocation.eventId ? { eventId: invocation.eventId } : {}),
  });
  logger.info('step started');
  try {
    const result = await work();
    logger.info('step finished', { phase: (result as { phase?: string })?.phase });
    return result;
  } catch (error) {
    if (error instanceof OnboardingError || error instanceof TransientError) {
      logger.error('step failed', { errorName: error.name, errorMessage: error.message });
      throw error;
    }
    const original = error instanceof Error ? error : new Error(String(error));
    const call = failedCallOf(original);
    const message = `${step} for cluster "${clusterName ? scopedName(clusterName) : 'unknown'}" failed${call ? ` in ${call}` : ''}: ${original.name}: ${original.message}`;
    logger.error('step failed', { errorName: original.name, errorMessage: message });
    // Throttling, 429, 5xx, timeouts, resets and DNS failures: the ASL retries TransientError.
    if (isTransient(original)) throw new TransientError(message);
    const wrapped = new Error(message);
    wrapped.name = original.name; // keep the AWS error code for Catch and for the person reading it
    throw wrapped;
  } finally {
    flushMetrics();
  }
}
