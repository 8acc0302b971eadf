// The claim index (lambdas/aviatrix/claim-index.ts): the claim table mirrors each status record's
// SNAT and exclusion claims, "who else claims this" is answered from it and confirmed by the
// claimant's record; a claim table without its marker (new, emptied, re-created) is trusted only
// after a settle time, during which every record is scanned, and is then rebuilt from the records.
import { DeleteItemCommand, GetItemCommand, PutItemCommand, QueryCommand, ScanCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { BUILT_MARKER } from '../../lambdas/aviatrix/claim-index';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { policyKey, SnatPolicy } from '../../lambdas/aviatrix/policy-codec';
import { logger } from '../../lambdas/shared/logger';
import { withTarget } from '../../lambdas/shared/target';
import { CLAIM_TABLE, STATUS_TABLE, startWorld, World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
  logger.setLogLevel('SILENT');
});
afterAll(async () => world.stop());

const policy = (src: string, snatIp = '10.0.0.10'): SnatPolicy => ({ src_cidr: src, dst_cidr: '0.0.0.0/0', protocol: 'all', connection: 'None', new_src_ip: snatIp });
const P1 = policy('100.64.0.0/16');
const P2 = policy('100.64.0.0/16', '10.0.0.11');

/** The claim table's items of `resource`, as claimant → keys. */
async function indexOf(resource: string): Promise<Record<string, string[]>> {
  const { Items } = await world.direct.dynamo.send(
    new QueryCommand({ TableName: CLAIM_TABLE, KeyConditionExpression: '#r = :r', ExpressionAttributeNames: { '#r': 'resource' }, ExpressionAttributeValues: { ':r': { S: resource } }, ConsistentRead: true }),
  );
  return Object.fromEntries((Items ?? []).map((i) => [i.claimant.S!, [...(i.keys.SS ?? [])].sort()]));
}

const record = async (name: string) =>
  (await world.direct.dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: name } }, ConsistentRead: true }))).Item;

/** Empties both tables, so each test starts before any claim (and before the index was built). */
async function emptyTables(): Promise<void> {
  for (const [TableName, keys] of [[STATUS_TABLE, ['clusterName']], [CLAIM_TABLE, ['resource', 'claimant']]] as const) {
    const { Items } = await world.direct.dynamo.send(new ScanCommand({ TableName }));
    for (const item of Items ?? []) {
      await world.direct.dynamo.send(new DeleteItemCommand({ TableName, Key: Object.fromEntries(keys.map((k) => [k, item[k]])) }));
    }
  }
}
beforeEach(emptyTables);

test('the claim table mirrors each claim, written with it, and drops what the record drops', async () => {
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  await ownership.setSnat('alpha', 'spoke-1', [P1, P2]);
  await ownership.setSnat('alpha', 'spoke-1-hagw', [P1]);
  await ownership.setExclusions('alpha', 'transit-1', ['100.64.0.0/16'], 'alpha-identity');
  await ownership.setSnat('beta', 'spoke-1', [P1]);

  expect(await indexOf('snat#spoke-1')).toEqual({ alpha: [policyKey(P1), policyKey(P2)].sort(), beta: [policyKey(P1)] });
  expect(await indexOf('snat#spoke-1-hagw')).toEqual({ alpha: [policyKey(P1)] });
  expect(await indexOf('exclusion#transit-1')).toEqual({ alpha: ['100.64.0.0/16'] });

  await ownership.setSnat('alpha', 'spoke-1', [P2]);
  await ownership.setSnat('alpha', 'spoke-1-hagw', []);
  await ownership.setExclusions('alpha', 'transit-1', [], 'alpha-identity');
  expect(await indexOf('snat#spoke-1')).toEqual({ alpha: [policyKey(P2)], beta: [policyKey(P1)] });
  expect(await indexOf('snat#spoke-1-hagw')).toEqual({});
  expect(await indexOf('exclusion#transit-1')).toEqual({});
});

