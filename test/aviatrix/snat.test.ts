import { AviatrixClient, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GatewayLeases, LeaseLostError } from '../../lambdas/shared/lease';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { desiredPolicies, gatewayLeaseSeconds, preflightController, reconcileExclusion, reconcileSnat as reconcileGatewaySnat, SnatDeps, SnatInput } from '../../lambdas/aviatrix/snat';
import { OnboardingError } from '../../lambdas/shared/errors';
import { SnatPolicy } from '../../lambdas/aviatrix/policy-codec';
import { logger } from '../../lambdas/shared/logger';
import { LEASE_TABLE, STATUS_TABLE, startWorld, World } from './world';

let world: World;
let client: AviatrixClient;
const config = { allowDisableSingleIpSnat: false };

const FOREIGN: SnatPolicy[] = [
  { src_ip: '10.50.0.0/24', dst_ip: '192.168.0.0/16', protocol: 'tcp', dst_port: '443', connection: 'site-b@site2cloud', interface: 'eth0', new_src_ip: '10.0.0.4', apply_route_entry: false },
];

beforeAll(async () => {
  world = await startWorld();
  resetAviatrixClientState();
  logger.setLogLevel('SILENT');
  client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 5000 });
});
afterAll(async () => world.stop());

// The deployed acquire timeout: 20 holders in a row on a loaded machine outlast a shorter one (seen).
const leases = () => new GatewayLeases({ tableName: LEASE_TABLE, durationSeconds: 30, baseDelayMs: 10, maxDelayMs: 100, acquireTimeoutMs: 240_000 });
const deps = (extra: Partial<SnatDeps> = {}): SnatDeps => ({ client, config, leases: leases(), ownership: new OwnershipRegistry({ tableName: STATUS_TABLE }), ...extra });
const input = (vpcId: string, cluster: string, podCidr: string, nodes: string[], extra: Partial<SnatInput> = {}): SnatInput => ({
  clusterName: cluster, vpcId, podCidr, nodeSubnetCidrs: nodes, dryRun: false, holder: `exec-${cluster}`, ...extra,
});
/**
 * The controller half of a cluster run, in workflow order: preflight (reads), the transit exclusion,
 * then SNAT on the spoke and its HA peer.
 */
async function reconcileSnat(d: SnatDeps, i: SnatInput) {
  const gateways = await preflightController(d.client, d.config, { vpcId: i.vpcId, clusterName: i.clusterName });
  const exclusion = await reconcileExclusion(d, { clusterName: i.clusterName, podCidr: i.podCidr, transitGateway: gateways.transitGateway, dryRun: i.dryRun, holder: i.holder });
  const snat = await reconcileGatewaySnat(d, { ...i, gateways });
  return { ...snat, changes: [...snat.changes, ...exclusion.changes], exclusion };
}
const aviatrixWrites = (mark: number) => world.log.writesSince(mark, 'aviatrix');
const dynamoWrites = (mark: number) => world.log.writesSince(mark).filter((c) => c.service === 'dynamodb');
const keyOf = (p: SnatPolicy) => JSON.stringify(Object.entries(p).sort());

