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
// "Who else needs policy P on gateway G": a (consistent) Scan for the other clusters whose status is
// not OFFBOARDED and whose controllerSnat[G] holds P (the same for exclusions). The table holds one
// item per cluster, so a Scan is cheap.
import { scopedName } from '../shared/target';
import { CLUSTER_IDENTITY, OFFBOARDED, refuseRecreated } from '../domain/status-record';
import {
  AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '../shared/sdk/dynamodb';
import { sdkClientOptions, withStepDeadline } from '../shared/aws';
import { OnboardingError, TransientError } from '../shared/errors';
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

export class OwnershipRegistry {
  readonly tableName: string;
  private readonly dynamo: DynamoDBClient;

  constructor(options: OwnershipOptions = {}) {
    const tableName = options.tableName ?? process.env.STATUS_TABLE_NAME;
    if (!tableName) {
      throw new OnboardingError('ConfigError', 'STATUS_TABLE_NAME is not set on this function; redeploy the stack with `cdk deploy`');
    }
    this.tableName = tableName;
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

  /** The SNAT policies (by policyKey) that other live clusters claim on `gateway`, with who claims them. */
  async snatClaimsOfOthers(clusterName: string, gateway: string): Promise<Map<string, string[]>> {
    const claims = new Map<string, string[]>();
    for (const [other, text] of await this.scanOthers(clusterName, OWNERSHIP_ATTRIBUTES.snat)) {
      const map = parseJson<Record<string, SnatPolicy[]>>(text, {}, OWNERSHIP_ATTRIBUTES.snat, other);
      for (const policy of map[gateway] ?? []) {
        const key = policyKey(policy);
        claims.set(key, [...(claims.get(key) ?? []), other]);
      }
    }
    return claims;
  }

  /** The CIDRs other live clusters claim in `transit`'s exclusions, with who claims them. */
  async exclusionClaimsOfOthers(clusterName: string, transit: string): Promise<Map<string, string[]>> {
    const claims = new Map<string, string[]>();
    for (const [other, text] of await this.scanOthers(clusterName, OWNERSHIP_ATTRIBUTES.exclusions)) {
      const map = parseJson<Record<string, string[]>>(text, {}, OWNERSHIP_ATTRIBUTES.exclusions, other);
      for (const cidr of map[transit] ?? []) claims.set(cidr, [...(claims.get(cidr) ?? []), other]);
    }
    return claims;
  }

  private async scanOthers(clusterName: string, attribute: Attribute): Promise<[string, string][]> {
    const found: [string, string][] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          FilterExpression: 'clusterName <> :me AND attribute_exists(#attr) AND (attribute_not_exists(#status) OR #status <> :off)',
          ProjectionExpression: 'clusterName, #attr',
          ExpressionAttributeNames: { '#attr': attribute, '#status': 'status' },
          ExpressionAttributeValues: { ':me': { S: scopedName(clusterName) }, ':off': { S: OFFBOARDED } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const name = item.clusterName?.S;
        const text = item[attribute]?.S;
        if (name && text) found.push([name, text]);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return found;
  }

  /**
   * Read, compute, and write one attribute only if it changes, conditioned on the value read (so a
   * concurrent writer of the same attribute is never overwritten blindly). `next` undefined removes it.
   * `stamp`: a second attribute set in the same write (and conditioned the same way), removed with the first.
   * Returns whether it wrote.
   */
  private async compareAndSet(
    clusterName: string,
    attribute: Attribute,
    compute: (current: string | undefined) => string | undefined,
    stamp?: { attribute: Attribute; value: string },
  ): Promise<boolean> {
    const key = { clusterName: { S: scopedName(clusterName) } };
    for (let attempt = 0; attempt < 8; attempt++) {
      const { Item } = await this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: key,
          ConsistentRead: true,
          ProjectionExpression: stamp ? '#attr, #stamp' : '#attr',
          ExpressionAttributeNames: { '#attr': attribute, ...(stamp ? { '#stamp': stamp.attribute } : {}) },
        }),
      );
      const current = Item?.[attribute]?.S;
      const next = compute(current);
      const currentStamp = stamp ? Item?.[stamp.attribute]?.S : undefined;
      const nextStamp = stamp && next !== undefined ? stamp.value : undefined;
      if (next === current && (!stamp || nextStamp === currentStamp)) return false;
      const sets = [...(next !== undefined ? ['#attr = :new'] : []), ...(nextStamp !== undefined ? ['#stamp = :stamp'] : [])];
      const removes = [...(next === undefined ? ['#attr'] : []), ...(stamp && nextStamp === undefined ? ['#stamp'] : [])];
      const conditions = [
        current === undefined ? 'attribute_not_exists(#attr)' : '#attr = :old',
        ...(stamp ? [currentStamp === undefined ? 'attribute_not_exists(#stamp)' : '#stamp = :oldStamp'] : []),
      ];
      try {
        await this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: key,
            UpdateExpression: [sets.length ? `SET ${sets.join(', ')}` : '', removes.length ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' '),
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: { '#attr': attribute, ...(stamp ? { '#stamp': stamp.attribute } : {}) },
            ExpressionAttributeValues: {
              ...(current !== undefined ? { ':old': { S: current } } : {}),
              ...(next !== undefined ? { ':new': { S: next } } : {}),
              ...(currentStamp !== undefined ? { ':oldStamp': { S: currentStamp } } : {}),
              ...(nextStamp !== undefined ? { ':stamp': { S: nextStamp } } : {}),
            },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * (attempt + 1)));
      }
    }
    throw new TransientError(
      `the ${attribute} attribute of cluster ${clusterName} in table ${this.tableName} kept changing under concurrent writers; retried`,
    );
  }
}
