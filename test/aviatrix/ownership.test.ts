// Ownership of what this project adds on the controller: offboarding removes exactly what one
// cluster added and no other cluster still claims; drift is repaired with exactly the missing writes;
// a node subnet a cluster no longer uses loses its SNAT policies unless another cluster claims them.
import { AviatrixClient, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { GatewayLeases } from '../../lambdas/shared/lease';
import { offboardOnboarding, reconcileOnboarding } from '../../lambdas/aviatrix/onboarding';
import { isEmptyOwnership, OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { SnatPolicy } from '../../lambdas/aviatrix/policy-codec';
import { desiredPolicies, offboardExclusions, offboardSnat, preflightController, reconcileExclusion, reconcileSnat, SnatDeps } from '../../lambdas/aviatrix/snat';
import { claimantOf, claimVpcResources, readStatusRecord, updateStatusRecord } from '../../lambdas/domain/status-record';
import { logger } from '../../lambdas/shared/logger';
import { LEASE_TABLE, STATUS_TABLE, startWorld, World } from './world';

let world: World;
let client: AviatrixClient;
let ownership: OwnershipRegistry;

beforeAll(async () => {
  world = await startWorld();
  resetAviatrixClientState();
  logger.setLogLevel('SILENT');
  client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 5000 });
  ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
});
afterAll(async () => world.stop());

const config = { allowDisableSingleIpSnat: false, kubernetesSmartGroups: [{ name: 'web', namespace: 'web' }] };
const leases = () => new GatewayLeases({ tableName: LEASE_TABLE, durationSeconds: 30, baseDelayMs: 10, maxDelayMs: 100, acquireTimeoutMs: 30_000 });
const deps = (): SnatDeps => ({ client, config, leases: leases(), ownership });
const keyOf = (p: SnatPolicy) => JSON.stringify(Object.entries(p).sort());
const asSet = (policies: SnatPolicy[]) => new Set(policies.map(keyOf));
const allWrites = (mark: number) => world.log.writesSince(mark).filter((c) => c.service === 'aviatrix' || c.service === 'dynamodb');
/** Controller writes per gateway since `since` (an index into the emulator's request record). */
const writesPerGateway = (since: number) => {
  const counts: Record<string, number> = {};
  for (const r of world.emulator.requests().slice(since)) {
    if (r.action === 'edit_gw_customized_snat_config' || r.action === 'edit_gateway_advertised_cidr' || r.action === 'disable_snat') {
      counts[r.params.gateway_name] = (counts[r.params.gateway_name] ?? 0) + 1;
    }
  }
  return counts;
};

interface TestCluster {
  name: string;
  vpcId: string;
  podCidr: string;
  nodes: string[];
}
const arnOf = (name: string) => `arn:aws:eks:us-east-1:123456789012:cluster/${name}`;
/** The controller side of a cluster run in workflow order: preflight, exclusion, SNAT, onboarding. */
const onboard = async (c: TestCluster, nodes = c.nodes, dryRun = false) => {
  const holder = `exec-${c.name}`;
  const gateways = await preflightController(client, config, { vpcId: c.vpcId, clusterName: c.name });
  const exclusion = await reconcileExclusion(deps(), { clusterName: c.name, podCidr: c.podCidr, transitGateway: gateways.transitGateway, dryRun, holder });
  const gatewaySnat = await reconcileSnat(deps(), { clusterName: c.name, vpcId: c.vpcId, podCidr: c.podCidr, nodeSubnetCidrs: nodes, dryRun, holder, gateways });
  const snat = { ...gatewaySnat, changes: [...exclusion.changes, ...gatewaySnat.changes] };
  const controller = await reconcileOnboarding(client, config, { cluster: { name: c.name, arn: arnOf(c.name), vpcId: c.vpcId }, dryRun }, ownership);
  return { snat, controller };
};
/** Offboarding in workflow order; the exclusion last (its CIDR has left the VPC by then). */
const offboard = async (name: string, dryRun = false) => {
  const snat = await offboardSnat(deps(), { clusterName: name, dryRun, holder: `offboard-${name}` });
  const controller = await offboardOnboarding(client, ownership, { clusterName: name, dryRun });
  const exclusions = await offboardExclusions(deps(), { clusterName: name, dryRun, holder: `offboard-${name}` });
  return [...snat.changes, ...controller.changes, ...exclusions.changes];
};

