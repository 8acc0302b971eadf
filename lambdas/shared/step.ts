// Wraps a step group's work: one log line in, one out, and errors that name the step and cluster.
import { isTransient } from './classify';
import { OnboardingError, TransientError } from './errors';
import { logger } from './logger';
import { flushMetrics } from './metrics';

export async function runStep<T>(step: string, clusterName: string | undefined, work: () => Promise<T>): Promise<T> {
  logger.appendKeys({ step, clusterName });
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