test('who else claims a key: from the index, confirmed by the claimant\'s record, never the asker itself', async () => {
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  await ownership.setSnat('alpha', 'spoke-1', [P1]);
  await ownership.setExclusions('alpha', 'transit-1', ['100.64.0.0/16']);

  expect(await ownership.othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1), policyKey(P2)])).toEqual(new Set([policyKey(P1)]));
  expect(await ownership.othersClaiming('beta', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set(['100.64.0.0/16']));
  expect(await ownership.othersClaiming('alpha', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set());
  expect(await ownership.othersClaiming('beta', 'snat', 'spoke-2', [policyKey(P1)])).toEqual(new Set());

  // An OFFBOARDED record claims nothing, whatever it still holds.
  await world.direct.dynamo.send(
    new UpdateItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'alpha' } }, UpdateExpression: 'SET #s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': { S: 'OFFBOARDED' } } }),
  );
  expect(await ownership.othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set());

  // An index item whose record does not hold the claim (the record gone, or changed by hand) keeps nothing.
  await world.direct.dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { resource: { S: 'snat#spoke-1' }, claimant: { S: 'gamma' }, keys: { SS: [policyKey(P1)] } } }));
  await world.direct.dynamo.send(
    new PutItemCommand({ TableName: CLAIM_TABLE, Item: { resource: { S: 'exclusion#transit-1' }, claimant: { S: 'delta' }, keys: { SS: ['100.64.0.0/16'] } } }),
  );
  await world.direct.dynamo.send(
    new PutItemCommand({ TableName: STATUS_TABLE, Item: { clusterName: { S: 'delta' }, status: { S: 'ONBOARDED' }, controllerExclusions: { S: JSON.stringify({ 'transit-1': ['10.9.0.0/16'] }) } } }),
  );
  expect(await ownership.othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set());
  expect(await ownership.othersClaiming('beta', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set());
});

test('in a crowd, the first claimant confirms the key and the others are not read', async () => {
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  for (let i = 0; i < 30; i++) await ownership.setSnat(`crowd-${String(i).padStart(2, '0')}`, 'spoke-1', [P1]);
  // The index is built by the first question (settle time 0: a new deployment).
  expect(await ownership.othersClaiming('newcomer', 'snat', 'spoke-2', [policyKey(P1)])).toEqual(new Set());
  const mark = world.log.mark();
  expect(await ownership.othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  const reads = world.log.since(mark).map((c) => c.action);
  // One page of candidates and one batch of their records: never all 30 claimants, never a Scan.
  expect(reads).toEqual(['Query', 'GetItem', 'GetItem', 'GetItem', 'GetItem']);

  // A key only the last claimant holds is on the second page (25 candidates a page): read through, and only it confirmed.
  await ownership.setSnat('crowd-29', 'spoke-1', [P1, P2]);
  const paged = world.log.mark();
  expect(await ownership.othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P2)])).toEqual(new Set([policyKey(P2)]));
  expect(world.log.since(paged).map((c) => c.action)).toEqual(['Query', 'Query', 'GetItem']);
});

test('a member account\'s cluster claims under its record key: another cluster of the name elsewhere sees it, the cluster itself does not', async () => {
  const member = { account: '222222222222', region: 'eu-west-1' };
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  await withTarget(member, () => ownership.setSnat('alpha', 'spoke-1', [P1]));
  expect(await indexOf('snat#spoke-1')).toEqual({ '222222222222/eu-west-1/alpha': [policyKey(P1)] });
  expect(await ownership.othersClaiming('alpha', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(await withTarget(member, () => ownership.othersClaiming('alpha', 'snat', 'spoke-1', [policyKey(P1)]))).toEqual(new Set());
});

/** As the version before the claim index wrote claims: the record's attributes only. */
async function writeWithoutIndex(name: string, status: string, claims: { controllerSnat?: unknown; controllerExclusions?: unknown }): Promise<void> {
  await world.direct.dynamo.send(
    new UpdateItemCommand({
      TableName: STATUS_TABLE,
      Key: { clusterName: { S: name } },
      UpdateExpression: `SET #status = :status${Object.keys(claims).map((k) => `, ${k} = :${k}`).join('')}`,
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':status': { S: status }, ...Object.fromEntries(Object.entries(claims).map(([k, v]) => [`:${k}`, { S: JSON.stringify(v) }])) },
    }),
  );
}
const marker = async () => (await world.direct.dynamo.send(new GetItemCommand({ TableName: CLAIM_TABLE, Key: BUILT_MARKER, ConsistentRead: true }))).Item;

test('claims recorded before the index existed are mirrored once the settle time is over, and until then every record is asked', async () => {
  for (const [name, status] of [['old-a', 'ONBOARDED'], ['old-b', 'OFFBOARDED']] as const) {
    await writeWithoutIndex(name, status, { controllerSnat: { 'spoke-1': [P1] }, controllerExclusions: { 'transit-1': ['100.64.0.0/16'] } });
  }
  // Within the settle time: answered from every record, nothing mirrored, the marker holds the time.
  const settling = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 });
  expect(await settling.othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(await indexOf('snat#spoke-1')).toEqual({});
  expect((await marker())?.built).toBeUndefined();
  expect(Number((await marker())?.settledAt?.N)).toBeGreaterThan(Date.now() + 500_000);

  // Once it is over (the marker's time moved back), the next reader mirrors every record and trusts the index.
  await world.direct.dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { ...BUILT_MARKER, settledAt: { N: String(Date.now() - 1) } } }));
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 });
  expect(await ownership.othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(await indexOf('snat#spoke-1')).toEqual({ 'old-a': [policyKey(P1)], 'old-b': [policyKey(P1)] });
  expect(await indexOf('exclusion#transit-1')).toEqual({ 'old-a': ['100.64.0.0/16'], 'old-b': ['100.64.0.0/16'] });
  expect((await marker())?.built).toEqual({ BOOL: true });
  // The OFFBOARDED one is mirrored too, and still claims nothing.
  await writeWithoutIndex('old-a', 'OFFBOARDED', {});
  expect(await ownership.othersClaiming('newcomer', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set());

  // Once built, no reader scans again (a fresh registry, as in the next invocation).
  const mark = world.log.mark();
  await new OwnershipRegistry({ tableName: STATUS_TABLE }).othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P1)]);
  expect(world.log.since(mark).filter((c) => c.action === 'Scan')).toHaveLength(0);
});

