// Hub and member roles under IAM evaluation (@cloud-copilot/iam-simulate, conditions included):
// each member role holds exactly its hub role's member-account rows (EKS, EC2, Auto Scaling), allows
// them only in its own account and Region and still only on opted-in clusters and our own
// resources; its trust admits its own hub role only (not another hub role, another deployment's
// role, the same name in another account, a wrong external id or Organization); and each hub role
// may assume its own member roles of this deployment only.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { RECONCILER_KUBE_GROUP } from '../../lambdas/shared/kube-rbac';
import { synthesized } from '../cdk/fixtures';
import { EXTERNAL_ID, HUB_ACCOUNT, MEMBER_ACCOUNT, MULTI_ACCOUNT_RAW_CONFIG, ORG_ID, synthesizedHubAccess, synthesizedMember } from '../cdk/member-fixtures';
import { parseConfig } from '../../lib/config';
import {
  ADMIN_POLICY, Context, CONTROLLER_ROLE, EC2_OURS, EKS_CLUSTER_SG, MANAGED_REQUEST, NOT_OPTED_IN, OPTED_IN, OURS, VIEW_POLICY,
} from './request-contexts';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const REGION = 'us-east-1';
const OTHER_REGION = 'us-west-2';
const OTHER_ACCOUNT = '999988887777';
const MEMBER_ROLE_SERVICES = ['eks', 'ec2', 'autoscaling', 'iam'];

