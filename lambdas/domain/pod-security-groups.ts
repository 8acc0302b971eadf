// Security groups for pods: a pod selected by a SecurityGroupPolicy gets a branch ENI with the
// groups the policy names instead of the ENIConfig's pod security group, so it misses the rules
// onboarding gives that group (from the nodes' groups, TCP 9443 from the control plane, to the
// cluster security group). With onboarding.podSecurityGroups "reconcile" the same rules go on the
// named groups tagged eks-aviatrix:managed=true; "reconcile-all" takes every named group (IAM
// grants the wider write only then). Observe, add what is missing; revoke only our own rules
// (marked by their description) from groups no policy names any more, and at offboarding.
import { describeSecurityGroups, IpPermission, RevokeSecurityGroupIngressCommand, SecurityGroup } from '../shared/sdk/ec2';
import { OnboardingConfig } from '../../lib/config';
import { ec2, iam } from '../shared/aws';
import { isTransient } from '../shared/classify';
import { paginateListAttachedRolePolicies } from '../shared/sdk/iam';
import { Change, ClusterSummary, PodNetworkResult } from '../shared/workflow';
import { authorizeIngress, EKS_CLUSTER_TAG, missingRules, podIngressRules, POD_SG_RULE_DESCRIPTION, Rule, rulesOf, TAG_MANAGED, toPermission } from './network';
import { PodSecurityGroupReport } from './cni-options';

export { POD_SG_RULE_DESCRIPTION };

const describe = (rules: Rule[]) =>
  rules.map((r) => `${r.protocol === '-1' ? 'all' : `${r.protocol} ${r.fromPort}`} from ${r.sourceGroupId}`).join(', ');

export interface PodSecurityGroupInput {
  cluster: ClusterSummary;
  network: Pick<PodNetworkResult, 'podSecurityGroupId' | 'nodeSecurityGroupIds' | 'podPolicyGroupIds'>;
  report: PodSecurityGroupReport;
  config: Pick<OnboardingConfig, 'podSecurityGroups'>;
  dryRun: boolean;
}

interface Outcome {
  changes: Change[];
  warnings: string[];
}

export async function reconcilePodSecurityGroups(input: PodSecurityGroupInput): Promise<Outcome> {
  const { cluster, network, report, config, dryRun } = input;
  const reconciling = config.podSecurityGroups !== 'report';
  const named = reconciling ? [...new Set(report.policies.flatMap((p) => p.securityGroupIds))].filter((id) => id !== network.podSecurityGroupId).sort() : [];
  // Groups that got our rules on an earlier run (each has our rule on the cluster group).
  const before = network.podPolicyGroupIds ?? [];
  if (named.length === 0 && before.length === 0) return { changes: [], warnings: [] };
  // A filter (not GroupIds) so a policy naming a group that does not exist is reported, not an error.
  const groups = await describeSecurityGroups([{ Name: 'group-id', Values: [...new Set([...named, ...before, cluster.clusterSecurityGroupId])] }]);
  const byId = new Map(groups.map((g) => [g.GroupId, g] as const));
  const out: Outcome = { changes: [], warnings: [] };
  const notOurs: string[] = [];
  const served = new Set<string>();
  const clusterRules: Rule[] = [];
  for (const id of named) {
    const group = byId.get(id);
    if (!group || group.VpcId !== cluster.vpcId) {
      out.warnings.push(`a SecurityGroupPolicy on EKS cluster "${cluster.name}" names security group ${id}, which is not in the cluster's VPC ${cluster.vpcId}; fix the policy`);
      continue;
    }
    if (config.podSecurityGroups !== 'reconcile-all' && !isOurs(group)) {
      notOurs.push(id);
      continue;
    }
    served.add(id);
    const wanted = podIngressRules(cluster, id, network.nodeSecurityGroupIds).map((r) => ({ ...r, description: POD_SG_RULE_DESCRIPTION }));
    const missing = missingRules(wanted, rulesOf(group.IpPermissions));
    if (missing.length > 0) {
      if (!dryRun) await authorizeIngress(id, missing.map(toPermission));
      out.changes.push({ resource: `security group ${id}`, action: 'update', detail: `ingress ${describe(missing)} (pods with their own security groups)` });
    }
    clusterRules.push({ protocol: '-1', sourceGroupId: id, description: POD_SG_RULE_DESCRIPTION });
  }
  const clusterGroup = byId.get(cluster.clusterSecurityGroupId);
  // Those pods reach the API server through the cluster security group, as the pod security group does.
  const toCluster = missingRules(clusterRules, rulesOf(clusterGroup?.IpPermissions));
  if (toCluster.length > 0) {
    if (!dryRun) await authorizeIngress(cluster.clusterSecurityGroupId, toCluster.map(toPermission));
    out.changes.push({ resource: `security group ${cluster.clusterSecurityGroupId}`, action: 'update', detail: `ingress ${describe(toCluster)} (cluster security group)` });
  }
  // A policy removed, its group untagged, or the mode switched off: our rules leave the groups no longer served.
  const stale = before.filter((id) => !served.has(id));
  const sources = new Set([cluster.clusterSecurityGroupId, ...(network.nodeSecurityGroupIds ?? []), ...cluster.controlPlaneSecurityGroupIds]);
  const released = new Set<string>();
  for (const id of stale) {
    const group = byId.get(id);
    const why = `no SecurityGroupPolicy of EKS cluster "${cluster.name}" has it served any more`;
    if (!group || (await revokeOwnRules(group, sources, config, dryRun, out, why))) released.add(id);
  }
  // The cluster group's rule from a group whose rules stay is kept too: it is how the next run finds them again.
  if (clusterGroup) await revokeOwnRules(clusterGroup, released, config, dryRun, out, 'its source is no longer served');
  if (notOurs.length > 0) {
    out.warnings.push(
      `security groups ${notOurs.join(', ')} named by SecurityGroupPolicies on EKS cluster "${cluster.name}" are not tagged ${TAG_MANAGED}=true, ` +
        `so onboarding does not add the pod rules to them; tag them, add the rules yourself, or set onboarding.podSecurityGroups to "reconcile-all"`,
    );
  }
  return out;
}

