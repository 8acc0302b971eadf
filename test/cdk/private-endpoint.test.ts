// onboarding.privateEndpointAccess in the synthesized stack: the functions that call the Kubernetes
// API run in the configured subnets with the configured (or the stack's own, egress-443-only)
// security group, every other function stays out of any VPC, the network-interface rights are
// limited to those subnets and groups, and cdk-nag has nothing to say.
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { openStampedConfig } from '../../lambdas/shared/config-stamp';
import { STEP_FUNCTIONS, SERVICE_FUNCTIONS } from '../../lib/functions';
import { memberPermissionTable } from '../../lib/multi-account';
import { synthStack, TEST_RAW_CONFIG } from './fixtures';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const SUBNETS = ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'];
const KUBE_FUNCTIONS = ['vpc-cni', 'nodegroup'];
const ALL = [...STEP_FUNCTIONS, ...SERVICE_FUNCTIONS].map((f) => f.name);

function synth(privateEndpointAccess?: object) {
  const { stack } = synthStack({ config: parseConfig({ ...TEST_RAW_CONFIG, ...(privateEndpointAccess ? { privateEndpointAccess } : {}) }) });
  return { stack, template: Template.fromStack(stack).toJSON() as Json };
}

/** Function name (lambdas/<name>) -> its CloudFormation resource. */
function functionsByName(template: Json): Map<string, Json> {
  const fns = Object.values(template.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Description ?? '').startsWith('eks-aviatrix-onboarding: '));
  return new Map(fns.map((r) => [String(r.Properties.Description).replace('eks-aviatrix-onboarding: ', ''), r]));
}

/** The statements of the kube reconciler role's inline policies that grant network-interface writes. */
function interfaceStatements(template: Json): Json[] {
  return Object.values(template.Resources as Record<string, Json>)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => r.Properties.PolicyDocument.Statement as Json[])
    .filter((s) => [s.Action].flat().some((a: string) => /^ec2:(Create|Delete)NetworkInterface$|PrivateIpAddresses$/.test(a)));
}