describe('two clusters sharing one spoke (with HA), its pod CIDR and one transit', () => {
  const FOREIGN: SnatPolicy = { src_ip: '10.50.0.0/24', dst_ip: '192.168.0.0/16', protocol: 'tcp', dst_port: '443', interface: 'eth0', new_src_ip: '10.1.0.4', apply_route_entry: false };
  // A foreign policy on the HA that is identical to one "one" would add: there before us, so never ours.
  const one: TestCluster = { name: 'one', vpcId: 'vpc-shared', podCidr: '100.64.0.0/16', nodes: ['10.1.16.0/20', '10.1.32.0/20', '10.1.80.0/20'] };
  const two: TestCluster = { name: 'two', vpcId: 'vpc-shared', podCidr: '100.64.0.0/16', nodes: ['10.1.48.0/20', '10.1.16.0/20'] };
  const FOREIGN_TWIN = desiredPolicies(one.podCidr, ['10.1.80.0/20'], 'transit-s', '10.1.1.4')[2];

  beforeAll(async () => {
    world.emulator.addGateway({
      name: 'spoke-s', kind: 'spoke', vpcId: 'vpc-shared', privateIp: '10.1.0.4', transitName: 'transit-s',
      ha: { privateIp: '10.1.1.4', snatMode: 'custom', snatPolicies: [FOREIGN_TWIN] }, snatMode: 'custom', snatPolicies: [FOREIGN],
    });
    world.emulator.addGateway({ name: 'transit-s', kind: 'transit', vpcId: 'vpc-t', privateIp: '10.9.0.4', exclusions: ['10.200.0.0/16'] });
    await onboard(one);
    await onboard(two);
  });

  test('both are in place; the foreign twin is relied on, not claimed', async () => {
    const spoke = world.emulator.snatPolicies('spoke-s');
    expect(asSet(spoke)).toEqual(asSet([FOREIGN, ...desiredPolicies(one.podCidr, [...one.nodes, ...two.nodes], 'transit-s', '10.1.0.4')]));
    expect(spoke).toHaveLength(1 + 2 + 4); // pod rules shared, 10.1.16.0/20 shared
    expect(world.emulator.exclusions('transit-s')).toEqual(['10.200.0.0/16', '100.64.0.0/16']);
    const claims = await ownership.read('one');
    expect(claims.snat['spoke-s']).toHaveLength(5);
    expect(claims.snat['spoke-s-hagw']).toHaveLength(4); // not the twin that was there before
    expect(claims.exclusions).toEqual({ 'transit-s': ['100.64.0.0/16'] });
    expect(claims.smartGroups.map((g) => g.name)).toEqual(['one-vpc', 'one-web']);
    expect(claims.k8sClusterId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await ownership.read('two')).snat['spoke-s']).toHaveLength(4); // claims the shared pod rules too
  });

  test('dry-run offboard lists the removals and writes nothing', async () => {
    const mark = world.log.mark();
    const plan = await offboard('one', true);
    expect(allWrites(mark)).toEqual([]);
    expect(plan.map((c) => `${c.action} ${c.resource}`)).toEqual([
      'delete aviatrix gateway spoke-s',
      'delete aviatrix gateway spoke-s-hagw',
      'delete aviatrix SmartGroup one-vpc',
      'delete aviatrix SmartGroup one-web',
      `delete aviatrix k8s cluster ${arnOf('one')}`,
    ]);
    // On the spoke both node rules only "one" uses; on the HA only one of them: the other is the
    // foreign twin that was there before us.
    expect(plan[0].detail).toBe(
      'remove 2 custom SNAT policies cluster one added and no longer needs ' +
        '(10.1.32.0/20 -> 0.0.0.0/0 via interface eth0; 10.1.80.0/20 -> 0.0.0.0/0 via interface eth0)',
    );
    expect(plan[1].detail).toBe('remove 1 custom SNAT policy cluster one added and no longer needs (10.1.32.0/20 -> 0.0.0.0/0 via interface eth0)');
  });

  test("offboarding one leaves the other's policies, the exclusion and its SmartGroups exactly as they were", async () => {
    const before = {
      spoke: world.emulator.snatPolicies('spoke-s'),
      ha: world.emulator.snatPolicies('spoke-s-hagw'),
      exclusions: world.emulator.exclusions('transit-s'),
      groups: world.emulator.smartGroups().filter((g) => g.name.startsWith('two-')),
      k8s: world.emulator.k8sClusters().filter((k) => k.cluster_id === arnOf('two')),
    };
    const changes = await offboard('one');
    expect(changes.filter((c) => c.action === 'delete')).toHaveLength(5);

    const onlyOne = (ip: string, nodes: string[]) => new Set(desiredPolicies(one.podCidr, nodes, 'transit-s', ip).slice(2).map(keyOf));
    const spokeGone = onlyOne('10.1.0.4', ['10.1.32.0/20', '10.1.80.0/20']);
    const haGone = onlyOne('10.1.1.4', ['10.1.32.0/20']);
    expect(world.emulator.snatPolicies('spoke-s')).toEqual(before.spoke.filter((p) => !spokeGone.has(keyOf(p))));
    expect(world.emulator.snatPolicies('spoke-s-hagw')).toEqual(before.ha.filter((p) => !haGone.has(keyOf(p))));
    // What two needs is all there; the foreign policy and the foreign twin are untouched.
    expect(asSet(world.emulator.snatPolicies('spoke-s'))).toEqual(asSet([FOREIGN, ...desiredPolicies(two.podCidr, two.nodes, 'transit-s', '10.1.0.4')]));
    expect(asSet(world.emulator.snatPolicies('spoke-s-hagw'))).toEqual(asSet([FOREIGN_TWIN, ...desiredPolicies(two.podCidr, two.nodes, 'transit-s', '10.1.1.4')]));
    expect(world.emulator.exclusions('transit-s')).toEqual(before.exclusions);
    expect(world.emulator.smartGroups().filter((g) => g.name.startsWith('two-'))).toEqual(before.groups);
    expect(world.emulator.smartGroups().filter((g) => g.name.startsWith('one-'))).toEqual([]);
    expect(world.emulator.k8sClusters().map((k) => k.cluster_id)).toEqual([arnOf('two')]);
    expect(world.emulator.k8sClusters()).toEqual(before.k8s);
    expect(isEmptyOwnership(await ownership.read('one'))).toBe(true);

    const mark = world.log.mark();
    expect(await offboard('one')).toEqual([]);
    expect(allWrites(mark)).toEqual([]);
    expect(world.log.since(mark).filter((c) => c.service === 'aviatrix')).toEqual([]);
  });

  test('offboarding the last one restores the gateways to what was there before us', async () => {
    await offboard('two');
    expect(world.emulator.snatPolicies('spoke-s')).toEqual([FOREIGN]);
    expect(world.emulator.snatPolicies('spoke-s-hagw')).toEqual([FOREIGN_TWIN]);
    expect(world.emulator.exclusions('transit-s')).toEqual(['10.200.0.0/16']);
    expect(world.emulator.smartGroups()).toEqual([]);
    expect(world.emulator.k8sClusters()).toEqual([]);
  });

  test('a cluster with no record offboards with zero writes', async () => {
    const mark = world.log.mark();
    expect(await offboard('never-seen')).toEqual([]);
    expect(allWrites(mark)).toEqual([]);
  });
});