const isOurs = (group: SecurityGroup) => (group.Tags ?? []).some((t) => t.Key === TAG_MANAGED && t.Value === 'true');
const isEksClusterGroup = (group: SecurityGroup) => (group.Tags ?? []).some((t) => t.Key === EKS_CLUSTER_TAG);

/**
 * Our rules (by description) on `group` from one of `sources`. Never a group's rule from itself: it
 * blocks no deletion and may serve another cluster's policies naming the same group.
 */
export function ownRulesFrom(group: SecurityGroup, sources: ReadonlySet<string>): IpPermission[] {
  return (group.IpPermissions ?? [])
    .map((p) => ({
      ...p,
      UserIdGroupPairs: (p.UserIdGroupPairs ?? []).filter(
        (pair) => pair.Description === POD_SG_RULE_DESCRIPTION && pair.GroupId !== group.GroupId && sources.has(pair.GroupId ?? ''),
      ),
    }))
    .filter((p) => p.UserIdGroupPairs.length > 0);
}

/**
 * Revokes our rules from `sources` on `group`. IAM lets us revoke on groups tagged ours and on
 * EKS cluster groups, on any group only with "reconcile-all": elsewhere the rules are named instead.
 */
async function revokeOwnRules(group: SecurityGroup, sources: ReadonlySet<string>, config: Pick<OnboardingConfig, 'podSecurityGroups'>, dryRun: boolean, out: Outcome, why: string): Promise<boolean> {
  const rules = ownRulesFrom(group, sources);
  if (rules.length === 0) return true;
  const text = rules.flatMap((p) => (p.UserIdGroupPairs ?? []).map((pair) => `${p.IpProtocol === '-1' ? 'all' : `${p.IpProtocol} ${p.FromPort}`} from ${pair.GroupId}`)).join(', ');
  if (!isOurs(group) && !isEksClusterGroup(group) && config.podSecurityGroups !== 'reconcile-all') {
    out.warnings.push(
      `security group ${group.GroupId} keeps ingress ${text} that onboarding added for pods with their own security groups (${why}); ` +
        `it is not tagged ${TAG_MANAGED}=true, so onboarding may revoke them only with onboarding.podSecurityGroups "reconcile-all": revoke them yourself ` +
        `(aws ec2 revoke-security-group-ingress --group-id ${group.GroupId} ...)`,
    );
    return false;
  }
  if (!dryRun) await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: group.GroupId, IpPermissions: rules }));
  out.changes.push({ resource: `security group ${group.GroupId}`, action: 'update', detail: `revoke ingress ${text} (pods with their own security groups: ${why})` });
  return true;
}

