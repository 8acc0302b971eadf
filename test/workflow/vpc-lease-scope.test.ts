// PodNetwork holds the VPC lease only around what clusters of one VPC share: the CIDR association,
// the pod subnets and their route tables, each planned from a read made under it. The claim comes
// first; a cluster that then finds the lease free and the shared resources in place joins them
// without the lease. The cluster's own security group and rules are written outside it (under the
// cluster lease alone), so the section clusters of one VPC queue for does not grow with them. The
// real reconciler and the real DynamoDB lease, against the local world; the calls made while the
// lease is held are read from the call log.
import { DeleteSubnetCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { resolveCluster } from '../../lambdas/domain/cluster';
import { NetworkClaims, NetworkStepResult, reconcileNetwork } from '../../lambdas/domain/network';
import { awaitVpcLeaseFree, withVpcLease } from '../../lambdas/shared/cluster-lease';
import { Leases, LeaseTimeoutError, vpcKey } from '../../lambdas/shared/lease';
import { runtime } from '../../lambdas/shared/runtime';
import { ClusterSummary } from '../../lambdas/shared/workflow';
import { createCluster, LEASE_TABLE, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});

afterAll(async () => {
  await w?.stop();
});

const SHARED_WRITES = ['AssociateVpcCidrBlock', 'CreateTags', 'CreateSubnet', 'AssociateRouteTable'];
const OWN_WRITES = ['CreateSecurityGroup', 'AuthorizeSecurityGroupIngress'];

/** Runs PodNetwork's writing calls to the end; answers each write with whether the VPC lease was held. */
async function onboardNetwork(
  cluster: ClusterSummary,
  holder: string,
  /** Leases of the test's own bounds; by default the step's (cluster-lease.ts). */
  leases?: Leases,
): Promise<{ action: string; service: string; underVpcLease: boolean }[]> {
  const lease: NetworkClaims['withVpcLease'] = leases
    ? (work) => leases.withLease(vpcKey(cluster.vpcId), holder, work)
    : (work) => withVpcLease(cluster.vpcId, holder, 0, work);
  const held: [number, number][] = [];
  const mark = w.world.log.mark();
  let previous: NetworkStepResult | undefined;
  for (let call = 0; call < 5 && previous?.phase !== 'done'; call++) {
    previous = await reconcileNetwork(cluster, runtime().config, false, previous, {
      statusTableName: STATUS_TABLE,
      withVpcLease: (work) =>
        lease(async () => {
          const from = w.world.log.mark();
          try {
            return await work();
          } finally {
            held.push([from, w.world.log.mark()]);
          }
        }),
      awaitVpcLeaseFree: () => (leases ? leases.awaitFree(vpcKey(cluster.vpcId), holder) : awaitVpcLeaseFree(cluster.vpcId, holder, 0)),
    });
  }
  expect(previous?.phase).toBe('done');
  return w.world.log
    .since(mark)
    .map((c, i) => ({ ...c, index: mark + i }))
    .filter((c) => c.write && (c.service === 'ec2' || c.service === 'dynamodb'))
    .map((c) => ({ action: c.action, service: c.service, underVpcLease: held.some(([from, to]) => c.index >= from && c.index < to) }));
}

async function readyCluster(name: string, vpc?: Awaited<ReturnType<typeof createCluster>>['vpc']) {
  const created = await createCluster(w, { name, ...(vpc ? { vpc } : {}) });
  w.activateCluster(name);
  const resolved = await resolveCluster(name, new Date().toISOString(), runtime().config);
  return { created, cluster: resolved.cluster! };
}

