// Crash and rerun, the cluster-onboarding workflow's rows (crash-rerun-harness.ts says how each
// row is crashed, rerun and redriven), a call that outlives its step's Lambda timeout, and a CIDR
// association that stays associating. The other workflows' rows: crash-rerun-later.test.ts.
import { ENICONFIG_PATH } from '../../lambdas/domain/cni';
import { Leases } from '../../lambdas/shared/lease';
import { LEASE_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';
import { crashWorld, describeRows, endState, ONBOARDED, ONBOARDING, reference, ROW_TIMEOUT_MS, ROWS, run, scenario, useCrashWorld } from './crash-rerun-harness';

useCrashWorld();

test('an uninterrupted onboarding: one of each resource (the reference every crashed run is held to)', async () => {
  const onboarded = await reference(ONBOARDING);
  expect(onboarded).toEqual(ONBOARDED);
  expect(onboarded.podGroupRules).toBeGreaterThan(0);
}, ROW_TIMEOUT_MS);

describeRows(ROWS.filter((row) => row.workflow === ONBOARDING));

describe("a call that outlives its step's Lambda timeout", () => {
  // The step's Lambda timeout is shortened to 8 s: CLEANUP_MS (5 s) for the release, so the call's
  // deadline falls 3 s into the step, ample for the step's work before the call (~0.3 s at load 5)
  // and less idle than 10 s; the call's first answer comes 2 s after the timeout (and before the
  // client's own request timeout would give up on it).
  const limitMs = 8_000;
  const rows = [
    { label: "EC2 (the SDK clients' deadline)", state: 'PodNetwork', fn: 'pod-network', service: 'ec2', action: () => 'DescribeVpcs', call: () => 'EC2 DescribeVpcs', applied: undefined },
    {
      label: "Kubernetes (the Kubernetes client's deadline)",
      state: 'VpcCni',
      fn: 'vpc-cni',
      service: 'kubernetes',
      action: (cluster: string) => `PATCH /clusters/${cluster}${ENICONFIG_PATH}/us-east-1a`,
      call: (cluster: string) => `Kubernetes PATCH /clusters/${cluster}${ENICONFIG_PATH}/us-east-1a`,
      // What the step wrote before the call is in its error (and so in the run's record).
      applied: 'Already changed before the failure: ',
    },
    {
      label: "the Aviatrix controller (the controller session's deadline)",
      state: 'ConfigureGatewaySnat',
      fn: 'aviatrix-snat',
      service: 'aviatrix',
      action: () => 'get_gateway_info',
      call: () => 'Aviatrix controller call get_gateway_info for [\\w-]+',
      applied: undefined,
    },
  ] as const;

  test.each(rows)('$label: the step ends in a TransientError naming the call before the timeout, its leases released; the ASL retries it and the run converges, with no States.Timeout', async (row) => {
    const expected = await reference(ONBOARDING);
    const s = await scenario(ONBOARDING);
    const leases = new Leases({ tableName: LEASE_TABLE });
    const heldAtRetry: string[][] = [];
    const failures: { name?: string; cause?: string }[] = [];
    let calls = 0;
    const result = await runWorkflow(ONBOARDING, s.input, {
      timeoutMs: (fn, seconds) => (fn === row.fn ? limitMs : seconds * 1000),
      onInvoke: async (state, input) => {
        if (state !== row.state) return;
        if (++calls === 1) crashWorld().world.log.faults.inject(row.service, row.action(s.cluster.name), { kind: 'delay', ms: limitMs + 2_000 });
        // What the first try left held, looked at as the ASL retries it.
        else if (calls === 2) heldAtRetry.push(await leases.heldBy((input as { executionId: string }).executionId));
      },
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'WaitForActive') crashWorld().activateCluster(s.cluster.name);
        if (event.state === row.state && event.error) failures.push({ name: event.error.name, cause: event.error.cause });
      },
    });
    crashWorld().world.log.faults.clear();
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(failures.map((f) => f.name)).toContain('TransientError');
    expect(failures.some((f) => f.name === 'States.Timeout')).toBe(false);
    const cause = (JSON.parse(failures.find((f) => f.name === 'TransientError')!.cause!) as { errorMessage: string }).errorMessage;
    expect(cause).toMatch(new RegExp(`^${row.fn} for cluster "${s.cluster.name}": ${row.call(s.cluster.name)} got no answer within the [0-9.]+ s the step had left before its Lambda timeout`));
    expect(cause).toContain('the workflow retries the step');
    if (row.applied) expect(cause).toContain(row.applied);
    // The first try released its leases on its way out.
    expect(heldAtRetry).toEqual([[]]);
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