/**
 * Offboarding, while EKS deletes the cluster: our rules that name the cluster's groups (its cluster
 * group, found by EKS's tag since DescribeCluster may already fail, and the sources of our pod
 * group's rules) would keep EKS from deleting its cluster group. A source another onboarded
 * cluster's pod group also uses stays: the rule may serve that cluster too.
 */
export async function releasePolicyGroups(clusterName: string, groups: SecurityGroup[], podGroups: { ours: SecurityGroup[]; others: SecurityGroup[] }, config: Pick<OnboardingConfig, 'podSecurityGroups'>, dryRun: boolean): Promise<Outcome> {
  const out: Outcome = { changes: [], warnings: [] };
  const clusterGroup = groups.find((g) => (g.Tags ?? []).some((t) => t.Key === EKS_CLUSTER_TAG && t.Value === clusterName));
  const sourcesOf = (pods: SecurityGroup[]) =>
    new Set(pods.flatMap((pod) => (pod.IpPermissions ?? []).flatMap((p) => (p.UserIdGroupPairs ?? []).map((pair) => pair.GroupId ?? '')).filter((id) => id !== pod.GroupId)));
  const shared = sourcesOf(podGroups.others);
  const sources = new Set([...sourcesOf(podGroups.ours)].filter((id) => !shared.has(id)));
  if (clusterGroup?.GroupId) sources.add(clusterGroup.GroupId);
  if (sources.size === 0) return out;
  const why = `EKS cluster "${clusterName}" is being deleted`;
  for (const group of groups) {
    if (group !== clusterGroup && !podGroups.ours.includes(group)) await revokeOwnRules(group, sources, config, dryRun, out, why);
  }
  // The cluster group's own rules from the groups served go with it (a rule naming a deleted group cannot be revoked by name).
  if (clusterGroup) await revokeOwnRules(clusterGroup, new Set(groups.map((g) => g.GroupId ?? '')), config, dryRun, out, why);
  return out;
}

export const VPC_RESOURCE_CONTROLLER_POLICY = 'AmazonEKSVPCResourceController';
/** The AWS managed policy in any partition, not a customer policy of the same name. */
const AWS_MANAGED_VPC_RESOURCE_CONTROLLER = new RegExp(`^arn:aws[a-z-]*:iam::aws:policy/${VPC_RESOURCE_CONTROLLER_POLICY}$`);

/**
 * EKS's VPC resource controller gives pods their branch ENIs acting as the cluster role, which needs
 * the managed policy AmazonEKSVPCResourceController; without it those pods never start. Read only
 * when security groups for pods are in use. A warning, not a refusal: nothing onboarding writes
 * needs it, and refusing would hold back custom networking for every other pod of the cluster.
 */
export async function vpcResourceControllerWarnings(cluster: ClusterSummary, report: PodSecurityGroupReport): Promise<string[]> {
  if ((!report.podEniEnabled && report.policies.length === 0) || !cluster.roleArn) return [];
  const roleName = cluster.roleArn.split('/').pop();
  const fix = `attach it (aws iam attach-role-policy --role-name ${roleName} --policy-arn arn:aws:iam::aws:policy/${VPC_RESOURCE_CONTROLLER_POLICY})`;
  try {
    for await (const page of paginateListAttachedRolePolicies({ client: iam() }, { RoleName: roleName })) {
      if ((page.AttachedPolicies ?? []).some((p) => AWS_MANAGED_VPC_RESOURCE_CONTROLLER.test(p.PolicyArn ?? ''))) return [];
    }
  } catch (error) {
    // A check that only advises does not fail the run for what it cannot read (another account's role, a deleted role).
    if (isTransient(error)) throw error;
    return [
      `security groups for pods on EKS cluster "${cluster.name}" need ${VPC_RESOURCE_CONTROLLER_POLICY} on its cluster role ${cluster.roleArn}, ` +
        `which onboarding could not read (${(error as Error).name}); check it, and if it is missing ${fix}`,
    ];
  }
  return [
    `security groups for pods on EKS cluster "${cluster.name}": its cluster role ${cluster.roleArn} lacks the managed policy ${VPC_RESOURCE_CONTROLLER_POLICY}, ` +
      `so EKS cannot give pods selected by a SecurityGroupPolicy their branch network interfaces and they do not start; ${fix}`,
  ];
}
