// A lease wait ends before the Lambda's timeout: a step whose lease another workflow holds longer
// than the step can wait (its remaining time less the work it still has to do) fails with a
// TransientError, which the ASL retries, instead of running into its timeout (States.Timeout),
// which the ASL does not retry. The real ASL and handlers; the runner's Lambda context counts down
// from the function's deployed timeout (lib/functions.ts), here shortened for PodNetwork.
import { POD_NETWORK_WORK_MS } from '../../lambdas/pod-network/handler';
import { Leases, vpcKey } from '../../lambdas/shared/lease';
import { createCluster, LEASE_TABLE, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';
import { runWorkflow, StateEvent } from '../local-world/workflow-runner';

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});
afterAll(async () => {
  await w?.stop();
});

/** PodNetwork may wait 0.5 s for a lease: its timeout is its work reserve and that (each held try waits it out). */
const POD_NETWORK_TIMEOUT_MS = POD_NETWORK_WORK_MS + 500;

test("a VPC lease held past PodNetwork's remaining time: a retried TransientError, not a timeout, and the run converges once it is freed", async () => {
  const cluster = await createCluster(w, { name: 'deadline-a' });
  w.activateCluster(cluster.name);
  // Another workflow (an offboarding, say) holds the VPC's lease, for longer than PodNetwork can wait.
  const other = new Leases({ tableName: LEASE_TABLE, durationSeconds: 210 });
  const key = vpcKey(cluster.vpc.vpcId);
  await other.acquire(key, 'other-execution');

  const failures: StateEvent[] = [];
  let podNetworkCalls = 0;
  const run = await runWorkflow('cluster-onboarding.asl.json', { clusterName: cluster.name }, {
    timeoutMs: (fn, seconds) => (fn === 'pod-network' ? POD_NETWORK_TIMEOUT_MS : seconds * 1000),
    // The holder lets go as PodNetwork is tried a third time (the second retry).
    onInvoke: async (state) => {
      if (state === 'PodNetwork' && ++podNetworkCalls === 3) await other.release(key, 'other-execution');
    },
    onEvent: (event) => {
      if (event.state === 'PodNetwork' && event.error) failures.push(event);
    },
  });

  expect(run.error).toBeUndefined();
  expect(run.status).toBe('SUCCEEDED');
  expect(podNetworkCalls).toBeGreaterThanOrEqual(3);
  // The two tries while the lease was held each failed with the lease's TransientError, naming it.
  const tries = failures.filter((e) => e.type === 'StateRetried' || e.type === 'TaskFailed' || e.type === 'StateFailed');
  expect(tries.length).toBeGreaterThanOrEqual(2);
  for (const event of tries) {
    expect(event.error?.name).toBe('TransientError');
    expect(event.error?.cause).toContain(`VPC ${cluster.vpc.vpcId} stayed leased by another workflow`);
    expect(event.error?.cause).toContain('the workflow retries the step');
  }
  expect(failures.some((e) => e.error?.name === 'States.Timeout')).toBe(false);
  // Converged: one ENIConfig per AZ, the VPC lease free again.
  expect(w.world.kube.eniConfigs(cluster.name)).toHaveLength(cluster.vpc.subnets.length);
  expect(await other.looksFree(key, 'nobody')).toBe(true);
}, 120_000);