describe('one spoke with HA, foreign policies and exclusions', () => {
  beforeAll(() => {
    world.emulator.addGateway({
      name: 'spoke-1', kind: 'spoke', vpcId: 'vpc-111', privateIp: '10.0.0.4', transitName: 'transit-1',
      ha: { privateIp: '10.0.1.4' }, snatMode: 'custom', snatPolicies: FOREIGN,
    });
    world.emulator.addGateway({ name: 'transit-1', kind: 'transit', vpcId: 'vpc-ttt', privateIp: '10.9.0.4', exclusions: ['10.200.0.0/16', '172.16.0.0/12'] });
  });

  test('dry run plans every change and writes nothing (controller or DynamoDB)', async () => {
    const mark = world.log.mark();
    const result = await reconcileSnat(deps(), input('vpc-111', 'alpha', '100.64.0.0/16', ['10.0.16.0/20', '10.0.32.0/20'], { dryRun: true }));
    expect(result.dryRun).toBe(true);
    expect(result.changes.map((c) => c.resource)).toEqual(['aviatrix gateway spoke-1', 'aviatrix gateway spoke-1-hagw', 'aviatrix transit transit-1']);
    expect(result.gateways.map((g) => [g.gateway, g.added])).toEqual([['spoke-1', 4], ['spoke-1-hagw', 4]]);
    expect(aviatrixWrites(mark)).toEqual([]);
    expect(dynamoWrites(mark)).toEqual([]);
  });

  test('writes exact policies on spoke and HA, each with its own IP, keeping foreign ones; second run writes nothing', async () => {
    const result = await reconcileSnat(deps(), input('vpc-111', 'alpha', '100.64.0.0/16', ['10.0.16.0/20', '10.0.32.0/20']));
    const ours = (ip: string): SnatPolicy[] => [
      { src_ip: '100.64.0.0/16', dst_ip: '0.0.0.0/0', protocol: 'all', connection: 'transit-1', new_src_ip: ip, apply_route_entry: true },
      { src_ip: '100.64.0.0/16', dst_ip: '0.0.0.0/0', protocol: 'all', interface: 'eth0', new_src_ip: ip, apply_route_entry: true },
      { src_ip: '10.0.16.0/20', dst_ip: '0.0.0.0/0', protocol: 'all', interface: 'eth0', new_src_ip: ip, apply_route_entry: true },
      { src_ip: '10.0.32.0/20', dst_ip: '0.0.0.0/0', protocol: 'all', interface: 'eth0', new_src_ip: ip, apply_route_entry: true },
    ];
    expect(world.emulator.snatPolicies('spoke-1')).toEqual([...FOREIGN, ...ours('10.0.0.4')]);
    expect(world.emulator.snatPolicies('spoke-1-hagw')).toEqual(ours('10.0.1.4'));
    expect(world.emulator.gateway('spoke-1-hagw')).toMatchObject({ nat_enabled: true, snat_target: 'customized' });
    expect(world.emulator.exclusions('transit-1')).toEqual(['10.200.0.0/16', '172.16.0.0/12', '100.64.0.0/16']);
    expect(result).toMatchObject({ spokeGateway: 'spoke-1', haGateway: 'spoke-1-hagw', transitGateway: 'transit-1', exclusion: { added: true } });

    // enable_nat=yes only where custom SNAT was being switched on (the HA), never on the spoke.
    const snatWrites = world.emulator.requests().filter((r) => r.action === 'edit_gw_customized_snat_config');
    expect(snatWrites.map((r) => [r.params.gateway_name, r.params.enable_nat])).toEqual([['spoke-1', undefined], ['spoke-1-hagw', 'yes']]);

    // Second run, with the controller echoing duplicates, reordering and "None": zero writes.
    world.emulator.echoQuirks = true;
    try {
      const mark = world.log.mark();
      const again = await reconcileSnat(deps(), input('vpc-111', 'alpha', '100.64.0.0/16', ['10.0.16.0/20', '10.0.32.0/20']));
      expect(again.changes).toEqual([]);
      expect(aviatrixWrites(mark)).toEqual([]);
      expect(world.log.since(mark).filter((c) => c.service === 'aviatrix').length).toBeGreaterThan(0);
    } finally {
      world.emulator.echoQuirks = false;
    }
  });

  test('a later cluster in the same VPC appends only its node-subnet rules (pod rules already there)', async () => {
    const mark = world.log.mark();
    await reconcileSnat(deps(), input('vpc-111', 'beta', '100.64.0.0/16', ['10.0.48.0/20']));
    expect(world.emulator.snatPolicies('spoke-1')).toHaveLength(FOREIGN.length + 5);
    expect(world.emulator.snatPolicies('spoke-1-hagw')).toHaveLength(5);
    expect(world.emulator.exclusions('transit-1')).toHaveLength(3);
    expect(aviatrixWrites(mark).map((c) => c.action)).toEqual(['edit_gw_customized_snat_config', 'edit_gw_customized_snat_config']);
  });

  test('reads: the preflight finds the HA peer in its spoke listing; a writing SNAT step reads each summary once, each list three times', async () => {
    let mark = world.log.mark();
    const gateways = await preflightController(client, config, { vpcId: 'vpc-111', clusterName: 'gamma' });
    const reads = (since: number, action: string) => world.log.since(since).filter((c) => c.service === 'aviatrix' && c.action === action).length;
    // The spoke listing and the transit: the HA peer's summary came with the listing.
    expect(reads(mark, 'list_vpcs_summary')).toBe(2);
    mark = world.log.mark();
    await reconcileGatewaySnat(deps(), input('vpc-111', 'gamma', '100.64.0.0/16', ['10.0.64.0/20'], { gateways }));
    expect(aviatrixWrites(mark)).toHaveLength(2);
    // Per gateway: one summary shared by the plan and the pass inside the lease; the SNAT list for
    // the plan, inside the lease, and the read-back.
    expect(reads(mark, 'list_vpcs_summary')).toBe(2);
    expect(reads(mark, 'get_gateway_info')).toBe(6);
  });

  test('a SNAT step handed the preflight\'s gateways looks none of them up again', async () => {
    const gateways = await preflightController(client, config, { vpcId: 'vpc-111', clusterName: 'beta' });
    const mark = world.log.mark();
    const again = await reconcileGatewaySnat(deps(), input('vpc-111', 'beta', '100.64.0.0/16', ['10.0.48.0/20'], { gateways }));
    expect(again.changes).toEqual([]);
    // One read per gateway (inside the lease-less probe), no spoke listing, no transit read.
    const reads = world.log.since(mark).filter((c) => c.service === 'aviatrix' && c.action === 'list_vpcs_summary');
    expect(reads).toHaveLength(2);
  });
});

