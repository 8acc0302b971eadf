import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { clusterKey, gatewayKey, GatewayLeases, LeaseLostError, Leases, LeaseTimeoutError, planThenLease } from '../../lambdas/shared/lease';
import { logger } from '../../lambdas/shared/logger';
import { beginInvocation, runStep } from '../../lambdas/shared/step';
import { LEASE_TABLE, startWorld, World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
  logger.setLogLevel('SILENT');
});
afterAll(async () => world.stop());

const leases = (durationSeconds = 30, acquireTimeoutMs = 5000) =>
  new GatewayLeases({ tableName: LEASE_TABLE, durationSeconds, acquireTimeoutMs, baseDelayMs: 20, maxDelayMs: 200 });
const item = async (gateway: string) =>
  (await world.direct.dynamo.send(new GetItemCommand({ TableName: LEASE_TABLE, Key: { leaseId: { S: `gateway#${gateway}` } } }))).Item;

test('acquire writes gateway#<name> with holder and expiresAt; others wait; release lets them in', async () => {
  const l = leases(30);
  const before = Math.floor(Date.now() / 1000);
  await l.acquire('gw-a', 'exec-1');
  const stored = await item('gw-a');
  expect(stored?.holder.S).toBe('exec-1');
  expect(Number(stored?.expiresAt.N)).toBeGreaterThanOrEqual(before + 30);
  expect(Number(stored?.expiresAt.N)).toBeLessThanOrEqual(before + 32);
  expect(await l.tryAcquire('gw-a', 'exec-2')).toBe(false);
  expect(await l.tryAcquire('gw-a', 'exec-1')).toBe(true); // same holder may renew
  expect(await l.release('gw-a', 'exec-2')).toBe(false); // not the holder: nothing deleted
  expect((await item('gw-a'))?.holder.S).toBe('exec-1');
  const waiting = l.acquire('gw-a', 'exec-2');
  await new Promise((r) => setTimeout(r, 150));
  expect(await l.release('gw-a', 'exec-1')).toBe(true);
  await waiting;
  expect((await item('gw-a'))?.holder.S).toBe('exec-2');
  await l.release('gw-a', 'exec-2');
  expect(await item('gw-a')).toBeUndefined();
});

