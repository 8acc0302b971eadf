// THE table of IAM permissions: per role, every statement with its actions, resources, conditions
// and the reason it exists. The stack turns each row into one policy (with one cdk-nag
// acknowledgement, the row's reason, when it holds a wildcard); the tests read the same rows to
// check that every AWS call the Lambdas make has one, and evaluate the synthesized policies.
// Free of CDK constructs: resources may hold CloudFormation tokens, the rows are plain data.
import { OnboardingConfig } from './config';
import {
  ec2Arn,
  eksAccessPolicyArn,
  eksClusterArnPattern,
  eksNodegroupArnPattern,
  iamRoleArnPattern,
  nodegroupAutoScalingGroupArnPattern,
  parseRoleArn,
  roleAccessEntryArnPattern,
  secretArnPattern,
  vpcCniAddonArnPattern,
} from './arns';
import { RECONCILER_KUBE_GROUP, VIEW_NODES_KUBE_GROUP } from '../lambdas/shared/kube-rbac';
import { CNI_CLAIMS_TAG } from '../lambdas/domain/cni-options';
import { KUBE_RECONCILER_ROLE_ID } from './functions';
import { controllerRoleArnIn } from './member-role-name';
import type { FunctionNetwork } from './private-endpoint-access';

/** Tag carried by every AWS resource the workflow creates (pod subnets, pod security group, access entries). */
export const MANAGED_TAG_KEY = 'eks-aviatrix:managed';
/** Tag the network step puts on a VPC when it associates the secondary CIDR (cleanup may disassociate only there). */
export const SECONDARY_CIDR_TAG_KEY = 'eks-aviatrix:secondary-cidr';
/** Tag EKS puts on the security group it creates for a cluster. */
export const EKS_CLUSTER_SG_TAG_KEY = 'aws:eks:cluster-name';

export type Conditions = Record<string, Record<string, string | string[]>>;

export interface PermissionRow {
  /** Statement id, unique within the role. */
  sid: string;
  actions: string[];
  resources: string[];
  conditions?: Conditions;
  /** Why the role needs it and what limits it; also the cdk-nag acknowledgement of its wildcards. */
  reason: string;
}

/** What the rows refer to that only the stack knows (tokens in CDK, plain strings in tests). */
export interface PermissionContext {
  config: OnboardingConfig;
  account: string;
  region: string;
  statusTableArn: string;
  leaseTableArn: string;
  claimTableArn: string;
  roleArn(roleId: string): string;
  roleName(roleId: string): string;
  clusterStateMachineArn: string;
  stateMachineArns: string[];
  offboardingStateMachineArn: string;
  /** Executions of this stack's state machines (their names are chosen per run). */
  executionArnPatterns: string[];
  notificationTopicArn: string;
  /** The topic's KMS key, when the stack made the topic. */
  notificationKeyArn?: string;
  /** With privateEndpointAccess: the subnets and security groups of the Kubernetes-writing functions (hub only). */
  functionNetwork?: FunctionNetwork;
  /**
   * A member account's roles: the controller reads clusters there through the role of
   * aviatrix.controllerRoleArn's name in this account (lambdas/aviatrix/access-account.ts).
   */
  controllerRoleInThisAccount?: boolean;
}

/** Conditions of several kinds merged into one Condition block. */
function allOf(...blocks: (Conditions | undefined)[]): Conditions {
  const merged: Conditions = {};
  for (const block of blocks) {
    for (const [operator, keys] of Object.entries(block ?? {})) merged[operator] = { ...merged[operator], ...keys };
  }
  return merged;
}

/** The cluster carries the opt-in tag (when opt-in is by tag): EKS writes are refused on other clusters. */
export function optInCondition(config: OnboardingConfig): Conditions | undefined {
  if (config.optIn.mode !== 'tag') return undefined;
  return { StringEquals: { [`aws:ResourceTag/${config.optIn.tagKey}`]: config.optIn.tagValue } };
}

const taggedManaged = (prefix: 'aws' | 'ec2'): Conditions => ({ StringEquals: { [`${prefix}:ResourceTag/${MANAGED_TAG_KEY}`]: 'true' } });
const requestsManagedTag: Conditions = { StringEquals: { [`aws:RequestTag/${MANAGED_TAG_KEY}`]: 'true' } };
const onlyOwnTagKeys: Conditions = { 'ForAllValues:StringLike': { 'aws:TagKeys': ['eks-aviatrix:*'] } };