describe('refusals: one clear error, zero controller writes', () => {
  beforeAll(() => {
    world.emulator.addGateway({ name: 'spoke-single', kind: 'spoke', vpcId: 'vpc-222', privateIp: '10.2.0.4', transitName: 'transit-1', snatMode: 'single' });
    world.emulator.addGateway({ name: 'spoke-orphan', kind: 'spoke', vpcId: 'vpc-333', privateIp: '10.3.0.4', transitName: 'transit-gone' });
  });

  const refuse = async (d: SnatDeps, i: SnatInput, name: string, message: RegExp) => {
    const mark = world.log.mark();
    const error = await reconcileSnat(d, i).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OnboardingError);
    expect((error as OnboardingError).name).toBe(name);
    expect((error as Error).message).toMatch(message);
    expect(aviatrixWrites(mark)).toEqual([]);
    expect(dynamoWrites(mark)).toEqual([]);
  };

  test('no spoke gateway in the VPC', () =>
    refuse(deps(), input('vpc-999', 'gamma', '100.64.0.0/16', []), 'GatewayNotFound',
      /^no Aviatrix spoke gateway serves VPC vpc-999 of cluster gamma; deploy a spoke gateway in that VPC \(or name it with onboarding\.aviatrix\.spokeGatewayName\)/));

  test('single-IP SNAT on the spoke', () =>
    refuse(deps(), input('vpc-222', 'delta', '100.64.0.0/16', ['10.2.16.0/20']), 'GatewayConflict',
      /gateway spoke-single uses single-IP SNAT.*onboarding\.aviatrix\.allowDisableSingleIpSnat=true/));

  test('named transit the spoke is not attached to', () =>
    refuse(deps({ config: { ...config, transitGatewayName: 'no-such-transit' } }), input('vpc-111', 'eps', '100.64.0.0/16', []),
      'GatewayConflict', /^spoke gateway spoke-1 is attached to transit-1, not to transit no-such-transit \(onboarding\.aviatrix\.transitGatewayName\)/));

  test('spoke attached to a transit that does not exist', () =>
    refuse(deps(), input('vpc-333', 'zeta', '100.64.0.0/16', []), 'GatewayNotFound',
      /^transit gateway transit-gone \(from the attachment of spoke spoke-orphan\) does not exist/));

  test('single-IP SNAT is switched off first when config allows', async () => {
    await reconcileSnat(deps({ config: { allowDisableSingleIpSnat: true } }), input('vpc-222', 'delta', '100.64.0.0/16', ['10.2.16.0/20']));
    const actions = world.emulator.requests().filter((r) => r.params.gateway_name === 'spoke-single' && r.action !== 'list_vpcs_summary' && r.action !== 'get_gateway_info');
    expect(actions.map((r) => [r.action, r.params.enable_nat])).toEqual([['disable_snat', undefined], ['edit_gw_customized_snat_config', 'yes']]);
    expect(world.emulator.gateway('spoke-single')).toMatchObject({ snat_target: 'customized', nat_enabled: true });
    expect(world.emulator.snatPolicies('spoke-single')).toEqual(desiredPolicies('100.64.0.0/16', ['10.2.16.0/20'], 'transit-1', '10.2.0.4'));
  });
});

