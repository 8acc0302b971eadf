// Per-gateway leases in DynamoDB, serialising read-modify-write of a gateway's whole-list settings
// (custom SNAT policies, transit exclusions) across concurrent workflows. Item:
//   leaseId (S, partition key) = "gateway#<gatewayName>", holder (S), expiresAt (N, epoch seconds; TTL).
// Acquire: conditional PutItem (absent OR expired OR same holder), retried with jittered backoff up to
// a bound. Release: conditional DeleteItem (holder matches). A dead holder's lease simply expires.
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { OnboardingError, TransientError } from '../shared/errors';
import { logger } from '../shared/logger';

export interface LeaseOptions {
  /** Table name; default from env LEASE_TABLE_NAME. */
  tableName?: string;
  /** How long a lease lives unless released (default 120 s); must exceed one read-modify-write. */
  durationSeconds?: number;
  /** How long to keep trying to acquire before giving up (default 240 s). */
  acquireTimeoutMs?: number;
  /** First backoff delay (default 200 ms), doubling up to `maxDelayMs` (default 3 s), full jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  client?: DynamoDBClient;
}

export function leaseId(gateway: string): string {
  return `gateway#${gateway}`;
}

export class LeaseTimeoutError extends TransientError {}

export class GatewayLeases {
  private readonly tableName: string;
  private readonly durationSeconds: number;
  private readonly acquireTimeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly dynamo: DynamoDBClient;

  constructor(options: LeaseOptions = {}) {
    const tableName = options.tableName ?? process.env.LEASE_TABLE_NAME;
    if (!tableName) {
      throw new OnboardingError('ConfigError', 'LEASE_TABLE_NAME is not set on this function; redeploy the stack with `cdk deploy`');
    }
    this.tableName = tableName;
    this.durationSeconds = options.durationSeconds ?? 120;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 240_000;
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 3_000;
    this.dynamo = options.client ?? new DynamoDBClient({ maxAttempts: 5 });
  }

  /** One conditional put; true when `holder` now holds the lease. */
  async tryAcquire(gateway: string, holder: string): Promise<boolean> {
    const now = Math.floor(Date.now() / 1000);
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            leaseId: { S: leaseId(gateway) },
            holder: { S: holder },
            expiresAt: { N: String(now + this.durationSeconds) },
          },
          ConditionExpression: 'attribute_not_exists(leaseId) OR expiresAt < :now OR holder = :holder',
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Waits (bounded) for the lease; throws LeaseTimeoutError (a TransientError) when it stays taken. */
  async acquire(gateway: string, holder: string): Promise<void> {
    const deadline = Date.now() + this.acquireTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (await this.tryAcquire(gateway, holder)) {
        if (attempt > 0) logger.debug('Gateway lease acquired after waiting', { gateway, attempts: attempt + 1 });
        return;
      }
      const delay = Math.random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt, 16));
      if (Date.now() + delay > deadline) {
        throw new LeaseTimeoutError(
          `gateway ${gateway} stayed leased by another workflow for ${Math.round(this.acquireTimeoutMs / 1000)} s ` +
            `(lease ${leaseId(gateway)} in table ${this.tableName}); it is retried, and a dead holder's lease expires by itself`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Deletes the lease if `holder` still holds it; false when it had expired and been taken over. */
  async release(gateway: string, holder: string): Promise<boolean> {
    try {
      await this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { leaseId: { S: leaseId(gateway) } },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': { S: holder } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException') {
        logger.warn('Gateway lease was no longer ours at release (it expired or was never taken)', { gateway, holder });
        return false;
      }
      throw error;
    }
  }

  /** Runs `fn` while holding the gateway's lease; `fn` must re-read the gateway itself. */
  async withLease<T>(gateway: string, holder: string, fn: () => Promise<T>): Promise<T> {
    await this.acquire(gateway, holder);
    try {
      return await fn();
    } finally {
      await this.release(gateway, holder).catch((error: unknown) =>
        logger.warn('Releasing a gateway lease failed; it expires by itself', { gateway, error: (error as Error).message }),
      );
    }
  }

  /**
   * The workflow's failure path: releases every lease `holder` still holds. With `gateways` only
   * those; without, the holder's leases are found by a Scan (the table holds a few items at most).
   */
  async releaseAll(holder: string, gateways?: string[]): Promise<string[]> {
    let names = gateways;
    if (!names) {
      names = [];
      let startKey: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined;
      do {
        const page = await this.dynamo.send(
          new ScanCommand({
            TableName: this.tableName,
            FilterExpression: 'holder = :holder',
            ExpressionAttributeValues: { ':holder': { S: holder } },
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          const id = item.leaseId?.S ?? '';
          if (id.startsWith('gateway#')) names.push(id.slice('gateway#'.length));
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    const released: string[] = [];
    for (const gateway of names) {
      if (await this.release(gateway, holder)) released.push(gateway);
    }
    return released;
  }
}
