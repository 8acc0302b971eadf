// The AWS side of a deleted cluster: remove what onboarding created for it, and only that. Only
// resources carrying our ownership tags are deleted; a pod subnet that still has network
// interfaces, or that another onboarded cluster in the VPC uses, stays (with a warning).
import {
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteTagsCommand,
  DescribeNetworkInterfacesCommand,
  describeSecurityGroups,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateVpcCidrBlockCommand,
  RevokeSecurityGroupIngressCommand,
  SecurityGroup,
  Tag,
} from '../shared/sdk/ec2';
import { DescribeClusterCommand, ResourceNotFoundException } from '../shared/sdk/eks';
import { OnboardingConfig } from '../../lib/config';
import { ec2, eks } from '../shared/aws';
import { contains, parseCidr } from '../shared/cidr';
import { OnboardingError } from '../shared/errors';
import { Change, StepResult, WorkflowInput } from '../shared/workflow';
import { revokeApiAccessRules } from './api-access';
import { createdAtOf } from './cluster';
import { normalizeInput } from './input';
import { currentTarget, parseScopedName, sameTarget, scopedName } from '../shared/target';
import { EKS_CLUSTER_TAG, TAG_CLUSTER, TAG_MANAGED, TAG_PURPOSE, TAG_SECONDARY_CIDR } from './network';
import { releasePolicyGroups } from './pod-security-groups';
import { allStatusRecords, claimantOf, CLAIMS_NOTHING, CLUSTER_IDENTITY, OFFBOARDED, readStatusRecord, refuseRecreated, StatusRecord } from './status-record';


export interface OnboardedCluster {
  clusterName: string;
  clusterArn?: string;
  vpcId: string;
  podCidr?: string;
  /** claimantOf the cluster the record is for, when recorded: a cluster re-created under the name is another one. */
  identity?: string;
}

export interface OffboardingPlan {
  phase: 'nothing' | 'ready';
  input: WorkflowInput;
  reason?: string;
  record?: OnboardedCluster;
}

export interface CleanupResult extends StepResult {
  phase: 'pending' | 'done';
  reason?: string;
  warnings: string[];
  waitingSince?: string;
  /**
   * Why the pod CIDR is still associated with the VPC once the cleanup is done: the transit's
   * exclusion of it then stays (design: the CIDR leaves the VPC before the exclusion goes).
   * `retry`: our association stays for leftovers (network interfaces), so the offboarding is
   * incomplete and runs again; otherwise the CIDR is someone else's and stays for good.
   */
  cidrKept?: { reason: string; retry: boolean };
}