test('drift: a policy and the exclusion removed by hand are restored, and nothing else is written', async () => {
  const FOREIGN: SnatPolicy = { src_ip: '10.60.0.0/24', dst_ip: '0.0.0.0/0', protocol: 'all', interface: 'eth0', new_src_ip: '10.2.0.4', apply_route_entry: true };
  world.emulator.addGateway({ name: 'spoke-d', kind: 'spoke', vpcId: 'vpc-drift', privateIp: '10.2.0.4', transitName: 'transit-d', ha: { privateIp: '10.2.1.4' }, snatMode: 'custom', snatPolicies: [FOREIGN] });
  world.emulator.addGateway({ name: 'transit-d', kind: 'transit', vpcId: 'vpc-t', privateIp: '10.9.0.5', exclusions: ['10.200.0.0/16'] });
  const c: TestCluster = { name: 'drifty', vpcId: 'vpc-drift', podCidr: '100.64.0.0/16', nodes: ['10.2.16.0/20', '10.2.32.0/20'] };
  await onboard(c);
  const good = { spoke: world.emulator.snatPolicies('spoke-d'), ha: world.emulator.snatPolicies('spoke-d-hagw'), exclusions: world.emulator.exclusions('transit-d') };

  // By hand: one of the cluster's policies on the spoke and the exclusion go.
  const dropped = desiredPolicies(c.podCidr, c.nodes, 'transit-d', '10.2.0.4')[3];
  await client.replaceSnatPolicies('spoke-d', good.spoke.filter((p) => keyOf(p) !== keyOf(dropped)), { enableNat: false });
  await client.setExcludedAdvertisedCidrs('transit-d', ['10.200.0.0/16']);

  const since = world.emulator.requests().length;
  const mark = world.log.mark();
  const result = await onboard(c);
  expect(writesPerGateway(since)).toEqual({ 'spoke-d': 1, 'transit-d': 1 });
  expect(world.log.writesSince(mark, 'aviatrix').map((w) => w.action)).toEqual(['edit_gateway_advertised_cidr', 'edit_gw_customized_snat_config']);
  expect(result.snat.changes.map((ch) => `${ch.action} ${ch.resource}: ${ch.detail}`)).toEqual([
    'update aviatrix transit transit-d: exclude pod CIDR 100.64.0.0/16 from advertised spoke routes, keeping 1 existing',
    'update aviatrix gateway spoke-d: add 1 custom SNAT policy for cluster drifty (SNAT IP 10.2.0.4), keeping 4 existing',
  ]);
  expect(result.controller.changes).toEqual([]);
  expect(asSet(world.emulator.snatPolicies('spoke-d'))).toEqual(asSet(good.spoke));
  expect(world.emulator.snatPolicies('spoke-d')).toHaveLength(good.spoke.length);
  expect(world.emulator.snatPolicies('spoke-d-hagw')).toEqual(good.ha);
  expect(world.emulator.exclusions('transit-d')).toEqual(good.exclusions);

  // And once repaired, a further run writes nothing anywhere.
  const mark2 = world.log.mark();
  await onboard(c);
  expect(allWrites(mark2)).toEqual([]);
});