const claimWrite = { action: 'UpdateItem', service: 'dynamodb', underVpcLease: false };
const podSubnets = async (vpcId: string) =>
  ((await w.world.ec2Direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets ?? []).filter((s) =>
    s.CidrBlock?.startsWith('100.64.'),
  );

test('the first cluster of a VPC: the claim first, the shared writes under the VPC lease, its security groups outside it', async () => {
  const { cluster } = await readyCluster('scope-first');
  const writes = await onboardNetwork(cluster, 'run-scope-first');

  expect(writes.filter((c) => SHARED_WRITES.includes(c.action)).map((c) => [c.action, c.underVpcLease])).toEqual(
    expect.arrayContaining([
      ['AssociateVpcCidrBlock', true],
      ['CreateSubnet', true],
      ['AssociateRouteTable', true],
    ]),
  );
  expect(writes.filter((c) => SHARED_WRITES.includes(c.action)).every((c) => c.underVpcLease)).toBe(true);
  const own = writes.filter((c) => OWN_WRITES.includes(c.action));
  expect(own.map((c) => c.action)).toEqual(expect.arrayContaining(OWN_WRITES));
  expect(own.every((c) => !c.underVpcLease)).toBe(true);
  // The claim on the VPC's resources (the status record), then the lease's put and delete around
  // the shared writes (once per call: the CIDR association settles in between).
  const dynamo = writes.filter((c) => c.service === 'dynamodb');
  expect(dynamo[0]).toEqual(claimWrite);
  expect(dynamo.filter((c) => c.action === 'UpdateItem')).toEqual([claimWrite]);
  expect(dynamo.filter((c) => c.action === 'PutItem').length).toBeGreaterThanOrEqual(1);
});

test('a later cluster of the VPC joins without the VPC lease: its claim is the one DynamoDB write, no shared resource written', async () => {
  const first = await readyCluster('scope-mate-a');
  await onboardNetwork(first.cluster, 'run-scope-mate-a');
  const { cluster } = await readyCluster('scope-mate-b', first.created.vpc);

  const writes = await onboardNetwork(cluster, 'run-scope-mate-b');

  expect(writes.filter((c) => SHARED_WRITES.includes(c.action))).toEqual([]);
  // No lease put or delete: the claim alone.
  expect(writes.filter((c) => c.service === 'dynamodb')).toEqual([claimWrite]);
  const own = writes.filter((c) => OWN_WRITES.includes(c.action));
  expect(own.map((c) => c.action)).toEqual(expect.arrayContaining(OWN_WRITES));
  expect(own.every((c) => !c.underVpcLease)).toBe(true);
});

test('while another workflow (an offboarding) holds the VPC lease, a later cluster claims, then waits for it without taking it, and joins', async () => {
  const first = await readyCluster('scope-held-a');
  await onboardNetwork(first.cluster, 'run-scope-held-a');
  const { cluster } = await readyCluster('scope-held-b', first.created.vpc);
  const leases = new Leases({ tableName: LEASE_TABLE, durationSeconds: 30, acquireTimeoutMs: 300, baseDelayMs: 20, maxDelayMs: 100 });
  const key = vpcKey(cluster.vpcId);
  await leases.acquire(key, 'run-offboarding');
  let mark = w.world.log.mark();
  try {
    // Held past the wait's bound: a LeaseTimeoutError (retried by the workflow), the claim made, nothing else written.
    await expect(onboardNetwork(cluster, 'run-scope-held-b', leases)).rejects.toThrow(LeaseTimeoutError);
    expect(w.world.log.writesSince(mark, 'dynamodb').map((c) => c.action)).toEqual(['UpdateItem']);
    expect(w.world.log.writesSince(mark, 'ec2')).toEqual([]);
    // Freed while it waits: it joins, having never put the lease.
    mark = w.world.log.mark();
    let finished = false;
    const running = onboardNetwork(cluster, 'run-scope-held-b', new Leases({ tableName: LEASE_TABLE, acquireTimeoutMs: 30_000, baseDelayMs: 20, maxDelayMs: 100 }))
      .finally(() => {
        finished = true;
      });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(finished).toBe(false);
    await leases.release(key, 'run-offboarding');
    const writes = await running;
    // No lease put, nor a claim again (it was made); the one DynamoDB write is the holder's release.
    expect(writes.filter((c) => c.service === 'dynamodb').map((c) => c.action)).toEqual(['DeleteItem']);
    expect(writes.filter((c) => SHARED_WRITES.includes(c.action))).toEqual([]);
    expect(writes.filter((c) => OWN_WRITES.includes(c.action)).length).toBeGreaterThan(0);
  } finally {
    await leases.release(key, 'run-offboarding');
  }
});

test('a pod subnet deleted between the plan and the join is created again, under the VPC lease', async () => {
  const first = await readyCluster('scope-gone-a');
  await onboardNetwork(first.cluster, 'run-scope-gone-a');
  const { cluster } = await readyCluster('scope-gone-b', first.created.vpc);
  const before = await podSubnets(cluster.vpcId);
  expect(before.length).toBe(first.created.vpc.subnets.length);
  // The claim's answer is held back; meanwhile a pod subnet goes (as an offboarding that did not
  // see the claim yet deletes them): the join's own read of the VPC must see that.
  w.world.log.faults.inject('dynamodb', 'UpdateItem', { kind: 'delay', ms: 300 });
  const mark = w.world.log.mark();
  const running = onboardNetwork(cluster, 'run-scope-gone-b');
  while (!w.world.log.since(mark).some((c) => c.service === 'dynamodb' && c.action === 'UpdateItem')) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  await w.world.ec2Direct.send(new DeleteSubnetCommand({ SubnetId: before[0].SubnetId }));

  const writes = await running;
  expect(writes.filter((c) => c.action === 'CreateSubnet')).toEqual([{ action: 'CreateSubnet', service: 'ec2', underVpcLease: true }]);
  expect(writes.filter((c) => c.action === 'AssociateRouteTable')).toEqual([{ action: 'AssociateRouteTable', service: 'ec2', underVpcLease: true }]);
  const after = await podSubnets(cluster.vpcId);
  expect(after.map((s) => s.AvailabilityZone).sort()).toEqual(before.map((s) => s.AvailabilityZone).sort());
});