describe('20 concurrent clusters sharing one spoke (with HA) and one transit', () => {
  const clusters = Array.from({ length: 20 }, (_, i) => ({
    name: `c${i}`,
    podCidr: `100.${64 + i}.0.0/16`,
    nodes: [`10.${100 + i}.0.0/24`, `10.${100 + i}.1.0/24`],
  }));
  const setup = (prefix: string) => {
    world.emulator.addGateway({ name: `${prefix}-spoke`, kind: 'spoke', vpcId: `vpc-${prefix}`, privateIp: '10.7.0.4', transitName: `${prefix}-transit`, ha: { privateIp: '10.7.1.4' } });
    world.emulator.addGateway({ name: `${prefix}-transit`, kind: 'transit', vpcId: 'vpc-tt', privateIp: '10.8.0.4', exclusions: ['10.255.0.0/16'] });
  };
  const run = (prefix: string, d: SnatDeps) =>
    Promise.all(clusters.map((c) => reconcileSnat(d, input(`vpc-${prefix}`, c.name, c.podCidr, c.nodes, { holder: `exec-${prefix}-${c.name}` }))));

  test('with leases: nothing lost, nothing doubled', async () => {
    setup('shared');
    world.emulator.latencyMs = 5;
    try {
      await run('shared', deps());
    } finally {
      world.emulator.latencyMs = 0;
    }
    for (const [gw, ip] of [['shared-spoke', '10.7.0.4'], ['shared-spoke-hagw', '10.7.1.4']]) {
      const policies = world.emulator.snatPolicies(gw);
      expect(policies).toHaveLength(80);
      expect(new Set(policies.map(keyOf)).size).toBe(80);
      const expected = clusters.flatMap((c) => desiredPolicies(c.podCidr, c.nodes, 'shared-transit', ip));
      expect(new Set(policies.map(keyOf))).toEqual(new Set(expected.map(keyOf)));
    }
    const exclusions = world.emulator.exclusions('shared-transit');
    expect(exclusions).toHaveLength(21);
    expect(new Set(exclusions)).toEqual(new Set(['10.255.0.0/16', ...clusters.map((c) => c.podCidr)]));
  }, 300_000);

  test('without leases the same run loses updates (the emulator makes the race real)', async () => {
    setup('racy');
    const noLease = {
      withLease: <T>(_g: string, _h: string, fn: () => Promise<T>) => fn(),
      renewOrThrow: async () => undefined,
    } as unknown as GatewayLeases;
    world.emulator.latencyMs = 5;
    try {
      // Read-back catches some of the losses (those runs fail); the lists end up short either way.
      const outcomes = await Promise.allSettled(
        clusters.map((c) => reconcileSnat(deps({ leases: noLease }), input('vpc-racy', c.name, c.podCidr, c.nodes))),
      );
      expect(outcomes.some((o) => o.status === 'rejected')).toBe(true);
    } finally {
      world.emulator.latencyMs = 0;
    }
    expect(world.emulator.snatPolicies('racy-spoke').length).toBeLessThan(80);
    expect(world.emulator.exclusions('racy-transit').length).toBeLessThan(21);
  });
});