describe('a node subnet no longer used', () => {
  const a: TestCluster = { name: 'ng-a', vpcId: 'vpc-ng', podCidr: '100.64.0.0/16', nodes: ['10.3.16.0/20', '10.3.32.0/20', '10.3.48.0/20'] };
  const b: TestCluster = { name: 'ng-b', vpcId: 'vpc-ng', podCidr: '100.64.0.0/16', nodes: ['10.3.48.0/20'] };
  beforeAll(async () => {
    world.emulator.addGateway({ name: 'spoke-n', kind: 'spoke', vpcId: 'vpc-ng', privateIp: '10.3.0.4', transitName: 'transit-n', ha: { privateIp: '10.3.1.4' } });
    world.emulator.addGateway({ name: 'transit-n', kind: 'transit', vpcId: 'vpc-t', privateIp: '10.9.0.6' });
    await onboard(a);
    await onboard(b);
  });

  test('dry run plans the removal on both gateways and writes nothing', async () => {
    const mark = world.log.mark();
    const plan = await reconcileSnat(deps(), { clusterName: a.name, vpcId: a.vpcId, podCidr: a.podCidr, nodeSubnetCidrs: ['10.3.16.0/20'], dryRun: true, holder: 'x' });
    expect(allWrites(mark)).toEqual([]);
    expect(plan.changes.map((c) => `${c.action} ${c.resource}`)).toEqual(['delete aviatrix gateway spoke-n', 'delete aviatrix gateway spoke-n-hagw']);
    expect(plan.gateways.map((g) => [g.gateway, g.removed, g.keptForOthers])).toEqual([['spoke-n', 1, 1], ['spoke-n-hagw', 1, 1]]);
  });

  test('is removed from the spoke and the HA, except where another cluster claims it', async () => {
    const since = world.emulator.requests().length;
    const result = await reconcileSnat(deps(), { clusterName: a.name, vpcId: a.vpcId, podCidr: a.podCidr, nodeSubnetCidrs: ['10.3.16.0/20'], dryRun: false, holder: 'exec-ng-a' });
    expect(writesPerGateway(since)).toEqual({ 'spoke-n': 1, 'spoke-n-hagw': 1 });
    expect(result.gateways.map((g) => [g.gateway, g.added, g.removed, g.keptForOthers])).toEqual([['spoke-n', 0, 1, 1], ['spoke-n-hagw', 0, 1, 1]]);
    for (const [gw, ip] of [['spoke-n', '10.3.0.4'], ['spoke-n-hagw', '10.3.1.4']]) {
      // 10.3.32.0/20 (only a) is gone; 10.3.48.0/20 stays for b.
      expect(asSet(world.emulator.snatPolicies(gw))).toEqual(asSet(desiredPolicies(a.podCidr, ['10.3.16.0/20', '10.3.48.0/20'], 'transit-n', ip)));
      const claim = (await ownership.read(a.name)).snat[gw];
      expect(asSet(claim)).toEqual(asSet(desiredPolicies(a.podCidr, ['10.3.16.0/20'], 'transit-n', ip)));
    }
    // b leaves too: now 10.3.48.0/20 goes, the shared pod rules stay for a.
    await offboard(b.name);
    expect(asSet(world.emulator.snatPolicies('spoke-n'))).toEqual(asSet(desiredPolicies(a.podCidr, ['10.3.16.0/20'], 'transit-n', '10.3.0.4')));
    expect(world.emulator.exclusions('transit-n')).toEqual(['100.64.0.0/16']);
  });
});