const X_RAY_REASON = 'X-Ray active tracing (added by CDK): xray:PutTraceSegments/PutTelemetryRecords have no resource-level permissions.';
export { X_RAY_REASON };

function clusterLease(ctx: PermissionContext): PermissionRow {
  return {
    sid: 'ClusterLease',
    actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
    resources: [ctx.leaseTableArn],
    reason: 'The per-cluster lease (two runs for one cluster never write at once): item-level calls on the lease table only.',
  };
}

function describeClusters(actions: string[], why: string): PermissionRow {
  return {
    sid: 'ReadClusters',
    actions,
    resources: [eksClusterArnPattern()],
    reason: `Clusters are created by others after deploy, so any cluster's ARN: ${why} Read-only.`,
  };
}

/** The controller's credentials: the one secret, and its customer key only through Secrets Manager. */
function controllerCredentials(ctx: PermissionContext): PermissionRow[] {
  const { credentialsSecretName, credentialsKmsKeyArn } = ctx.config.aviatrix;
  const rows: PermissionRow[] = [
    {
      sid: 'ControllerCredentials',
      actions: ['secretsmanager:GetSecretValue'],
      resources: [secretArnPattern(credentialsSecretName)],
      reason: `Only the secret named in config (${credentialsSecretName}); -?????? is the random suffix Secrets Manager appends to its ARN.`,
    },
    describeClusters(['eks:DescribeCluster'], 'the cluster to onboard or offboard.'),
    {
      sid: 'OwnershipRegistry',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [ctx.statusTableArn],
      reason: 'Which controller objects each cluster added (lambdas/aviatrix/ownership.ts), so offboarding removes only those.',
    },
  ];
  if (credentialsKmsKeyArn) {
    rows.push({
      sid: 'DecryptCredentialsViaSecretsManager',
      actions: ['kms:Decrypt'],
      resources: [credentialsKmsKeyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${ctx.region}.amazonaws.com` } },
      reason: 'The secret\'s customer-managed key, only for decryption requested by Secrets Manager on the role\'s behalf (kms:ViaService).',
    });
  }
  return rows;
}

/** The load-balancer role tags and our per-cluster markers of them (config loadBalancerSubnets). */
const LB_SUBNET_TAG_KEYS = ['kubernetes.io/role/elb', 'kubernetes.io/role/internal-elb', 'eks-aviatrix:lb-role/*'];
const onlyLbSubnetTags: Conditions = { 'ForAllValues:StringLike': { 'aws:TagKeys': LB_SUBNET_TAG_KEYS }, Null: { 'aws:TagKeys': 'false' } };

function podNetwork(ctx: PermissionContext): PermissionRow[] {
  const vpcs = ec2Arn('vpc/*');
  const subnets = ec2Arn('subnet/*');
  const securityGroups = ec2Arn('security-group/*');
  const lbSubnets = ctx.config.loadBalancerSubnets;
  return [
    ...(lbSubnets.public.length + lbSubnets.internal.length > 0
      ? [{
          sid: 'TagLoadBalancerSubnets',
          actions: ['ec2:CreateTags'],
          resources: [subnets],
          conditions: onlyLbSubnetTags,
          reason: 'Only with loadBalancerSubnets: the kubernetes.io/role/(internal-)elb tags and our markers of them on existing subnets (named in config, checked by the code); no other key.',
        }]
      : []),
    { sid: 'Describe', actions: ['ec2:Describe*'], resources: ['*'], reason: 'EC2 Describe* calls support no resource-level permissions (read-only discovery of VPCs, CIDRs, subnets, route tables, SGs).' },
    {
      sid: 'AssociateSecondaryCidr',
      actions: ['ec2:AssociateVpcCidrBlock'],
      resources: [vpcs],
      reason: 'The cluster VPC is found at run time. EC2 offers no condition key on the CIDR or its size: residual risk (README, Permissions).',
    },
    // CreateSubnet/CreateSecurityGroup authorize the new resource (request tags) and the VPC (none).
    { sid: 'CreateManagedSubnet', actions: ['ec2:CreateSubnet'], resources: [subnets], conditions: requestsManagedTag, reason: 'New subnets only with the eks-aviatrix:managed=true request tag.' },
    { sid: 'CreateSubnetInVpc', actions: ['ec2:CreateSubnet'], resources: [vpcs], reason: 'The VPC side of CreateSubnet (it carries no request tags); the subnet side needs the managed tag.' },
    { sid: 'CreateManagedSecurityGroup', actions: ['ec2:CreateSecurityGroup'], resources: [securityGroups], conditions: requestsManagedTag, reason: 'New security groups only with the eks-aviatrix:managed=true request tag.' },
    { sid: 'CreateSecurityGroupInVpc', actions: ['ec2:CreateSecurityGroup'], resources: [vpcs], reason: 'The VPC side of CreateSecurityGroup; the group side needs the managed tag.' },
    {
      sid: 'TagOnCreateOnly',
      actions: ['ec2:CreateTags'],
      resources: [subnets, securityGroups],
      conditions: { StringEquals: { 'ec2:CreateAction': ['CreateSubnet', 'CreateSecurityGroup'] } },
      reason: 'Tags on subnets and SGs only as part of their creation (ec2:CreateAction): no retagging of existing ones.',
    },
    {
      sid: 'AssociateRouteTable',
      actions: ['ec2:AssociateRouteTable'],
      resources: [ec2Arn('route-table/*')],
      reason: 'The route table side: the node subnets\' tables (programmed by Aviatrix) are found at run time and untagged by us; the subnet side must be ours.',
    },
    {
      sid: 'AssociateManagedSubnet',
      actions: ['ec2:AssociateRouteTable'],
      resources: [subnets],
      conditions: taggedManaged('ec2'),
      reason: 'Only subnets tagged eks-aviatrix:managed=true (our pod subnets) are associated; no ReplaceRouteTableAssociation, which EC2 authorizes on the route table alone.',
    },
    {
      sid: 'RulesOnManagedSecurityGroups',
      actions: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress'],
      resources: [securityGroups],
      conditions: taggedManaged('ec2'),
      reason:
        'Ingress rules only on SGs tagged eks-aviatrix:managed=true (the pod SG); its default egress is kept. Revoke: our node rules ' +
        'from groups no node carries any more. The rules naming the cluster SG are the VPC CNI step\'s (after ACTIVE).',
    },
    {
      sid: 'TagVpcSecondaryCidr',
      actions: ['ec2:CreateTags'],
      resources: [vpcs],
      conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [SECONDARY_CIDR_TAG_KEY] }, Null: { 'aws:TagKeys': 'false' } },
      reason: 'Marks the VPC whose secondary CIDR we associated (that one key only), so cleanup may disassociate only there.',
    },
    describeClusters(['eks:DescribeCluster', 'eks:ListNodegroups'], 'describe it and list its node groups (their subnets are node subnets).'),
    { sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: [eksNodegroupArnPattern()], reason: 'Any node group (created after deploy): its subnets and AZs. Read-only.' },
    {
      sid: 'ReadVpcCniAddon',
      actions: ['eks:DescribeAddon'],
      resources: [vpcCniAddonArnPattern()],
      reason: 'The preflight reads the vpc-cni add-on version (too old for networkPolicy/prefixDelegation is refused before any write). Read-only.',
    },
    clusterLease(ctx),
    {
      sid: 'ClaimVpcResources',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [ctx.statusTableArn],
      reason: 'The cluster\'s status record names its VPC and pod CIDR before the pod network creates anything there (offboarding others keeps them).',
    },
  ];
}

function notify(ctx: PermissionContext): PermissionRow[] {
  return [
    {
      sid: 'ReadExecutionHistory',
      actions: ['states:GetExecutionHistory'],
      resources: ctx.executionArnPatterns,
      reason: 'The failed step of an execution of this stack\'s three state machines (execution names are chosen per run). Read-only.',
    },
    { sid: 'ReadStatusRecords', actions: ['dynamodb:GetItem'], resources: [ctx.statusTableArn], reason: 'What the failed run had applied, from its status record.' },
    { sid: 'PublishNotifications', actions: ['sns:Publish'], resources: [ctx.notificationTopicArn], reason: 'The notification topic only.' },
    ...(ctx.notificationKeyArn
      ? [{
          sid: 'EncryptNotifications',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: [ctx.notificationKeyArn],
          reason: 'Publishing to the KMS-encrypted topic needs its key (kms:GenerateDataKey* and kms:Decrypt), that key only.',
        }]
      : []),
  ];
}

function kubeReconciler(ctx: PermissionContext): PermissionRow[] {
  const ownEntry = roleAccessEntryArnPattern(ctx.account, ctx.roleName(KUBE_RECONCILER_ROLE_ID));
  const addon = vpcCniAddonArnPattern();
  const rows: PermissionRow[] = [
    describeClusters(['eks:DescribeCluster', 'eks:ListNodegroups'], 'describe it, list its node groups.'),
    {
      sid: 'VpcCniAddon',
      actions: ['eks:DescribeAddon', 'eks:DescribeUpdate', 'eks:UpdateAddon'],
      resources: [addon],
      reason:
        'Only the vpc-cni add-on (cluster name and UUID unknown at deploy time). EKS matches aws:ResourceTag against the add-on\'s own ' +
        'tags, not the cluster\'s: no opt-in condition is possible (README, Permissions).',
    },
    {
      sid: 'CreateOwnAccessEntry',
      actions: ['eks:CreateAccessEntry'],
      resources: [eksClusterArnPattern()],
      conditions: allOf(
        optInCondition(ctx.config),
        { StringEquals: { 'eks:principalArn': ctx.roleArn(KUBE_RECONCILER_ROLE_ID), 'eks:accessEntryType': 'STANDARD' } },
        { 'ForAllValues:StringEquals': { 'eks:kubernetesGroups': [RECONCILER_KUBE_GROUP] } },
        requestsManagedTag,
      ),
      reason: 'Its own access entry (eks:principalArn), only on opted-in clusters, only in its own Kubernetes group, tagged as ours.',
    },
    {
      sid: 'TagOwnAccessEntryOnCreate',
      actions: ['eks:TagResource'],
      resources: [ownEntry],
      conditions: onlyOwnTagKeys,
      reason: 'The tags of CreateAccessEntry on its own entry (the UUID is assigned by EKS), eks-aviatrix:* keys only.',
    },
    {
      sid: 'ReadOwnAccessEntry',
      actions: ['eks:DescribeAccessEntry', 'eks:ListAssociatedAccessPolicies'],
      resources: [ownEntry],
      reason: 'Its own access entry on any cluster (the UUID is assigned by EKS). Read-only.',
    },
    {
      sid: 'GroupOwnManagedAccessEntry',
      actions: ['eks:UpdateAccessEntry'],
      resources: [ownEntry],
      conditions: taggedManaged('aws'),
      reason: 'Puts its own entry (created by us: eks-aviatrix:managed tag) in its Kubernetes group.',
    },
    {
      sid: 'GrantClusterAdminToOwnEntryForRbac',
      actions: ['eks:AssociateAccessPolicy'],
      resources: [ownEntry],
      conditions: allOf(taggedManaged('aws'), {
        StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSClusterAdminPolicy'), 'eks:accessScope': 'cluster' },
      }),
      reason:
        'Cluster-admin on its own entry (created by us, so on an opted-in cluster) only while it writes the RBAC of its group, ' +
        'removed right after (lambdas/domain/kube-access.ts).',
    },
    {
      sid: 'RevokeClusterAdminFromOwnEntry',
      actions: ['eks:DisassociateAccessPolicy'],
      resources: [ownEntry],
      conditions: allOf(taggedManaged('aws'), { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSClusterAdminPolicy') } }),
      reason: 'Removes that cluster-admin from its own entry (the request names no scope, so none is required).',
    },
    { sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: [eksNodegroupArnPattern()], reason: 'Any node group (created after deploy): wait for it, read its instance types. Read-only.' },
    { sid: 'ReadInstanceTypes', actions: ['ec2:DescribeInstanceTypes'], resources: ['*'], reason: 'ec2:DescribeInstanceTypes has no resource-level permissions (read-only ENI limits for max-pods).' },
    {
      sid: 'ReadPodSubnetsAndGroups',
      actions: ['ec2:DescribeSubnets', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
      reason: 'No resource-level permissions on EC2 Describe calls: the free /28 blocks of the pod subnets (prefixDelegation), the groups SecurityGroupPolicies name. Read-only.',
    },
    clusterLease(ctx),
    {
      sid: 'ClusterGroupRulesOnPodSecurityGroup',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: [ec2Arn('security-group/*')],
      conditions: taggedManaged('ec2'),
      reason:
        'Only on SGs tagged eks-aviatrix:managed=true: after ACTIVE, the pod SG\'s rules from the cluster SG (EKS may report it only then); ' +
        'with podSecurityGroups "reconcile", the pod rules on the groups SecurityGroupPolicies name.',
    },
    {
      sid: 'ClusterGroupRulesOnEksClusterSecurityGroups',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: [ec2Arn('security-group/*')],
      conditions: { Null: { [`ec2:ResourceTag/${EKS_CLUSTER_SG_TAG_KEY}`]: 'false' } },
      reason:
        'The pods-to-API-server rule (and a private-only endpoint\'s 443 rule for the functions, and with podSecurityGroups the pod groups\' rule) ' +
        'only on SGs EKS made for a cluster (aws:eks:cluster-name tag).',
    },
    ...revokePodRules('our rules for pods with their own security groups from groups no SecurityGroupPolicy names any more', ctx.config),
    {
      sid: 'ReadClusterRolePolicies',
      actions: ['iam:ListAttachedRolePolicies'],
      resources: [iamRoleArnPattern()],
      reason: 'Security groups for pods in use: whether the cluster role has AmazonEKSVPCResourceController (the role is named by whoever made the cluster). Read-only.',
    },
    {
      sid: 'ClaimCniOptionsOnClusters',
      actions: ['eks:TagResource', 'eks:UntagResource'],
      resources: [eksClusterArnPattern()],
      conditions: allOf(optInCondition(ctx.config), {
        'ForAllValues:StringEquals': { 'aws:TagKeys': [CNI_CLAIMS_TAG] },
        Null: { 'aws:TagKeys': 'false' },
      }),
      reason: 'Records on opted-in clusters which VPC CNI option values it set (that one key), so switching an option off undoes only those.',
    },
  ];
  // podSecurityGroups "reconcile" writes only on managed groups (ClusterGroupRulesOnPodSecurityGroup covers them).
  if (ctx.config.podSecurityGroups === 'reconcile-all') {
    rows.push({
      sid: 'PodRulesOnPolicyGroups',
      actions: ['ec2:AuthorizeSecurityGroupIngress'],
      resources: [ec2Arn('security-group/*')],
      reason: 'podSecurityGroups "reconcile-all": the groups SecurityGroupPolicies name are found in the cluster at run time, any group.',
    });
  }
  if (ctx.functionNetwork) rows.push(...vpcAccess(ctx.functionNetwork));
  if (ctx.config.allowNodeReplacement) {
    rows.push(
      {
        sid: 'RefreshNodegroupInstances',
        actions: ['autoscaling:StartInstanceRefresh'],
        resources: [nodegroupAutoScalingGroupArnPattern()],
        conditions: { Null: { 'aws:ResourceTag/eks:cluster-name': 'false', 'aws:ResourceTag/eks:nodegroup-name': 'false' } },
        reason: 'Instance refresh only of Auto Scaling groups EKS made for a managed node group (eks:cluster-name and eks:nodegroup-name tags); only with allowNodeReplacement.',
      },
      {
        sid: 'ReadInstanceRefreshes',
        actions: ['autoscaling:DescribeInstanceRefreshes'],
        resources: ['*'],
        reason: 'autoscaling:DescribeInstanceRefreshes has no resource-level permissions (read-only).',
      },
    );
  }
  return rows;
}

/**
 * What AWSLambdaVPCAccessExecutionRole grants, limited to the configured subnets and groups: Lambda
 * creates and deletes the functions' network interfaces with the role's rights. The reads
 * (DescribeNetworkInterfaces, DescribeSubnets; no resource-level permissions) are ReadPodSubnetsAndGroups.
 */
function vpcAccess(network: FunctionNetwork): PermissionRow[] {
  const subnets = network.subnetIds.map((id) => ec2Arn(`subnet/${id}`));
  return [
    {
      sid: 'FunctionInterfacesInTheirSubnets',
      actions: ['ec2:CreateNetworkInterface'],
      resources: [...subnets, ...network.securityGroupIds.map((id) => ec2Arn(`security-group/${id}`))],
      reason: 'privateEndpointAccess: the subnet and security-group sides of the functions\' network interfaces, those named in config (or the stack\'s group) only.',
    },
    {
      sid: 'FunctionInterfaces',
      actions: ['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
      resources: [ec2Arn('network-interface/*')],
      conditions: { ArnEquals: { 'ec2:Subnet': subnets } },
      reason: 'privateEndpointAccess: Lambda makes the interfaces (ids unknown before), only in the configured subnets (ec2:Subnet).',
    },
  ];
}

/**
 * Revoking the rules podSecurityGroups added (marked by their description, which IAM cannot see):
 * on groups tagged ours and on EKS cluster groups always, since the mode may have been switched
 * off since; on any group only with "reconcile-all", which also added them there.
 */
function revokePodRules(why: string, config: OnboardingConfig): PermissionRow[] {
  const securityGroups = ec2Arn('security-group/*');
  return [
    {
      sid: 'RevokePodRulesOnManagedGroups',
      actions: ['ec2:RevokeSecurityGroupIngress'],
      resources: [securityGroups],
      conditions: taggedManaged('ec2'),
      reason: `Revokes ${why}, on groups tagged eks-aviatrix:managed=true.`,
    },
    {
      sid: 'RevokePodRulesOnEksClusterSecurityGroups',
      actions: ['ec2:RevokeSecurityGroupIngress'],
      resources: [securityGroups],
      conditions: { Null: { [`ec2:ResourceTag/${EKS_CLUSTER_SG_TAG_KEY}`]: 'false' } },
      reason: `...and on SGs EKS made for a cluster (aws:eks:cluster-name tag).`,
    },
    ...revokePodRulesAnywhere(why, config),
  ];
}

const revokePodRulesAnywhere = (why: string, config: OnboardingConfig): PermissionRow[] =>
  config.podSecurityGroups === 'reconcile-all'
    ? [{
        sid: 'RevokePodRulesOnPolicyGroups',
        actions: ['ec2:RevokeSecurityGroupIngress'],
        resources: [ec2Arn('security-group/*')],
        reason: `podSecurityGroups "reconcile-all" adds rules to any group a SecurityGroupPolicy names, so it revokes ${why} on any group too.`,
      }]
    : [];

function aviatrixOnboard(ctx: PermissionContext): PermissionRow[] {
  const configured = ctx.config.aviatrix.controllerRoleArn;
  const controllerRoleArn = ctx.controllerRoleInThisAccount ? controllerRoleArnIn(configured, ctx.account) : configured;
  const controller = parseRoleArn(configured);
  const controllerEntry = roleAccessEntryArnPattern(ctx.controllerRoleInThisAccount ? ctx.account : controller.account, controller.roleName);
  return [
    ...controllerCredentials(ctx),
    {
      sid: 'CreateControllerAccessEntry',
      actions: ['eks:CreateAccessEntry'],
      resources: [eksClusterArnPattern()],
      conditions: allOf(
        optInCondition(ctx.config),
        { StringEquals: { 'eks:principalArn': controllerRoleArn, 'eks:accessEntryType': 'STANDARD' } },
        { 'ForAllValues:StringEquals': { 'eks:kubernetesGroups': [VIEW_NODES_KUBE_GROUP] } },
        requestsManagedTag,
      ),
      reason: 'The Aviatrix controller role\'s access entry only (eks:principalArn), only on opted-in clusters, only in its view-nodes group, tagged as ours.',
    },
    {
      sid: 'GroupControllerAccessEntry',
      actions: ['eks:UpdateAccessEntry'],
      resources: [controllerEntry],
      conditions: taggedManaged('aws'),
      reason: 'Puts the controller entry we created (eks-aviatrix:managed tag) in its view-nodes group, keeping the groups others gave it.',
    },
    {
      sid: 'ReadVpcNameTag',
      actions: ['ec2:DescribeVpcs'],
      resources: ['*'],
      reason: 'ec2:DescribeVpcs has no resource-level permissions (read-only: the VPC\'s Name tag for a VPC SmartGroup matched by name).',
    },
    {
      sid: 'TagControllerAccessEntryOnCreate',
      actions: ['eks:TagResource'],
      resources: [controllerEntry],
      conditions: onlyOwnTagKeys,
      reason: 'The tags of CreateAccessEntry on the controller\'s entry (UUID assigned by EKS), eks-aviatrix:* keys only.',
    },
    {
      sid: 'ReadControllerAccessEntry',
      actions: ['eks:DescribeAccessEntry', 'eks:ListAssociatedAccessPolicies'],
      resources: [controllerEntry],
      reason: 'The controller role\'s access entry on any cluster (UUID assigned by EKS). Read-only.',
    },
    {
      sid: 'AssociateViewPolicyToControllerEntry',
      actions: ['eks:AssociateAccessPolicy'],
      resources: [controllerEntry],
      conditions: allOf(taggedManaged('aws'), { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSViewPolicy') } }),
      reason: 'AmazonEKSViewPolicy only, only on the controller entry we created (eks-aviatrix:managed tag, so on an opted-in cluster).',
    },
    {
      sid: 'DeleteControllerAccessEntry',
      actions: ['eks:DeleteAccessEntry'],
      resources: [controllerEntry],
      conditions: taggedManaged('aws'),
      reason: 'Offboarding removes the controller entry we created (eks-aviatrix:managed tag) and no other.',
    },
    clusterLease(ctx),
  ];
}

function cleanup(ctx: PermissionContext): PermissionRow[] {
  const vpcs = ec2Arn('vpc/*');
  const securityGroups = ec2Arn('security-group/*');
  return [
    { sid: 'Describe', actions: ['ec2:Describe*'], resources: ['*'], reason: 'EC2 Describe* calls support no resource-level permissions (read-only discovery of what the workflow created).' },
    {
      sid: 'DeleteManagedOnly',
      actions: ['ec2:DeleteSubnet', 'ec2:DeleteSecurityGroup'],
      resources: [ec2Arn('subnet/*'), securityGroups],
      conditions: taggedManaged('ec2'),
      reason: 'Deletes only subnets and SGs tagged eks-aviatrix:managed=true: nothing untagged is deleted.',
    },
    {
      sid: 'DisassociateSecondaryCidr',
      actions: ['ec2:DisassociateVpcCidrBlock'],
      resources: [vpcs],
      conditions: { Null: { [`ec2:ResourceTag/${SECONDARY_CIDR_TAG_KEY}`]: 'false' } },
      reason: 'Only on VPCs the network step tagged eks-aviatrix:secondary-cidr when it associated the CIDR.',
    },
    {
      sid: 'UntagLoadBalancerSubnets',
      actions: ['ec2:DeleteTags'],
      resources: [ec2Arn('subnet/*')],
      conditions: onlyLbSubnetTags,
      reason: 'Offboarding removes the load-balancer role tags this project added (its per-cluster markers say which); no other key. Always granted: the setting may be gone by then.',
    },
    {
      sid: 'UntagSecondaryCidr',
      actions: ['ec2:DeleteTags'],
      resources: [vpcs],
      // A DeleteTags without keys would remove every tag: refused by the Null condition.
      conditions: {
        'ForAllValues:StringEquals': { 'aws:TagKeys': [SECONDARY_CIDR_TAG_KEY] },
        Null: { 'aws:TagKeys': 'false', [`ec2:ResourceTag/${SECONDARY_CIDR_TAG_KEY}`]: 'false' },
      },
      reason: 'Removes that one tag, once the CIDR is disassociated, from VPCs carrying it.',
    },
    {
      sid: 'RevokeOnManagedSecurityGroups',
      actions: ['ec2:RevokeSecurityGroupIngress'],
      resources: [securityGroups],
      conditions: taggedManaged('ec2'),
      reason: 'The rules between the pod SG and the cluster SG block either\'s deletion: revoked on our SGs.',
    },
    {
      sid: 'RevokeOnEksClusterSecurityGroups',
      actions: ['ec2:RevokeSecurityGroupIngress'],
      resources: [securityGroups],
      conditions: { Null: { [`ec2:ResourceTag/${EKS_CLUSTER_SG_TAG_KEY}`]: 'false' } },
      reason: '...and on SGs EKS made for a cluster (aws:eks:cluster-name tag).',
    },
    ...revokePodRulesAnywhere('the rules it added for pods with their own security groups that name the deleted cluster\'s groups', ctx.config),
    describeClusters(['eks:DescribeCluster'], 'cleanup waits until it is gone.'),
    {
      sid: 'StatusRecords',
      actions: ['dynamodb:GetItem', 'dynamodb:Scan'],
      resources: [ctx.statusTableArn],
      reason: 'The status records, read only: the cluster\'s own, and which VPCs other onboarded clusters still use.',
    },
    clusterLease(ctx),
  ];
}

/** Every Lambda role's statements, by role construct id (lib/functions.ts). */
export function permissionTable(ctx: PermissionContext): Record<string, PermissionRow[]> {
  return {
    NotifyRole: notify(ctx),
    ResolveClusterRole: [
      describeClusters(['eks:DescribeCluster'], 'DescribeCluster carries the tags the opt-in rule reads.'),
      { sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: [eksNodegroupArnPattern()], reason: 'A node-group run\'s node group must exist before anything is written (preflight). Read-only.' },
      {
        sid: 'ReadVpcCniAddon',
        actions: ['eks:DescribeAddon'],
        resources: [vpcCniAddonArnPattern()],
        reason: 'A cluster whose network was wired while CREATING: its vpc-cni add-on version is judged at ACTIVE (too old for networkPolicy/prefixDelegation is refused). Read-only.',
      },
    ],
    PodNetworkRole: podNetwork(ctx),
    [KUBE_RECONCILER_ROLE_ID]: kubeReconciler(ctx),
    RecordOutcomeRole: [
      {
        sid: 'TagClustersWithOwnKeys',
        actions: ['eks:TagResource'],
        resources: [eksClusterArnPattern()],
        conditions: allOf(optInCondition(ctx.config), onlyOwnTagKeys),
        reason: 'Records the outcome on opted-in clusters, and only with eks-aviatrix:* tag keys.',
      },
      {
        sid: 'StatusRecord',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [ctx.statusTableArn],
        reason: 'The cluster\'s status record: one UpdateItem; a refusal reads it first so a live cluster keeps its status.',
      },
    ],
    AviatrixOnboardRole: aviatrixOnboard(ctx),
    AviatrixSnatRole: [
      ...controllerCredentials(ctx),
      {
        sid: 'GatewayLeases',
        // Scan: the failure path releases every lease an execution holds (releaseAll).
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan'],
        resources: [ctx.leaseTableArn],
        reason: 'Per-gateway leases around the controller\'s whole-list writes, on the lease table only.',
      },
      {
        sid: 'ClaimIndexFromRecords',
        actions: ['dynamodb:Scan'],
        resources: [ctx.statusTableArn],
        reason: 'Until the claim index is built and trusted (a new, emptied or re-created claim table), who else claims is read from every status record, and the index is then built from them.',
      },
      {
        sid: 'ClaimIndex',
        actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        resources: [ctx.claimTableArn],
        reason: 'Who else claims a gateway\'s SNAT policy or a transit\'s exclusion (lambdas/aviatrix/claim-index.ts): the claim table only, written with the status record\'s claim.',
      },
    ],
    CleanupRole: cleanup(ctx),
    StartWorkflowRole: [
      { sid: 'StartWorkflows', actions: ['states:StartExecution'], resources: ctx.stateMachineArns, reason: 'Exactly the three workflows.' },
    ],
    DriftRepairRole: [
      { sid: 'ListOnboardedClusters', actions: ['dynamodb:Scan'], resources: [ctx.statusTableArn], reason: 'The clusters it has a record of.' },
      { sid: 'ListRegionClusters', actions: ['eks:ListClusters'], resources: ['*'], reason: 'eks:ListClusters has no resource-level permissions (read-only).' },
      {
        sid: 'StartRepairWorkflows',
        actions: ['states:StartExecution'],
        resources: [ctx.clusterStateMachineArn, ctx.offboardingStateMachineArn],
        reason: 'The cluster workflow for each cluster, offboarding for one that no longer exists.',
      },
    ],
  };
}
