// Two runs for one cluster (a duplicate trigger, a drift run beside an event) never write at the
// same time: every writing step holds the cluster's lease while it observes, plans and applies.
import { clusterKey, Leases } from './lease';
import { OnboardingError } from './errors';
import { requireSetting, runtime } from './runtime';

/** Longer than any step's Lambda timeout, so a holder that died mid-step cannot block for long. */
const LEASE_SECONDS = 150;
/** Waiting longer is the ASL's job: the busy step fails as TransientError and is retried with backoff. */
const ACQUIRE_TIMEOUT_MS = 20_000;

let leases: Leases | undefined;

export async function withClusterLease<T>(clusterName: string, holder: string | undefined, dryRun: boolean, work: () => Promise<T>): Promise<T> {
  if (dryRun) return work(); // a plan writes nothing
  if (!holder) {
    throw new OnboardingError('InvalidInput', `workflow state has no executionId to hold cluster ${clusterName}'s lease; start the workflow from its first state`);
  }
  leases ??= new Leases({
    tableName: requireSetting(runtime().leaseTableName, 'LEASE_TABLE_NAME'),
    durationSeconds: LEASE_SECONDS,
    acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
  });
  return leases.withLease(clusterKey(clusterName), holder, work);
}