/** Whether a cluster of the name exists, in which status and which one of the name (claimantOf); undefined when none. */
async function clusterNow(name: string): Promise<{ status?: string; identity: string } | undefined> {
  try {
    const { cluster } = await eks().send(new DescribeClusterCommand({ name }));
    return cluster && { ...(cluster.status ? { status: cluster.status } : {}), identity: claimantOf({ arn: cluster.arn ?? '', createdAt: createdAtOf(cluster) }) };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/**
 * DetachSecurityGroups' look before its first revoke, as CleanupAws takes one before its deletes: a
 * cluster re-created under the name since ResolveOffboarding's look is not the one the record is for.
 */
export async function refuseIfRecreated(record: OnboardedCluster): Promise<void> {
  if (record.identity) refuseRecreated(record, await clusterNow(record.clusterName));
}

/** What this cluster's offboarding has to undo, from its status record. No record: nothing to do. */
export async function planOffboarding(request: unknown, statusTableName: string): Promise<OffboardingPlan> {
  const input = normalizeInput(request);
  const record = await readStatusRecord(statusTableName, input.clusterName);
  if (!record?.vpcId) return { phase: 'nothing', input, reason: `cluster ${input.clusterName} was never onboarded` };
  if (record.status === OFFBOARDED) return { phase: 'nothing', input, reason: `cluster ${input.clusterName} is already offboarded` };
  const now = await clusterNow(input.clusterName);
  const recorded = record[CLUSTER_IDENTITY];
  refuseRecreated({ clusterName: input.clusterName, ...(recorded ? { identity: recorded } : {}) }, now);
  // A record kept before identities were has none: the DELETING cluster it is offboarded for gives
  // it, so the later looks (DetachSecurityGroups, the controller steps, CleanupAws) still tell a
  // cluster re-created under the name, or a record its run took over, from this one.
  const identity = recorded ?? now?.identity;
  const status = now?.status;
  if (now !== undefined && status !== 'DELETING') {
    throw new OnboardingError(
      'ClusterRefused',
      `EKS cluster "${input.clusterName}" is ${status}; offboarding removes its pod network and SNAT, so it runs only for a deleted or ` +
        'deleting cluster: delete the cluster first',
    );
  }
  return {
    phase: 'ready',
    input,
    record: {
      clusterName: input.clusterName,
      vpcId: record.vpcId,
      ...(record.clusterArn ? { clusterArn: record.clusterArn } : {}),
      ...(record.podCidr ? { podCidr: record.podCidr } : {}),
      ...(identity ? { identity } : {}),
    },
  };
}

const tag = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
/** Other live clusters of the same VPC: of the same account and Region (VPC ids are unique only there). */
const stillOnboarded = (records: StatusRecord[], self: OnboardedCluster) =>
  records
    .filter((r) => r.clusterName !== scopedName(self.clusterName) && sameTarget(parseScopedName(r.clusterName).target, currentTarget()) && r.vpcId === self.vpcId && !CLAIMS_NOTHING.has(r.status))
    .map((r) => r.clusterName);

const isOurPodGroup = (group: SecurityGroup) => tag(group.Tags, TAG_MANAGED) === 'true' && tag(group.Tags, TAG_PURPOSE) === 'pod-security-group';

/**
 * Rules that reference another group block that group's deletion: EKS could not delete its cluster
 * security group while our rules name it (our pod group's, and those podSecurityGroups added to the
 * groups SecurityGroupPolicies name), nor we the pod group while the cluster group's rule names it.
 * The offboarding workflow's first step, while the cluster is still being deleted.
 */
export async function detachSecurityGroups(record: OnboardedCluster, dryRun: boolean, config: Pick<OnboardingConfig, 'podSecurityGroups'>): Promise<CleanupResult> {
  const SecurityGroups = await groupsAround(record);
  const pods = SecurityGroups.filter(isOurPodGroup);
  const ours = pods.filter((g) => tag(g.Tags, TAG_CLUSTER) === record.clusterName);
  const released = await releasePolicyGroups(record.clusterName, SecurityGroups, { ours, others: pods.filter((g) => !ours.includes(g)) }, config, dryRun);
  const changes = [...released.changes];
  const warnings = [...released.warnings];
  await detachPodSecurityGroup(ours, SecurityGroups, dryRun, changes, warnings);
  // The same view: the revokes above touch only rules of other descriptions.
  await revokeApiAccessRules(SecurityGroups.filter((g) => tag(g.Tags, EKS_CLUSTER_TAG) === record.clusterName), dryRun, changes);
  return { phase: 'pending', reason: 'security groups detached', dryRun, changes, warnings };
}

/**
 * The groups of the VPC the detach looks at, and no others (every cluster adds two groups to its
 * VPC, so a read of all of them grows with the clusters there): the cluster's pod groups (by our
 * tag) and cluster group (by EKS's tag: DescribeCluster may already fail); the groups whose rules
 * name one of them or a source of their rules (among them another cluster's pod group sharing a
 * source); and those of the groups their rules name that still exist (a rule naming a deleted
 * group blocks nothing).
 */
async function groupsAround(record: OnboardedCluster): Promise<SecurityGroup[]> {
  const inVpc = { Name: 'vpc-id', Values: [record.vpcId] };
  const describe = (filter: { Name: string; Values: string[] }) => describeSecurityGroups([inVpc, filter]);
  const [tagged, clusterGroups] = await Promise.all([
    describe({ Name: `tag:${TAG_CLUSTER}`, Values: [record.clusterName] }),
    describe({ Name: `tag:${EKS_CLUSTER_TAG}`, Values: [record.clusterName] }),
  ]);
  const own = [...tagged.filter(isOurPodGroup), ...clusterGroups];
  const named = [...new Set(own.flatMap((g) => (g.IpPermissions ?? []).flatMap((p) => (p.UserIdGroupPairs ?? []).map((pair) => pair.GroupId ?? '')).filter(Boolean)))];
  const [naming, live] = await Promise.all([
    describe({ Name: 'ip-permission.group-id', Values: [...new Set([...own.map((g) => g.GroupId ?? ''), ...named])] }),
    describe({ Name: 'group-id', Values: named }),
  ]);
  return [...new Map([...own, ...naming, ...live].map((g) => [g.GroupId, g] as const)).values()];
}

/** Revokes the rules between our pod group and other groups (ours, and the EKS cluster group's). */
async function detachPodSecurityGroup(podGroups: SecurityGroup[], SecurityGroups: SecurityGroup[], dryRun: boolean, changes: Change[], warnings: string[]): Promise<void> {
  for (const pod of podGroups) {
    const podId = pod.GroupId ?? '';
    const toOthers = (pod.IpPermissions ?? [])
      .map((p) => ({ ...p, UserIdGroupPairs: (p.UserIdGroupPairs ?? []).filter((pair) => pair.GroupId !== podId) }))
      .filter((p) => p.UserIdGroupPairs.length > 0);
    const live = new Set(SecurityGroups.map((g) => g.GroupId));
    for (const permission of toOthers) {
      // A rule naming a group that no longer exists blocks nothing (and EC2 cannot revoke it by name).
      const sources = permission.UserIdGroupPairs.filter((pair) => live.has(pair.GroupId));
      if (sources.length === 0) continue;
      if (!dryRun) await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: podId, IpPermissions: [{ ...permission, UserIdGroupPairs: sources }] }));
      changes.push({ resource: podId, action: 'update', detail: `revoke ${permission.IpProtocol === '-1' ? 'all traffic' : `${permission.IpProtocol} ${permission.FromPort}`} from ${sources.map((g) => g.GroupId).join(', ')}` });
    }
    for (const other of SecurityGroups.filter((g) => g.GroupId !== podId)) {
      const fromPod = (other.IpPermissions ?? [])
        .map((p) => ({ ...p, UserIdGroupPairs: (p.UserIdGroupPairs ?? []).filter((pair) => pair.GroupId === podId) }))
        .filter((p) => p.UserIdGroupPairs.length > 0);
      if (fromPod.length === 0) continue;
      // Ours to revoke only on the EKS cluster group, where onboarding added it.
      if (tag(other.Tags, EKS_CLUSTER_TAG) === undefined && !isOurPodGroup(other)) {
        warnings.push(`security group ${other.GroupId} has a rule from pod security group ${podId} that onboarding did not add; it stays`);
        continue;
      }
      if (!dryRun) await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: other.GroupId, IpPermissions: fromPod }));
      changes.push({ resource: other.GroupId ?? '', action: 'update', detail: `revoke ingress from pod security group ${podId}` });
    }
  }
}

