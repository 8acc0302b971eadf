// lib/config.ts, hub and members: defaults, one account and Region when absent, and every invalid
// setting named with what to give instead.
import { ConfigError, parseConfig } from '../lib/config';

const base = {
  aviatrix: {
    controllerUrl: 'https://controller.example.internal',
    credentialsSecretName: 'aviatrix/controller/api',
    controllerRoleArn: 'arn:aws:iam::111122223333:role/aviatrix-role-app',
  },
};
const hub = { account: '111122223333', region: 'eu-west-1' };
const members = { accounts: ['444455556666'], externalId: 'eks-aviatrix-hub-7f3a' };

function problems(raw: object): string[] {
  try {
    parseConfig(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

test('without hub and members: one account and Region, no multi-account keys', () => {
  const config = parseConfig(base);
  expect(config.hub).toBeUndefined();
  expect(config.members).toBeUndefined();
});

test('defaults: the default bus, the hub stack name as prefix, the hub Region as the only member Region', () => {
  expect(parseConfig({ ...base, hub, members })).toMatchObject({
    hub: { account: '111122223333', region: 'eu-west-1', eventBusName: 'default', namePrefix: 'eks-aviatrix' },
    members: { accounts: ['444455556666'], regions: ['eu-west-1'], externalId: 'eks-aviatrix-hub-7f3a', roleNamePrefix: 'eks-aviatrix-member' },
  });
});

test('an Organization alone serves every account of it and stands for the external id', () => {
  const config = parseConfig({ ...base, hub, members: { organizationId: 'o-abcdefghij', regions: ['eu-west-1', 'us-east-1'] } });
  expect(config.members).toEqual({ accounts: [], organizationId: 'o-abcdefghij', regions: ['eu-west-1', 'us-east-1'], roleNamePrefix: 'eks-aviatrix-member', aviatrixAccounts: {} });
});

test.each([
  ['members without hub', { members }, /onboarding\.members is set but onboarding\.hub is not: give the hub's account and region/],
  ['hub without members', { hub }, /onboarding\.hub is set but onboarding\.members is not/],
  ['a hub account that is no account id', { hub: { ...hub, account: '1111' }, members }, /onboarding\.hub\.account must be a 12-digit AWS account id, got "1111"/],
  ['a hub Region that is no Region', { hub: { ...hub, region: 'Ireland' }, members }, /onboarding\.hub\.region must be an AWS Region name/],
  ['a bus ARN for a bus name', { hub: { ...hub, eventBusName: 'arn:aws:events:eu-west-1:111122223333:event-bus/x' }, members }, /onboarding\.hub\.eventBusName must be an event bus name \(not an ARN\)/],
  ['a wildcard in the hub prefix', { hub: { ...hub, namePrefix: 'Eks*' }, members }, /onboarding\.hub\.namePrefix must be 1-40 IAM name characters/],
  ['neither accounts nor an Organization', { hub, members: { externalId: 'x-1' } }, /onboarding\.members must list accounts or give organizationId/],
  ['an account list with a bad id', { hub, members: { ...members, accounts: ['444455556666', 'prod'] } }, /onboarding\.members\.accounts must be a list of 12-digit AWS account ids/],
  ['a bad Organization id', { hub, members: { ...members, organizationId: 'my-org' } }, /onboarding\.members\.organizationId must be an AWS Organization id/],
  ['neither an external id nor an Organization', { hub, members: { accounts: ['444455556666'] } }, /onboarding\.members needs externalId or organizationId/],
  ['a bad Region in the list', { hub, members: { ...members, regions: ['eu-west-1', 'mars'] } }, /onboarding\.members\.regions must be a list of AWS Region names/],
  ['a member role prefix too long for IAM\'s 64 characters', { hub, members: { ...members, roleNamePrefix: 'x'.repeat(31) } }, /onboarding\.members\.roleNamePrefix must be 1-30 IAM name characters/],
  ['a wildcard in the member role prefix', { hub, members: { ...members, roleNamePrefix: 'member-*' } }, /onboarding\.members\.roleNamePrefix must be 1-30 IAM name characters/],
  ['member roles named like the hub\'s', { hub, members: { ...members, roleNamePrefix: 'eks-aviatrix-hub-m' } }, /onboarding\.members\.roleNamePrefix must not start with the hub's "eks-aviatrix-hub-"/],
  ['a misspelt key', { hub, members: { ...members, externalID: 'x' } }, /onboarding\.members\.externalID is not a known setting/],
  ['an access account mapped from no account id', { hub, members: { ...members, aviatrixAccounts: { prod: 'prod-b' } } }, /onboarding\.members\.aviatrixAccounts must map 12-digit AWS account ids to Aviatrix access account names/],
  ['an access account map given as a list', { hub, members: { ...members, aviatrixAccounts: ['prod-b'] } }, /onboarding\.members\.aviatrixAccounts must map/],
])('%s is refused, naming the key', (_name, extra, message) => {
  expect(problems({ ...base, ...extra })).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
});

describe('privateEndpointAccess', () => {
  const access = { subnetIds: ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'], securityGroupIds: ['sg-0a1b2c3d4e5f60718'] };

  test('absent unless set; kept as given when valid', () => {
    expect(parseConfig(base).privateEndpointAccess).toBeUndefined();
    expect(parseConfig({ ...base, privateEndpointAccess: access }).privateEndpointAccess).toEqual(access);
    // Without security groups the stack makes the functions' own group in the named VPC.
    const ours = { vpcId: 'vpc-0a1b2c3d', subnetIds: access.subnetIds, sourceCidrs: ['10.10.0.0/16'] };
    expect(parseConfig({ ...base, privateEndpointAccess: ours }).privateEndpointAccess).toEqual(ours);
  });

  test.each([
    ['one subnet (one AZ)', { ...access, subnetIds: ['subnet-0a1b2c3d'] }, /onboarding\.privateEndpointAccess\.subnetIds must list at least two subnets/],
    ['a subnet ARN for an id', { ...access, subnetIds: ['arn:aws:ec2:eu-west-1:111122223333:subnet/subnet-0a1b2c3d', 'subnet-0e1f2a3b'] }, /onboarding\.privateEndpointAccess\.subnetIds must be a list of subnet ids/],
    ['no security group', { ...access, securityGroupIds: [] }, /onboarding\.privateEndpointAccess\.securityGroupIds must list the security group/],
    ['a misspelt key', { ...access, subnets: [] }, /onboarding\.privateEndpointAccess\.subnets is not a known setting/],
    ['neither a security group nor the VPC to make one in', { subnetIds: access.subnetIds }, /onboarding\.privateEndpointAccess\.vpcId is required without onboarding\.privateEndpointAccess\.securityGroupIds/],
    ['a VPC that is not an id', { subnetIds: access.subnetIds, vpcId: 'shared-services' }, /onboarding\.privateEndpointAccess\.vpcId must be a VPC id/],
    ['a source that is not a CIDR', { ...access, sourceCidrs: ['10.10.0.0/33'] }, /onboarding\.privateEndpointAccess\.sourceCidrs holds "10\.10\.0\.0\/33", which is not an IPv4 CIDR/],
    ['an empty list of sources', { ...access, sourceCidrs: [] }, /onboarding\.privateEndpointAccess\.sourceCidrs must list at least one CIDR/],
  ])('%s is refused, naming the key', (_name, value, message) => {
    expect(problems({ ...base, privateEndpointAccess: value })).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});