/** Fn::Join and Fn::Sub of literals and pseudo parameters, as CloudFormation renders them in one account and Region. */
function resolver(account: string, region: string) {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': region, 'AWS::AccountId': account, 'AWS::URLSuffix': 'amazonaws.com' };
  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    if ('Ref' in value) {
      if (!pseudo[value.Ref]) throw new Error(`unresolved Ref ${value.Ref}`);
      return pseudo[value.Ref];
    }
    if ('Fn::Join' in value) return (resolve(value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
    if ('Fn::Sub' in value) return (value['Fn::Sub'] as string).replace(/\$\{([\w:]+)\}/g, (_m, name: string) => resolve({ Ref: name }));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

interface MemberRole {
  arn: string;
  trust: Json;
  policy: Json;
}

/** The member stack's roles as deployed in MEMBER_ACCOUNT/REGION, by hub role id. */
function memberRoles(raw: object): Record<string, MemberRole> {
  const template = synthesizedMember(raw).json;
  const resolve = resolver(MEMBER_ACCOUNT, REGION);
  const roles: Record<string, MemberRole> = {};
  for (const [logicalId, r] of Object.entries(template.Resources as Record<string, Json>)) {
    if (r.Type !== 'AWS::IAM::Role' || !r.Properties.RoleName) continue;
    const roleId = logicalId.replace(/[0-9A-F]{8}$/, '');
    roles[roleId] = {
      arn: `arn:aws:iam::${MEMBER_ACCOUNT}:role/${resolve(r.Properties.RoleName)}`,
      trust: resolve(r.Properties.AssumeRolePolicyDocument),
      policy: resolve(r.Properties.Policies[0].PolicyDocument),
    };
  }
  return roles;
}

/** A hub role's name (lib/names.ts) in a deployment with the default prefix, or another. */
const hubRoleArn = (roleId: string, account = HUB_ACCOUNT, prefix = 'eks-aviatrix') =>
  `arn:aws:iam::${account}:role/${prefix}-hub-${roleId}-eu-west-1`;

/** The hub roles' assume-role policies (lib/hub-access.ts), by role id. */
function hubAssumePolicies(raw: object): Record<string, Json[]> {
  const template = synthesizedHubAccess(raw).json;
  const resolve = resolver(HUB_ACCOUNT, 'eu-west-1');
  const policies: Record<string, Json[]> = {};
  for (const r of Object.values(template.Resources as Record<string, Json>)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roleId = String(r.Properties.Roles[0].Ref).replace(/[0-9A-F]{8}$/, '');
    (policies[roleId] ??= []).push(resolve(r.Properties.PolicyDocument));
  }
  return policies;
}

async function simulate(principal: string, identity: Json[], action: string, resource: string, resourceAccount: string, context: Context, resourcePolicy?: Json): Promise<string> {
  const response = await runSimulation(
    {
      request: { principal, action, resource: { resource, accountId: resourceAccount }, contextVariables: {
          // The simulator does not derive the principal's keys from its ARN; AWS sets them on every request.
          'aws:PrincipalArn': principal,
          'aws:PrincipalAccount': principal.split(':')[4],
          'aws:RequestedRegion': resource.split(':')[3] || REGION,
          ...context,
        },
      },
      identityPolicies: identity.map((policy, i) => ({ name: `p${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (response.resultType === 'error') return `error: ${JSON.stringify(response.errors)}`;
  return response.overallResult === 'Allowed' ? 'Allowed' : response.overallResult.endsWith('Denied') ? 'Denied' : response.overallResult;
}

// --- Member roles: their rows in their account and Region ---------------------------------------

const eks = (resource: string, region = REGION) => `arn:aws:eks:${region}:${MEMBER_ACCOUNT}:${resource}`;
const ec2 = (resource: string) => `arn:aws:ec2:${REGION}:${MEMBER_ACCOUNT}:${resource}`;
const cluster = (name: string, region = REGION) => eks(`cluster/${name}`, region);
const memberName = (roleId: string) => `eks-aviatrix-member-${roleId.replace(/Role$/, '')}-${REGION}`;
const memberArn = (roleId: string, account = MEMBER_ACCOUNT) => `arn:aws:iam::${account}:role/${memberName(roleId)}`;
const entryOf = (roleArn: string, clusterName: string) => {
  const [, account, name] = /^arn:aws:iam::(\d+):role\/(.+)$/.exec(roleArn)!;
  return eks(`access-entry/${clusterName}/role/${account}/${name}/uuid-1`);
};
const SECONDARY_CIDR_MARK: Context = { 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'x', 'aws:ResourceTag/eks-aviatrix:secondary-cidr': 'x' };
const ownEntryRequest = (principalArn: string): Context => ({
  ...OPTED_IN, ...MANAGED_REQUEST, 'eks:principalArn': principalArn, 'eks:accessEntryType': 'STANDARD', 'eks:kubernetesGroups': [RECONCILER_KUBE_GROUP],
});
/** In a member account the controller reads clusters through its access account's role there: the same role name. */
const MEMBER_CONTROLLER_ROLE = CONTROLLER_ROLE.replace(/:iam::\d{12}:/, `:iam::${MEMBER_ACCOUNT}:`);
const controllerEntryRequest: Context = { ...OPTED_IN, ...MANAGED_REQUEST, 'eks:principalArn': MEMBER_CONTROLLER_ROLE, 'eks:accessEntryType': 'STANDARD' };
const KUBE = 'KubeReconcilerRole';
const NG = eks('nodegroup/c1/ng-1/uuid');

interface Request { role: string; action: string; resource: string; context?: Context; expect: 'Allowed' | 'Denied'; why: string }

const REQUESTS: Request[] = [
  { role: 'ResolveClusterRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'reads the cluster' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeNodegroup', resource: NG, expect: 'Allowed', why: 'preflight of a node-group run' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeAddon', resource: eks('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'at ACTIVE, the vpc-cni version of a cluster wired while CREATING' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeAddon', resource: eks('addon/c1/coredns/uuid'), expect: 'Denied', why: 'only the vpc-cni add-on' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeCluster', resource: cluster('c1', OTHER_REGION), expect: 'Denied', why: 'a member role serves its own Region only' },
  { role: 'ResolveClusterRole', action: 'dynamodb:GetItem', resource: `arn:aws:dynamodb:${REGION}:${MEMBER_ACCOUNT}:table/status`, expect: 'Denied', why: 'tables stay in the hub' },

  { role: 'PodNetworkRole', action: 'ec2:DescribeSubnets', resource: '*', expect: 'Allowed', why: 'discovery' },
  { role: 'PodNetworkRole', action: 'eks:DescribeAddon', resource: eks('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'the preflight reads the vpc-cni version' },
  { role: 'PodNetworkRole', action: 'eks:DescribeAddon', resource: eks('addon/c1/coredns/uuid'), expect: 'Denied', why: 'only the vpc-cni add-on' },
  { role: KUBE, action: 'ec2:DescribeNetworkInterfaces', resource: '*', expect: 'Allowed', why: 'free /28 blocks of the pod subnets' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateVpcCidrBlock', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'the secondary CIDR' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('subnet/*'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'a pod subnet tagged as ours' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('subnet/*'), expect: 'Denied', why: 'not without the managed tag' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'the VPC side of CreateSubnet' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSecurityGroup', resource: ec2('security-group/*'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'the pod SG tagged as ours' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSecurityGroup', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'the VPC side of CreateSecurityGroup' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-pods'), context: { 'ec2:CreateAction': 'CreateSubnet', ...MANAGED_REQUEST }, expect: 'Allowed', why: 'tags on create' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-theirs'), context: MANAGED_REQUEST, expect: 'Denied', why: 'no retagging of an existing subnet' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('route-table/rtb-1'), expect: 'Allowed', why: 'the node subnets\' table' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('subnet/subnet-pods'), context: EC2_OURS, expect: 'Allowed', why: 'our pod subnet' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('subnet/subnet-theirs'), expect: 'Denied', why: 'not a subnet we did not create' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'rules on the pod SG' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Denied', why: 'the cluster SG\'s rules are the VPC CNI step\'s (after ACTIVE)' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'no other SG' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'] }, expect: 'Allowed', why: 'marks the VPC' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['Name'] }, expect: 'Denied', why: 'no other VPC tag' },
  { role: 'PodNetworkRole', action: 'eks:ListNodegroups', resource: cluster('c1'), expect: 'Allowed', why: 'node subnets' },
  { role: 'PodNetworkRole', action: 'eks:DescribeNodegroup', resource: NG, expect: 'Allowed', why: 'node subnets' },
  { role: 'PodNetworkRole', action: 'dynamodb:UpdateItem', resource: `arn:aws:dynamodb:${REGION}:${MEMBER_ACCOUNT}:table/lease`, expect: 'Denied', why: 'leases stay in the hub' },

  { role: KUBE, action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'the cluster' },
  { role: KUBE, action: 'eks:UpdateAddon', resource: eks('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'custom networking' },
  { role: KUBE, action: 'eks:UpdateAddon', resource: eks('addon/c1/coredns/uuid'), expect: 'Denied', why: 'only vpc-cni' },
  { role: KUBE, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: ownEntryRequest(memberArn(KUBE)), expect: 'Allowed', why: 'its own entry on an opted-in cluster' },
  { role: KUBE, action: 'eks:CreateAccessEntry', resource: cluster('c2'), context: { ...ownEntryRequest(memberArn(KUBE)), ...NOT_OPTED_IN }, expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: KUBE, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: ownEntryRequest(hubRoleArn(KUBE)), expect: 'Denied', why: 'the entry is the member role\'s, not the hub role\'s' },
  { role: KUBE, action: 'eks:TagResource', resource: entryOf(memberArn(KUBE), 'c1'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'tags of its entry' },
  { role: KUBE, action: 'eks:DescribeAccessEntry', resource: entryOf(memberArn(KUBE), 'c1'), expect: 'Allowed', why: 'its own entry' },
  { role: KUBE, action: 'eks:UpdateAccessEntry', resource: entryOf(memberArn(KUBE), 'c1'), context: OURS, expect: 'Allowed', why: 'its group' },
  { role: KUBE, action: 'eks:AssociateAccessPolicy', resource: entryOf(memberArn(KUBE), 'c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Allowed', why: 'admin while it writes its RBAC' },
  { role: KUBE, action: 'eks:AssociateAccessPolicy', resource: entryOf(CONTROLLER_ROLE, 'c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Denied', why: 'not on another principal\'s entry' },
  { role: KUBE, action: 'eks:DisassociateAccessPolicy', resource: entryOf(memberArn(KUBE), 'c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY }, expect: 'Allowed', why: 'drops admin again' },
  { role: KUBE, action: 'eks:DescribeNodegroup', resource: NG, expect: 'Allowed', why: 'waits for it' },
  { role: KUBE, action: 'ec2:DescribeInstanceTypes', resource: '*', expect: 'Allowed', why: 'max-pods' },
  { role: KUBE, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: 'after ACTIVE, pods to the API server' },
  { role: KUBE, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'after ACTIVE, the pod SG\'s rules from the cluster SG' },

  { role: 'RecordOutcomeRole', action: 'eks:TagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:status'] }, expect: 'Allowed', why: 'the outcome on an opted-in cluster' },
  { role: 'RecordOutcomeRole', action: 'eks:TagResource', resource: cluster('c2'), context: { ...NOT_OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:status'] }, expect: 'Denied', why: 'not on a cluster that is not opted in' },

  { role: 'AviatrixOnboardRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'the cluster to onboard' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: controllerEntryRequest, expect: 'Allowed', why: 'the controller\'s entry on an opted-in cluster' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c2'), context: { ...controllerEntryRequest, ...NOT_OPTED_IN }, expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: { ...controllerEntryRequest, 'eks:principalArn': CONTROLLER_ROLE }, expect: 'Denied', why: 'not for the controller role of another account (the hub\'s)' },
  { role: 'AviatrixOnboardRole', action: 'eks:TagResource', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'tags of the controller entry' },
  { role: 'AviatrixOnboardRole', action: 'eks:ListAssociatedAccessPolicies', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), expect: 'Allowed', why: 'the controller entry' },
  { role: 'AviatrixOnboardRole', action: 'eks:AssociateAccessPolicy', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), context: { ...OURS, 'eks:policyArn': VIEW_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Allowed', why: 'view access' },
  { role: 'AviatrixOnboardRole', action: 'eks:DeleteAccessEntry', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), context: OURS, expect: 'Allowed', why: 'offboarding' },
  { role: 'AviatrixOnboardRole', action: 'eks:UpdateAccessEntry', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), context: OURS, expect: 'Allowed', why: 'the controller entry\'s view-nodes group' },
  { role: 'AviatrixOnboardRole', action: 'eks:UpdateAccessEntry', resource: entryOf(MEMBER_CONTROLLER_ROLE, 'c1'), expect: 'Denied', why: 'not an entry someone else made' },
  { role: 'AviatrixOnboardRole', action: 'ec2:DescribeVpcs', resource: '*', expect: 'Allowed', why: 'the VPC\'s Name tag (VPC SmartGroup by name)' },
  { role: 'AviatrixOnboardRole', action: 'secretsmanager:GetSecretValue', resource: `arn:aws:secretsmanager:${REGION}:${MEMBER_ACCOUNT}:secret:aviatrix/controller/api-AbCdEf`, expect: 'Denied', why: 'the controller secret stays in the hub' },
  { role: 'AviatrixSnatRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'the cluster\'s VPC' },
  { role: 'AviatrixSnatRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: controllerEntryRequest, expect: 'Denied', why: 'no EKS writes' },

  { role: 'CleanupRole', action: 'ec2:DescribeNetworkInterfaces', resource: '*', expect: 'Allowed', why: 'ENIs left in a pod subnet' },
  { role: 'CleanupRole', action: 'ec2:DeleteSubnet', resource: ec2('subnet/subnet-pods'), context: EC2_OURS, expect: 'Allowed', why: 'our pod subnet' },
  { role: 'CleanupRole', action: 'ec2:DeleteSubnet', resource: ec2('subnet/subnet-theirs'), expect: 'Denied', why: 'nothing untagged is deleted' },
  { role: 'CleanupRole', action: 'ec2:DisassociateVpcCidrBlock', resource: ec2('vpc/vpc-1'), context: SECONDARY_CIDR_MARK, expect: 'Allowed', why: 'the VPC the network step marked' },
  { role: 'CleanupRole', action: 'ec2:DisassociateVpcCidrBlock', resource: ec2('vpc/vpc-theirs'), expect: 'Denied', why: 'no other VPC' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'], ...SECONDARY_CIDR_MARK }, expect: 'Allowed', why: 'removes that mark' },
  { role: KUBE, action: 'eks:UntagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:cni-options'] }, expect: 'Allowed', why: 'the CNI option values it set, none left' },
  { role: KUBE, action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-policy'), context: EC2_OURS, expect: 'Allowed', why: 'our pod rules leave a group no policy names' },
  { role: KUBE, action: 'iam:ListAttachedRolePolicies', resource: `arn:aws:iam::${MEMBER_ACCOUNT}:role/eks-cluster`, expect: 'Allowed', why: 'the cluster role lives in the member account (AmazonEKSVPCResourceController check)' },
  { role: KUBE, action: 'iam:ListAttachedRolePolicies', resource: `arn:aws:iam::${OTHER_ACCOUNT}:role/eks-cluster`, expect: 'Denied', why: 'roles of its own account only' },
  { role: KUBE, action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'not on an untagged group without "reconcile-all"' },
  { role: 'CleanupRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'rules on our SG' },
  { role: 'CleanupRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: 'our rule on the cluster SG' },
  { role: 'CleanupRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'waits until it is gone' },
  { role: 'DriftRepairRole', action: 'eks:ListClusters', resource: '*', expect: 'Allowed', why: 'the member Region\'s clusters' },
  { role: 'DriftRepairRole', action: 'states:StartExecution', resource: `arn:aws:states:${REGION}:${MEMBER_ACCOUNT}:stateMachine:x`, expect: 'Denied', why: 'workflows run in the hub' },
];

const WIDER_REQUESTS: Request[] = [
  { role: KUBE, action: 'autoscaling:StartInstanceRefresh', resource: `arn:aws:autoscaling:${REGION}:${MEMBER_ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/eks-ng-1-uuid`, context: { 'aws:ResourceTag/eks:cluster-name': 'c1', 'aws:ResourceTag/eks:nodegroup-name': 'ng-1' }, expect: 'Allowed', why: 'node replacement' },
  { role: KUBE, action: 'autoscaling:StartInstanceRefresh', resource: `arn:aws:autoscaling:${REGION}:${MEMBER_ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/eks-other-uuid`, expect: 'Denied', why: 'not a group without the EKS node-group tags' },
  { role: KUBE, action: 'autoscaling:DescribeInstanceRefreshes', resource: '*', expect: 'Allowed', why: 'follows the refresh' },
];

const WIDER = { ...MULTI_ACCOUNT_RAW_CONFIG, allowNodeReplacement: true };

async function evaluateMember(roles: Record<string, MemberRole>, requests: Request[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const r of requests) {
    const role = roles[r.role];
    if (!role) throw new Error(`no member role ${r.role}`);
    const got = await simulate(role.arn, [role.policy], r.action, r.resource, MEMBER_ACCOUNT, r.context ?? {});
    if (got !== r.expect) wrong.push(`${r.role} ${r.action} ${r.resource}: expected ${r.expect} (${r.why}), got ${got}`);
  }
  return wrong;
}

const statementsOf = (doc: Json): Json[] => doc.Statement;
const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);
const matches = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`).test(action);

describe('member roles', () => {
  let roles: Record<string, MemberRole>;
  let wider: Record<string, MemberRole>;
  beforeAll(() => {
    roles = memberRoles(MULTI_ACCOUNT_RAW_CONFIG);
    wider = memberRoles(WIDER);
  });

  it('hold exactly the member-account statements of the hub role of the same id (EKS, EC2, Auto Scaling, IAM reads), no other', () => {
    // The hub stack's per-row policies (statement Sid = row), by role id.
    const hub = synthesized({ config: parseConfig(WIDER) }).json;
    const hubRows = new Map<string, Set<string>>();
    for (const r of Object.values(hub.Resources as Record<string, Json>)) {
      if (r.Type !== 'AWS::IAM::Policy') continue;
      const roleId = String(r.Properties.Roles[0].Ref).replace(/^OnboardingFunctions/, '').replace(/[0-9A-F]{8}$/, '');
      for (const s of statementsOf(r.Properties.PolicyDocument)) {
        if (!s.Sid) continue; // CDK's own (logs, X-Ray) default policy
        if (asList(s.Action).every((a) => MEMBER_ROLE_SERVICES.includes(a.split(':')[0]))) {
          hubRows.set(roleId, (hubRows.get(roleId) ?? new Set()).add(`${s.Sid} ${asList(s.Action).join(',')}`));
        }
      }
    }
    const memberRows = new Map(Object.entries(wider).map(([id, role]) => [id, new Set(statementsOf(role.policy).map((s) => `${s.Sid} ${asList(s.Action).join(',')}`))]));
    expect(memberRows).toEqual(hubRows);
    expect(hubRows.size).toBe(8);
  });

  it('allow their rows in their account and Region on opted-in clusters and our resources, and deny the rest', async () => {
    expect(await evaluateMember(roles, REQUESTS)).toEqual([]);
    expect(await evaluateMember(wider, [...WIDER_REQUESTS, ...REQUESTS])).toEqual([]);
  });

  it('every statement of every member role is exercised by an allowed request', () => {
    const allowed = [...REQUESTS, ...WIDER_REQUESTS].filter((r) => r.expect === 'Allowed');
    const unexercised = Object.entries(wider).flatMap(([id, role]) =>
      statementsOf(role.policy)
        .filter((s) => !allowed.some((r) => r.role === id && asList(s.Action).some((a) => matches(a, r.action))))
        .map((s) => `${id} ${s.Sid}`),
    );
    expect(unexercised).toEqual([]);
  });
});

describe('trust between hub and member roles', () => {
  let roles: Record<string, MemberRole>;
  let hubPolicies: Record<string, Json[]>;
  beforeAll(() => {
    roles = memberRoles(MULTI_ACCOUNT_RAW_CONFIG);
    hubPolicies = hubAssumePolicies(MULTI_ACCOUNT_RAW_CONFIG);
  });

  const GOOD: Context = { 'sts:ExternalId': EXTERNAL_ID, 'aws:PrincipalOrgID': ORG_ID, 'aws:ResourceOrgID': ORG_ID };
  /** The hub role's assume right and the member role's trust, evaluated together (cross-account: both must allow). */
  const assume = (principal: string, identityRoleId: string, target: string, context: Context) =>
    simulate(principal, hubPolicies[identityRoleId] ?? [], 'sts:AssumeRole', roles[target].arn, MEMBER_ACCOUNT, context, roles[target].trust);

  it('admits each hub role into its own member role, with the external id, from the Organization', async () => {
    expect(Object.keys(hubPolicies).sort()).toEqual(Object.keys(roles).sort());
    for (const roleId of Object.keys(roles)) expect([roleId, await assume(hubRoleArn(roleId), roleId, roleId, GOOD)]).toEqual([roleId, 'Allowed']);
  });

  it.each([
    ['another hub role (each Lambda role has its own member role)', hubRoleArn('PodNetworkRole'), 'PodNetworkRole', GOOD],
    ['a role of another deployment in the hub account', hubRoleArn(KUBE, HUB_ACCOUNT, 'other-copy'), KUBE, GOOD],
    ['the same role name in another account', hubRoleArn(KUBE, OTHER_ACCOUNT), KUBE, GOOD],
    ['a wrong external id', hubRoleArn(KUBE), KUBE, { ...GOOD, 'sts:ExternalId': 'guessed' }],
    ['no external id', hubRoleArn(KUBE), KUBE, { 'aws:PrincipalOrgID': ORG_ID, 'aws:ResourceOrgID': ORG_ID }],
    ['a principal outside the Organization', hubRoleArn(KUBE), KUBE, { ...GOOD, 'aws:PrincipalOrgID': 'o-otherorg123' }],
  ])('denies the reconciler member role to %s', async (_name, principal, identityRoleId, context) => {
    // Identity: that principal's own assume right (the hub role's, or the same policy for a look-alike).
    expect(await assume(principal, identityRoleId, KUBE, context)).toBe('Denied');
  });

  it('the trust alone refuses look-alikes even when their own policy would allow the call', async () => {
    const allowAll = [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] }];
    const trustOnly = (principal: string, context: Context) => simulate(principal, allowAll, 'sts:AssumeRole', roles[KUBE].arn, MEMBER_ACCOUNT, context, roles[KUBE].trust);
    expect(await trustOnly(hubRoleArn(KUBE), GOOD)).toBe('Allowed');
    expect(await trustOnly(hubRoleArn('CleanupRole'), GOOD)).toBe('Denied');
    expect(await trustOnly(hubRoleArn(KUBE, HUB_ACCOUNT, 'OtherOnboarding'), GOOD)).toBe('Denied');
    expect(await trustOnly(hubRoleArn(KUBE, OTHER_ACCOUNT), GOOD)).toBe('Denied');
    expect(await trustOnly(hubRoleArn(KUBE), { ...GOOD, 'sts:ExternalId': 'guessed' })).toBe('Denied');
    expect(await trustOnly(hubRoleArn(KUBE), { ...GOOD, 'aws:PrincipalOrgID': 'o-otherorg123' })).toBe('Denied');
  });

  it('the hub\'s assume right reaches its own member roles of this deployment only', async () => {
    // A trust that admits anyone in the hub account: the hub role's own policy decides.
    const openTrust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${HUB_ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] };
    const identityOnly = (target: string, account = MEMBER_ACCOUNT) => simulate(hubRoleArn(KUBE), hubPolicies[KUBE], 'sts:AssumeRole', target, account, GOOD, openTrust);
    expect(await identityOnly(memberArn(KUBE))).toBe('Allowed');
    expect(await identityOnly(memberArn(KUBE).replace(REGION, 'eu-central-1'))).toBe('Allowed'); // every member Region
    expect(await identityOnly(memberArn('PodNetworkRole'))).toBe('Denied'); // another hub role's member role
    expect(await identityOnly(`arn:aws:iam::${MEMBER_ACCOUNT}:role/other-deployment-KubeReconciler-${REGION}`)).toBe('Denied');
    expect(await identityOnly(`arn:aws:iam::${MEMBER_ACCOUNT}:role/OrganizationAccountAccessRole`)).toBe('Denied');
    expect(await identityOnly(memberArn(KUBE, OTHER_ACCOUNT), OTHER_ACCOUNT)).toBe('Denied'); // an account not listed
    expect(await identityOnly(memberArn(KUBE))).toBe('Allowed');
    // Organization-wide: any account, but only inside the Organization.
    const orgWide = hubAssumePolicies({ ...MULTI_ACCOUNT_RAW_CONFIG, members: { organizationId: ORG_ID } })[KUBE];
    const orgOnly = (account: string, context: Context) => simulate(hubRoleArn(KUBE), orgWide, 'sts:AssumeRole', memberArn(KUBE, account), account, context, openTrust);
    expect(await orgOnly(OTHER_ACCOUNT, GOOD)).toBe('Allowed');
    expect(await orgOnly(OTHER_ACCOUNT, { ...GOOD, 'aws:ResourceOrgID': 'o-otherorg123' })).toBe('Denied');
  });
});
