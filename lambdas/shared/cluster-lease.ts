// Two runs for one cluster (a duplicate trigger, a drift run beside an event) never write at the
// same time: every writing step holds the cluster's lease while it observes, plans and applies.
// Steps that change what clusters in one VPC share (the secondary CIDR, the pod subnets) also hold
// the VPC's lease, so two clusters in one VPC never carve the same block at once. Leases are always
// taken cluster first, then VPC, so two steps can never wait on each other.
import { clusterKey, Leases, planThenLease, vpcKey } from './lease';
import { OnboardingError } from './errors';
import { requireSetting, runtime } from './runtime';
import { keptWhileWarm } from './warm-state';
import { StepResult } from './workflow';

/** Longer than any writing step's Lambda timeout (3 min at most), so a holder that died cannot block for long. */
const LEASE_SECONDS = 210;
/**
 * Most of the shortest writing step's Lambda timeout (2 min), the rest left for its work: clusters
 * onboarded at once in one VPC queue here for its lease (a waiter costs reads, not writes); past
 * that, the busy step fails as TransientError and the ASL retries it with backoff.
 */
const ACQUIRE_TIMEOUT_MS = 90_000;

let leases: Leases | undefined;
keptWhileWarm(() => (leases = undefined));

export interface LeaseScope {
  clusterName: string;
  /** Also serialize with other clusters in this VPC. */
  vpcId?: string;
  /**
   * How long the step's work takes once it holds the leases: the waits for them end that long
   * before the Lambda's timeout (Leases' workMs), each step choosing from what it does after.
   */
  workMs: number;
}

export async function withClusterLease<T>(scope: LeaseScope, holder: string | undefined, dryRun: boolean, work: () => Promise<T>): Promise<T> {
  const { clusterName, vpcId, workMs } = scope;
  if (dryRun) return work(); // a plan writes nothing
  const held = stepLeases();
  const me = requireHolder(`cluster ${clusterName}`, holder);
  return held.withLease(clusterKey(clusterName), me, () => (vpcId ? held.withLease(vpcKey(vpcId), me, work, workMs) : work()), workMs);
}

function requireHolder(what: string, holder: string | undefined): string {
  if (!holder) throw new OnboardingError('InvalidInput', `workflow state has no executionId to hold ${what}'s lease; start the workflow from its first state`);
  return holder;
}

function stepLeases(): Leases {
  leases ??= new Leases({
    tableName: requireSetting(runtime().leaseTableName, 'LEASE_TABLE_NAME'),
    durationSeconds: LEASE_SECONDS,
    acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
  });
  return leases;
}

/**
 * The VPC's lease alone, for a step that already holds its cluster's lease (the order stays
 * cluster, then VPC) and needs the VPC only around some of its writes (PodNetwork).
 */
export function withVpcLease<T>(vpcId: string, holder: string | undefined, workMs: number, work: () => Promise<T>): Promise<T> {
  return stepLeases().withLease(vpcKey(vpcId), requireHolder(`VPC ${vpcId}`, holder), work, workMs);
}

/** Waits, bounded as withVpcLease, until no other workflow holds the VPC's lease (to join its shared resources without it). */
export function awaitVpcLeaseFree(vpcId: string, holder: string | undefined, workMs: number): Promise<void> {
  return stepLeases().awaitFree(vpcKey(vpcId), requireHolder(`VPC ${vpcId}`, holder), workMs);
}

/**
 * withClusterLease, planned first (planThenLease): a call whose plan adds no change to the
 * `earlierChanges` its step already made in this run takes no lease and writes nothing. A caller
 * that already knows it will write (`knownWrites`: this run's preflight planned changes, or its
 * previous call left some) skips that plan, whose reads would only repeat the ones under the lease.
 */
export async function withClusterLeaseIfChanges<T extends StepResult>(
  scope: LeaseScope,
  holder: string | undefined,
  dryRun: boolean,
  earlierChanges: number,
  step: (dryRun: boolean) => Promise<T>,
  knownWrites = false,
): Promise<T> {
  const result = knownWrites && !dryRun
    ? await withClusterLease(scope, holder, false, () => step(false))
    : await planThenLease(dryRun, step, (plan) => plan.changes.length > earlierChanges, (apply) => withClusterLease(scope, holder, false, apply));
  // A converged run answers with its plan, which is not a dry run.
  return { ...result, dryRun };
}
