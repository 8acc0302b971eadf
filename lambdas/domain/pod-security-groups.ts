// Security groups for pods: a pod selected by a SecurityGroupPolicy gets a branch ENI with the
// groups the policy names instead of the ENIConfig's pod security group, so it misses the rules
// onboarding gives that group (from the nodes' groups, TCP 9443 from the control plane, to the
// cluster security group). With onboarding.podSecurityGroups "reconcile" the same rules go on the
// named groups tagged eks-aviatrix:managed=true; "reconcile-all" takes every named group (IAM
// grants the wider write only then). Observe, add what is missing, never revoke someone's rule.
import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand, SecurityGroup } from '../shared/sdk/ec2';
import { OnboardingConfig } from '../../lib/config';
import { ec2 } from '../shared/aws';
import { Change, ClusterSummary, PodNetworkResult } from '../shared/workflow';
import { missingRules, podIngressRules, Rule, rulesOf, TAG_MANAGED, toPermission } from './network';
import { PodSecurityGroupReport } from './cni-options';

/** Marks the rules this reconciler adds (the pod security group's own carry other descriptions). */
export const POD_SG_RULE_DESCRIPTION = 'eks-aviatrix: pods with their own security groups';

const describe = (rules: Rule[]) =>
  rules.map((r) => `${r.protocol === '-1' ? 'all' : `${r.protocol} ${r.fromPort}`} from ${r.sourceGroupId}`).join(', ');

export interface PodSecurityGroupInput {
  cluster: ClusterSummary;
  network: Pick<PodNetworkResult, 'podSecurityGroupId' | 'nodeSecurityGroupIds'>;
  report: PodSecurityGroupReport;
  config: Pick<OnboardingConfig, 'podSecurityGroups'>;
  dryRun: boolean;
}

export async function reconcilePodSecurityGroups(input: PodSecurityGroupInput): Promise<{ changes: Change[]; warnings: string[] }> {
  const { cluster, network, report, config, dryRun } = input;
  const named = [...new Set(report.policies.flatMap((p) => p.securityGroupIds))].filter((id) => id !== network.podSecurityGroupId).sort();
  if (named.length === 0 || config.podSecurityGroups === 'report') return { changes: [], warnings: [] };
  // A filter (not GroupIds) so a policy naming a group that does not exist is reported, not an error.
  const { SecurityGroups = [] } = await ec2().send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [...named, cluster.clusterSecurityGroupId] }] }),
  );
  const byId = new Map(SecurityGroups.map((g) => [g.GroupId, g] as const));
  const changes: Change[] = [];
  const warnings: string[] = [];
  const notOurs: string[] = [];
  const clusterRules: Rule[] = [];
  for (const id of named) {
    const group = byId.get(id);
    if (!group || group.VpcId !== cluster.vpcId) {
      warnings.push(`a SecurityGroupPolicy on EKS cluster "${cluster.name}" names security group ${id}, which is not in the cluster's VPC ${cluster.vpcId}; fix the policy`);
      continue;
    }
    if (config.podSecurityGroups !== 'reconcile-all' && !isOurs(group)) {
      notOurs.push(id);
      continue;
    }
    const wanted = podIngressRules(cluster, id, network.nodeSecurityGroupIds).map((r) => ({ ...r, description: POD_SG_RULE_DESCRIPTION }));
    const missing = missingRules(wanted, rulesOf(group.IpPermissions));
    if (missing.length > 0) {
      if (!dryRun) await ec2().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: id, IpPermissions: missing.map(toPermission) }));
      changes.push({ resource: `security group ${id}`, action: 'update', detail: `ingress ${describe(missing)} (pods with their own security groups)` });
    }
    clusterRules.push({ protocol: '-1', sourceGroupId: id, description: POD_SG_RULE_DESCRIPTION });
  }
  // Those pods reach the API server through the cluster security group, as the pod security group does.
  const toCluster = missingRules(clusterRules, rulesOf(byId.get(cluster.clusterSecurityGroupId)?.IpPermissions));
  if (toCluster.length > 0) {
    if (!dryRun) await ec2().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: cluster.clusterSecurityGroupId, IpPermissions: toCluster.map(toPermission) }));
    changes.push({ resource: `security group ${cluster.clusterSecurityGroupId}`, action: 'update', detail: `ingress ${describe(toCluster)} (cluster security group)` });
  }
  if (notOurs.length > 0) {
    warnings.push(
      `security groups ${notOurs.join(', ')} named by SecurityGroupPolicies on EKS cluster "${cluster.name}" are not tagged ${TAG_MANAGED}=true, ` +
        `so onboarding does not add the pod rules to them; tag them, add the rules yourself, or set onboarding.podSecurityGroups to "reconcile-all"`,
    );
  }
  return { changes, warnings };
}

const isOurs = (group: SecurityGroup) => (group.Tags ?? []).some((t) => t.Key === TAG_MANAGED && t.Value === 'true');
