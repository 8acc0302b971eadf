// Private-only clusters (onboarding.privateEndpointAccess): the Kubernetes-writing functions run in
// subnets that reach the cluster's private endpoint, and the cluster security group (on the
// control plane's network interfaces) must admit them on 443. The network step adds that rule
// before the first Kubernetes call (PodNetwork precedes VpcCni) and drift repair restores it;
// offboarding revokes it. Our rules carry API_RULE_DESCRIPTION: nothing else is revoked.
import { IpPermission, RevokeSecurityGroupIngressCommand, SecurityGroup } from '../shared/sdk/ec2';
import { OnboardingConfig } from '../../lib/config';
import { ec2 } from '../shared/aws';
import { Change, ClusterSummary } from '../shared/workflow';
import type { Rule } from './network';

export const API_RULE_DESCRIPTION = 'eks-aviatrix: onboarding functions to the private API endpoint';
const HTTPS = 443;

/** The 443 rules a private-only cluster's security group needs; none for a cluster with a public endpoint. */
export function apiAccessRules(cluster: ClusterSummary, config: OnboardingConfig): Rule[] {
  const access = config.privateEndpointAccess;
  if (!cluster.privateEndpointOnly || !access) return [];
  const base = { protocol: 'tcp', fromPort: HTTPS, toPort: HTTPS, description: API_RULE_DESCRIPTION };
  if (access.sourceCidrs) return access.sourceCidrs.map((cidr) => ({ ...base, cidr }));
  return (access.securityGroupIds ?? []).map((sourceGroupId) => ({ ...base, sourceGroupId }));
}

/**
 * Why a private-only cluster cannot be served with this config, or undefined. A security group
 * rule may name a group of its own VPC or a peered one of the same account (or with the account
 * prefix, across peering): a cluster in another account is admitted by CIDR only.
 */
export function privateEndpointRefusal(name: string, clusterAccount: string, config: OnboardingConfig): string | undefined {
  const access = config.privateEndpointAccess;
  if (!access) {
    return (
      `EKS cluster "${name}" has a private-only API endpoint, which the onboarding functions cannot reach from outside a VPC; ` +
      'private-only clusters need onboarding.privateEndpointAccess (subnets of a VPC that reaches the endpoint, ' +
      'for the functions that call the Kubernetes API); otherwise enable public endpoint access (it may be limited to CIDRs that ' +
      'include the functions\' NAT addresses) or onboard it by hand'
    );
  }
  const hubAccount = config.hub?.account;
  if (!access.sourceCidrs && hubAccount && clusterAccount && clusterAccount !== hubAccount) {
    return (
      `EKS cluster "${name}" has a private-only API endpoint in account ${clusterAccount}, whose security group cannot admit the ` +
      `functions' security group of account ${hubAccount}; set onboarding.privateEndpointAccess.sourceCidrs to the functions' subnet CIDRs`
    );
  }
  return undefined;
}

/** Our 443 rules in a security group's ingress (by description), as permissions to revoke. */
function ourApiRules(group: SecurityGroup): IpPermission[] {
  return (group.IpPermissions ?? [])
    .filter((p) => p.IpProtocol === 'tcp' && p.FromPort === HTTPS && p.ToPort === HTTPS)
    .map((p) => ({
      IpProtocol: 'tcp',
      FromPort: HTTPS,
      ToPort: HTTPS,
      IpRanges: (p.IpRanges ?? []).filter((r) => r.Description === API_RULE_DESCRIPTION),
      UserIdGroupPairs: (p.UserIdGroupPairs ?? []).filter((g) => g.Description === API_RULE_DESCRIPTION),
    }))
    .filter((p) => p.IpRanges.length + p.UserIdGroupPairs.length > 0);
}

/**
 * Offboarding: revokes our 443 rules from the cluster's security groups (EKS's, found by their tag in
 * the cluster's VPC by the caller; gone already when EKS finished deleting the cluster). Someone
 * else's rules stay.
 */
export async function revokeApiAccessRules(clusterGroups: SecurityGroup[], dryRun: boolean, changes: Change[]): Promise<void> {
  for (const group of clusterGroups) {
    for (const permission of ourApiRules(group)) {
      if (!dryRun) await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: group.GroupId, IpPermissions: [permission] }));
      const sources = [...(permission.IpRanges ?? []).map((r) => r.CidrIp), ...(permission.UserIdGroupPairs ?? []).map((g) => g.GroupId)];
      changes.push({ resource: group.GroupId ?? '', action: 'update', detail: `revoke ingress tcp 443 from ${sources.join(', ')} (onboarding functions to the private API endpoint)` });
    }
  }
}