describe('with privateEndpointAccess and no security group: the stack makes one', () => {
  let template: Json;
  let stack: ReturnType<typeof synth>['stack'];
  beforeAll(() => ({ template, stack } = synth({ vpcId: 'vpc-0a1b2c3d', subnetIds: SUBNETS })));

  it('puts exactly the Kubernetes-writing functions in the subnets, with the stack\'s group', () => {
    const fns = functionsByName(template);
    expect([...fns.keys()].sort()).toEqual([...ALL].sort());
    const groups = Object.entries(template.Resources as Record<string, Json>).filter(([, r]) => r.Type === 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1);
    const [groupId, group] = groups[0];
    for (const name of ALL) {
      const vpcConfig = fns.get(name).Properties.VpcConfig;
      if (KUBE_FUNCTIONS.includes(name)) expect(vpcConfig).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: [{ 'Fn::GetAtt': [groupId, 'GroupId'] }] });
      else expect(vpcConfig).toBeUndefined();
    }
    // Egress 443 only, no ingress: nothing reaches the functions, they reach only HTTPS endpoints.
    expect(group.Properties.VpcId).toBe('vpc-0a1b2c3d');
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' })]);
  });

  it('hands the group to the Lambdas in their config: the network step admits it on the cluster security group', () => {
    const env = functionsByName(template).get('pod-network').Properties.Environment.Variables.ONBOARDING_CONFIG;
    const groupId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::EC2::SecurityGroup');
    const rendered = (env['Fn::Join'][1] as Json[]).map((part) => (typeof part === 'string' ? part : `<${part['Fn::GetAtt']?.[0]}>`)).join('');
    expect(JSON.parse(rendered).privateEndpointAccess).toEqual({ vpcId: 'vpc-0a1b2c3d', subnetIds: SUBNETS, securityGroupIds: [`<${groupId}>`] });
  });

  it('leaves the group out of the config\'s digest: the config CloudFormation renders is trusted by the Lambdas, with the group\'s id', () => {
    const env = functionsByName(template).get('pod-network').Properties.Environment.Variables;
    const deployed = (env.ONBOARDING_CONFIG['Fn::Join'][1] as Json[]).map((part) => (typeof part === 'string' ? part : 'sg-0123456789abcdef0')).join('');
    const opened = openStampedConfig(deployed, env.ONBOARDING_CONFIG_SHA256);
    expect(opened).toMatchObject({ config: { privateEndpointAccess: { vpcId: 'vpc-0a1b2c3d', subnetIds: SUBNETS, securityGroupIds: ['sg-0123456789abcdef0'] } } });
    // Any other change is still refused.
    expect(openStampedConfig(deployed.replace('vpc-0a1b2c3d', 'vpc-0fffffff'), env.ONBOARDING_CONFIG_SHA256)).toEqual({ problem: expect.stringMatching(/does not match its ONBOARDING_CONFIG_SHA256/) });
  });

  it('grants the network-interface rights of AWSLambdaVPCAccessExecutionRole in those subnets and that group only, and no managed policy', () => {
    const statements = interfaceStatements(template);
    const subnetArn = (id: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ec2:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:subnet/${id}`]] });
    expect(statements).toHaveLength(2);
    const sides = statements.find((s) => s.Condition === undefined);
    expect(sides.Action).toBe('ec2:CreateNetworkInterface');
    expect(sides.Resource).toEqual(expect.arrayContaining(SUBNETS.map(subnetArn)));
    expect(sides.Resource).toHaveLength(3);
    const interfaces = statements.find((s) => s.Condition !== undefined);
    expect(interfaces.Condition).toEqual({ ArnEquals: { 'ec2:Subnet': SUBNETS.map(subnetArn) } });
    for (const role of Object.values(template.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('leaves cdk-nag nothing unsuppressed', () => {
    const annotations = Annotations.fromStack(stack);
    const findings = [...annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')), ...annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'))];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`)).toEqual([]);
    expect(annotations.findError('*', Match.anyValue())).toEqual([]);
  });
});

test('with the security group named in config: no group is made, the functions use it', () => {
  const { template } = synth({ subnetIds: SUBNETS, securityGroupIds: ['sg-0a1b2c3d4e5f60718'] });
  expect(Object.values(template.Resources as Record<string, Json>).filter((r) => r.Type === 'AWS::EC2::SecurityGroup')).toEqual([]);
  const fns = functionsByName(template);
  for (const name of KUBE_FUNCTIONS) expect(fns.get(name).Properties.VpcConfig).toEqual({ SubnetIds: SUBNETS, SecurityGroupIds: ['sg-0a1b2c3d4e5f60718'] });
});

test('without privateEndpointAccess: no function in a VPC and no network-interface rights', () => {
  const { template } = synth();
  for (const fn of functionsByName(template).values()) expect(fn.Properties.VpcConfig).toBeUndefined();
  expect(interfaceStatements(template)).toEqual([]);
});

test('member roles get no network-interface rights: the functions run in the hub', () => {
  const config = parseConfig({
    ...TEST_RAW_CONFIG,
    privateEndpointAccess: { subnetIds: SUBNETS, securityGroupIds: ['sg-0a1b2c3d4e5f60718'] },
    hub: { account: '111122223333', region: 'eu-west-1' },
    members: { accounts: ['444455556666'], externalId: 'eks-aviatrix-test' },
  });
  const table = memberPermissionTable(config, { account: '444455556666', region: 'eu-west-1', roleArn: (id) => id, roleName: (id) => id });
  const actions = Object.values(table).flat().flatMap((row) => row.actions);
  expect(actions).toContain('ec2:AuthorizeSecurityGroupIngress'); // the 443 rule on a member cluster's group
  expect(actions.filter((a) => /NetworkInterface$|PrivateIpAddresses$/.test(a))).toEqual([]);
});
