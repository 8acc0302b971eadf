// Leases in DynamoDB, serialising writers of one resource across concurrent workflows: a gateway's
// whole-list settings (custom SNAT policies, transit exclusions) under "gateway#<name>", and every
// write for one cluster under "cluster#<name>" (so two runs for one cluster never write at once).
// Item: leaseId (S, partition key) = "<kind>#<name>", holder (S), expiresAt (N, epoch seconds; TTL).
// Acquire: conditional PutItem (absent OR expired OR same holder). A waiter does not retry the put:
// it reads the item (consistent GetItem) after an exponential back-off with full jitter and puts only
// when the lease looks free, so waiting costs reads, and the writes per acquire stay ~1 however many
// runs wait. Bounded. Release: conditional DeleteItem (holder matches). A dead holder's lease expires.
// Renew: conditional UpdateItem (holder matches AND not yet expired) that pushes expiresAt out; a
// writer calls it right before each whole-list write, so a lease that expired during slow reads (and
// may have been taken by another workflow) stops the write instead of losing the other's update.
import {
  AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from './sdk/dynamodb';
import { sdkClientOptions, withStepDeadline } from './aws';
import { scopedName } from './target';
import { OnboardingError, TransientError } from './errors';
import { logger } from './logger';
import { recordLease } from './metrics';
import { asCleanup, remainingTimeMs } from './step';

export interface LeaseOptions {
  /** Table name; default from env LEASE_TABLE_NAME. */
  tableName?: string;
  /** How long a lease lives unless released (default 120 s); must exceed one read-modify-write. */
  durationSeconds?: number;
  /** How long to keep trying to acquire before giving up (default 240 s). */
  acquireTimeoutMs?: number;
  /** First wait (default 100 ms), doubling up to `maxDelayMs` (default 2 s), full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /**
   * How long the holder's work takes once it has the lease (default 0). A wait ends that long
   * before the invocation's end (step.ts remainingTimeMs), so a crowded step fails with a
   * LeaseTimeoutError the workflow retries, not with a Lambda timeout, which it does not retry.
   */
  workMs?: number;
  client?: DynamoDBClient;
}

const GATEWAY_PREFIX = 'gateway#';
const CLUSTER_PREFIX = 'cluster#';
const VPC_PREFIX = 'vpc#';
const CONTROLLER_PREFIX = 'controller#';

/** The lease key of an Aviatrix gateway (spoke, HA or transit). */
export function gatewayKey(gateway: string): string {
  return `${GATEWAY_PREFIX}${gateway}`;
}

// Cluster, VPC and controller keys are scoped by the ambient target (lambdas/shared/target.ts): a
// VPC id is unique per account and Region only, and two accounts may each have a cluster "prod".

/** The lease key of an EKS cluster: held by whatever writes for that cluster. */
export function clusterKey(clusterName: string): string {
  return `${CLUSTER_PREFIX}${scopedName(clusterName)}`;
}

/** The lease key of a VPC: held while changing what its clusters share (secondary CIDR, pod subnets). */
export function vpcKey(vpcId: string): string {
  return `${VPC_PREFIX}${scopedName(vpcId)}`;
}

/** The lease key of a cluster's objects on the Aviatrix controller (onboarding, SmartGroups). */
export function controllerKey(clusterName: string): string {
  return `${CONTROLLER_PREFIX}${scopedName(clusterName)}`;
}


/** "gateway spoke-1", "cluster prod-a", or the key itself: for messages. */
export function describeLeaseKey(key: string): string {
  if (key.startsWith(GATEWAY_PREFIX)) return `gateway ${key.slice(GATEWAY_PREFIX.length)}`;
  if (key.startsWith(CLUSTER_PREFIX)) return `cluster ${key.slice(CLUSTER_PREFIX.length)}`;
  if (key.startsWith(VPC_PREFIX)) return `VPC ${key.slice(VPC_PREFIX.length)}`;
  if (key.startsWith(CONTROLLER_PREFIX)) return `controller objects of cluster ${key.slice(CONTROLLER_PREFIX.length)}`;
  return `resource ${key}`;
}

export class LeaseTimeoutError extends TransientError {}

/** The lease ran out (or was taken over) before a write: the write is not sent; retried. */
export class LeaseLostError extends TransientError {}

/** However many races a waiter loses, it looks at least this many times within its acquire timeout. */
const MIN_LOOKS = 8;

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';

/** Leases on any resource key ("gateway#<name>", "cluster#<name>", ...). */
export class Leases {
  readonly tableName: string;
  private readonly durationSeconds: number;
  private readonly acquireTimeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly workMs: number;
  private readonly dynamo: DynamoDBClient;

  constructor(options: LeaseOptions = {}) {
    const tableName = options.tableName ?? process.env.LEASE_TABLE_NAME;
    if (!tableName) {
      throw new OnboardingError('ConfigError', 'LEASE_TABLE_NAME is not set on this function; redeploy the stack with `cdk deploy`');
    }
    this.tableName = tableName;
    this.durationSeconds = options.durationSeconds ?? 120;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 240_000;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 2_000;
    this.workMs = options.workMs ?? 0;
    this.dynamo = options.client ?? withStepDeadline(new DynamoDBClient(sdkClientOptions()));
  }

  /** One conditional put; true when `holder` now holds the lease on `key`. */
  async tryAcquire(key: string, holder: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            leaseId: { S: key },
            holder: { S: holder },
            expiresAt: { N: String(now + this.durationSeconds) },
          },
          ConditionExpression: 'attribute_not_exists(leaseId) OR expiresAt < :now OR holder = :holder',
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Extends `holder`'s lease on `key` by the lease duration from now, only while `holder` still holds
   * it and it has not expired (conditional UpdateItem). False when it expired or another holder has it.
   */
  async renew(key: string, holder: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { leaseId: { S: key } },
          UpdateExpression: 'SET expiresAt = :until',
          ConditionExpression: 'holder = :me AND expiresAt > :now',
          ExpressionAttributeValues: {
            ':me': { S: holder },
            ':now': { N: String(now) },
            ':until': { N: String(now + this.durationSeconds) },
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** renew, or a LeaseLostError (a TransientError) naming what was not written. */
  async renewOrThrow(key: string, holder: string, what: string): Promise<void> {
    if (await this.renew(key, holder)) return;
    logger.warn('Lease lost before a write; the write is not sent', { lease: key, holder, what });
    throw new LeaseLostError(
      `the lease on ${describeLeaseKey(key)} (lease ${key} in table ${this.tableName}) expired or was taken by another ` +
        `workflow before ${what}, so nothing was written; it is retried and re-reads the current state`,
    );
  }

  /** True when the lease on `key` is free for `holder` (absent, expired or its own): a consistent read. */
  async looksFree(key: string, holder: string): Promise<boolean> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({ TableName: this.tableName, Key: { leaseId: { S: key } }, ConsistentRead: true }),
    );
    return !Item || Item.holder?.S === holder || Number(Item.expiresAt?.N ?? 0) < Math.floor(Date.now() / 1000);
  }

  /**
   * Waits (bounded) for the lease; throws LeaseTimeoutError (a TransientError) when it stays taken.
   * One put first; then back-off with full jitter between reads, and a put only when the lease looks
   * free. A put that still fails lost a race with other waiters: each such loss doubles this
   * waiter's longest wait, so the more runs queue, the less often each looks, and the writes per
   * acquire stay flat however many wait (polling at a fixed pace, they grow with the queue).
   */
  async acquire(key: string, holder: string, workMs = this.workMs): Promise<void> {
    const wait = this.waiter(key, holder, workMs);
    for (let attempt = 0; ; attempt++) {
      if (await this.tryAcquire(key, holder)) {
        if (attempt > 0) logger.debug('Lease acquired after waiting', { lease: key, attempts: attempt + 1 });
        wait.record(false);
        return;
      }
      await wait.untilFree(attempt > 0);
    }
  }

  /**
   * Waits, bounded as acquire is, until the lease on `key` looks free for `holder`, without taking
   * it (no write): for a run that only joins what the lease guards (joinWithoutLease), so runs that
   * merely join never hold the lease and never make each other wait.
   */
  async awaitFree(key: string, holder: string, workMs = this.workMs): Promise<void> {
    const wait = this.waiter(key, holder, workMs);
    if (!(await this.looksFree(key, holder))) await wait.untilFree(false);
    // Recorded as acquire records it: a lease found free is a wait of ~0 s, so the metric covers every join.
    wait.record(false);
  }

  /** One bounded wait of acquire or awaitFree, with its deadline and back-off. */
  private waiter(key: string, holder: string, workMs: number) {
    const started = Date.now();
    // Within Lambda, the wait also ends `workMs` before the invocation would be stopped.
    const left = remainingTimeMs();
    const waitMs = Math.min(this.acquireTimeoutMs, left === undefined ? Infinity : left - workMs);
    const deadline = started + waitMs;
    const kind = key.slice(0, key.indexOf('#'));
    const record = (timedOut: boolean) => recordLease(kind, (Date.now() - started) / 1000, timedOut);
    let maxDelay = this.maxDelayMs;
    let looks = 0;
    return {
      record,
      /** Back-off between consistent reads until the lease looks free; `lostRace`: a put lost to another waiter. */
      untilFree: async (lostRace: boolean): Promise<void> => {
        // Bounded by the acquire timeout too: a waiter whose back-off grew to minutes left the lease
        // idle that long once it was freed (100 clusters of one VPC queued mostly for nobody).
        if (lostRace) maxDelay = Math.min(maxDelay * 2, this.durationSeconds * 1000, this.acquireTimeoutMs / MIN_LOOKS);
        do {
          const remaining = deadline - Date.now();
          if (remaining <= 0) {
            record(true);
            const why = waitMs < this.acquireTimeoutMs
              ? `, all this invocation could wait and still have the ${Math.round(workMs / 1000)} s its work needs before its timeout`
              : '';
            throw new LeaseTimeoutError(
              `${describeLeaseKey(key)} stayed leased by another workflow for ${Math.max(0, Math.round(waitMs / 1000))} s${why} ` +
                `(lease ${key} in table ${this.tableName}); the workflow retries the step, and a dead holder's lease expires by itself`,
            );
          }
          // A long back-off drawn near the deadline is cut short: the last look is at the deadline,
          // not a whole back-off before it (a waiter used to give up while the lease was being freed).
          const delay = Math.min(remaining, Math.random() * Math.min(maxDelay, this.baseDelayMs * 2 ** Math.min(looks++, 16)));
          await new Promise((resolve) => setTimeout(resolve, delay));
        } while (!(await this.looksFree(key, holder)));
      },
    };
  }

  /** Deletes the lease if `holder` still holds it; false when it had expired and been taken over. */
  release(key: string, holder: string): Promise<boolean> {
    return asCleanup(() => this.deleteIfHeld(key, holder));
  }

  private async deleteIfHeld(key: string, holder: string): Promise<boolean> {
    try {
      await this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { leaseId: { S: key } },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) {
        logger.warn('Lease was no longer ours at release (it expired or was never taken)', { lease: key, holder });
        return false;
      }
      throw error;
    }
  }

  /** Runs `fn` while holding the lease on `key`; `fn` must re-read what it changes itself. */
  async withLease<T>(key: string, holder: string, fn: () => Promise<T>, workMs?: number): Promise<T> {
    await this.acquire(key, holder, workMs);
    try {
      return await fn();
    } finally {
      await this.release(key, holder).catch((error: unknown) =>
        logger.warn('Releasing a lease failed; it expires by itself', { lease: key, error: (error as Error).message }),
      );
    }
  }

  /** Every lease key `holder` holds now (a Scan: the table holds a few items at most). */
  async heldBy(holder: string): Promise<string[]> {
    const keys: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) if (item.leaseId?.S) keys.push(item.leaseId.S);
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return keys;
  }

  /**
   * The workflow's failure path: releases every lease `holder` still holds (gateway and cluster
   * leases alike), or only `keys` when given. Returns the keys released.
   */
  async releaseAll(holder: string, keys?: string[]): Promise<string[]> {
    const released: string[] = [];
    for (const key of keys ?? (await this.heldBy(holder))) {
      if (await this.release(key, holder)) released.push(key);
    }
    return released;
  }
}