test('a claim the version before writes onto a mirrored record while the index settles is seen meanwhile, and mirrored by the build', async () => {
  // An upgrade: a claim of the version before is on record, so no write marks the index built.
  await writeWithoutIndex('earlier', 'ONBOARDED', { controllerSnat: { 'spoke-9': [P2] } });
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 });
  await ownership.setSnat('mixed', 'spoke-1', [P1]);
  expect(await marker()).toBeUndefined();
  // A run of the version before, still in flight after the upgrade, adds the exclusion claim to the same record.
  await writeWithoutIndex('mixed', 'ONBOARDED', { controllerSnat: { 'spoke-1': [P1] }, controllerExclusions: { 'transit-1': ['100.64.0.0/16'] } });
  expect(await ownership.othersClaiming('newcomer', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set(['100.64.0.0/16']));
  expect(await indexOf('exclusion#transit-1')).toEqual({});
  // While settling, the Scan counts no OFFBOARDED record, as the index's confirmation does not.
  await writeWithoutIndex('gone', 'OFFBOARDED', { controllerExclusions: { 'transit-2': ['100.64.0.0/16'] } });
  expect(await ownership.othersClaiming('newcomer', 'exclusion', 'transit-2', ['100.64.0.0/16'])).toEqual(new Set());

  await world.direct.dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { ...BUILT_MARKER, settledAt: { N: String(Date.now() - 1) } } }));
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE }).othersClaiming('newcomer', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set(['100.64.0.0/16']));
  expect(await indexOf('exclusion#transit-1')).toEqual({ mixed: ['100.64.0.0/16'] });
});

test('a claim table emptied after it was built (a rollback, a re-created stack) is rebuilt from the records, not trusted empty', async () => {
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 0 });
  await ownership.setSnat('alpha', 'spoke-1', [P1]);
  expect(await ownership.othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect((await marker())?.built).toEqual({ BOOL: true });

  const { Items } = await world.direct.dynamo.send(new ScanCommand({ TableName: CLAIM_TABLE }));
  for (const item of Items ?? []) await world.direct.dynamo.send(new DeleteItemCommand({ TableName: CLAIM_TABLE, Key: { resource: item.resource, claimant: item.claimant } }));

  // The marker went with the items: the settle time starts again, and meanwhile every record is asked.
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 }).othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect((await marker())?.built).toBeUndefined();
  await world.direct.dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { ...BUILT_MARKER, settledAt: { N: String(Date.now() - 1) } } }));
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 }).othersClaiming('beta', 'snat', 'spoke-1', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(await indexOf('snat#spoke-1')).toEqual({ alpha: [policyKey(P1)] });
});

