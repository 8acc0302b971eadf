// Crash and rerun, the cluster-onboarding workflow's rows (crash-rerun-harness.ts says how each
// row is crashed, rerun and redriven), a step that outlives its Lambda timeout, and a CIDR
// association that stays associating. The other workflows' rows: crash-rerun-later.test.ts.
import { STEP_FUNCTIONS } from '../../lib/functions';
import { runWorkflow } from '../local-world/workflow-runner';
import { crashWorld, describeRows, endState, ONBOARDED, ONBOARDING, reference, ROW_TIMEOUT_MS, ROWS, run, scenario, useCrashWorld } from './crash-rerun-harness';

useCrashWorld();

test('an uninterrupted onboarding: one of each resource (the reference every crashed run is held to)', async () => {
  const onboarded = await reference(ONBOARDING);
  expect(onboarded).toEqual(ONBOARDED);
  expect(onboarded.podGroupRules).toBeGreaterThan(0);
}, ROW_TIMEOUT_MS);

describeRows(ROWS.filter((row) => row.workflow === ONBOARDING));

describe('a step that outlives its Lambda timeout', () => {
  test('fails with States.Timeout, which the ASL does not retry: leases released, failure recorded; a rerun converges', async () => {
    const expected = await reference(ONBOARDING);
    const s = await scenario(ONBOARDING);
    // The pod-network function's configured timeout, from the stack's function table, run at 1/50 speed.
    const configured = STEP_FUNCTIONS.find((f) => f.name === 'pod-network')!.timeoutSeconds;
    const limitMs = configured * 20;
    let armed = false;
    const retried: string[] = [];
    const result = await runWorkflow(ONBOARDING, s.input, {
      timeoutMs: (fn, seconds) => (fn === 'pod-network' ? seconds * 20 : seconds * 1000),
      // PodNetwork's first read answers long after the function's timeout.
      onInvoke: (state) => {
        if (state !== 'PodNetwork' || armed) return;
        armed = true;
        crashWorld().world.log.faults.inject('ec2', 'DescribeVpcs', { kind: 'delay', ms: limitMs * 3 });
      },
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'WaitForActive') crashWorld().activateCluster(s.cluster.name);
        if (event.type === 'StateRetried' && event.state) retried.push(event.state);
      },
    });
    crashWorld().world.log.faults.clear();
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('States.Timeout');
    expect(result.error?.message).toContain(`PodNetwork (lambdas/pod-network) ran past its configured timeout (${limitMs} ms here)`);
    expect(result.statesEntered.filter((state) => state === 'PodNetwork')).toHaveLength(1);
    expect(retried).not.toContain('PodNetwork');
    expect(result.statesEntered.slice(result.statesEntered.indexOf('PodNetwork'))).toEqual(['PodNetwork', 'ReleaseLeases', 'RecordFailure', 'Failed']);

    const again = await run(ONBOARDING, s.input);
    expect(again.error).toBeUndefined();
    expect(await endState(s)).toEqual(expected);
  }, ROW_TIMEOUT_MS);
});

describe('a CIDR association that stays associating for a while (as EC2 reports it)', () => {
  test('PodNetwork waits for it (WaitForNetwork) before carving subnets, and converges with one of each', async () => {
    const expected = await reference(ONBOARDING);
    const s = await scenario(ONBOARDING);
    const mark = crashWorld().world.log.mark();
    crashWorld().world.settleCidrAssociationsAfter(3);
    try {
      const result = await run(ONBOARDING, s.input);
      expect(result.error).toBeUndefined();
      // Each PodNetwork attempt that saw `associating` went back through WaitForNetwork.
      expect(result.statesEntered.filter((state) => state === 'WaitForNetwork').length).toBeGreaterThanOrEqual(2);
    } finally {
      crashWorld().world.settleCidrAssociationsAfter(0);
    }
    const writes = crashWorld().world.log.writesSince(mark, 'ec2').map((c) => c.action);
    expect(writes.filter((a) => a === 'AssociateVpcCidrBlock')).toHaveLength(1);
    // No subnet was carved while the block was associating (the proxy refuses those, as EC2 does).
    expect(writes.filter((a) => a === 'CreateSubnet')).toHaveLength(2);
    expect(await endState(s)).toEqual(expected);
  }, ROW_TIMEOUT_MS);
});
