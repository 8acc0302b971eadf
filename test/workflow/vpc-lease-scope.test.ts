// PodNetwork holds the VPC lease only around what clusters of one VPC share: the claim, the
// secondary CIDR association, the pod subnets and their route tables. The cluster's own security
// group and rules are written outside it (under the cluster lease alone), so the section clusters
// of one VPC queue for does not grow with them. The real reconciler and the real DynamoDB lease,
// against the local world; the calls made while the lease is held are read from the call log.
import { resolveCluster } from '../../lambdas/domain/cluster';
import { NetworkStepResult, reconcileNetwork } from '../../lambdas/domain/network';
import { withVpcLease } from '../../lambdas/shared/cluster-lease';
import { runtime } from '../../lambdas/shared/runtime';
import { ClusterSummary } from '../../lambdas/shared/workflow';
import { createCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';

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
async function onboardNetwork(cluster: ClusterSummary, holder: string): Promise<{ action: string; service: string; underVpcLease: boolean }[]> {
  const held: [number, number][] = [];
  const mark = w.world.log.mark();
  let previous: NetworkStepResult | undefined;
  for (let call = 0; call < 5 && previous?.phase !== 'done'; call++) {
    previous = await reconcileNetwork(cluster, runtime().config, false, previous, {
      statusTableName: STATUS_TABLE,
      withVpcLease: (work) =>
        withVpcLease(cluster.vpcId, holder, 0, async () => {
          const from = w.world.log.mark();
          try {
            return await work();
          } finally {
            held.push([from, w.world.log.mark()]);
          }
        }),
    });
  }
  expect(previous?.phase).toBe('done');
  return w.world.log
    .since(mark)
    .map((c, i) => ({ ...c, index: mark + i }))
    .filter((c) => c.write && (c.service === 'ec2' || (c.service === 'dynamodb' && c.action === 'UpdateItem')))
    .map((c) => ({ action: c.action, service: c.service, underVpcLease: held.some(([from, to]) => c.index >= from && c.index < to) }));
}

async function readyCluster(name: string, vpc?: Awaited<ReturnType<typeof createCluster>>['vpc']) {
  const created = await createCluster(w, { name, ...(vpc ? { vpc } : {}) });
  w.activateCluster(name);
  const resolved = await resolveCluster(name, new Date().toISOString(), runtime().config);
  return { created, cluster: resolved.cluster! };
}

test('the first cluster of a VPC: the claim and the shared writes under the VPC lease, its security groups outside it', async () => {
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
  // The claim on the VPC's resources (the status record) is written under the VPC lease.
  expect(writes.filter((c) => c.service === 'dynamodb')).toEqual([{ action: 'UpdateItem', service: 'dynamodb', underVpcLease: true }]);
});

test('a later cluster of the VPC writes no shared resource: only its claim under the VPC lease', async () => {
  const first = await readyCluster('scope-mate-a');
  await onboardNetwork(first.cluster, 'run-scope-mate-a');
  const { cluster } = await readyCluster('scope-mate-b', first.created.vpc);

  const writes = await onboardNetwork(cluster, 'run-scope-mate-b');

  expect(writes.filter((c) => SHARED_WRITES.includes(c.action))).toEqual([]);
  expect(writes.filter((c) => c.service === 'dynamodb')).toEqual([{ action: 'UpdateItem', service: 'dynamodb', underVpcLease: true }]);
  const own = writes.filter((c) => OWN_WRITES.includes(c.action));
  expect(own.map((c) => c.action)).toEqual(expect.arrayContaining(OWN_WRITES));
  expect(own.every((c) => !c.underVpcLease)).toBe(true);
});