/**
 * Plan first, lease only to write: `step(true)` (a dry run: reads only) runs under no lease; when
 * `writes(plan)` says it would change nothing, that plan is the answer, and a converged run takes no
 * lease and writes nothing at all. Otherwise `step(false)` runs under `lease`, re-reading and
 * re-planning inside it (what the dry run saw may have changed meanwhile). A dry run is just the plan.
 */
export async function planThenLease<T>(
  dryRun: boolean,
  step: (dryRun: boolean) => Promise<T>,
  writes: (plan: T) => boolean,
  lease: (apply: () => Promise<T>) => Promise<T>,
): Promise<T> {
  const plan = await step(true);
  if (dryRun || !writes(plan)) return plan;
  return lease(() => step(false));
}

/**
 * Joins what other runs already put in place without taking the lease that guards it (the
 * transit's exclusion of a pod CIDR, a VPC's secondary CIDR and pod subnets): first `claim` (this
 * run's record that it relies on it), then `leaseFree` (waits, bounded, until the lease looks free:
 * a joiner never takes it, so joiners never queue behind each other), then `inPlace` (a fresh read).
 * True: joined, no lease taken. False (something is missing): the caller takes the lease path, and
 * the claim stays (every claim is made before its write). Safe when whoever removes
 * the shared thing does so only under that lease, after reading every claim, and cannot outlive
 * its lease: one that takes the lease after our claim sees the claim and keeps the thing; one that
 * held it earlier has finished by the time the lease is seen free, and the read after shows it.
 */