describe('a lease that runs out before the write', () => {
  const leaseHolder = async (gateway: string) =>
    (await world.direct.dynamo.send(new GetItemCommand({ TableName: LEASE_TABLE, Key: { leaseId: { S: `gateway#${gateway}` } }, ConsistentRead: true })))
      .Item?.holder?.S;

  test('a holder whose lease expired and was taken by another does not write', async () => {
    world.emulator.addGateway({ name: 'slow-spoke', kind: 'spoke', vpcId: 'vpc-slow', privateIp: '10.6.0.4', transitName: 'slow-transit' });
    world.emulator.addGateway({ name: 'slow-transit', kind: 'transit', vpcId: 'vpc-st', privateIp: '10.6.9.4' });
    // Once the slow run holds the lease, the controller answers slower than the lease lasts.
    class SlowOnceHeld extends GatewayLeases {
      withLease<T>(gateway: string, holder: string, fn: () => Promise<T>): Promise<T> {
        return super.withLease(gateway, holder, () => {
          world.emulator.latencyMs = 3500;
          return fn();
        });
      }
    }
    const short = new SlowOnceHeld({ tableName: LEASE_TABLE, durationSeconds: 1, baseDelayMs: 10, maxDelayMs: 100, acquireTimeoutMs: 10_000 });
    const other = new GatewayLeases({ tableName: LEASE_TABLE, durationSeconds: 60, baseDelayMs: 10, maxDelayMs: 100 });
    const mark = world.log.mark();
    // Meanwhile the lease expires and another run takes it.
    let taken = false;
    const takeover = (async () => {
      while ((await leaseHolder('slow-spoke')) !== 'exec-slow') await new Promise((r) => setTimeout(r, 20));
      while (!(await other.tryAcquire('slow-spoke', 'exec-other'))) await new Promise((r) => setTimeout(r, 50));
      taken = true;
    })();
    try {
      const error = await reconcileGatewaySnat(deps({ leases: short }), input('vpc-slow', 'slow', '100.66.0.0/16', ['10.6.16.0/20'], { holder: 'exec-slow' })).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      await takeover;
      expect(taken).toBe(true);
      expect(error).toBeInstanceOf(LeaseLostError);
      expect(error?.name).toBe('TransientError');
      expect(error?.message).toMatch(
        /^the lease on gateway slow-spoke \(lease gateway#slow-spoke in table gateway-leases\) expired or was taken by another workflow before writing the custom SNAT list of gateway slow-spoke, so nothing was written/,
      );
    } finally {
      world.emulator.latencyMs = 0;
    }
    expect(aviatrixWrites(mark)).toEqual([]);
    expect(world.emulator.snatPolicies('slow-spoke')).toEqual([]);
    expect(await leaseHolder('slow-spoke')).toBe('exec-other');
    await other.release('slow-spoke', 'exec-other');
  }, 30_000);

  test('the gateway lease outlives the worst case of one write (attempts x timeout, with a re-login)', () => {
    // The deployed defaults: the local world's short back-off and timeout settings set aside.
    const saved = { base: process.env.AVIATRIX_RETRY_BASE_DELAY_MS, timeout: process.env.AVIATRIX_REQUEST_TIMEOUT_MS };
    delete process.env.AVIATRIX_RETRY_BASE_DELAY_MS;
    delete process.env.AVIATRIX_REQUEST_TIMEOUT_MS;
    const defaults = new AviatrixClient(world.connection);
    if (saved.base !== undefined) process.env.AVIATRIX_RETRY_BASE_DELAY_MS = saved.base;
    if (saved.timeout !== undefined) process.env.AVIATRIX_REQUEST_TIMEOUT_MS = saved.timeout;
    expect(defaults.worstCaseCallMs()).toBe(4 * 30_000 + 500 + 1000 + 2000);
    expect(gatewayLeaseSeconds(defaults)).toBe(431);
    expect(gatewayLeaseSeconds(defaults) * 1000).toBeGreaterThan(3 * defaults.worstCaseCallMs());
    expect(gatewayLeaseSeconds(new AviatrixClient(world.connection, { maxAttempts: 2, timeoutMs: 10_000, baseDelayMs: 100 }))).toBe(
      Math.ceil((3 * (2 * 10_000 + 100)) / 1000) + 60,
    );
  });
});
