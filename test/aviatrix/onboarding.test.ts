import { AviatrixClient, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { offboardOnboarding, reconcileOnboarding } from '../../lambdas/aviatrix/onboarding';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { OnboardingError } from '../../lambdas/shared/errors';
import { logger } from '../../lambdas/shared/logger';
import { STATUS_TABLE, startWorld, World } from './world';

let world: World;
let client: AviatrixClient;
let ownership: OwnershipRegistry;
beforeAll(async () => {
  world = await startWorld();
  logger.setLogLevel('SILENT');
  resetAviatrixClientState();
  client = new AviatrixClient(world.connection, { baseDelayMs: 5 });
  ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
});
afterAll(async () => world.stop());

const cluster = { name: 'prod-a', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/prod-a', vpcId: 'vpc-0abc' };
const config = {
  kubernetesSmartGroups: [
    { name: 'payments', namespace: 'payments', labels: { app: 'web', tier: 'front' } },
    { name: 'all-pods' },
  ],
};
const writes = (mark: number) => world.log.writesSince(mark, 'aviatrix').map((c) => c.action);

test('refuses clearly when the controller k8s feature is off, with no writes', async () => {
  world.emulator.setFeature('k8s', false);
  const mark = world.log.mark();
  try {
    await expect(reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership)).rejects.toThrow(
      new OnboardingError('ControllerError', "the Aviatrix controller's Kubernetes feature (\"k8s\") is disabled, so cluster prod-a cannot be onboarded; enable it on the controller (Terraform aviatrix_config_feature \"k8s\") and run again"),
    );
  } finally {
    world.emulator.setFeature('k8s', true);
  }
  expect(writes(mark)).toEqual([]);
});

test('a run whose preflight found the k8s feature on does not read it again', async () => {
  const reads = (mark: number) => world.log.since(mark).filter((c) => c.action === 'get_controller_feature').length;
  let mark = world.log.mark();
  await reconcileOnboarding(client, config, { cluster, dryRun: true, featureChecked: true }, ownership);
  expect(reads(mark)).toBe(0);
  mark = world.log.mark();
  await reconcileOnboarding(client, config, { cluster, dryRun: true }, ownership);
  expect(reads(mark)).toBe(1);
});

test('dry run returns the plan and writes nothing', async () => {
  const mark = world.log.mark();
  const plan = await reconcileOnboarding(client, config, { cluster, dryRun: true }, ownership);
  expect(plan.k8sClusterAction).toBe('create');
  expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
    `create aviatrix k8s cluster ${cluster.arn}`,
    'create aviatrix SmartGroup prod-a-vpc',
    'create aviatrix SmartGroup prod-a-payments',
    'create aviatrix SmartGroup prod-a-all-pods',
  ]);
  expect(writes(mark)).toEqual([]);
  expect(world.emulator.k8sClusters()).toEqual([]);
});

test('onboards by ARN with CSP credentials and creates the SmartGroups; a second run writes nothing', async () => {
  const result = await reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership);
  const [k8s] = world.emulator.k8sClusters();
  expect(k8s).toEqual({ id: result.k8sClusterId, cluster_id: cluster.arn, credential: { use_csp_credentials: true } });
  const groups = Object.fromEntries(world.emulator.smartGroups().map((g) => [g.name, g.selector]));
  expect(groups).toEqual({
    'prod-a-vpc': { any: [{ all: { type: 'vpc', res_id: 'vpc-0abc' } }] },
    'prod-a-payments': { any: [{ all: { type: 'k8s', k8s_cluster_id: cluster.arn, k8s_namespace: 'payments', 'tags.app': 'web', 'tags.tier': 'front' } }] },
    'prod-a-all-pods': { any: [{ all: { type: 'k8s', k8s_cluster_id: cluster.arn } }] },
  });
  expect(result.smartGroups.every((g) => g.action === 'create' && typeof g.uuid === 'string')).toBe(true);

  const mark = world.log.mark();
  const again = await reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership);
  expect(again.changes).toEqual([]);
  expect(again.k8sClusterId).toBe(result.k8sClusterId);
  expect(writes(mark)).toEqual([]);
});

test('repairs only what drifted', async () => {
  // Someone edits one SmartGroup and switches the cluster to a kubeconfig.
  const payments = world.emulator.smartGroups().find((g) => g.name === 'prod-a-payments')!;
  const k8s = world.emulator.k8sClusters()[0] as { id: string };
  await client.updateSmartGroup(payments.uuid, { name: 'prod-a-payments', selector: { any: [{ all: { type: 'k8s', k8s_namespace: 'other' } }] } });
  await client.updateK8sCluster(k8s.id, { cluster_id: cluster.arn, credential: { use_csp_credentials: false, kube_config: 'apiVersion: v1' }, gateway_tunnel_enabled: true });
  const mark = world.log.mark();
  const result = await reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership);
  expect(writes(mark)).toEqual(['PUT k8s/clusters', 'PUT app-domains']);
  expect(result.changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
    `update aviatrix k8s cluster ${cluster.arn}`,
    'update aviatrix SmartGroup prod-a-payments',
  ]);
  expect(world.emulator.k8sClusters()[0]).toEqual({ id: k8s.id, cluster_id: cluster.arn, credential: { use_csp_credentials: true }, gateway_tunnel_enabled: true });
  expect(world.emulator.smartGroups().find((g) => g.name === 'prod-a-payments')?.selector).toEqual({
    any: [{ all: { type: 'k8s', k8s_cluster_id: cluster.arn, k8s_namespace: 'payments', 'tags.app': 'web', 'tags.tier': 'front' } }],
  });
});

