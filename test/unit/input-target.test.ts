// The cluster's account and Region in the workflow input (issue 14): where they come from, that they
// travel only outside the hub's own account and Region, and the refusals of bad ones.
import { normalizeInput } from '../../lambdas/domain/input';
import { OnboardingError } from '../../lambdas/shared/errors';
import { clusterKey, controllerKey, vpcKey } from '../../lambdas/shared/lease';
import { withTarget } from '../../lambdas/shared/target';

const HUB = '123456789012';
const MEMBER = '222222222222';
const saved = { account: process.env.HUB_ACCOUNT_ID, region: process.env.AWS_REGION };

beforeAll(() => {
  process.env.HUB_ACCOUNT_ID = HUB;
  process.env.AWS_REGION = 'us-east-1';
});

afterAll(() => {
  for (const [key, value] of [['HUB_ACCOUNT_ID', saved.account], ['AWS_REGION', saved.region]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

const createEvent = (account: unknown, region: unknown) => ({
  id: 'evt-1',
  account,
  region,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.eks',
  detail: { eventSource: 'eks.amazonaws.com', eventName: 'CreateCluster', eventID: 'ct-1', requestParameters: { name: 'prod' } },
});

function refusal(raw: unknown): string {
  try {
    normalizeInput(raw);
  } catch (error) {
    if (error instanceof OnboardingError && error.name === 'InvalidInput') return error.message;
    throw error;
  }
  throw new Error('expected the input to be refused');
}

describe('the target in the workflow input', () => {
  it('a member\'s CloudTrail event carries its account and Region; the hub\'s own carries none', () => {
    expect(normalizeInput(createEvent(MEMBER, 'eu-west-1'))).toMatchObject({ clusterName: 'prod', account: MEMBER, region: 'eu-west-1' });
    const own = normalizeInput(createEvent(HUB, 'us-east-1'));
    expect(own).not.toHaveProperty('account');
    expect(own).not.toHaveProperty('region');
    // The hub's account in another Region is a target too (its member stack holds that Region's roles).
    expect(normalizeInput(createEvent(HUB, 'eu-west-1'))).toMatchObject({ account: HUB, region: 'eu-west-1' });
  });

  it('a manual input names the cluster by ARN, or by name with account and/or Region (defaults: the hub\'s)', () => {
    expect(normalizeInput({ clusterArn: `arn:aws:eks:eu-west-1:${MEMBER}:cluster/prod` })).toEqual({
      clusterName: 'prod', account: MEMBER, region: 'eu-west-1', dryRun: false, trigger: 'Manual',
    });
    expect(normalizeInput({ clusterName: 'prod', account: MEMBER })).toMatchObject({ account: MEMBER, region: 'us-east-1' });
    expect(normalizeInput({ clusterName: 'prod', region: 'eu-west-1' })).toMatchObject({ account: HUB, region: 'eu-west-1' });
    expect(normalizeInput({ clusterName: 'prod', account: HUB, region: 'us-east-1' })).toEqual({ clusterName: 'prod', dryRun: false, trigger: 'Manual' });
  });

  it('refuses a bad account, Region or ARN, and an ARN given with a name, account or Region', () => {
    expect(refusal({ clusterName: 'prod', account: '2222' })).toBe('workflow input: account "2222" is not a 12-digit AWS account id');
    expect(refusal({ clusterName: 'prod', region: 'Europe' })).toBe('workflow input: region "Europe" is not an AWS Region name such as "eu-west-1"');
    expect(refusal({ clusterArn: 'arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-1' })).toBe(
      'workflow input: clusterArn "arn:aws:ec2:eu-west-1:222222222222:vpc/vpc-1" is not an EKS cluster ARN (arn:aws:eks:<region>:<account>:cluster/<name>)',
    );
    expect(refusal({ clusterArn: `arn:aws:eks:eu-west-1:${MEMBER}:cluster/prod`, account: MEMBER })).toBe(
      "workflow input gives clusterArn and account: give either clusterArn or clusterName (with account and region when not the hub's own)",
    );
    expect(refusal(createEvent('not-an-account', 'eu-west-1'))).toBe('event evt-1: account "not-an-account" is not a 12-digit AWS account id');
    expect(refusal({})).toBe('workflow input needs "clusterName" or "clusterArn", for example {"clusterName": "prod-a"}');
  });
});

describe('keys of the ambient target', () => {
  it('cluster, VPC and controller leases are scoped by account and Region outside the hub, bare inside it', () => {
    const keys = () => [clusterKey('prod'), vpcKey('vpc-1'), controllerKey('prod')];
    expect(withTarget({ account: MEMBER, region: 'eu-west-1' }, keys)).toEqual([
      `cluster#${MEMBER}/eu-west-1/prod`, `vpc#${MEMBER}/eu-west-1/vpc-1`, `controller#${MEMBER}/eu-west-1/prod`,
    ]);
    // A single-account deployment's leases keep their keys.
    expect(withTarget(undefined, keys)).toEqual(['cluster#prod', 'vpc#vpc-1', 'controller#prod']);
  });
});
