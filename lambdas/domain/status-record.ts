// The status table: one item per cluster (partition key clusterName: the bare name in the hub's own
// account and Region, "<account>/<region>/<name>" elsewhere, lambdas/shared/target.ts). Each step owns some of the
// item's attributes and updates only those, so steps never overwrite each other's record.
import { scopedName } from '../shared/target';
import { AttributeValue, ConditionalCheckFailedException, GetItemCommand, paginateScan, UpdateItemCommand } from '../shared/sdk/dynamodb';
import { dynamo } from '../shared/aws';

/** The statuses an offboarding run ends with (outcome.ts): undone; leftovers keep the pod CIDR (drift repair offboards again); failed. */
export const OFFBOARDED = 'OFFBOARDED';
export const OFFBOARDING_INCOMPLETE = 'OFFBOARDING_INCOMPLETE';
export const OFFBOARDING_FAILED = 'OFFBOARDING_FAILED';

export type StatusAttributes = Record<string, string | number | undefined>;
export type StatusRecord = Record<string, string>;

const toValue = (value: string | number): AttributeValue => (typeof value === 'number' ? { N: String(value) } : { S: value });
const fromItem = (item: Record<string, AttributeValue>): StatusRecord =>
  Object.fromEntries(Object.entries(item).map(([key, value]) => [key, value.S ?? value.N ?? '']));

/**
 * Sets the defined attributes and removes those given as undefined. With `unlessStatus`, only when
 * the record's status is none of those: false when it was (nothing written).
 */
export async function updateStatusRecord(tableName: string, clusterName: string, attributes: StatusAttributes, unlessStatus: string[] = []): Promise<boolean> {
  const entries = Object.entries(attributes);
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
  try {
    await dynamo().send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { clusterName: { S: scopedName(clusterName) } },
        UpdateExpression: expression,
        ExpressionAttributeNames: { ...names, ...(unlessStatus.length ? { '#unlessStatus': 'status' } : {}) },
        ...(Object.keys(values).length ? { ExpressionAttributeValues: values } : {}),
        ...(unlessStatus.length
          ? { ConditionExpression: `attribute_not_exists(#unlessStatus) OR NOT (#unlessStatus IN (${unlessStatus.map((_, i) => `:unless${i}`).join(', ')}))` }
          : {}),
      }),
    );
  } catch (error) {
    if (unlessStatus.length && error instanceof ConditionalCheckFailedException) return false;
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
  cluster: { name: string; arn: string; vpcId: string },
  podCidr: string,
  /** The record as just read, when the caller has it. */
  read?: StatusRecord,
): Promise<void> {
  const current = read ?? (await readStatusRecord(tableName, cluster.name));
  const claimsNothing = !current?.status || CLAIMS_NOTHING.has(current.status);
  if (claimsVpcResources(current, cluster.vpcId, podCidr)) return;
  await updateStatusRecord(tableName, cluster.name, {
    vpcId: cluster.vpcId,
    podCidr,
    clusterArn: cluster.arn,
    ...(claimsNothing ? { status: ONBOARDING } : {}),
  });
}

/** True when `record` already claims the VPC's secondary CIDR `podCidr` and its pod subnets. */
export function claimsVpcResources(record: StatusRecord | undefined, vpcId: string, podCidr: string): boolean {
  return Boolean(record?.status && !CLAIMS_NOTHING.has(record.status) && record.vpcId === vpcId && record.podCidr === podCidr);
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
