// What this project added on the Aviatrix controller, per cluster, kept as attributes of that
// cluster's item in the status table (partition key clusterName):
//   controllerSnat         S  JSON { "<gateway>": SnatPolicy[] }  custom SNAT policies we added
//   controllerExclusions   S  JSON { "<transit>": ["<cidr>"] }     excluded advertised spoke routes
//   controllerExclusionsOf S  which cluster of that name made them ("<arn>@<createdAt>"): a run
//                             of a deleted cluster never drops a re-created one's claim
//   controllerSmartGroups  S  JSON [{ "name", "uuid"? }]           SmartGroups we created
//   controllerK8sClusterId S  the controller's id of the k8s onboarding we created; before the
//                             create answers (intent) the cluster ARN, its unique `cluster_id` there
// Only these attributes are ever written here, each with UpdateItem conditioned on its previous
// value (a compare-and-set, retried), so the record-outcome step and concurrent writers of other
// attributes keep theirs. A claim is recorded BEFORE the controller write it describes: a crash
// leaves a claim on something possibly absent (removal treats that as done), never an unclaimed
// object. Removal drops the claim AFTER the controller write.
//
// "Who else needs policy P on gateway G": the other clusters whose status is not OFFBOARDED and
// whose controllerSnat[G] holds P (the same for exclusions). The claim table (claim-index.ts)
// names the candidates from one partition, written in the same transaction as each claim; each
// candidate's record is then read to confirm it, so the cost is that of the gateway's claimants,
// not of every cluster in the table.
import { scopedName } from '../shared/target';
import { CLUSTER_IDENTITY, OFFBOARDED, refuseRecreated } from '../domain/status-record';
import {
  AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '../shared/sdk/dynamodb';
import { sdkClientOptions, withStepDeadline } from '../shared/aws';
import { OnboardingError, TransientError } from '../shared/errors';
import { BUILT_MARKER, claimEntries, ClaimKind, claimResource, indexWrites } from './claim-index';
import { policyKey, SnatPolicy } from './policy-codec';

export const OWNERSHIP_ATTRIBUTES = {
  snat: 'controllerSnat',
  exclusions: 'controllerExclusions',
  exclusionsOf: 'controllerExclusionsOf',
  smartGroups: 'controllerSmartGroups',
  k8sClusterId: 'controllerK8sClusterId',
} as const;
type Attribute = (typeof OWNERSHIP_ATTRIBUTES)[keyof typeof OWNERSHIP_ATTRIBUTES];


/** The cluster a claim is made for: the status record's own identity (status-record.ts). */
export { claimantOf } from '../domain/status-record';

export interface OwnedSmartGroup {
  name: string;
  /** Absent while only the intent is recorded (the create has not answered yet). */
  uuid?: string;
}

export interface ClusterOwnership {
  /** Whether the status table has an item for the cluster at all. */
  recordExists: boolean;
  status?: string;
  snat: Record<string, SnatPolicy[]>;
  exclusions: Record<string, string[]>;
  /** claimantOf the cluster the exclusion claims were made for; absent on claims made before it was recorded. */
  exclusionsOf?: string;
  smartGroups: OwnedSmartGroup[];
  k8sClusterId?: string;
  /** claimantOf the cluster the record is for (its clusterIdentity), when recorded. */
  identity?: string;
}

/**
 * The controller side of an offboarding compares the record's identity with the one the offboarding
 * began with (`identity`): a cluster re-created under the name whose run took the record over owns
 * these claims now, so nothing of them is removed (refuseRecreated: ClusterGone naming both).
 */
export function refuseIfTakenOver(clusterName: string, owned: ClusterOwnership, identity: string | undefined): void {
  refuseRecreated({ clusterName, ...(identity ? { identity } : {}) }, owned.identity ? { identity: owned.identity } : undefined);
}

export interface OwnershipOptions {
  /** Default from env STATUS_TABLE_NAME. */
  tableName?: string;
  /** Default from env CLAIM_TABLE_NAME. */
  claimTableName?: string;
  /**
   * How long after the claim table is found without its marker the index is built and trusted
   * (docs/claim-index.md): longer than a claim writer of the version before can still run. Default
   * from env CLAIM_INDEX_SETTLE_SECONDS (the stack: aviatrix-snat's timeout and a minute), else 600 s.
   */
  settleSeconds?: number;
  client?: DynamoDBClient;
}

export function isEmptyOwnership(o: ClusterOwnership): boolean {
  return Object.keys(o.snat).length === 0 && Object.keys(o.exclusions).length === 0 && o.smartGroups.length === 0 && !o.k8sClusterId;
}

/** Canonical JSON of a gateway → list map: sorted gateways, no empty lists; undefined when empty. */
function mapJson<T>(map: Record<string, T[]>): string | undefined {
  const entries = Object.entries(map)
    .filter(([, list]) => list.length > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  return entries.length > 0 ? JSON.stringify(Object.fromEntries(entries)) : undefined;
}

function parseJson<T>(text: string | undefined, fallback: T, what: string, clusterName: string): T {
  if (text === undefined || text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new OnboardingError(
      'ConfigError',
      `status record of cluster ${clusterName} holds ${what} that is not valid JSON; fix or remove that attribute by hand`,
    );
  }
}

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';

/**
 * Read again and retry: a transaction cancelled by a condition, by another transaction on its items
 * or by throttling, and a plain write that met a transaction in flight on its item (a status record
 * whose claims aviatrix-snat writes while aviatrix-onboard writes its SmartGroups).
 */
const isCancelledByRace = (error: unknown) =>
  (error as Error).name === 'TransactionConflictException' ||
  ((error instanceof TransactionCanceledException || (error as Error).name === 'TransactionCanceledException') &&
    ((error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError'));

/** The keys a claim attribute's JSON holds for gateway or transit `name`: policy keys, or CIDRs. */
function claimedKeys(text: string | undefined, attribute: Attribute, name: string, recordKey: string): string[] {
  return (parseJson<Record<string, (SnatPolicy | string)[]>>(text, {}, attribute, recordKey)[name] ?? []).map((entry) => (typeof entry === 'string' ? entry : policyKey(entry)));
}

/** Claim-table items read per page, and candidates confirmed at once, when asking who else claims a key. */
const CANDIDATES_PER_PAGE = 25;
const CONFIRM_AT_ONCE = 4;
const DEFAULT_SETTLE_SECONDS = 600;
/** How long one reader's claim on the build keeps the others from building too (at least). */
const MIN_BUILD_CLAIM_MS = 60_000;
const MIRROR_AT_ONCE = 8;
const HAS_CLAIMS = 'attribute_exists(#snat) OR attribute_exists(#exclusions)';
const CLAIM_NAMES = { '#snat': OWNERSHIP_ATTRIBUTES.snat, '#exclusions': OWNERSHIP_ATTRIBUTES.exclusions };

/** The claim attributes the claim table mirrors, each with the other one. */
const MIRRORED: Partial<Record<Attribute, Attribute>> = {
  [OWNERSHIP_ATTRIBUTES.snat]: OWNERSHIP_ATTRIBUTES.exclusions,
  [OWNERSHIP_ATTRIBUTES.exclusions]: OWNERSHIP_ATTRIBUTES.snat,
};

export class OwnershipRegistry {
  readonly tableName: string;
  readonly claimTableName: string;
  private readonly dynamo: DynamoDBClient;
  private readonly settleMs: number;
  /** Seen the claim table's marker say it is built (this invocation). */
  private indexBuilt = false;

  constructor(options: OwnershipOptions = {}) {
    const tableName = options.tableName ?? process.env.STATUS_TABLE_NAME;
    const claimTableName = options.claimTableName ?? process.env.CLAIM_TABLE_NAME;
    for (const [name, value] of [['STATUS_TABLE_NAME', tableName], ['CLAIM_TABLE_NAME', claimTableName]]) {
      if (!value) throw new OnboardingError('ConfigError', `${name} is not set on this function; redeploy the stack with \`cdk deploy\``);
    }
    this.tableName = tableName!;
    this.claimTableName = claimTableName!;
    const fromEnv = Number(process.env.CLAIM_INDEX_SETTLE_SECONDS);
    this.settleMs = 1000 * (options.settleSeconds ?? (process.env.CLAIM_INDEX_SETTLE_SECONDS && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : DEFAULT_SETTLE_SECONDS));
    this.dynamo = options.client ?? withStepDeadline(new DynamoDBClient(sdkClientOptions()));
  }

  /** What the cluster owns (consistent read); an absent record owns nothing. */
  async read(clusterName: string): Promise<ClusterOwnership> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({ TableName: this.tableName, Key: { clusterName: { S: scopedName(clusterName) } }, ConsistentRead: true }),
    );
    return this.fromItem(clusterName, Item);
  }

  private fromItem(clusterName: string, item: Record<string, AttributeValue> | undefined): ClusterOwnership {
    const k8s = item?.[OWNERSHIP_ATTRIBUTES.k8sClusterId]?.S;
    const exclusionsOf = item?.[OWNERSHIP_ATTRIBUTES.exclusionsOf]?.S;
    const identity = item?.[CLUSTER_IDENTITY]?.S;
    return {
      recordExists: item !== undefined,
      ...(item?.status?.S ? { status: item.status.S } : {}),
      snat: parseJson(item?.[OWNERSHIP_ATTRIBUTES.snat]?.S, {}, OWNERSHIP_ATTRIBUTES.snat, clusterName),
      exclusions: parseJson(item?.[OWNERSHIP_ATTRIBUTES.exclusions]?.S, {}, OWNERSHIP_ATTRIBUTES.exclusions, clusterName),
      ...(exclusionsOf ? { exclusionsOf } : {}),
      smartGroups: parseJson(item?.[OWNERSHIP_ATTRIBUTES.smartGroups]?.S, [], OWNERSHIP_ATTRIBUTES.smartGroups, clusterName),
      ...(k8s ? { k8sClusterId: k8s } : {}),
      ...(identity ? { identity } : {}),
    };
  }

  /** Sets the cluster's claim on one gateway's SNAT policies (an empty list drops the gateway). */
  async setSnat(clusterName: string, gateway: string, policies: SnatPolicy[]): Promise<boolean> {
    return this.compareAndSet(clusterName, OWNERSHIP_ATTRIBUTES.snat, (current) => {
      const map = parseJson<Record<string, SnatPolicy[]>>(current, {}, OWNERSHIP_ATTRIBUTES.snat, clusterName);
      const seen = new Set<string>();
      map[gateway] = policies.filter((p) => !seen.has(policyKey(p)) && seen.add(policyKey(p)));
      return mapJson(map);
    });
  }

  /**
   * Sets the cluster's claim on one transit's excluded CIDRs (an empty list drops the transit); with
   * `claimant`, the claims are recorded as that cluster's in the same write (dropped with the last claim).
   */
  async setExclusions(clusterName: string, transit: string, cidrs: string[], claimant?: string): Promise<boolean> {
    return this.compareAndSet(clusterName, OWNERSHIP_ATTRIBUTES.exclusions, (current) => {
      const map = parseJson<Record<string, string[]>>(current, {}, OWNERSHIP_ATTRIBUTES.exclusions, clusterName);
      map[transit] = [...new Set(cidrs)];
      return mapJson(map);
    }, claimant === undefined ? undefined : { attribute: OWNERSHIP_ATTRIBUTES.exclusionsOf, value: claimant });
  }

  async setSmartGroups(clusterName: string, groups: OwnedSmartGroup[]): Promise<boolean> {
    const sorted = [...groups]
      .map((g) => (g.uuid ? { name: g.name, uuid: g.uuid } : { name: g.name }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return this.compareAndSet(clusterName, OWNERSHIP_ATTRIBUTES.smartGroups, () => (sorted.length > 0 ? JSON.stringify(sorted) : undefined));
  }

  async setK8sClusterId(clusterName: string, id: string | undefined): Promise<boolean> {
    return this.compareAndSet(clusterName, OWNERSHIP_ATTRIBUTES.k8sClusterId, () => id || undefined);
  }

  /**
   * Which of `keys` (policy keys on a gateway, or CIDRs on a transit) another live cluster claims:
   * its record is not OFFBOARDED and its claim attribute holds the key there. The claim table names
   * the candidates; each is confirmed from its record, so an index item that outlived its claim
   * never keeps anything. Stops once every key has a claimant. Until the index is built and
   * trusted (and in a dry run that finds it not built, which must write nothing), every record is
   * asked instead, by the Scan the index replaces.
   */
  async othersClaiming(clusterName: string, kind: ClaimKind, name: string, keys: string[], dryRun = false): Promise<Set<string>> {
    const found = new Set<string>();
    if (keys.length === 0) return found;
    const me = scopedName(clusterName);
    const attribute = kind === 'snat' ? OWNERSHIP_ATTRIBUTES.snat : OWNERSHIP_ATTRIBUTES.exclusions;
    if (!(await this.indexTrusted(dryRun))) return this.scannedClaims(me, attribute, name, keys);
    const unresolved = new Set(keys);
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new QueryCommand({
          TableName: this.claimTableName,
          KeyConditionExpression: '#resource = :resource',
          ExpressionAttributeNames: { '#resource': 'resource' },
          ExpressionAttributeValues: { ':resource': { S: claimResource(kind, name) } },
          ConsistentRead: true,
          Limit: CANDIDATES_PER_PAGE,
          ExclusiveStartKey: startKey,
        }),
      );
      const candidates = (page.Items ?? []).filter((item) => item.claimant?.S && item.claimant.S !== me);
      // A few at a time: in a crowd the first confirms every key, and the rest need not be read.
      for (let i = 0; i < candidates.length && unresolved.size > 0; i += CONFIRM_AT_ONCE) {
        const batch = candidates.slice(i, i + CONFIRM_AT_ONCE).filter((item) => (item.keys?.SS ?? []).some((k) => unresolved.has(k)));
        for (const claims of await Promise.all(batch.map((item) => this.liveClaimsOf(item.claimant!.S!, attribute, name)))) {
          for (const key of claims) if (unresolved.delete(key)) found.add(key);
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && unresolved.size > 0);
    return found;
  }

  /** The same question by a consistent Scan of every record (before the index is trusted). */
  private async scannedClaims(me: string, attribute: Attribute, name: string, keys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (const item of await this.scanRecords(
      'clusterName <> :me AND attribute_exists(#attr) AND (attribute_not_exists(#status) OR #status <> :off)',
      'clusterName, #attr',
      { '#attr': attribute, '#status': 'status' },
      { ':me': { S: me }, ':off': { S: OFFBOARDED } },
    )) {
      for (const key of claimedKeys(item[attribute]?.S, attribute, name, item.clusterName?.S ?? '')) if (keys.includes(key)) found.add(key);
    }
    return found;
  }

  private async scanRecords(filter: string, projection: string, names: Record<string, string>, values?: Record<string, AttributeValue>): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          FilterExpression: filter,
          ProjectionExpression: projection,
          ExpressionAttributeNames: names,
          ...(values ? { ExpressionAttributeValues: values } : {}),
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  /** The keys `recordKey`'s record claims on gateway or transit `name`; none when it is gone or OFFBOARDED. */
  private async liveClaimsOf(recordKey: string, attribute: Attribute, name: string): Promise<string[]> {
    const { Item } = await this.dynamo.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { clusterName: { S: recordKey } },
        ConsistentRead: true,
        ProjectionExpression: '#status, #attr',
        ExpressionAttributeNames: { '#status': 'status', '#attr': attribute },
      }),
    );
    return !Item || Item.status?.S === OFFBOARDED ? [] : claimedKeys(Item[attribute]?.S, attribute, name, recordKey);
  }

  /**
   * Whether the claim table can answer: its marker says it is built. A table found without a
   * marker (new, emptied or re-created, or written by a version with another index format) gets a
   * marker with a settle time first; until then the records are scanned, because a claim writer of
   * the version before may still be running and writes no index items. After it, one reader takes
   * the build (the others keep scanning until it is done, or until its claim on the build expires)
   * and mirrors every record with claims (each in a transaction conditioned on the claims it read,
   * so one changed since is read again); only then is the marker set built, and only if it is still
   * the marker it read (one reset meanwhile starts over). A dry run writes nothing: it trusts only a
   * built table.
   */
  private async indexTrusted(dryRun: boolean): Promise<boolean> {
    if (this.indexBuilt) return true;
    const Item = await this.readMarker();
    if (this.indexBuilt) return true;
    if (dryRun) return false;
    const now = Date.now();
    let seen = Item?.settledAt?.N;
    let building = Item?.building?.N;
    if (seen === undefined) {
      const settledAt = String(now + this.settleMs);
      // Lost to another run that started the settle time just now: scan meanwhile.
      if (!(await this.putMarker({ settledAt: { N: settledAt } }, undefined))) return false;
      [seen, building] = [settledAt, undefined];
    }
    if (now < Number(seen) || Number(building) > now) return false;
    const claim = String(now + Math.max(this.settleMs, MIN_BUILD_CLAIM_MS));
    if (!(await this.putMarker({ settledAt: { N: seen }, building: { N: claim } }, seen, building))) return false;
    try {
      const records = (await this.scanRecords(HAS_CLAIMS, 'clusterName', CLAIM_NAMES)).flatMap((item) => (item.clusterName?.S ? [item.clusterName.S] : []));
      // A few records at a time: a build of a large fleet stays well inside one step's time.
      for (let i = 0; i < records.length; i += MIRROR_AT_ONCE) {
        await Promise.all(
          records.slice(i, i + MIRROR_AT_ONCE).map(async (recordKey) => {
            // Written again as it is, through an attribute it still has, with every index item of both.
            if (!(await this.compareAndSet(recordKey, OWNERSHIP_ATTRIBUTES.snat, (c) => c, undefined, true, recordKey))) {
              await this.compareAndSet(recordKey, OWNERSHIP_ATTRIBUTES.exclusions, (c) => c, undefined, true, recordKey);
            }
          }),
        );
      }
    } catch (error) {
      // The next reader builds again at once rather than after this claim expires.
      await this.putMarker({ settledAt: { N: seen } }, seen, claim).catch(() => undefined);
      throw error;
    }
    if (!(await this.putMarker({ settledAt: { N: seen }, built: { BOOL: true } }, seen, claim))) return false;
    return (this.indexBuilt = true);
  }

  /** The claim table's marker (consistent); notes when it says the table is built. */
  private async readMarker(): Promise<Record<string, AttributeValue> | undefined> {
    const { Item } = await this.dynamo.send(new GetItemCommand({ TableName: this.claimTableName, Key: BUILT_MARKER, ConsistentRead: true }));
    if (Item?.built?.BOOL) this.indexBuilt = true;
    return Item;
  }

  /** Replaces the marker if it is still the one read (its settle time and build claim); whether it did. */
  private async putMarker(attributes: Record<string, AttributeValue>, seenSettledAt: string | undefined, seenBuilding?: string): Promise<boolean> {
    const conditions = [seenSettledAt === undefined ? 'attribute_not_exists(settledAt)' : 'settledAt = :seen'];
    if (seenSettledAt !== undefined) conditions.push(seenBuilding === undefined ? 'attribute_not_exists(building)' : 'building = :building');
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.claimTableName,
          Item: { ...BUILT_MARKER, ...attributes },
          ConditionExpression: conditions.join(' AND '),
          ...(seenSettledAt !== undefined ? { ExpressionAttributeValues: { ':seen': { N: seenSettledAt }, ...(seenBuilding !== undefined ? { ':building': { N: seenBuilding } } : {}) } } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Read, compute, and write one attribute only if it changes, conditioned on the value read (so a
   * concurrent writer of the same attribute is never overwritten blindly). `next` undefined removes it.
   * `stamp`: a second attribute set in the same write (and conditioned the same way), removed with the first.
   * A claim attribute (MIRRORED) is written in one transaction with its claim-table items; `mirror`
   * (the index build) writes them even when the claims do not change. Returns whether it wrote.
   */
  private async compareAndSet(
    clusterName: string,
    attribute: Attribute,
    compute: (current: string | undefined) => string | undefined,
    stamp?: { attribute: Attribute; value: string },
    mirror = false,
    recordKey = scopedName(clusterName),
  ): Promise<boolean> {
    const key = { clusterName: { S: recordKey } };
    const other = MIRRORED[attribute];
    const names: Record<string, string> = {
      '#attr': attribute,
      ...(stamp ? { '#stamp': stamp.attribute } : {}),
      ...(other ? { '#other': other } : {}),
    };
    for (let attempt = 0; attempt < 8; attempt++) {
      const { Item } = await this.dynamo.send(
        new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true, ProjectionExpression: Object.keys(names).join(', '), ExpressionAttributeNames: names }),
      );
      const current = Item?.[attribute]?.S;
      const next = compute(current);
      const currentStamp = stamp ? Item?.[stamp.attribute]?.S : undefined;
      const nextStamp = stamp && next !== undefined ? stamp.value : undefined;
      if (next === current && (!stamp || nextStamp === currentStamp) && !mirror) return false;
      // Mirrored through an attribute the record has (gone since the build's Scan: the caller tries the other).
      if (mirror && current === undefined) return false;
      const otherValue = other ? Item?.[other]?.S : undefined;
      const sets = [
        ...(next !== undefined ? ['#attr = :new'] : []),
        ...(nextStamp !== undefined ? ['#stamp = :stamp'] : []),
      ];
      const removes = [...(next === undefined && current !== undefined ? ['#attr'] : []), ...(stamp && nextStamp === undefined ? ['#stamp'] : [])];
      const conditions = [
        current === undefined ? 'attribute_not_exists(#attr)' : '#attr = :old',
        ...(stamp ? [currentStamp === undefined ? 'attribute_not_exists(#stamp)' : '#stamp = :oldStamp'] : []),
        // Every claim of the record is written to the claim table with it, so the other attribute must be as read too.
        ...(other ? [otherValue === undefined ? 'attribute_not_exists(#other)' : '#other = :other'] : []),
      ];
      const update = {
        TableName: this.tableName,
        Key: key,
        UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' '),
        ConditionExpression: conditions.join(' AND '),
        // Every name is in the conditions: the attribute, the stamp when there is one, the other claim attribute when mirrored.
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: {
          ...(current !== undefined ? { ':old': { S: current } } : {}),
          ...(next !== undefined ? { ':new': { S: next } } : {}),
          ...(currentStamp !== undefined ? { ':oldStamp': { S: currentStamp } } : {}),
          ...(nextStamp !== undefined ? { ':stamp': { S: nextStamp } } : {}),
          ...(other && otherValue !== undefined ? { ':other': { S: otherValue } } : {}),
        },
      };
      try {
        if (!other) {
          await this.dynamo.send(new UpdateItemCommand(update));
        } else {
          const claims = (value: string | undefined, otherClaims: string | undefined) => {
            const [snat, exclusions] = attribute === OWNERSHIP_ATTRIBUTES.snat ? [value, otherClaims] : [otherClaims, value];
            return claimEntries(
              parseJson<Record<string, SnatPolicy[]>>(snat, {}, OWNERSHIP_ATTRIBUTES.snat, clusterName),
              parseJson<Record<string, string[]>>(exclusions, {}, OWNERSHIP_ATTRIBUTES.exclusions, clusterName),
            );
          };
          const writes: TransactWriteItem[] = [
            { Update: update },
            ...indexWrites(this.claimTableName, key.clusterName.S, claims(current, otherValue), claims(next, otherValue)),
          ];
          await this.dynamo.send(new TransactWriteItemsCommand({ TransactItems: writes }));
        }
        return true;
      } catch (error) {
        if (!isConditionFailure(error) && !isCancelledByRace(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * (attempt + 1)));
      }
    }
    throw new TransientError(
      `the ${attribute} attribute of cluster ${clusterName} in table ${this.tableName} kept changing under concurrent writers; retried`,
    );
  }
}
