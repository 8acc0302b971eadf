// The EksAviatrixOnboarding construct embedded in someone else's stack: its names come from the
// naming prefix (what the CLI and the README's console steps rely on), and it keeps to its own
// resources next to the app's.
import { App, Lazy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { EksAviatrixOnboarding, resourceNames } from '../../index';
import { ALL_FUNCTIONS } from '../../lib/functions';
import { TEST_RAW_CONFIG, testConfig } from './fixtures';
import { MULTI_ACCOUNT_RAW_CONFIG } from './member-fixtures';
import { OnboardingConfig, parseConfig } from '../../lib/config';
import { openStampedConfig } from '../../lambdas/shared/config-stamp';

function embed(props: { namePrefix?: string; pollIntervalSeconds?: number } = {}, config = testConfig()): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'PlatformStack', { env: { account: '210987654321', region: 'eu-west-1' } });
  new sqs.Queue(stack, 'AppOwnQueue');
  new EksAviatrixOnboarding(stack, 'Aviatrix', { config, ...props });
  return Template.fromStack(stack);
}

const names = (t: Template, type: string, property: string) =>
  Object.values(t.findResources(type)).map((r) => (r as { Properties: Record<string, unknown> }).Properties[property]).sort();

describe('stable names from the naming prefix', () => {
  let defaults: Template;
  beforeAll(() => {
    defaults = embed();
  }, 120_000);

  test('default prefix eks-aviatrix: state machines, tables, functions and their log groups', () => {
    expect(names(defaults, 'AWS::StepFunctions::StateMachine', 'StateMachineName')).toEqual(
      ['eks-aviatrix-cluster-offboarding', 'eks-aviatrix-cluster-onboarding', 'eks-aviatrix-nodegroup-onboarding'],
    );
    expect(names(defaults, 'AWS::DynamoDB::Table', 'TableName')).toEqual(['eks-aviatrix-claims', 'eks-aviatrix-leases', 'eks-aviatrix-status']);
    expect(names(defaults, 'AWS::Lambda::Function', 'FunctionName')).toEqual(ALL_FUNCTIONS.map((f) => `eks-aviatrix-${f.name}`).sort());
    const logGroups = names(defaults, 'AWS::Logs::LogGroup', 'LogGroupName');
    for (const f of ALL_FUNCTIONS) expect(logGroups).toContain(`/aws/lambda/eks-aviatrix-${f.name}`);
    expect(logGroups).toContain('/aws/vendedlogs/states/eks-aviatrix-cluster-onboarding');
    // The same names the CLI and the local world compute.
    expect(resourceNames().stateMachines.ClusterOnboarding).toBe('eks-aviatrix-cluster-onboarding');
    expect(resourceNames().statusTable).toBe('eks-aviatrix-status');
  });

  test('the embedding app\'s own queue gets no onboarding alarm (only the onboarding\'s dead-letter queues do)', () => {
    const appQueue = Object.keys(defaults.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('AppOwnQueue'))!;
    const alarmText = JSON.stringify(defaults.findResources('AWS::CloudWatch::Alarm'));
    expect(alarmText).not.toContain(appQueue);
    expect(Object.keys(defaults.findResources('AWS::SQS::Queue'))).toHaveLength(10);
  });

  test('namePrefix renames everything; a second copy in one account does not collide', () => {
    const other = embed({ namePrefix: 'platform-onb' });
    expect(names(other, 'AWS::StepFunctions::StateMachine', 'StateMachineName')).toEqual(
      ['platform-onb-cluster-offboarding', 'platform-onb-cluster-onboarding', 'platform-onb-nodegroup-onboarding'],
    );
    expect(names(other, 'AWS::DynamoDB::Table', 'TableName')).toEqual(['platform-onb-claims', 'platform-onb-leases', 'platform-onb-status']);
    // start-workflow's IAM covers executions of the renamed machines, not the default ones.
    const policies = JSON.stringify(other.findResources('AWS::IAM::Policy'));
    expect(policies).toContain(':execution:platform-onb-cluster-onboarding:*');
    expect(policies).not.toContain('eks-aviatrix-cluster-onboarding');
  }, 120_000);

  test('a bad prefix or poll interval is refused with the property named', () => {
    expect(() => embed({ namePrefix: 'Eks_Aviatrix' })).toThrow(/naming prefix "Eks_Aviatrix" must be 2-31 lowercase letters/);
    expect(() => embed({ namePrefix: 'eks-' })).toThrow(/naming prefix "eks-"/);
    expect(() => embed({ pollIntervalSeconds: 0 })).toThrow(/pollIntervalSeconds must be a whole number of seconds from 1 to 3600, got 0/);
    // Member roles trust the hub roles by their prefixed names: a hub prefix other than the construct's would lock them out.
    expect(() => embed({ namePrefix: 'other-copy' }, parseConfig(MULTI_ACCOUNT_RAW_CONFIG))).toThrow(
      /onboarding\.hub\.namePrefix "eks-aviatrix" must equal the naming prefix "other-copy"/,
    );
  });
});

describe('the construct validates the config it is given: an adopter\'s code need not have parsed it', () => {
  test('a bad value or a misspelt key fails synth naming the key', () => {
    expect(() => embed({}, { ...testConfig(), secondaryCidr: '100.64.0.0/33' })).toThrow(
      /Invalid onboarding config:\n {2}- onboarding\.secondaryCidr must be an IPv4 network in CIDR form, got "100\.64\.0\.0\/33"/,
    );
    const misspelt = { ...testConfig(), driftSchedul: 'rate(1 hour)' } as unknown as OnboardingConfig;
    expect(() => embed({}, misspelt)).toThrow(/onboarding\.driftSchedul is not a known setting/);
  });

  test('a CDK token in the config fails synth naming where it is: there is no value to validate before deploy', () => {
    const config = testConfig();
    const withTokens = {
      ...config,
      aviatrix: { ...config.aviatrix, credentialsSecretName: Lazy.string({ produce: () => 'made-by-the-app' }) },
      operations: { ...config.operations, notificationEmails: ['ops@example.com', Lazy.string({ produce: () => 'oncall@example.com' })] },
    };
    expect(() => embed({}, withTokens)).toThrow(
      'EksAviatrixOnboarding PlatformStack/Aviatrix: onboarding.aviatrix.credentialsSecretName, onboarding.operations.notificationEmails[1] are CDK tokens, known only at deploy; ' +
        'the config is validated at synth, so give the literal value (the name or ARN as a string)',
    );
  });

  test('a config that never went through parseConfig reaches every Lambda parsed (defaults filled) and stamped', () => {
    const template = embed({}, TEST_RAW_CONFIG as unknown as OnboardingConfig);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: { Environment: { Variables: Record<string, string> } } }[];
    expect(functions).toHaveLength(ALL_FUNCTIONS.length);
    expect(TEST_RAW_CONFIG).not.toHaveProperty('clusterActiveTimeoutSeconds');
    for (const fn of functions) {
      const env = fn.Properties.Environment.Variables;
      const opened = openStampedConfig(env.ONBOARDING_CONFIG, env.ONBOARDING_CONFIG_SHA256);
      expect(opened).toEqual({ config: parseConfig(TEST_RAW_CONFIG) });
      expect(opened).toMatchObject({ config: { clusterActiveTimeoutSeconds: 45 * 60 } });
    }
  }, 120_000);
});