export async function joinWithoutLease(claim: () => Promise<unknown>, leaseFree: () => Promise<void>, inPlace: () => Promise<boolean>): Promise<boolean> {
  await claim();
  await leaseFree();
  return inPlace();
}

/** Gateway leases by gateway name (keys "gateway#<name>"): the SNAT and exclusion steps' view. */
export class GatewayLeases {
  readonly leases: Leases;

  constructor(options: LeaseOptions | Leases = {}) {
    this.leases = options instanceof Leases ? options : new Leases(options);
  }

  tryAcquire(gateway: string, holder: string): Promise<boolean> {
    return this.leases.tryAcquire(gatewayKey(gateway), holder);
  }

  acquire(gateway: string, holder: string): Promise<void> {
    return this.leases.acquire(gatewayKey(gateway), holder);
  }

  release(gateway: string, holder: string): Promise<boolean> {
    return this.leases.release(gatewayKey(gateway), holder);
  }

  renew(gateway: string, holder: string): Promise<boolean> {
    return this.leases.renew(gatewayKey(gateway), holder);
  }

  /** True when the lease on `gateway` is free for `holder` (a consistent read). */
  looksFree(gateway: string, holder: string): Promise<boolean> {
    return this.leases.looksFree(gatewayKey(gateway), holder);
  }

  /** Waits (bounded) until the lease on `gateway` looks free for `holder`, without taking it. */
  awaitFree(gateway: string, holder: string): Promise<void> {
    return this.leases.awaitFree(gatewayKey(gateway), holder);
  }

  /** Call right before a whole-list write on `gateway`: throws LeaseLostError when the lease is gone. */
  renewOrThrow(gateway: string, holder: string, what: string): Promise<void> {
    return this.leases.renewOrThrow(gatewayKey(gateway), holder, what);
  }

  withLease<T>(gateway: string, holder: string, fn: () => Promise<T>): Promise<T> {
    return this.leases.withLease(gatewayKey(gateway), holder, fn);
  }

  /** Releases the holder's gateway leases (only `gateways` when given); returns gateway names. */
  async releaseAll(holder: string, gateways?: string[]): Promise<string[]> {
    const keys = gateways
      ? gateways.map(gatewayKey)
      : (await this.leases.heldBy(holder)).filter((k) => k.startsWith(GATEWAY_PREFIX));
    return (await this.leases.releaseAll(holder, keys)).map((k) => k.slice(GATEWAY_PREFIX.length));
  }
}
