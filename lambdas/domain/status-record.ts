// The status table: one item per cluster (partition key clusterName: the bare name in the hub's own
// account and Region, "<account>/<region>/<name>" elsewhere, lambdas/shared/target.ts). Each step owns some of the
// item's attributes and updates only those, so steps never overwrite each other's record.
import { scopedName } from '../shared/target';
import { AttributeValue, ConditionalCheckFailedException, GetItemCommand, paginateScan, UpdateItemCommand } from '../shared/sdk/dynamodb';
import { dynamo } from '../shared/aws';
import { OnboardingError } from '../shared/errors';

/** The statuses an offboarding run ends with (outcome.ts): undone; leftovers keep the pod CIDR (drift repair offboards again); failed. */
export const OFFBOARDED = 'OFFBOARDED';
export const OFFBOARDING_INCOMPLETE = 'OFFBOARDING_INCOMPLETE';
export const OFFBOARDING_FAILED = 'OFFBOARDING_FAILED';

export type StatusAttributes = Record<string, string | number | undefined>;
export type StatusRecord = Record<string, string>;

const toValue = (value: string | number): AttributeValue => (typeof value === 'number' ? { N: String(value) } : { S: value });
const fromItem = (item: Record<string, AttributeValue>): StatusRecord =>
  Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.N ?? '']));

/** The cluster of its name a record is for: a cluster deleted and re-created under its name keeps its ARN, not its createdAt. */
export const claimantOf = (cluster: { arn: string; createdAt?: string }): string => (cluster.createdAt ? `${cluster.arn}@${cluster.createdAt}` : cluster.arn);

/** The record's attribute holding claimantOf the cluster its last writer was for. */
export const CLUSTER_IDENTITY = 'clusterIdentity';

/**
 * An offboarding's refusal when the cluster of the name (`now`: from EKS, or the record a new
 * cluster's run took over) is not the one the offboarding is for: re-created after it was deleted.
 * Its pod network, security groups, SNAT and exclusion (all found by the name) serve the new cluster,
 * so the offboarding removes nothing more and says so.
 */
export function refuseRecreated(record: { clusterName: string; identity?: string }, now: { identity: string } | undefined): void {
  if (!now || !record.identity || now.identity === record.identity) return;
  throw new OnboardingError(
    'ClusterGone',
    `EKS cluster "${record.clusterName}" was re-created (${now.identity}) after the cluster this offboarding is for (${record.identity}); ` +
      'what onboarding built is found by the name and serves the new cluster, so offboarding removes nothing more: ' +
      'the new cluster\'s onboarding takes its record over, and its own DeleteCluster offboards it',
  );
}

export interface WriteConditions {
  /** Only when the record's status is none of these. */
  unlessStatus?: string[];
  /**
   * The cluster the writer is for (claimantOf, with its createdAt): written with the attributes, and
   * only when the record is for no cluster of a later createdAt. Every cluster of the record's name
   * has the same ARN, so the identities order as their createdAt: a run of a deleted cluster never
   * writes over the record of one re-created under its name, and a new cluster's run takes the
   * record over from the old one.
   * Null: the writer's cluster had no identity on record (a record from before identities were
   * kept), so it writes only to a record that still has none, never to a re-created cluster's.
   */
  identity?: string | null;
}

/**
 * Sets the defined attributes and removes those given as undefined, under `conditions`: false when
 * one of them failed (nothing written).
 */