test('a fleet\'s first claim does not make the empty index trusted: a first claim the version before writes at the same time is seen', async () => {
  // An upgrade over a fleet with no claim yet: this version writes a claim (with its index item), and
  // an invocation of the version before, still running after the deploy, writes another (without).
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 });
  await ownership.setExclusions('first', 'transit-1', ['100.64.0.0/16']);
  await writeWithoutIndex('old-run', 'ONBOARDING', { controllerExclusions: { 'transit-9': ['100.70.0.0/16'] } });
  expect((await marker())?.built).toBeUndefined();
  // Asked within the settle time: every record is read, so the old version's claim counts.
  const mark = world.log.mark();
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 }).othersClaiming('second', 'exclusion', 'transit-9', ['100.70.0.0/16'])).toEqual(new Set(['100.70.0.0/16']));
  expect(world.log.since(mark).filter((c) => c.action === 'Scan' || c.action === 'Query').map((c) => c.action)).toEqual(['Scan']);
  // After it, the build mirrors the old version's claim, and the index answers.
  await world.direct.dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { ...BUILT_MARKER, settledAt: { N: String(Date.now() - 1) } } }));
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 600 }).othersClaiming('second', 'exclusion', 'transit-9', ['100.70.0.0/16'])).toEqual(new Set(['100.70.0.0/16']));
  expect(await indexOf('exclusion#transit-9')).toEqual({ 'old-run': ['100.70.0.0/16'] });
  expect((await marker())?.built).toEqual({ BOOL: true });
});

test('a record that holds only exclusion claims is mirrored by the build too', async () => {
  await writeWithoutIndex('excl-only', 'ONBOARDED', { controllerExclusions: { 'transit-1': ['100.64.0.0/16'] } });
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 0 }).othersClaiming('newcomer', 'exclusion', 'transit-1', ['100.64.0.0/16'])).toEqual(new Set(['100.64.0.0/16']));
  expect(await indexOf('exclusion#transit-1')).toEqual({ 'excl-only': ['100.64.0.0/16'] });
  expect((await marker())?.built).toEqual({ BOOL: true });
});

test('while one reader builds, another scans rather than trust a half-built index; a marker reset meanwhile is not marked built', async () => {
  for (const name of ['slow-a', 'slow-b']) await writeWithoutIndex(name, 'ONBOARDED', { controllerSnat: { [`spoke-${name}`]: [P1] } });
  // The builder's first mirror is held back, so the second reader comes while it builds.
  world.log.faults.inject('dynamodb', 'TransactWriteItems', { kind: 'delay', ms: 400 });
  const mark = world.log.mark();
  const building = new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 0 }).othersClaiming('newcomer', 'snat', 'spoke-slow-b', [policyKey(P1)]);
  while (!world.log.since(mark).some((c) => c.action === 'TransactWriteItems')) await new Promise((resolve) => setImmediate(resolve));
  const during = world.log.mark();
  expect(await new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 0 }).othersClaiming('newcomer', 'snat', 'spoke-slow-b', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(world.log.since(during).filter((c) => c.action === 'Scan' || c.action === 'Query').map((c) => c.action)).toEqual(['Scan']);
  // The marker is reset while the build runs (a rebuild asked for): the builder must not mark it built.
  await world.direct.dynamo.send(new DeleteItemCommand({ TableName: CLAIM_TABLE, Key: BUILT_MARKER }));
  expect(await building).toEqual(new Set([policyKey(P1)]));
  expect(await marker()).toBeUndefined();
});

test('a build that fails half-way leaves the index untrusted, and the next reader builds it whole', async () => {
  for (const name of ['half-a', 'half-b']) await writeWithoutIndex(name, 'ONBOARDED', { controllerSnat: { [`spoke-${name}`]: [P1] } });
  world.log.faults.inject('dynamodb', 'TransactWriteItems', { kind: 'status', status: 400, code: 'ValidationException' }, 1, 'half-b');
  const ownership = () => new OwnershipRegistry({ tableName: STATUS_TABLE, settleSeconds: 0 });
  await expect(ownership().othersClaiming('newcomer', 'snat', 'spoke-half-b', [policyKey(P1)])).rejects.toMatchObject({ name: 'ValidationException' });
  expect((await marker())?.built).toBeUndefined();

  expect(await ownership().othersClaiming('newcomer', 'snat', 'spoke-half-b', [policyKey(P1)])).toEqual(new Set([policyKey(P1)]));
  expect(await indexOf('snat#spoke-half-b')).toEqual({ 'half-b': [policyKey(P1)] });
  expect((await marker())?.built).toEqual({ BOOL: true });
});