test('withLease serialises critical sections and releases on failure', async () => {
  const l = leases(30, 20_000);
  let inside = 0;
  let maxInside = 0;
  const section = async () => {
    inside++;
    maxInside = Math.max(maxInside, inside);
    await new Promise((r) => setTimeout(r, 20));
    inside--;
  };
  await Promise.all(Array.from({ length: 6 }, (_, i) => l.withLease('gw-b', `exec-${i}`, section)));
  expect(maxInside).toBe(1);
  await expect(l.withLease('gw-b', 'exec-x', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
  expect(await item('gw-b')).toBeUndefined();
});

test("a dead holder's lease expires and another holder takes it", async () => {
  const l = leases(1, 6000);
  await l.acquire('gw-c', 'dead-exec'); // never released
  const started = Date.now();
  await l.acquire('gw-c', 'live-exec');
  expect(Date.now() - started).toBeGreaterThan(200);
  expect((await item('gw-c'))?.holder.S).toBe('live-exec');
  expect(await l.release('gw-c', 'dead-exec')).toBe(false);
  await l.release('gw-c', 'live-exec');
});

test('acquire gives up after its bound with a TransientError naming the gateway', async () => {
  const l = leases(60, 300);
  await l.acquire('gw-d', 'holder-1');
  const error = await l.acquire('gw-d', 'holder-2').then(() => undefined, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(LeaseTimeoutError);
  expect(error?.name).toBe('TransientError');
  expect(error?.message).toMatch(/^gateway gw-d stayed leased by another workflow/);
  await l.release('gw-d', 'holder-1');
});

test("inside a Lambda invocation the wait ends the work's reserve before the function's timeout, not at the acquire timeout", async () => {
  const l = new Leases({ tableName: LEASE_TABLE, durationSeconds: 30, acquireTimeoutMs: 60_000, baseDelayMs: 20, maxDelayMs: 100, workMs: 6_000 });
  await l.acquire(gatewayKey('gw-t'), 'holder-1');
  try {
    // The runtime's context: 7.5 s left, of which the holder's work needs 6 s: about 1.5 s to wait.
    // (A reserve includes the step's cleanup, CLEANUP_MS: the lease's last look is still a work call.)
    const end = Date.now() + 7_500;
    beginInvocation({}, { awsRequestId: 'req-t', functionName: 'fn-t', getRemainingTimeInMillis: () => end - Date.now() });
    const started = Date.now();
    const error = await runStep('lease-test', undefined, () => l.acquire(gatewayKey('gw-t'), 'holder-2')).then(() => undefined, (e: unknown) => e as Error);
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(LeaseTimeoutError);
    expect(error?.name).toBe('TransientError');
    expect(error?.message).toMatch(/^gateway gw-t stayed leased by another workflow for [12] s, all this invocation could wait and still have the 6 s its work needs before its timeout \(lease gateway#gw-t in table .*\); the workflow retries the step/);
    expect(waited).toBeGreaterThanOrEqual(800);
    expect(waited).toBeLessThan(5_000);
    // A work reserve longer than the time left: one look, then the same error at once.
    const late = await runStep('lease-test', undefined, () => l.acquire(gatewayKey('gw-t'), 'holder-2', 10_000)).then(() => undefined, (e: unknown) => e as Error);
    expect(late).toBeInstanceOf(LeaseTimeoutError);
    expect(late?.message).toMatch(/stayed leased by another workflow for 0 s, all this invocation could wait/);
  } finally {
    beginInvocation({});
    await l.release(gatewayKey('gw-t'), 'holder-1');
  }
});

test('releaseAll frees every lease of a holder, by list or by scan, and no one else', async () => {
  const l = leases(60);
  for (const g of ['gw-e1', 'gw-e2', 'gw-e3']) await l.acquire(g, 'failed-exec');
  await l.acquire('gw-e4', 'other-exec');
  expect(await l.releaseAll('failed-exec', ['gw-e1'])).toEqual(['gw-e1']);
  expect((await l.releaseAll('failed-exec')).sort()).toEqual(['gw-e2', 'gw-e3']);
  expect(await item('gw-e2')).toBeUndefined();
  expect((await item('gw-e4'))?.holder.S).toBe('other-exec');
});

test('Leases serve any key: cluster#<name> leases exclude each other, and never a gateway of the same name', async () => {
  const l = new Leases({ tableName: LEASE_TABLE, durationSeconds: 30, acquireTimeoutMs: 300, baseDelayMs: 20, maxDelayMs: 100 });
  expect(clusterKey('prod-a')).toBe('cluster#prod-a');
  expect(gatewayKey('prod-a')).toBe('gateway#prod-a');
  await l.acquire(clusterKey('prod-a'), 'run-1');
  expect(await l.tryAcquire(clusterKey('prod-a'), 'run-2')).toBe(false);
  expect(await l.tryAcquire(gatewayKey('prod-a'), 'run-2')).toBe(true);
  const error = await l.acquire(clusterKey('prod-a'), 'run-2').then(() => undefined, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(LeaseTimeoutError);
  expect(error?.message).toMatch(/^cluster prod-a stayed leased by another workflow .*lease cluster#prod-a in table/);
  // The failure path frees gateway and cluster leases alike; GatewayLeases.releaseAll only gateways.
  await l.acquire(gatewayKey('gw-f'), 'run-1');
  expect(await new GatewayLeases(l).releaseAll('run-1')).toEqual(['gw-f']);
  expect((await l.releaseAll('run-1')).sort()).toEqual(['cluster#prod-a']);
  expect((await l.releaseAll('run-2')).sort()).toEqual(['gateway#prod-a']);
  expect(await l.heldBy('run-1')).toEqual([]);
});

test('renew extends only an unexpired lease of the same holder', async () => {
  const l = leases(30);
  await l.acquire('gw-r', 'exec-1');
  const before = Number((await item('gw-r'))?.expiresAt.N);
  expect(await l.renew('gw-r', 'exec-2')).toBe(false); // not the holder
  expect((await item('gw-r'))?.holder.S).toBe('exec-1');
  expect(await l.renew('gw-r', 'exec-1')).toBe(true);
  expect(Number((await item('gw-r'))?.expiresAt.N)).toBeGreaterThanOrEqual(before);
  await l.release('gw-r', 'exec-1');
  expect(await l.renew('gw-r', 'exec-1')).toBe(false); // released: nothing to renew, nothing created
  expect(await item('gw-r')).toBeUndefined();

  // Expired (even if nobody took it): renewal refused, and renewOrThrow says what was not written.
  const brief = leases(1);
  await brief.acquire('gw-s', 'exec-1');
  await new Promise((r) => setTimeout(r, 2100));
  expect(await brief.renew('gw-s', 'exec-1')).toBe(false);
  const error = await brief.renewOrThrow('gw-s', 'exec-1', 'writing X').then(() => undefined, (e: unknown) => e as Error);
  expect(error).toBeInstanceOf(LeaseLostError);
  expect(error?.name).toBe('TransientError');
  expect(error?.message).toMatch(/^the lease on gateway gw-s \(lease gateway#gw-s in table gateway-leases\) expired or was taken by another workflow before writing X, so nothing was written/);
  await brief.release('gw-s', 'exec-1');
});

// 40, not fewer: the last waiters wait through ~39 handoffs, long enough that a write per poll
// (the old way) would show as several times the write bound below. That wait is 40 serialized
// handoffs through moto, 31-33 s at a load of 10-14 on 2 cores, past 60 s when heavier. The
// waiters wait as long as in production (the 240 s default; the back-off cap is then the lease
// duration, as there), and jest waits that plus a minute, so a timeout is the lease's, named.
const QUEUE_ACQUIRE_TIMEOUT_MS = 240_000;
test('40 runs queueing for one lease: each gets it once, none times out, and waiting costs reads, not a write per poll', async () => {
  const l = new Leases({ tableName: LEASE_TABLE, durationSeconds: 30, acquireTimeoutMs: QUEUE_ACQUIRE_TIMEOUT_MS, baseDelayMs: 20, maxDelayMs: 200 });
  const holders = Array.from({ length: 40 }, (_, i) => `queued-${i}`);
  let inside = 0;
  let maxInside = 0;
  const entered: string[] = [];
  const mark = world.log.mark();
  await Promise.all(
    holders.map((holder) =>
      l.withLease(gatewayKey('gw-queue'), holder, async () => {
        entered.push(holder);
        maxInside = Math.max(maxInside, ++inside);
        await new Promise((r) => setTimeout(r, 10));
        inside--;
      }),
    ),
  );
  expect(maxInside).toBe(1);
  expect(entered.sort()).toEqual([...holders].sort());
  // One put and one delete each, plus the puts that lost a race to a lease that had just become
  // free (the local proxy passes writes one at a time, which widens that window). Retrying the put
  // on every poll instead cost about 20 per run here (782 for these 40).
  const writes = world.log.writesSince(mark, 'dynamodb').length;
  expect(writes).toBeGreaterThanOrEqual(2 * holders.length);
  expect(writes).toBeLessThanOrEqual(8 * holders.length);
}, QUEUE_ACQUIRE_TIMEOUT_MS + 60_000);

describe('planThenLease: plan under no lease, lease only to write', () => {
  const l = () => new Leases({ tableName: LEASE_TABLE, durationSeconds: 30, acquireTimeoutMs: 2000, baseDelayMs: 20, maxDelayMs: 100 });
  const lease = (holder: string) => <T>(apply: () => Promise<T>) => l().withLease(clusterKey('plan-first'), holder, apply);

  test('a plan with nothing to write is the answer: no lease, no write', async () => {
    const calls: boolean[] = [];
    const mark = world.log.mark();
    const result = await planThenLease(false, async (dryRun) => (calls.push(dryRun), { changes: [] as string[] }), (p) => p.changes.length > 0, lease('run-1'));
    expect(result).toEqual({ changes: [] });
    expect(calls).toEqual([true]);
    expect(world.log.writesSince(mark, 'dynamodb')).toEqual([]);
  });

  test('a plan with changes is applied by a second call, inside the lease', async () => {
    const calls: [boolean, string | undefined][] = [];
    const holderNow = async () => (await world.direct.dynamo.send(new GetItemCommand({ TableName: LEASE_TABLE, Key: { leaseId: { S: 'cluster#plan-first' } } }))).Item?.holder.S;
    const result = await planThenLease(
      false,
      async (dryRun) => (calls.push([dryRun, await holderNow()]), { changes: dryRun ? ['planned'] : ['applied'] }),
      (p) => p.changes.length > 0,
      lease('run-2'),
    );
    expect(result).toEqual({ changes: ['applied'] });
    expect(calls).toEqual([[true, undefined], [false, 'run-2']]);
    expect(await holderNow()).toBeUndefined(); // released
  });

  test('a dry run is the plan alone, even when it has changes', async () => {
    const calls: boolean[] = [];
    const mark = world.log.mark();
    const result = await planThenLease(true, async (dryRun) => (calls.push(dryRun), { changes: ['planned'] }), (p) => p.changes.length > 0, lease('run-3'));
    expect(result).toEqual({ changes: ['planned'] });
    expect(calls).toEqual([true]);
    expect(world.log.writesSince(mark, 'dynamodb')).toEqual([]);
  });
});