export async function updateStatusRecord(tableName: string, clusterName: string, attributes: StatusAttributes, conditions: WriteConditions = {}): Promise<boolean> {
  const { unlessStatus = [], identity } = conditions;
  const entries = Object.entries({ ...attributes, ...(identity ? { [CLUSTER_IDENTITY]: identity } : {}) });
  const identityName = { '#identity': CLUSTER_IDENTITY };
  const sets = entries.filter(([, v]) => v !== undefined);
  const removes = entries.filter(([, v]) => v === undefined);
  const names = Object.fromEntries(entries.map(([key], i) => [`#a${i}`, key]));
  const alias = (key: string) => `#a${entries.findIndex(([k]) => k === key)}`;
  const expression = [
    sets.length ? `SET ${sets.map(([key]) => `${alias(key)} = :${alias(key).slice(1)}`).join(', ')}` : '',
    removes.length ? `REMOVE ${removes.map(([key]) => alias(key)).join(', ')}` : '',
  ].filter(Boolean).join(' ');
  if (!expression) return true;
  const values = Object.fromEntries([
    ...sets.map(([key, v]) => [`:${alias(key).slice(1)}`, toValue(v as string | number)] as const),
    ...unlessStatus.map((status, i) => [`:unless${i}`, toValue(status)] as const),
  ]);
  const conditionsMet = [
    unlessStatus.length ? `(attribute_not_exists(#unlessStatus) OR NOT (#unlessStatus IN (${unlessStatus.map((_, i) => `:unless${i}`).join(', ')})))` : '',
    identity ? `(attribute_not_exists(${alias(CLUSTER_IDENTITY)}) OR ${alias(CLUSTER_IDENTITY)} <= :${alias(CLUSTER_IDENTITY).slice(1)})` : '',
    identity === null ? 'attribute_not_exists(#identity)' : '',
  ].filter(Boolean);
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { clusterName: { S: scopedName(clusterName) } },
        UpdateExpression: expression,
        ExpressionAttributeNames: { ...names, ...(unlessStatus.length ? { '#unlessStatus': 'status' } : {}), ...(identity === null ? identityName : {}) },
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        ...(conditionsMet.length ? { ConditionExpression: conditionsMet.join(' AND ') } : {}),
      }),
    );
  } catch (error) {
    if (conditionsMet.length && error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
  return true;
}

/** Statuses an offboarding run writes: the record is offboarding's, a stale onboarding run's failure must not overwrite it. */
export const OFFBOARDING_STATUSES: string[] = [OFFBOARDED, OFFBOARDING_INCOMPLETE, OFFBOARDING_FAILED];
/** Statuses of a record that claims nothing in its VPC any more (or never did). */
export const CLAIMS_NOTHING = new Set([OFFBOARDED, 'SKIPPED', 'REFUSED', 'PLANNED']);
/** The status of a cluster whose first run is under way: its VPC claims are already recorded. */
export const ONBOARDING = 'ONBOARDING';

/**
 * Records, before the pod network step creates them, that the cluster relies on its VPC's
 * secondary CIDR and pod subnets: offboarding another cluster of the VPC keeps what a record with
 * a live status names. A record that claimed nothing becomes ONBOARDING; a live one keeps its status.
 */
export async function claimVpcResources(
  tableName: string,
  cluster: { name: string; arn: string; vpcId: string; createdAt?: string },
  podCidr: string,
  /** The record as just read, when the caller has it. */
  read?: StatusRecord,
): Promise<void> {
  const current = read ?? (await readStatusRecord(tableName, cluster.name));
  const claimsNothing = !current?.status || CLAIMS_NOTHING.has(current.status);
  if (claimsVpcResources(current, cluster, podCidr)) return;
  const identity = cluster.createdAt ? claimantOf(cluster) : undefined;
  const claimed = await updateStatusRecord(tableName, cluster.name, {
    vpcId: cluster.vpcId,
    podCidr,
    clusterArn: cluster.arn,
    ...(claimsNothing ? { status: ONBOARDING } : {}),
  }, { ...(identity ? { identity } : {}) });
  if (!claimed) {
    throw new OnboardingError(
      'ClusterGone',
      `the status record of EKS cluster "${cluster.name}" (table ${tableName}) is for a cluster of that name created after this one ` +
        `(${current?.[CLUSTER_IDENTITY] ?? 'recorded meanwhile'}): this cluster was re-created while the run was under way; the run ends without writing for it, and the new cluster gets a run of its own`,
    );
  }
}

/** True when `record` already claims the VPC's secondary CIDR `podCidr` and its pod subnets for `cluster` (when its identity is known). */
export function claimsVpcResources(record: StatusRecord | undefined, cluster: { vpcId: string; arn: string; createdAt?: string }, podCidr: string): boolean {
  const sameCluster = !cluster.createdAt || record?.[CLUSTER_IDENTITY] === claimantOf(cluster);
  return Boolean(record?.status && !CLAIMS_NOTHING.has(record.status) && record.vpcId === cluster.vpcId && record.podCidr === podCidr && sameCluster);
}

export async function readStatusRecord(tableName: string, clusterName: string): Promise<StatusRecord | undefined> {
  const { Item } = await dynamo().send(new GetItemCommand({ TableName: tableName, Key: { clusterName: { S: scopedName(clusterName) } }, ConsistentRead: true }));
  return Item ? fromItem(Item) : undefined;
}

export async function allStatusRecords(tableName: string): Promise<StatusRecord[]> {
  const records: StatusRecord[] = [];
  for await (const page of paginateScan({ client: dynamo() }, { TableName: tableName, ConsistentRead: true })) {
    records.push(...(page.Items ?? []).map(fromItem));
  }
  return records;
}