test('a dry run before the index is built writes nothing, and still sees the claims it does not mirror yet', async () => {
  await world.direct.dynamo.send(
    new PutItemCommand({ TableName: STATUS_TABLE, Item: { clusterName: { S: 'old-a' }, status: { S: 'ONBOARDED' }, controllerSnat: { S: JSON.stringify({ 'spoke-1': [P1] }) } } }),
  );
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  await ownership.setSnat('new-b', 'spoke-1', [P2]);
  const mark = world.log.mark();
  expect(await ownership.othersClaiming('newcomer', 'snat', 'spoke-1', [policyKey(P1), policyKey(P2)], true)).toEqual(new Set([policyKey(P1), policyKey(P2)]));
  expect(world.log.writesSince(mark, 'dynamodb')).toEqual([]);
  expect((await world.direct.dynamo.send(new GetItemCommand({ TableName: CLAIM_TABLE, Key: BUILT_MARKER, ConsistentRead: true }))).Item).toBeUndefined();
  expect(await indexOf('snat#spoke-1')).toEqual({ 'new-b': [policyKey(P2)] });
});

test('concurrent first writes of one record each write every claim of it, whichever lands first', async () => {
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  // A new record: each write must mirror the other attribute as it is, whichever lands first.
  await Promise.all([
    ownership.setSnat('twin', 'spoke-1', [P1]),
    ownership.setExclusions('twin', 'transit-1', ['100.64.0.0/16']),
    new OwnershipRegistry({ tableName: STATUS_TABLE }).setSnat('twin', 'spoke-1-hagw', [P2]),
  ]);
  expect(await indexOf('snat#spoke-1')).toEqual({ twin: [policyKey(P1)] });
  expect(await indexOf('snat#spoke-1-hagw')).toEqual({ twin: [policyKey(P2)] });
  expect(await indexOf('exclusion#transit-1')).toEqual({ twin: ['100.64.0.0/16'] });
});

test('a first mirror whose record gains its other claim meanwhile is refused by its condition, read again, and mirrors both', async () => {
  // The transaction is held back; meanwhile the record's exclusions are written without the index
  // (as the version before it wrote them): mirroring the SNAT claim alone would leave them out for good.
  world.log.faults.inject('dynamodb', 'TransactWriteItems', { kind: 'delay', ms: 300 });
  const mark = world.log.mark();
  const writing = new OwnershipRegistry({ tableName: STATUS_TABLE }).setSnat('solo', 'spoke-1', [P1]);
  while (!world.log.since(mark).some((c) => c.action === 'TransactWriteItems')) await new Promise((resolve) => setImmediate(resolve));
  await world.direct.dynamo.send(
    new UpdateItemCommand({
      TableName: STATUS_TABLE,
      Key: { clusterName: { S: 'solo' } },
      UpdateExpression: 'SET controllerExclusions = :e',
      ExpressionAttributeValues: { ':e': { S: JSON.stringify({ 'transit-1': ['100.64.0.0/16'] }) } },
    }),
  );
  await writing;
  expect(world.log.since(mark).filter((c) => c.action === 'TransactWriteItems')).toHaveLength(2);
  expect(await indexOf('snat#spoke-1')).toEqual({ solo: [policyKey(P1)] });
  expect(await indexOf('exclusion#transit-1')).toEqual({ solo: ['100.64.0.0/16'] });
});

test('a plain write that meets a claim transaction in flight on its record is read again and retried, not failed', async () => {
  // aviatrix-onboard's SmartGroups beside aviatrix-snat's claim transaction on the same record (parallel branches).
  const fired = world.log.faults.mark();
  world.log.faults.inject('dynamodb', 'UpdateItem', { kind: 'status', status: 400, code: 'TransactionConflictException' });
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  expect(await ownership.setSmartGroups('parallel', [{ name: 'web', uuid: 'u-1' }])).toBe(true);
  expect(world.log.faults.firedSince(fired)).toEqual([{ service: 'dynamodb', action: 'UpdateItem', fault: 'status' }]);
  expect((await ownership.read('parallel')).smartGroups).toEqual([{ name: 'web', uuid: 'u-1' }]);
});

test('a claim attribute that is not JSON is refused by name, and nothing is written', async () => {
  await world.direct.dynamo.send(
    new PutItemCommand({ TableName: STATUS_TABLE, Item: { clusterName: { S: 'broken' }, controllerExclusions: { S: '{not json' } } }),
  );
  const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
  await expect(ownership.setSnat('broken', 'spoke-1', [P1])).rejects.toThrow('status record of cluster broken holds controllerExclusions that is not valid JSON');
  expect(await indexOf('snat#spoke-1')).toEqual({});
  expect((await record('broken'))?.controllerSnat).toBeUndefined();
});
