// Least privilege proven by IAM evaluation, not by JSON shape: every role of the synthesized template
// is evaluated with a real policy evaluator (@cloud-copilot/iam-simulate, conditions included)
// against a table of requests. What the code does on opted-in clusters and our own resources is
// allowed; the same action on another cluster, someone else's subnet, route table, security group,
// VPC tag, access entry or secret, or in another Region, is denied. The table covers every AWS call
// the Lambdas make (derived from the code) and every statement of lib/permissions.ts.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { parseConfig } from '../../lib/config';
import { KUBE_RECONCILER_ROLE_ID } from '../../lib/functions';
import { resourceNames, ResourceNames } from '../../lib/names';
import { CONSTRUCT_ID } from '../../lib/onboarding-stack';
import { permissionTable } from '../../lib/permissions';
import { RECONCILER_KUBE_GROUP, VIEW_NODES_KUBE_GROUP } from '../../lambdas/shared/kube-rbac';
import { synthesized, TEST_RAW_CONFIG } from '../cdk/fixtures';
import { lambdaSdkActions } from './sdk-calls';
import {
  ADMIN_POLICY, CONTROLLER_ROLE, EC2_OURS, EKS_CLUSTER_SG, MANAGED_REQUEST, NOT_OPTED_IN, OPT_IN_KEY, OPTED_IN, OURS, VIEW_POLICY,
} from './request-contexts';

const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const OTHER_REGION = 'us-west-2';
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Context = Record<string, string | string[]>;
type Decision = 'Allowed' | 'Denied';

// --- The synthesized template, its intrinsics resolved to concrete ARNs ------------------------

interface Evaluated {
  template: Json;
  /** Role construct id (RoleName below) -> its policy documents. */
  policies: Map<string, Json[]>;
}

