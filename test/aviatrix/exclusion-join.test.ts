// A pod CIDR the transit already excludes for another onboarded cluster is joined without the
// transit's lease (the lease every cluster behind that transit would queue for): the claim, the
// lease seen free, the transit read again. A held lease or a CIDR gone meanwhile takes the lease.
import { AviatrixClient, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { reconcileExclusion, SnatDeps } from '../../lambdas/aviatrix/snat';
import { GatewayLeases, LeaseTimeoutError } from '../../lambdas/shared/lease';
import { logger } from '../../lambdas/shared/logger';
import { LEASE_TABLE, STATUS_TABLE, startWorld, World } from './world';

const TRANSIT = 'join-transit';
const FOREIGN = '10.200.0.0/16';
const POD_CIDR = '100.64.0.0/16';

let world: World;
let client: AviatrixClient;

const leases = (acquireTimeoutMs = 60_000) =>
  new GatewayLeases({ tableName: LEASE_TABLE, durationSeconds: 30, baseDelayMs: 10, maxDelayMs: 100, acquireTimeoutMs });
const ownership = () => new OwnershipRegistry({ tableName: STATUS_TABLE });
const deps = (acquireTimeoutMs?: number): SnatDeps => ({ client, config: { allowDisableSingleIpSnat: false }, leases: leases(acquireTimeoutMs), ownership: ownership() });
const exclude = (clusterName: string, d: SnatDeps = deps()) =>
  reconcileExclusion(d, { clusterName, podCidr: POD_CIDR, transitGateway: TRANSIT, dryRun: false, holder: `exec-${clusterName}` });
const dynamoWrites = (mark: number) => world.log.writesSince(mark, 'dynamodb').map((c) => c.action);
const claims = async (clusterName: string) => (await ownership().read(clusterName)).exclusions[TRANSIT];

beforeAll(async () => {
  world = await startWorld();
  resetAviatrixClientState();
  logger.setLogLevel('SILENT');
  client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 5000 });
  world.emulator.addGateway({ name: TRANSIT, kind: 'transit', vpcId: 'vpc-join', privateIp: '10.9.0.4', exclusions: [FOREIGN] });
  // The first cluster adds the exclusion under the transit's lease.
  const first = await exclude('join-a');
  expect(first.added).toBe(true);
});
afterAll(async () => world.stop());

test('a second cluster joins the exclusion with its claim alone: no transit lease, no controller write', async () => {
  const mark = world.log.mark();
  const result = await exclude('join-b');

  expect(result).toMatchObject({ added: false, removed: [], changes: [] });
  expect(await claims('join-b')).toEqual([POD_CIDR]);
  expect(world.emulator.exclusions(TRANSIT)).toEqual([FOREIGN, POD_CIDR]);
  // The claim, with its claim-index item in one transaction, is the one DynamoDB write: no lease put or delete.
  expect(dynamoWrites(mark)).toEqual(['TransactWriteItems']);
  expect(world.log.writesSince(mark, 'aviatrix')).toEqual([]);
});

test('while another workflow (an offboarding) holds the transit lease, a joining cluster waits for it', async () => {
  const offboarding = leases();
  await offboarding.acquire(TRANSIT, 'exec-offboarding');
  try {
    const mark = world.log.mark();
    // Its claim is made first (intent); it then finds the lease held and waits for it to be freed,
    // without taking it (joiners never queue behind each other): here in vain.
    await expect(exclude('join-c', deps(300))).rejects.toThrow(LeaseTimeoutError);
    // The claim alone: no lease put.
    expect(dynamoWrites(mark)).toEqual(['TransactWriteItems']);
    expect(await claims('join-c')).toEqual([POD_CIDR]);
  } finally {
    await offboarding.release(TRANSIT, 'exec-offboarding');
  }
  // Once the lease is free, the same run joins.
  await expect(exclude('join-c')).resolves.toMatchObject({ added: false });
  expect(world.emulator.exclusions(TRANSIT)).toEqual([FOREIGN, POD_CIDR]);
});

test('a CIDR removed from the transit between the plan and the join is written again, under the lease', async () => {
  // The claim's answer is held back; meanwhile the CIDR leaves the transit (as an offboarding that
  // did not yet see the claim would remove it): the join's own read of the transit must see that.
  world.log.faults.inject('dynamodb', 'TransactWriteItems', { kind: 'delay', ms: 300 });
  const mark = world.log.mark();
  const running = exclude('join-d');
  while (!world.log.since(mark).some((c) => c.service === 'dynamodb' && c.action === 'TransactWriteItems')) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const transit = world.emulator.gateway(TRANSIT);
  if (!transit) throw new Error('no transit');
  transit.exclude_cidr_list = [FOREIGN];

  const result = await running;
  expect(result).toMatchObject({ added: true });
  expect(world.emulator.exclusions(TRANSIT)).toEqual([FOREIGN, POD_CIDR]);
  expect(await claims('join-d')).toEqual([POD_CIDR]);
});
