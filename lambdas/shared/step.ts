// Wraps a step group's work: one log line in, one out, and errors that name the step and cluster.
import { isTransient } from './classify';
import { OnboardingError, TransientError } from './errors';
import { logger } from './logger';
import { flushMetrics } from './metrics';

/** What the Lambda runtime passes as the handler's second argument (the part the logs use). */
export interface LambdaContextLike {
  awsRequestId: string;
  functionName: string;
}

let invocation: { context?: LambdaContextLike; executionId?: string; eventId?: string } = {};

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
 * Called first by every handler: a warm Lambda's logger must not keep the previous invocation's
 * keys (cluster, step, execution), and every line of this one carries its request id, cold start,
 * execution id and event id.
 */
export function beginInvocation(event: unknown, context?: LambdaContextLike): void {
  invocation = { ...(context ? { context } : {}), ...idsOf(event) };
}

export async function runStep<T>(step: string, clusterName: string | undefined, work: () => Promise<T>): Promise<T> {
  logger.resetKeys();
  if (invocation.context) logger.addContext(invocation.context as never);
  logger.appendKeys({
    step,
    ...(clusterName ? { clusterName } : {}),
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
    const message = `${step} for cluster "${clusterName ?? 'unknown'}" failed: ${original.name}: ${original.message}`;
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