function synthesize(raw: object): Evaluated {
  const template = synthesized({ config: parseConfig(raw) }).json;
  const resources: Record<string, Json> = template.Resources;
  // The role's logical id stands in for its generated name.
  const arnOf = (id: string): string => {
    const type: string = resources[id]?.Type;
    switch (type) {
      case 'AWS::IAM::Role': return `arn:aws:iam::${ACCOUNT}:role/${id}`;
      case 'AWS::DynamoDB::Table': return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${id}`;
      case 'AWS::Logs::LogGroup': return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${id}:*`;
      case 'AWS::Lambda::Function': return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
      case 'AWS::StepFunctions::StateMachine': return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${id}`;
      case 'AWS::SQS::Queue': return `arn:aws:sqs:${REGION}:${ACCOUNT}:${id}`;
      case 'AWS::KMS::Key': return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
      default: return `arn:aws:${type.split('::')[1].toLowerCase()}:${REGION}:${ACCOUNT}:${id}`;
    }
  };
  const resolve = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    if ('Ref' in value) {
      const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };
      if (pseudo[value.Ref]) return pseudo[value.Ref];
      const type = resources[value.Ref]?.Type;
      if (type === 'AWS::IAM::Role') return value.Ref;
      return arnOf(value.Ref);
    }
    // A generated name (a state machine's Name) is its logical id, as for roles.
    if ('Fn::GetAtt' in value) return value['Fn::GetAtt'][1] === 'Name' ? value['Fn::GetAtt'][0] : arnOf(value['Fn::GetAtt'][0]);
    if ('Fn::Join' in value) return (resolve(value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  };
  const policies = new Map<string, Json[]>();
  const add = (roleLogicalId: string, document: Json) => policies.set(roleLogicalId, [...(policies.get(roleLogicalId) ?? []), resolve(document)]);
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Policy') for (const role of r.Properties.Roles) add(role.Ref, r.Properties.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties.Policies ?? []) add(id, p.PolicyDocument);
  }
  return { template, policies };
}

/** The logical id of a role construct id (KubeReconcilerRole -> KubeReconcilerRoleXXXXXXXX). */
function roleId(e: Evaluated, constructId: string): string {
  const ids = Object.keys(e.template.Resources).filter((id) => e.template.Resources[id].Type === 'AWS::IAM::Role' && new RegExp(`^${CONSTRUCT_ID}\\w*?${constructId}[0-9A-F]{8}$`).test(id));
  if (ids.length !== 1) throw new Error(`role ${constructId}: ${ids.length} matches`);
  return ids[0];
}

const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

async function decide(e: Evaluated, role: string, action: string, resource: string, context: Context): Promise<string> {
  const logicalId = roleId(e, role);
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/${logicalId}`,
        action,
        resource: { resource, accountId: ACCOUNT },
        contextVariables: { 'aws:RequestedRegion': resource.split(':')[3] || REGION, ...context },
      },
      identityPolicies: (e.policies.get(logicalId) ?? []).map((policy, i) => ({ name: `p${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      // A KMS key is usable through IAM only when its key policy says so (the default key policy does).
      ...(action.startsWith('kms:') ? { resourcePolicy: DEFAULT_KEY_POLICY } : {}),
    },
    {},
  );
  if (response.resultType === 'error') return `error: ${JSON.stringify(response.errors)}`;
  return response.overallResult;
}

// --- Resources and contexts ----------------------------------------------------------------------

const eksArn = (resource: string, region = REGION) => `arn:aws:eks:${region}:${ACCOUNT}:${resource}`;
const ec2 = (resource: string, region = REGION) => `arn:aws:ec2:${region}:${ACCOUNT}:${resource}`;
const cluster = (name: string, region = REGION) => eksArn(`cluster/${name}`, region);
const controllerEntry = (clusterName: string) => eksArn(`access-entry/${clusterName}/role/${ACCOUNT}/aviatrix-role-app/0ec7c7a7-0000-4000-8000-000000000001`);
const SECRET = (name: string, region = REGION) => `arn:aws:secretsmanager:${region}:${ACCOUNT}:secret:${name}-AbCdEf`;

interface Request {
  role: string;
  action: string;
  /** A function of the evaluated template, for resources named after generated ids. */
  resource: string | ((e: Evaluated) => string);
  context?: Context | ((e: Evaluated) => Context);
  expect: Decision;
  /** What the row shows. */
  why: string;
}

const reconcilerArn = (e: Evaluated) => `arn:aws:iam::${ACCOUNT}:role/${roleId(e, KUBE_RECONCILER_ROLE_ID)}`;
const ownEntry = (clusterName: string) => (e: Evaluated) =>
  eksArn(`access-entry/${clusterName}/role/${ACCOUNT}/${roleId(e, KUBE_RECONCILER_ROLE_ID)}/0ec7c7a7-0000-4000-8000-000000000002`);
const logicalIdOf = (e: Evaluated, prefix: string) => Object.keys(e.template.Resources).find((k) => new RegExp(`^${CONSTRUCT_ID}\\w*?${prefix}[0-9A-F]{8}$`).test(k)) ?? `${prefix}-missing`;
/** A state machine's name as the template resolves it (its logical id stands in for the generated name). */
// State machines are named from the naming prefix (lib/names.ts), not generated.
const machineName = (_e: Evaluated, id: keyof ResourceNames['stateMachines']) => resourceNames().stateMachines[id];
const table = (e: Evaluated, id: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${logicalIdOf(e, id)}`;
const machine = (id: string) => (e: Evaluated) =>
  `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${Object.keys(e.template.Resources).find((k) => new RegExp(`^${CONSTRUCT_ID}\\w*?${id}[0-9A-F]{8}$`).test(k) && e.template.Resources[k].Type === 'AWS::StepFunctions::StateMachine')}`;

const createOwnEntry = (e: Evaluated): Context => ({
  ...OPTED_IN,
  ...MANAGED_REQUEST,
  'eks:principalArn': reconcilerArn(e),
  'eks:accessEntryType': 'STANDARD',
  'eks:kubernetesGroups': [RECONCILER_KUBE_GROUP],
});
const createControllerEntry: Context = { ...OPTED_IN, ...MANAGED_REQUEST, 'eks:principalArn': CONTROLLER_ROLE, 'eks:accessEntryType': 'STANDARD' };

/** Requests for the shipped shape of config: opt-in by tag, no node replacement, no customer key. */
const REQUESTS: Request[] = [
  // resolve-cluster
  { role: 'ResolveClusterRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'reads any cluster to check its opt-in tag' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeCluster', resource: cluster('c1', OTHER_REGION), expect: 'Denied', why: 'not in another Region' },
  { role: 'ResolveClusterRole', action: 'eks:TagResource', resource: cluster('c1'), context: OPTED_IN, expect: 'Denied', why: 'read-only' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeAddon', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'at ACTIVE, the vpc-cni version of a cluster wired while CREATING' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeAddon', resource: eksArn('addon/c1/coredns/uuid'), expect: 'Denied', why: 'no other add-on' },

  // pod-network
  { role: 'PodNetworkRole', action: 'ec2:DescribeVpcs', resource: '*', expect: 'Allowed', why: 'EC2 reads' },
  { role: 'PodNetworkRole', action: 'ec2:DescribeSubnets', resource: '*', expect: 'Allowed', why: 'EC2 reads' },
  { role: 'PodNetworkRole', action: 'ec2:DescribeRouteTables', resource: '*', expect: 'Allowed', why: 'EC2 reads' },
  { role: 'PodNetworkRole', action: 'ec2:DescribeSecurityGroups', resource: '*', expect: 'Allowed', why: 'EC2 reads' },
  { role: 'PodNetworkRole', action: 'eks:DescribeAddon', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'preflight: the vpc-cni version' },
  { role: 'PodNetworkRole', action: 'eks:DescribeAddon', resource: eksArn('addon/c1/coredns/uuid'), expect: 'Denied', why: 'no other add-on' },
  { role: 'PodNetworkRole', action: 'eks:UpdateAddon', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Denied', why: 'the preflight only reads the add-on' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateVpcCidrBlock', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'secondary CIDR (no condition key exists: README residual risk)' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateVpcCidrBlock', resource: ec2('vpc/vpc-1', OTHER_REGION), expect: 'Denied', why: 'not in another Region' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('subnet/*'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'a pod subnet, tagged ours on create' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('subnet/*'), expect: 'Denied', why: 'an untagged subnet' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSubnet', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'the VPC side of CreateSubnet' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSecurityGroup', resource: ec2('security-group/*'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'the pod SG, tagged ours on create' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSecurityGroup', resource: ec2('security-group/*'), expect: 'Denied', why: 'an untagged SG' },
  { role: 'PodNetworkRole', action: 'ec2:CreateSecurityGroup', resource: ec2('vpc/vpc-1'), expect: 'Allowed', why: 'the VPC side of CreateSecurityGroup' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-new'), context: { 'ec2:CreateAction': 'CreateSubnet', ...MANAGED_REQUEST }, expect: 'Allowed', why: 'tags as part of CreateSubnet' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-theirs'), context: MANAGED_REQUEST, expect: 'Denied', why: 'no tagging someone else\'s subnet as ours' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('security-group/sg-theirs'), context: MANAGED_REQUEST, expect: 'Denied', why: 'no tagging someone else\'s SG as ours' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'], 'aws:RequestTag/eks-aviatrix:secondary-cidr': 'vpc-cidr-assoc-1' }, expect: 'Allowed', why: 'marks the VPC whose CIDR it associated' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['eks-aviatrix:managed'], 'aws:RequestTag/eks-aviatrix:managed': 'true' }, expect: 'Denied', why: 'no other tag key on a VPC' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-lb'), context: { 'aws:TagKeys': ['kubernetes.io/role/elb', 'eks-aviatrix:lb-role/c1'] }, expect: 'Denied', why: 'no load-balancer tags without loadBalancerSubnets' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('route-table/rtb-nodes'), expect: 'Allowed', why: 'the route table side (found at run time)' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('subnet/subnet-pods'), context: EC2_OURS, expect: 'Allowed', why: 'our pod subnet' },
  { role: 'PodNetworkRole', action: 'ec2:AssociateRouteTable', resource: ec2('subnet/subnet-theirs'), expect: 'Denied', why: 'someone else\'s subnet keeps its routing' },
  { role: 'PodNetworkRole', action: 'ec2:ReplaceRouteTableAssociation', resource: ec2('route-table/rtb-nodes'), expect: 'Denied', why: 'no account-wide re-pointing of subnets' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'rules on our pod SG' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Denied', why: 'the cluster SG\'s rules are the VPC CNI step\'s (after ACTIVE)' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'no rules on anyone else\'s SG' },
  { role: 'PodNetworkRole', action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-pods', OTHER_REGION), context: EC2_OURS, expect: 'Denied', why: 'not in another Region' },
  { role: 'PodNetworkRole', action: 'eks:ListNodegroups', resource: cluster('c1'), expect: 'Allowed', why: 'node subnets' },
  { role: 'PodNetworkRole', action: 'eks:DescribeNodegroup', resource: eksArn('nodegroup/c1/ng-1/uuid'), expect: 'Allowed', why: 'node subnets' },
  { role: 'PodNetworkRole', action: 'ec2:DescribeInstances', resource: '*', expect: 'Allowed', why: 'the cluster\'s nodes, whatever launched them' },
  { role: 'PodNetworkRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: { 'ec2:ResourceTag/eks-aviatrix:managed': 'true' }, expect: 'Allowed', why: 'our stale node rules on our pod SG' },
  { role: 'PodNetworkRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'no revoking rules on someone else\'s SG' },
  { role: 'PodNetworkRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: { 'ec2:ResourceTag/aws:eks:cluster-name': 'c1' }, expect: 'Denied', why: 'no revoking on the EKS cluster SG' },
  { role: 'PodNetworkRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'claims the VPC\'s CIDR and pod subnets before creating them' },
  { role: 'PodNetworkRole', action: 'dynamodb:GetItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'reads the claim first' },
  { role: 'PodNetworkRole', action: 'dynamodb:DeleteItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'never deletes a record' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeNodegroup', resource: eksArn('nodegroup/c1/ng-1/uuid'), expect: 'Allowed', why: 'a node-group run\'s node group exists (preflight)' },
  { role: 'ResolveClusterRole', action: 'eks:DescribeNodegroup', resource: eksArn('nodegroup/c1/ng-1/uuid', OTHER_REGION), expect: 'Denied', why: 'not in another Region' },
  { role: 'NotifyRole', action: 'states:GetExecutionHistory', resource: (e) => `arn:aws:states:${REGION}:${ACCOUNT}:execution:${machineName(e, 'ClusterOnboarding')}:run-1`, expect: 'Allowed', why: 'the failed step of our execution' },
  { role: 'NotifyRole', action: 'states:GetExecutionHistory', resource: `arn:aws:states:${REGION}:${ACCOUNT}:execution:someone-elses:run-1`, expect: 'Denied', why: 'not another state machine\'s executions' },
  { role: 'NotifyRole', action: 'dynamodb:GetItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'what the failed run applied' },
  { role: 'NotifyRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'read-only' },
  { role: 'NotifyRole', action: 'sns:Publish', resource: (e) => `arn:aws:sns:${REGION}:${ACCOUNT}:${logicalIdOf(e, 'OperationsTopic')}`, expect: 'Allowed', why: 'the notification topic' },
  { role: 'NotifyRole', action: 'sns:Publish', resource: `arn:aws:sns:${REGION}:${ACCOUNT}:other-topic`, expect: 'Denied', why: 'no other topic' },
  { role: 'NotifyRole', action: 'kms:GenerateDataKey', resource: (e) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${logicalIdOf(e, 'OperationsTopicKey')}`, expect: 'Allowed', why: 'the topic\'s key' },
  { role: 'NotifyRole', action: 'kms:Decrypt', resource: (e) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${logicalIdOf(e, 'OperationsTopicKey')}`, expect: 'Allowed', why: 'the topic\'s key' },
  { role: 'NotifyRole', action: 'kms:Decrypt', resource: KMS_KEY, expect: 'Denied', why: 'no other key' },
  { role: 'PodNetworkRole', action: 'dynamodb:PutItem', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'the cluster lease' },
  { role: 'PodNetworkRole', action: 'dynamodb:PutItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'status records are not its business' },

  // kube reconciler (vpc-cni, nodegroup)
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'endpoint and CA' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DescribeAddon', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'reads the add-on' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:DescribeNetworkInterfaces', resource: '*', expect: 'Allowed', why: 'prefixDelegation: free /28 blocks of the pod subnets' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:DescribeSubnets', resource: '*', expect: 'Allowed', why: 'prefixDelegation: the pod subnets' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:DescribeVpcs', resource: '*', expect: 'Denied', why: 'only the reads it needs' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:DescribeSecurityGroups', resource: '*', expect: 'Allowed', why: 'the groups SecurityGroupPolicies name' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'after ACTIVE, the pod SG\'s rules from the cluster SG' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: 'after ACTIVE, the pods-to-API-server rule on an EKS cluster SG' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'podSecurityGroups "report" (shipped): no rule on anyone else\'s SG' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-policy'), context: EC2_OURS, expect: 'Allowed', why: 'podSecurityGroups switched off: our pod rules leave a group tagged ours' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: '...and the cluster SG\'s rule from that group' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'not on an untagged group without "reconcile-all"' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DescribeUpdate', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'waits for its update' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UpdateAddon', resource: eksArn('addon/c1/vpc-cni/uuid'), expect: 'Allowed', why: 'custom networking on vpc-cni (no opt-in key on add-ons: README residual risk)' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UpdateAddon', resource: eksArn('addon/c1/coredns/uuid'), expect: 'Denied', why: 'no other add-on' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UpdateAddon', resource: eksArn('addon/c1/vpc-cni/uuid', OTHER_REGION), expect: 'Denied', why: 'not in another Region' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: createOwnEntry, expect: 'Allowed', why: 'its own entry in its group on an opted-in cluster' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:CreateAccessEntry', resource: cluster('c2'), context: (e) => ({ ...createOwnEntry(e), ...NOT_OPTED_IN }), expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: (e) => ({ ...createOwnEntry(e), 'eks:kubernetesGroups': ['system:masters'] }), expect: 'Denied', why: 'no other Kubernetes group' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: (e) => ({ ...createOwnEntry(e), 'eks:principalArn': `arn:aws:iam::${ACCOUNT}:role/someone` }), expect: 'Denied', why: 'no entry for another principal' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: (e) => { const { ['aws:RequestTag/eks-aviatrix:managed']: _t, ...rest } = createOwnEntry(e); return { ...rest, 'aws:TagKeys': [] }; }, expect: 'Denied', why: 'the entry must be tagged ours (later writes depend on it)' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:TagResource', resource: ownEntry('c1'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'the tags of CreateAccessEntry' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:TagResource', resource: ownEntry('c1'), context: { 'aws:TagKeys': [OPT_IN_KEY], [`aws:RequestTag/${OPT_IN_KEY}`]: 'true' }, expect: 'Denied', why: 'no other tag keys' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:TagResource', resource: cluster('c2'), context: { ...MANAGED_REQUEST, 'aws:TagKeys': [OPT_IN_KEY] }, expect: 'Denied', why: 'cannot opt a cluster in' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'iam:ListAttachedRolePolicies', resource: `arn:aws:iam::${ACCOUNT}:role/eks-cluster`, expect: 'Allowed', why: 'security groups for pods: AmazonEKSVPCResourceController on the cluster role' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'iam:AttachRolePolicy', resource: `arn:aws:iam::${ACCOUNT}:role/eks-cluster`, expect: 'Denied', why: 'it only reads the cluster role' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:TagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:cni-options'], 'aws:RequestTag/eks-aviatrix:cni-options': 'ENABLE_PREFIX_DELEGATION=true' }, expect: 'Allowed', why: 'records the CNI option values it set' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UntagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:cni-options'] }, expect: 'Allowed', why: 'none left to claim' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UntagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:status'] }, expect: 'Denied', why: 'no other tag key' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:TagResource', resource: cluster('c2'), context: { ...NOT_OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:cni-options'] }, expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DescribeAccessEntry', resource: ownEntry('c1'), expect: 'Allowed', why: 'its own entry' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:ListAssociatedAccessPolicies', resource: ownEntry('c1'), expect: 'Allowed', why: 'its own entry' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UpdateAccessEntry', resource: ownEntry('c1'), context: OURS, expect: 'Allowed', why: 'puts its own entry in its group' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:UpdateAccessEntry', resource: controllerEntry('c1'), context: OURS, expect: 'Denied', why: 'nobody else\'s entry' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:AssociateAccessPolicy', resource: ownEntry('c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Allowed', why: 'cluster-admin for the RBAC write' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:AssociateAccessPolicy', resource: ownEntry('c2'), context: { 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Denied', why: 'not on an entry we did not create (e.g. on a cluster that is not opted in)' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:AssociateAccessPolicy', resource: controllerEntry('c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Denied', why: 'cluster-admin for nobody else' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DisassociateAccessPolicy', resource: ownEntry('c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY }, expect: 'Allowed', why: 'removes its cluster-admin' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DisassociateAccessPolicy', resource: controllerEntry('c1'), context: { ...OURS, 'eks:policyArn': VIEW_POLICY }, expect: 'Denied', why: 'not the controller\'s access' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DeleteAccessEntry', resource: ownEntry('c1'), context: OURS, expect: 'Denied', why: 'nothing to delete' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'eks:DescribeNodegroup', resource: eksArn('nodegroup/c1/ng-1/uuid'), expect: 'Allowed', why: 'waits for the node group' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:DescribeInstanceTypes', resource: '*', expect: 'Allowed', why: 'ENI limits for max-pods' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'autoscaling:StartInstanceRefresh', resource: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/eks-ng-1-uuid`, context: { 'aws:ResourceTag/eks:cluster-name': 'c1', 'aws:ResourceTag/eks:nodegroup-name': 'ng-1' }, expect: 'Denied', why: 'node replacement is off in this config' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'the cluster lease' },

  // record-outcome
  { role: 'RecordOutcomeRole', action: 'eks:TagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:status', 'eks-aviatrix:pod-cidr'] }, expect: 'Allowed', why: 'records the outcome on an opted-in cluster' },
  { role: 'RecordOutcomeRole', action: 'eks:TagResource', resource: cluster('c2'), context: { ...NOT_OPTED_IN, 'aws:TagKeys': ['eks-aviatrix:status'] }, expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: 'RecordOutcomeRole', action: 'eks:TagResource', resource: cluster('c1'), context: { ...OPTED_IN, 'aws:TagKeys': [OPT_IN_KEY] }, expect: 'Denied', why: 'no other tag keys' },
  { role: 'RecordOutcomeRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'the status record' },
  { role: 'RecordOutcomeRole', action: 'dynamodb:GetItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'the status record' },

  // aviatrix-onboard
  { role: 'AviatrixOnboardRole', action: 'secretsmanager:GetSecretValue', resource: SECRET('aviatrix/controller/api'), expect: 'Allowed', why: 'the controller credentials' },
  { role: 'AviatrixOnboardRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'the cluster to onboard' },
  { role: 'AviatrixOnboardRole', action: 'secretsmanager:GetSecretValue', resource: SECRET('aviatrix/controller/other'), expect: 'Denied', why: 'no other secret' },
  { role: 'AviatrixOnboardRole', action: 'secretsmanager:GetSecretValue', resource: SECRET('aviatrix/controller/api', OTHER_REGION), expect: 'Denied', why: 'not in another Region' },
  { role: 'AviatrixOnboardRole', action: 'kms:Decrypt', resource: KMS_KEY, context: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` }, expect: 'Denied', why: 'no customer key in this config' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: createControllerEntry, expect: 'Allowed', why: 'the controller\'s entry on an opted-in cluster' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c2'), context: { ...createControllerEntry, ...NOT_OPTED_IN }, expect: 'Denied', why: 'not on a cluster that is not opted in' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: { ...createControllerEntry, 'eks:principalArn': `arn:aws:iam::${ACCOUNT}:role/someone` }, expect: 'Denied', why: 'no entry for another principal' },
  { role: 'AviatrixOnboardRole', action: 'eks:TagResource', resource: controllerEntry('c1'), context: MANAGED_REQUEST, expect: 'Allowed', why: 'the tags of CreateAccessEntry' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: { ...createControllerEntry, 'eks:kubernetesGroups': [VIEW_NODES_KUBE_GROUP] }, expect: 'Allowed', why: 'the controller\'s entry in its view-nodes group' },
  { role: 'AviatrixOnboardRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: { ...createControllerEntry, 'eks:kubernetesGroups': [VIEW_NODES_KUBE_GROUP, 'system:masters'] }, expect: 'Denied', why: 'no other Kubernetes group' },
  { role: 'AviatrixOnboardRole', action: 'eks:UpdateAccessEntry', resource: controllerEntry('c1'), context: OURS, expect: 'Allowed', why: 'puts the controller entry we made in its view-nodes group' },
  { role: 'AviatrixOnboardRole', action: 'eks:UpdateAccessEntry', resource: controllerEntry('c1'), expect: 'Denied', why: 'an entry someone else made stays as it is' },
  { role: 'AviatrixOnboardRole', action: 'eks:UpdateAccessEntry', resource: ownEntry('c1'), context: OURS, expect: 'Denied', why: 'no other principal\'s entry' },
  { role: 'AviatrixOnboardRole', action: 'ec2:DescribeVpcs', resource: '*', expect: 'Allowed', why: 'the VPC\'s Name tag for a VPC SmartGroup by name' },
  { role: 'AviatrixOnboardRole', action: 'ec2:CreateTags', resource: '*', expect: 'Denied', why: 'reads VPCs only' },
  { role: 'AviatrixOnboardRole', action: 'eks:DescribeAccessEntry', resource: controllerEntry('c1'), expect: 'Allowed', why: 'the controller\'s entry' },
  { role: 'AviatrixOnboardRole', action: 'eks:ListAssociatedAccessPolicies', resource: controllerEntry('c1'), expect: 'Allowed', why: 'the controller\'s entry' },
  { role: 'AviatrixOnboardRole', action: 'eks:AssociateAccessPolicy', resource: controllerEntry('c1'), context: { ...OURS, 'eks:policyArn': VIEW_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Allowed', why: 'view access for the controller' },
  { role: 'AviatrixOnboardRole', action: 'eks:AssociateAccessPolicy', resource: controllerEntry('c1'), context: { ...OURS, 'eks:policyArn': ADMIN_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Denied', why: 'never cluster-admin' },
  { role: 'AviatrixOnboardRole', action: 'eks:AssociateAccessPolicy', resource: controllerEntry('c2'), context: { 'eks:policyArn': VIEW_POLICY, 'eks:accessScope': 'cluster' }, expect: 'Denied', why: 'not on an entry we did not create' },
  { role: 'AviatrixOnboardRole', action: 'eks:DeleteAccessEntry', resource: controllerEntry('c1'), context: OURS, expect: 'Allowed', why: 'offboarding removes the entry it made' },
  { role: 'AviatrixOnboardRole', action: 'eks:DeleteAccessEntry', resource: controllerEntry('c1'), expect: 'Denied', why: 'an entry someone else made stays' },
  { role: 'AviatrixOnboardRole', action: 'eks:DeleteAccessEntry', resource: ownEntry('c1'), context: OURS, expect: 'Denied', why: 'no other principal\'s entry' },
  { role: 'AviatrixOnboardRole', action: 'eks:DisassociateAccessPolicy', resource: controllerEntry('c1'), context: { ...OURS, 'eks:policyArn': VIEW_POLICY }, expect: 'Denied', why: 'the code never removes the view access (DisassociateAccessPolicyCommand is in access-entries.ts for the reconciler)' },
  { role: 'AviatrixOnboardRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'its SmartGroups and k8s onboarding claims' },
  { role: 'AviatrixOnboardRole', action: 'dynamodb:Scan', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'it never asks who else claims' },
  { role: 'AviatrixOnboardRole', action: 'dynamodb:Query', resource: (e) => table(e, 'ClaimTable'), expect: 'Denied', why: 'only aviatrix-snat reads the claim index' },
  { role: 'AviatrixOnboardRole', action: 'dynamodb:DeleteItem', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'the cluster lease' },

  // aviatrix-snat
  { role: 'AviatrixSnatRole', action: 'secretsmanager:GetSecretValue', resource: SECRET('aviatrix/controller/api'), expect: 'Allowed', why: 'the controller credentials' },
  { role: 'AviatrixSnatRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'the cluster\'s VPC and spoke' },
  { role: 'AviatrixSnatRole', action: 'secretsmanager:GetSecretValue', resource: SECRET('prod/database'), expect: 'Denied', why: 'no other secret' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:Scan', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'releases an execution\'s leases' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:PutItem', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'gateway leases' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:Query', resource: (e) => table(e, 'ClaimTable'), expect: 'Allowed', why: 'other clusters\' claims, from the claim index' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:Query', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'the index is the only table it queries' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:Scan', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'who else claims, until the claim index is built' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:PutItem', resource: (e) => table(e, 'ClaimTable'), expect: 'Allowed', why: 'a claim\'s index item, in the claim\'s transaction' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:DeleteItem', resource: (e) => table(e, 'ClaimTable'), expect: 'Allowed', why: 'a dropped claim\'s index item' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:PutItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'status records are only updated, attribute by attribute' },
  { role: 'PodNetworkRole', action: 'dynamodb:Query', resource: (e) => table(e, 'ClaimTable'), expect: 'Denied', why: 'only the controller steps read the claim index' },
  { role: 'AviatrixSnatRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'ownership registry' },
  { role: 'AviatrixSnatRole', action: 'eks:CreateAccessEntry', resource: cluster('c1'), context: createControllerEntry, expect: 'Denied', why: 'no EKS writes' },

  // cleanup
  { role: 'CleanupRole', action: 'ec2:DescribeNetworkInterfaces', resource: '*', expect: 'Allowed', why: 'ENIs left in a pod subnet' },
  { role: 'CleanupRole', action: 'ec2:DeleteSubnet', resource: ec2('subnet/subnet-pods'), context: EC2_OURS, expect: 'Allowed', why: 'our pod subnet' },
  { role: 'CleanupRole', action: 'ec2:DeleteSubnet', resource: ec2('subnet/subnet-theirs'), expect: 'Denied', why: 'nothing untagged is deleted' },
  { role: 'CleanupRole', action: 'ec2:DeleteSecurityGroup', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'our pod SG' },
  { role: 'CleanupRole', action: 'ec2:DeleteSecurityGroup', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Denied', why: 'never the cluster SG' },
  { role: 'CleanupRole', action: 'ec2:DisassociateVpcCidrBlock', resource: ec2('vpc/vpc-1'), context: { 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'vpc-cidr-assoc-1', 'aws:ResourceTag/eks-aviatrix:secondary-cidr': 'vpc-cidr-assoc-1' }, expect: 'Allowed', why: 'the VPC the network step marked' },
  { role: 'CleanupRole', action: 'ec2:DisassociateVpcCidrBlock', resource: ec2('vpc/vpc-theirs'), expect: 'Denied', why: 'no other VPC' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['eks-aviatrix:secondary-cidr'], 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'x', 'aws:ResourceTag/eks-aviatrix:secondary-cidr': 'x' }, expect: 'Allowed', why: 'removes that mark' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('vpc/vpc-1'), context: { 'aws:TagKeys': ['Name'], 'ec2:ResourceTag/eks-aviatrix:secondary-cidr': 'x', 'aws:ResourceTag/eks-aviatrix:secondary-cidr': 'x' }, expect: 'Denied', why: 'no other tag' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('subnet/subnet-lb'), context: { 'aws:TagKeys': ['kubernetes.io/role/elb', 'eks-aviatrix:lb-role/c1'] }, expect: 'Allowed', why: 'offboarding removes the load-balancer tags it added' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('subnet/subnet-lb'), context: { 'aws:TagKeys': ['kubernetes.io/role/elb', 'Name'] }, expect: 'Denied', why: 'no other tag key' },
  { role: 'CleanupRole', action: 'ec2:DeleteTags', resource: ec2('subnet/subnet-lb'), expect: 'Denied', why: 'a DeleteTags without keys would remove every tag' },
  { role: 'CleanupRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-pods'), context: EC2_OURS, expect: 'Allowed', why: 'rules on our SG' },
  { role: 'CleanupRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: 'our rule on the cluster SG' },
  { role: 'CleanupRole', action: 'ec2:RevokeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'no other SG' },
  { role: 'CleanupRole', action: 'ec2:AssociateVpcCidrBlock', resource: ec2('vpc/vpc-1'), expect: 'Denied', why: 'cleanup adds nothing' },
  { role: 'CleanupRole', action: 'eks:DescribeCluster', resource: cluster('c1'), expect: 'Allowed', why: 'waits until it is gone' },
  { role: 'CleanupRole', action: 'dynamodb:Scan', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'other clusters in the VPC' },
  { role: 'CleanupRole', action: 'dynamodb:DeleteItem', resource: (e) => table(e, 'LeaseTable'), expect: 'Allowed', why: 'the cluster lease' },
  { role: 'CleanupRole', action: 'dynamodb:DeleteItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'records are updated, not deleted' },

  // start-workflow, drift-repair
  { role: 'StartWorkflowRole', action: 'states:StartExecution', resource: machine('ClusterOnboarding'), expect: 'Allowed', why: 'its workflows' },
  { role: 'StartWorkflowRole', action: 'states:StartExecution', resource: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:someone-elses`, expect: 'Denied', why: 'no other state machine' },
  { role: 'DriftRepairRole', action: 'eks:ListClusters', resource: '*', expect: 'Allowed', why: 'the Region\'s clusters' },
  { role: 'DriftRepairRole', action: 'dynamodb:Scan', resource: (e) => table(e, 'StatusTable'), expect: 'Allowed', why: 'the records' },
  { role: 'DriftRepairRole', action: 'dynamodb:UpdateItem', resource: (e) => table(e, 'StatusTable'), expect: 'Denied', why: 'read-only on records' },
  { role: 'DriftRepairRole', action: 'states:StartExecution', resource: machine('ClusterOffboarding'), expect: 'Allowed', why: 'a lost DeleteCluster' },
  { role: 'DriftRepairRole', action: 'states:StartExecution', resource: machine('NodegroupOnboarding'), expect: 'Denied', why: 'only the cluster and offboarding workflows' },
];

/** Requests for config switches that widen a role: node replacement, a customer-managed key, private endpoint access. */
const WIDER_REQUESTS: Request[] = [
  { role: KUBE_RECONCILER_ROLE_ID, action: 'autoscaling:StartInstanceRefresh', resource: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/eks-ng-1-uuid`, context: { 'aws:ResourceTag/eks:cluster-name': 'c1', 'aws:ResourceTag/eks:nodegroup-name': 'ng-1' }, expect: 'Allowed', why: 'replaces a managed node group\'s early nodes' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'autoscaling:StartInstanceRefresh', resource: `arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:uuid:autoScalingGroupName/eks-other-uuid`, expect: 'Denied', why: 'not an Auto Scaling group without the EKS node-group tags' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'autoscaling:DescribeInstanceRefreshes', resource: '*', expect: 'Allowed', why: 'follows the refresh' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-policy'), context: EC2_OURS, expect: 'Allowed', why: 'podSecurityGroups "reconcile": a policy\'s group tagged ours' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-cluster'), context: EKS_CLUSTER_SG, expect: 'Allowed', why: 'those pods to the API server' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:AuthorizeSecurityGroupIngress', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'not an untagged group without "reconcile-all"' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-lb'), context: { 'aws:TagKeys': ['kubernetes.io/role/elb', 'eks-aviatrix:lb-role/c1'] }, expect: 'Allowed', why: 'loadBalancerSubnets: the role tag and our marker' },
  { role: 'PodNetworkRole', action: 'ec2:CreateTags', resource: ec2('subnet/subnet-lb'), context: { 'aws:TagKeys': ['kubernetes.io/role/elb', 'Name'] }, expect: 'Denied', why: 'no other tag key' },
  { role: 'AviatrixOnboardRole', action: 'kms:Decrypt', resource: KMS_KEY, context: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` }, expect: 'Allowed', why: 'decrypts the secret through Secrets Manager' },
  { role: 'AviatrixOnboardRole', action: 'kms:Decrypt', resource: KMS_KEY, expect: 'Denied', why: 'not directly' },
  { role: 'AviatrixSnatRole', action: 'kms:Decrypt', resource: KMS_KEY, context: { 'kms:ViaService': `s3.${REGION}.amazonaws.com` }, expect: 'Denied', why: 'not through another service' },
  { role: 'AviatrixSnatRole', action: 'kms:Decrypt', resource: KMS_KEY, context: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` }, expect: 'Allowed', why: 'decrypts the secret through Secrets Manager' },
  { role: 'AviatrixSnatRole', action: 'kms:Decrypt', resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/other`, context: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` }, expect: 'Denied', why: 'no other key' },
  // privateEndpointAccess: Lambda manages the kube functions' network interfaces with their role's rights.
  ...(['subnet/subnet-0a1b2c3d', 'subnet/subnet-0e1f2a3b', 'security-group/sg-0a1b2c3d4e5f60718'] as const).map((r): Request => ({ role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:CreateNetworkInterface', resource: ec2(r), expect: 'Allowed', why: 'privateEndpointAccess: an interface in a configured subnet, with the configured group' })),
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:CreateNetworkInterface', resource: ec2('subnet/subnet-theirs'), expect: 'Denied', why: 'no interface in another subnet' },
  { role: KUBE_RECONCILER_ROLE_ID, action: 'ec2:CreateNetworkInterface', resource: ec2('security-group/sg-theirs'), expect: 'Denied', why: 'no interface with another group' },
  ...(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'] as const).flatMap((action): Request[] => [
    { role: KUBE_RECONCILER_ROLE_ID, action, resource: ec2('network-interface/eni-0a1b2c3d'), context: { 'ec2:Subnet': ec2('subnet/subnet-0a1b2c3d') }, expect: 'Allowed', why: 'the functions\' own interfaces, in a configured subnet' },
    { role: KUBE_RECONCILER_ROLE_ID, action, resource: ec2('network-interface/eni-0a1b2c3d'), context: { 'ec2:Subnet': ec2('subnet/subnet-theirs') }, expect: 'Denied', why: 'not an interface in another subnet' },
  ]),
  { role: 'PodNetworkRole', action: 'ec2:CreateNetworkInterface', resource: ec2('subnet/subnet-0a1b2c3d'), expect: 'Denied', why: 'only the Kubernetes-writing functions run in the VPC' },
];

const SHIPPED = TEST_RAW_CONFIG;
const WIDER = { ...TEST_RAW_CONFIG, privateEndpointAccess: { subnetIds: ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'], securityGroupIds: ['sg-0a1b2c3d4e5f60718'] }, allowNodeReplacement: true, podSecurityGroups: 'reconcile', loadBalancerSubnets: { public: ['subnet-0123abcd'] }, aviatrix: { ...TEST_RAW_CONFIG.aviatrix, credentialsKmsKeyArn: KMS_KEY } };

async function evaluate(e: Evaluated, requests: Request[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const r of requests) {
    const resource = typeof r.resource === 'function' ? r.resource(e) : r.resource;
    const context = typeof r.context === 'function' ? r.context(e) : r.context ?? {};
    const got = await decide(e, r.role, r.action, resource, context);
    const decision = got === 'Allowed' ? 'Allowed' : got.endsWith('Denied') ? 'Denied' : got;
    if (decision !== r.expect) wrong.push(`${r.role} ${r.action} ${resource}: expected ${r.expect} (${r.why}), got ${got}`);
  }
  return wrong;
}

/** The table's rows with every config switch on (the actions do not depend on ARNs). */
/**
 * The Lambdas' AWS calls that the hub's permission table grants: all but assuming member roles,
 * which lib/hub-access.ts grants (each hub role its own member roles, evaluated in
 * test/permissions/member-evaluation.test.ts).
 */
function hubTableCalls(): Map<string, string[]> {
  const calls = lambdaSdkActions();
  expect(calls.get('sts:AssumeRole')).toEqual(['lambdas/shared/aws.ts']);
  calls.delete('sts:AssumeRole');
  return calls;
}

function widestTable() {
  return permissionTable({
    config: parseConfig(WIDER),
    account: ACCOUNT,
    region: REGION,
    statusTableArn: 'status',
    leaseTableArn: 'lease',
    claimTableArn: 'claims',
    roleArn: (id) => id,
    roleName: (id) => id,
    clusterStateMachineArn: 'cluster',
    offboardingStateMachineArn: 'offboarding',
    stateMachineArns: ['cluster'],
    executionArnPatterns: ['cluster:*'],
    notificationTopicArn: 'topic',
    notificationKeyArn: 'key',
    functionNetwork: { subnetIds: ['subnet-0a1b2c3d'], securityGroupIds: ['sg-0a1b2c3d4e5f60718'] },
  });
}

const matchesAction = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`).test(action);

describe('IAM evaluation of the synthesized roles', () => {
  let shipped: Evaluated;
  let wider: Evaluated;

  beforeAll(() => {
    shipped = synthesize(SHIPPED);
    wider = synthesize(WIDER);
  });

  it('allows what the code does on opted-in clusters and our resources, and denies the rest (shipped config)', async () => {
    expect(await evaluate(shipped, REQUESTS)).toEqual([]);
  });

  it('node replacement, a customer key and private endpoint access widen exactly their statements', async () => {
    expect(await evaluate(wider, WIDER_REQUESTS)).toEqual([]);
    // and narrow nothing else
    expect(await evaluate(wider, REQUESTS.filter((r) => !(r.action === 'autoscaling:StartInstanceRefresh' || r.action === 'kms:Decrypt' || (r.role === KUBE_RECONCILER_ROLE_ID && r.action === 'ec2:AuthorizeSecurityGroupIngress') || r.resource === ec2('subnet/subnet-lb'))))).toEqual([]);
  });

  it('keeps every role under IAM\'s 10,240-character quota for its inline policies', () => {
    // Generated role names are up to 64 characters, longer than the logical ids used here.
    const generated = (text: string) => text.replace(/[A-Za-z]+[0-9A-F]{8}\b/g, 'x'.repeat(64));
    const sizes = [...wider.policies].map(([role, docs]) => [role, docs.reduce((n, d) => n + generated(JSON.stringify(d)).length, 0)] as const);
    expect(sizes.filter(([, n]) => n > 10_240)).toEqual([]);
  });

  it('has an allowed request for every AWS call the Lambdas make', () => {
    const allowed = new Set([...REQUESTS, ...WIDER_REQUESTS].filter((r) => r.expect === 'Allowed').map((r) => r.action));
    const calls = hubTableCalls();
    expect(calls.size).toBeGreaterThan(20);
    const missing = [...calls].filter(([action]) => !allowed.has(action)).map(([action, files]) => `${action} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('every AWS call the Lambdas make has a row in the permission table', () => {
    const table = widestTable();
    const granted = Object.values(table).flat().flatMap((row) => row.actions);
    const missing = [...hubTableCalls().keys()].filter((action) => !granted.some((g) => matchesAction(g, action)));
    expect(missing).toEqual([]);
  });

  it('every statement of the table is exercised by an allowed request', () => {
    const table = widestTable();
    const allowed = [...REQUESTS, ...WIDER_REQUESTS].filter((r) => r.expect === 'Allowed');
    const unexercised = Object.entries(table).flatMap(([role, rows]) =>
      rows
        .filter((row) => !allowed.some((r) => r.role === role && row.actions.some((a) => matchesAction(a, r.action))))
        .map((row) => `${role} ${row.sid}`),
    );
    expect(unexercised).toEqual([]);
  });
});