describe('SmartGroups this project does not own', () => {
  const other = { name: 'prod-b', arn: 'arn:aws:eks:eu-west-1:210987654321:cluster/prod-b', vpcId: 'vpc-0bbb' };
  const vpcOnly = { kubernetesSmartGroups: [] };

  test('a differing same-named group (another Region\'s cluster, or hand-made) is never rewritten: one clear error, no writes', async () => {
    // Someone else's "prod-b-vpc" on the same controller: same name, another VPC.
    const foreign = await client.createSmartGroup({ name: 'prod-b-vpc', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-0eu' } }] } });
    const mark = world.log.mark();
    for (const dryRun of [true, false]) {
      const error = await reconcileOnboarding(client, vpcOnly, { cluster: other, dryRun }, ownership).then(() => undefined, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(OnboardingError);
      expect(error?.name).toBe('GatewayConflict');
      expect(error?.message).toBe(
        `the Aviatrix controller already has SmartGroup "prod-b-vpc" (uuid ${foreign}) matches type=vpc AND res_id=vpc-0eu instead of ` +
          "type=vpc AND res_id=vpc-0bbb, and cluster prod-b's ownership record does not claim it (made by hand, or by a same-named " +
          'cluster in another Region or account on this controller), so it is not changed; rename that group on the controller, ' +
          'or delete it if it is stale, and run the workflow again',
      );
    }
    expect(writes(mark)).toEqual([]); // checked before anything, the k8s onboarding included
    expect(world.emulator.smartGroups().find((g) => g.uuid === foreign)?.selector).toEqual({ any: [{ all: { type: 'vpc', res_id: 'vpc-0eu' } }] });
    expect((await ownership.read('prod-b')).smartGroups).toEqual([]);

    // Renamed out of the way: the run goes through, and offboarding later leaves the renamed group alone.
    await client.updateSmartGroup(foreign, { name: 'eu-prod-b-vpc', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-0eu' } }] } });
    const result = await reconcileOnboarding(client, vpcOnly, { cluster: other, dryRun: false }, ownership);
    expect(result.smartGroups).toEqual([{ name: 'prod-b-vpc', uuid: expect.any(String), action: 'create' }]);
    expect(world.emulator.smartGroups().find((g) => g.uuid === foreign)?.name).toBe('eu-prod-b-vpc');
    await offboardOnboarding(client, ownership, { clusterName: 'prod-b', dryRun: false });
    expect(world.emulator.smartGroups().filter((g) => g.name.includes('prod-b-vpc')).map((g) => g.uuid)).toEqual([foreign]);
    await client.deleteSmartGroup(foreign);
  });

  test('an identical unowned group is adopted (claimed, not rewritten), and only then ours to delete', async () => {
    const cluster3 = { name: 'prod-c', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/prod-c', vpcId: 'vpc-0ccc' };
    const handMade = await client.createSmartGroup({ name: 'prod-c-vpc', selector: { any: [{ all: { res_id: 'vpc-0ccc', type: 'vpc' } }] } });
    const mark = world.log.mark();
    const result = await reconcileOnboarding(client, vpcOnly, { cluster: cluster3, dryRun: false }, ownership);
    expect(result.smartGroups).toEqual([{ name: 'prod-c-vpc', uuid: handMade, action: 'adopt' }]);
    expect(writes(mark)).toEqual(['POST k8s/clusters']);
    expect((await ownership.read('prod-c')).smartGroups).toEqual([{ name: 'prod-c-vpc', uuid: handMade }]);
    const off = await offboardOnboarding(client, ownership, { clusterName: 'prod-c', dryRun: false });
    expect(off.smartGroupsDeleted).toEqual(['prod-c-vpc']);
    expect(world.emulator.smartGroups().some((g) => g.uuid === handMade)).toBe(false);
  });

  test('a group we own that was replaced by someone else\'s of the same name is not touched', async () => {
    // prod-a owns its groups by uuid; someone deletes prod-a-all-pods and makes a different one of that name.
    const ours = world.emulator.smartGroups().find((g) => g.name === 'prod-a-all-pods')!;
    await client.deleteSmartGroup(ours.uuid);
    const theirs = await client.createSmartGroup({ name: 'prod-a-all-pods', selector: { any: [{ all: { type: 'k8s', k8s_namespace: 'kube-system' } }] } });
    const mark = world.log.mark();
    await expect(reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership)).rejects.toMatchObject({
      name: 'GatewayConflict',
      message: expect.stringContaining(`SmartGroup "prod-a-all-pods" (uuid ${theirs})`),
    });
    expect(writes(mark)).toEqual([]);
    await client.deleteSmartGroup(theirs);
  });
});

test('a group a concurrent run created after our read is taken when identical (the 409 is not a failure)', async () => {
  const racer = { name: 'prod-d', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/prod-d', vpcId: 'vpc-0ddd' };
  const twin = await client.createSmartGroup({ name: 'prod-d-vpc', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-0ddd' } }] } });
  // Our read happened before the other run's create.
  class StaleFirstList extends AviatrixClient {
    private lists = 0;
    async listSmartGroups() {
      const all = await super.listSmartGroups();
      return this.lists++ === 0 ? all.filter((g) => g.uuid !== twin) : all;
    }
  }
  const stale = new StaleFirstList(world.connection, { baseDelayMs: 5 });
  const result = await reconcileOnboarding(stale, { kubernetesSmartGroups: [] }, { cluster: racer, dryRun: false }, ownership);
  expect(result.smartGroups).toEqual([{ name: 'prod-d-vpc', uuid: twin, action: 'create' }]);
  expect(world.emulator.smartGroups().filter((g) => g.name === 'prod-d-vpc').map((g) => g.uuid)).toEqual([twin]);
  expect((await ownership.read('prod-d')).smartGroups).toEqual([{ name: 'prod-d-vpc', uuid: twin }]);
});