test('a claim recorded before a write that never happened is harmless (intent first)', async () => {
  world.emulator.addGateway({ name: 'spoke-i', kind: 'spoke', vpcId: 'vpc-i', privateIp: '10.4.0.4', transitName: 'transit-i' });
  world.emulator.addGateway({ name: 'transit-i', kind: 'transit', vpcId: 'vpc-t', privateIp: '10.9.0.7' });
  const c: TestCluster = { name: 'crashy', vpcId: 'vpc-i', podCidr: '100.64.0.0/16', nodes: ['10.4.16.0/20'] };
  // The controller fails the SNAT write for good: the claim is there, the policies are not.
  world.emulator.failNext(4, { status: 500, action: 'edit_gw_customized_snat_config' });
  await expect(onboard(c)).rejects.toThrow(/edit_gw_customized_snat_config/);
  expect((await ownership.read(c.name)).snat['spoke-i']).toHaveLength(3);
  expect(world.emulator.snatPolicies('spoke-i')).toEqual([]);
  // The exclusion was written first (it precedes SNAT). Offboarding removes only that: no SNAT
  // write for policies that never got there, and every claim is dropped.
  expect(world.emulator.exclusions('transit-i')).toEqual(['100.64.0.0/16']);
  const mark = world.log.mark();
  await offboard(c.name);
  expect(world.log.writesSince(mark, 'aviatrix').map((call) => call.action)).toEqual(['edit_gateway_advertised_cidr']);
  expect(world.emulator.exclusions('transit-i')).toEqual([]);
  expect(isEmptyOwnership(await ownership.read(c.name))).toBe(true);
});