export interface CleanupInput {
  record: OnboardedCluster;
  dryRun: boolean;
  statusTableName: string;
  previous?: CleanupResult;
}

export async function cleanupAws(input: CleanupInput, config: OnboardingConfig): Promise<CleanupResult> {
  const { record, dryRun } = input;
  const changes: Change[] = [...(input.previous?.changes ?? [])];
  // The detach step's warnings (detachSecurityGroups) stay; later calls add only new ones.
  const warnings: string[] = [...(input.previous?.warnings ?? [])];

  // Pod subnets and the pod security group are in use until the cluster and its nodes are gone.
  const now = await clusterNow(record.clusterName);
  if (!dryRun) refuseRecreated(record, now);
  const status = now?.status;
  if (now !== undefined && !dryRun) {
    const waitingSince = input.previous?.waitingSince ?? new Date().toISOString();
    const waited = Math.round((Date.now() - Date.parse(waitingSince)) / 1000);
    if (waited >= config.clusterActiveTimeoutSeconds) {
      throw new OnboardingError(
        'WaitTimedOut',
        `EKS cluster "${record.clusterName}" is still ${status} after ${waited} s (limit onboarding.clusterActiveTimeoutSeconds); ` +
          `its pod subnets and security group stay until it is gone: run offboarding again with {"clusterName": "${record.clusterName}"}`,
      );
    }
    return { phase: 'pending', reason: `cluster ${record.clusterName} is ${status}`, dryRun, changes, warnings, waitingSince };
  }

  const vpcFilter = [{ Name: 'vpc-id', Values: [record.vpcId] }];
  const groups = await describeSecurityGroups([...vpcFilter, { Name: `tag:${TAG_CLUSTER}`, Values: [record.clusterName] }]);
  for (const group of groups.filter(isOurPodGroup)) {
    if (!dryRun) {
      try {
        await ec2().send(new DeleteSecurityGroupCommand({ GroupId: group.GroupId }));
      } catch (error) {
        if ((error as Error).name !== 'DependencyViolation') throw error;
        warnings.push(`pod security group ${group.GroupId} is still in use (network interfaces or another group's rule) and stays; run offboarding again once they are gone`);
        continue;
      }
    }
    changes.push({ resource: group.GroupId ?? '', action: 'delete', detail: `pod security group ${group.GroupName}` });
  }

  const others = stillOnboarded(await allStatusRecords(input.statusTableName), record);
  if (others.length > 0) {
    warnings.push(`pod subnets and the secondary CIDR of ${record.vpcId} stay: clusters ${others.join(', ')} still use them`);
    // Their own claims keep the transit's exclusion of the CIDR.
    return { phase: 'done', dryRun, changes, warnings };
  }

  const subnets = await ec2().send(new DescribeSubnetsCommand({ Filters: [...vpcFilter, { Name: `tag:${TAG_MANAGED}`, Values: ['true'] }] }));
  let subnetsLeft = 0;
  for (const subnet of subnets.Subnets ?? []) {
    if (tag(subnet.Tags, TAG_PURPOSE) !== 'pod-subnet') continue;
    const { NetworkInterfaces = [] } = await ec2().send(
      new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: [subnet.SubnetId ?? ''] }] }),
    );
    if (NetworkInterfaces.length > 0) {
      subnetsLeft += 1;
      warnings.push(
        `pod subnet ${subnet.SubnetId} (${subnet.CidrBlock}) still has ${NetworkInterfaces.length} network interfaces and stays; ` +
          'delete them, then run offboarding again',
      );
      continue;
    }
    changes.push({ resource: subnet.SubnetId ?? '', action: 'delete', detail: `pod subnet ${subnet.CidrBlock} in ${subnet.AvailabilityZone}` });
    if (!dryRun) await ec2().send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
  }

  // The secondary CIDR goes only if we associated it (the VPC's tag says so) and nothing is left in it.
  const { Vpcs = [] } = await ec2().send(new DescribeVpcsCommand({ VpcIds: [record.vpcId] }));
  const vpc = Vpcs[0];
  const ours = tag(vpc?.Tags, TAG_SECONDARY_CIDR);
  const podCidr = record.podCidr ?? config.secondaryCidr;
  const stillThere = vpc?.CidrBlockAssociationSet?.find(
    (a) => a.CidrBlock === podCidr && ['associating', 'associated', 'disassociating'].includes(a.CidrBlockState?.State ?? ''),
  );
  if (stillThere?.CidrBlockState?.State === 'disassociating' && !dryRun) {
    // Disassociation is asynchronous: the exclusion waits until the VPC no longer carries the CIDR.
    return { phase: 'pending', reason: `secondary CIDR ${podCidr} of ${record.vpcId} is disassociating`, dryRun, changes, warnings, waitingSince: input.previous?.waitingSince ?? new Date().toISOString() };
  }
  const association = vpc?.CidrBlockAssociationSet?.find((a) => a.AssociationId === ours && a.CidrBlockState?.State === 'associated');
  if (stillThere && stillThere.AssociationId !== association?.AssociationId) {
    warnings.push(`secondary CIDR ${podCidr} of ${record.vpcId} was not associated by onboarding and stays`);
    return { phase: 'done', dryRun, changes, warnings, cidrKept: { reason: `VPC ${record.vpcId} carries it, associated by someone else`, retry: false } };
  }
  if (association?.CidrBlock) {
    const range = parseCidr(association.CidrBlock);
    const all = await ec2().send(new DescribeSubnetsCommand({ Filters: vpcFilter }));
    const remaining = (all.Subnets ?? []).filter((s) => {
      const cidr = parseCidr(s.CidrBlock ?? '');
      const deleted = changes.some((c) => c.action === 'delete' && c.resource === s.SubnetId);
      return range && cidr && contains(range, cidr) && !deleted;
    });
    if (remaining.length > 0 || subnetsLeft > 0) {
      warnings.push(`secondary CIDR ${association.CidrBlock} of ${record.vpcId} stays: subnets ${remaining.map((s) => s.SubnetId).join(', ')} are in it`);
      return { phase: 'done', dryRun, changes, warnings, cidrKept: { reason: `subnets ${remaining.map((s) => s.SubnetId).join(', ')} of VPC ${record.vpcId} are in it`, retry: true } };
    } else {
      changes.push({ resource: record.vpcId, action: 'delete', detail: `secondary CIDR ${association.CidrBlock} association` });
      if (!dryRun) {
        const { CidrBlockAssociation } = await ec2().send(new DisassociateVpcCidrBlockCommand({ AssociationId: association.AssociationId }));
        await ec2().send(new DeleteTagsCommand({ Resources: [record.vpcId], Tags: [{ Key: TAG_SECONDARY_CIDR }] }));
        if (CidrBlockAssociation?.CidrBlockState?.State === 'disassociating') {
          return { phase: 'pending', reason: `secondary CIDR ${podCidr} of ${record.vpcId} is disassociating`, dryRun, changes, warnings, waitingSince: input.previous?.waitingSince ?? new Date().toISOString() };
        }
      }
    }
  }
  return { phase: 'done', dryRun, changes, warnings };
}