describe('the status record and the cluster of its name', () => {
  const arn = 'arn:aws:eks:us-east-1:123456789012:cluster/renamed-twice';
  const older = { name: 'renamed-twice', arn, vpcId: 'vpc-old', createdAt: '2026-01-01T00:00:00.000Z' };
  const newer = { name: 'renamed-twice', arn, vpcId: 'vpc-new', createdAt: '2026-02-01T00:00:00.000Z' };

  test('a claim of the cluster deleted before is refused once the record is the re-created one\'s; the re-created one takes an older record over', async () => {
    await claimVpcResources(STATUS_TABLE, older, '100.64.0.0/16');
    expect(await readStatusRecord(STATUS_TABLE, 'renamed-twice')).toMatchObject({ vpcId: 'vpc-old', clusterIdentity: claimantOf(older) });
    await claimVpcResources(STATUS_TABLE, newer, '100.64.0.0/16');
    const taken = await readStatusRecord(STATUS_TABLE, 'renamed-twice');
    expect(taken).toMatchObject({ vpcId: 'vpc-new', clusterIdentity: claimantOf(newer) });

    await expect(claimVpcResources(STATUS_TABLE, older, '100.64.0.0/16')).rejects.toMatchObject({
      name: 'ClusterGone',
      message: expect.stringContaining(`is for a cluster of that name created after this one (${claimantOf(newer)})`),
    });
    expect(await updateStatusRecord(STATUS_TABLE, 'renamed-twice', { status: 'FAILED' }, { identity: claimantOf(older) })).toBe(false);
    expect(await readStatusRecord(STATUS_TABLE, 'renamed-twice')).toEqual(taken);
  });

  test('an offboarding whose pod CIDR stays in the VPC for someone else drops only its own cluster\'s exclusion claims', async () => {
    const kept = { reason: 'another cluster uses it', retry: false };
    const offboard = (claimant: string | null) => offboardExclusions(deps(), { clusterName: 'renamed-twice', dryRun: false, holder: 'offboard-renamed-twice', claimant, cidrKept: kept });
    await ownership.setExclusions('renamed-twice', 'transit-a', ['100.64.0.0/16'], claimantOf(newer));
    // The run of the cluster deleted before, and a run that knows no identity: the re-created one's claim stays.
    for (const claimant of [claimantOf(older), null]) {
      expect(await offboard(claimant)).toMatchObject({ exclusions: [], warnings: [expect.stringContaining('stays excluded from the transit')] });
      expect(await ownership.read('renamed-twice')).toMatchObject({ exclusions: { 'transit-a': ['100.64.0.0/16'] }, exclusionsOf: claimantOf(newer) });
    }
    // Its own run drops it.
    await offboard(claimantOf(newer));
    expect(await ownership.read('renamed-twice')).toMatchObject({ exclusions: {} });
  });

  test('a writer whose cluster had no identity on record (an older record) never writes over a record that has one', async () => {
    await updateStatusRecord(STATUS_TABLE, 'identity-less', { status: 'ONBOARDED' });
    expect(await updateStatusRecord(STATUS_TABLE, 'identity-less', { status: 'OFFBOARDING_FAILED' }, { identity: null })).toBe(true);
    expect(await readStatusRecord(STATUS_TABLE, 'identity-less')).toMatchObject({ status: 'OFFBOARDING_FAILED' });
    await updateStatusRecord(STATUS_TABLE, 'identity-less', { status: 'ONBOARDED' }, { identity: claimantOf(newer) });
    expect(await updateStatusRecord(STATUS_TABLE, 'identity-less', { status: 'OFFBOARDING_FAILED' }, { identity: null })).toBe(false);
    expect(await readStatusRecord(STATUS_TABLE, 'identity-less')).toMatchObject({ status: 'ONBOARDED', clusterIdentity: claimantOf(newer) });
  });
});
