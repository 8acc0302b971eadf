// Template assertions on the synthesized onboarding stack (bundling skipped, see fixtures.ts).
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Stack } from 'aws-cdk-lib';
import { parseConfig } from '../../lib/config';
import { STEP_FUNCTIONS } from '../../lib/onboarding-stack';
import { synthStack, testConfig } from './fixtures';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

let template: Template;
let stack: Stack;

/** Renders a CloudFormation value (Fn::Join of strings and pseudo-parameter Refs) as one string. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, any>;
  if (v.Ref) return `<${v.Ref}>`;
  if (v['Fn::GetAtt']) return `<${v['Fn::GetAtt'].join('.')}>`;
  if (v['Fn::Join']) return (v['Fn::Join'][1] as unknown[]).map(render).join(v['Fn::Join'][0]);
  return JSON.stringify(value);
}

const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

function statements(): { policy: string; Action: string[]; Resource: string[]; Condition?: unknown }[] {
  const policies = template.findResources('AWS::IAM::Policy') as Resources;
  return Object.entries(policies).flatMap(([policy, r]) =>
    (r.Properties.PolicyDocument.Statement as any[]).map((s) => ({
      policy,
      Action: asList<string>(s.Action),
      Resource: asList<unknown>(s.Resource).map(render),
      Condition: s.Condition,
    })),
  );
}

beforeAll(() => {
  const started = Date.now();
  ({ stack } = synthStack());
  template = Template.fromStack(stack);
  // Measured: the app with esbuild bundling of the 6 functions takes 9 s (idle machine) to 26 s
  // (loaded, 2 CPUs); without bundling ~2 s in-process, hence aws:cdk:bundling-stacks=[] here.
  expect(Date.now() - started).toBeLessThan(60_000);
});

describe('EventBridge triggers', () => {
  const expectedRules = [['CreateCluster'], ['CreateNodegroup']];

  test('one rule per EKS API call, successful CloudTrail calls only', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule') as Resources);
    expect(rules.map((r) => r.Properties.EventPattern.detail.eventName).sort()).toEqual(expectedRules);
    for (const rule of rules) {
      expect(rule.Properties.EventPattern).toEqual({
        source: ['aws.eks'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          eventSource: ['eks.amazonaws.com'],
          eventName: rule.Properties.EventPattern.detail.eventName,
          errorCode: [{ exists: false }],
        },
      });
      expect(rule.Properties.State).toBe('ENABLED');
    }
  });

  test('no rule for the Delete* calls yet (their workflows come with issue 4)', () => {
    const names = Object.values(template.findResources('AWS::Events::Rule') as Resources).flatMap(
      (r) => r.Properties.EventPattern.detail.eventName as string[],
    );
    expect(names).not.toContain('DeleteCluster');
    expect(names).not.toContain('DeleteNodegroup');
  });

  test('each target starts the cluster state machine with retry policy and its own DLQ', () => {
    const machineId = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const rules = Object.values(template.findResources('AWS::Events::Rule') as Resources);
    const dlqs = new Set<string>();
    for (const rule of rules) {
      const targets = rule.Properties.Targets as any[];
      expect(targets).toHaveLength(1);
      const [target] = targets;
      expect(target.Arn).toEqual({ Ref: machineId });
      expect(target.Input).toBeUndefined(); // the whole event
      expect(target.InputTransformer).toBeUndefined();
      expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 });
      expect(target.DeadLetterConfig.Arn['Fn::GetAtt'][1]).toBe('Arn');
      dlqs.add(target.DeadLetterConfig.Arn['Fn::GetAtt'][0]);
    }
    expect(dlqs.size).toBe(rules.length);
    const queues = template.findResources('AWS::SQS::Queue') as Resources;
    for (const id of dlqs) {
      expect(queues[id].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    }
  });

  test('each DLQ policy lets EventBridge (from its rule only) send, and denies non-TLS access', () => {
    const queueIds = Object.keys(template.findResources('AWS::SQS::Queue'));
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy') as Resources);
    for (const queueId of queueIds) {
      const mine = policies.filter((p) => (p.Properties.Queues as any[]).some((q) => q.Ref === queueId));
      const mineStatements = mine.flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
      expect(mineStatements).toContainEqual(
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': expect.anything() } },
        }),
      );
      expect(mineStatements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });
});

describe('state machine', () => {
  test('Standard, logging ALL without execution data, tracing on, substitutions for every step', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      LoggingConfiguration: {
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: Match.anyValue() } }],
      },
      TracingConfiguration: { Enabled: true },
      DefinitionS3Location: Match.anyValue(),
    });
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Resources);
    const subs = machine.Properties.DefinitionSubstitutions as Record<string, unknown>;
    expect(Object.keys(subs).sort()).toEqual([...STEP_FUNCTIONS.map((s) => s.substitution), 'PollIntervalSeconds'].sort());
    expect(subs.PollIntervalSeconds).toBe('30');
  });

  test('its role may invoke exactly the six step functions', () => {
    const [machine] = Object.values(template.findResources('AWS::StepFunctions::StateMachine') as Resources);
    const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0];
    const invoke = statements().filter((s) => s.Action.some((a) => a.startsWith('lambda:')));
    expect(invoke).toHaveLength(1);
    expect(invoke[0].Action).toEqual(['lambda:InvokeFunction']);
    const fnIds = Object.keys(template.findResources('AWS::Lambda::Function'));
    expect(invoke[0].Resource.sort()).toEqual(fnIds.map((id) => `<${id}.Arn>`).sort());
    const policies = template.findResources('AWS::IAM::Policy') as Resources;
    expect((policies[invoke[0].policy].Properties.Roles as any[]).map((r) => r.Ref)).toEqual([roleId]);
  });
});

describe('functions', () => {
  test('six functions: nodejs22.x, arm64, 256 MB, active tracing, own log group, own role', () => {
    const fns = Object.values(template.findResources('AWS::Lambda::Function') as Resources);
    expect(fns).toHaveLength(STEP_FUNCTIONS.length);
    const roles = new Set<string>();
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        MemorySize: 256,
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
      });
      expect(fn.Properties.Timeout).toBeGreaterThanOrEqual(60);
      expect(fn.Properties.Timeout).toBeLessThanOrEqual(540);
      roles.add(fn.Properties.Role['Fn::GetAtt'][0]);
    }
    expect(roles.size).toBe(fns.length);
  });

  test('environment carries the validated config and the table names', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function') as Resources)) {
      const env = fn.Properties.Environment.Variables;
      expect(parseConfig(JSON.parse(env.ONBOARDING_CONFIG))).toEqual(testConfig());
      for (const key of ['STATUS_TABLE_NAME', 'LEASE_TABLE_NAME', 'RECONCILER_ROLE_ARN', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_LOG_LEVEL']) {
        expect(env[key]).toBeDefined();
      }
    }
  });

  test('no AWS managed policies on any role', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role') as Resources)) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/arn:[^"]*:iam::aws:policy\//);
  });

  test('eks:UpdateAddon only on the vpc-cni add-on ARN pattern', () => {
    const update = statements().filter((s) => s.Action.some((a) => a === 'eks:UpdateAddon' || a === 'eks:*' || a === '*'));
    expect(update).toHaveLength(1);
    expect(update[0].Resource).toEqual(['arn:<AWS::Partition>:eks:<AWS::Region>:<AWS::AccountId>:addon/*/vpc-cni/*']);
  });

  test('access-entry writes are pinned to one principal and one access policy', () => {
    const creates = statements().filter((s) => s.Action.includes('eks:CreateAccessEntry'));
    expect(creates).toHaveLength(2);
    for (const s of creates) expect(s.Condition).toEqual({ StringEquals: { 'eks:principalArn': expect.anything() } });
    const associates = statements().filter((s) => s.Action.includes('eks:AssociateAccessPolicy'));
    expect(associates.map((s) => render((s.Condition as any).StringEquals['eks:policyArn'])).sort()).toEqual([
      'arn:<AWS::Partition>:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy',
      'arn:<AWS::Partition>:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
    ]);
  });

  test('EC2 creates need the managed request tag; tags only on create', () => {
    const creates = statements().filter((s) => s.Action.some((a) => a === 'ec2:CreateSubnet' || a === 'ec2:CreateSecurityGroup'));
    for (const s of creates) {
      if (s.Resource.every((r) => r.endsWith(':vpc/*'))) continue;
      expect(s.Condition).toEqual({ StringEquals: { 'aws:RequestTag/eks-aviatrix:managed': 'true' } });
    }
    const tags = statements().filter((s) => s.Action.includes('ec2:CreateTags'));
    expect(tags).toHaveLength(1);
    expect(tags[0].Condition).toEqual({ StringEquals: { 'ec2:CreateAction': ['CreateSubnet', 'CreateSecurityGroup'] } });
  });

  test('secrets: only the configured secret, by name with the random suffix', () => {
    const secrets = statements().filter((s) => s.Action.some((a) => a.startsWith('secretsmanager:')));
    expect(secrets).toHaveLength(2);
    for (const s of secrets) {
      expect(s.Resource).toEqual([
        'arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:aviatrix/controller/api-??????',
      ]);
    }
  });
});

describe('tables', () => {
  test('status table and lease table', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'clusterName', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'leaseId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });
});

describe('table access', () => {
  test('only record-outcome touches the status table; only aviatrix-snat the lease table', () => {
    const dynamo = statements().filter((s) => s.Action.some((a) => a.startsWith('dynamodb:')));
    const byTable = (logicalPrefix: string) => dynamo.filter((s) => s.Resource.some((r) => r.startsWith(`<${logicalPrefix}`)));
    expect(byTable('StatusTable').map((s) => s.policy)).toEqual([expect.stringMatching(/^RecordOutcomeRole/)]);
    expect(byTable('LeaseTable').map((s) => s.policy)).toEqual([expect.stringMatching(/^AviatrixSnatRole/)]);
    expect(dynamo.flatMap((s) => s.Action).every((a) => !a.includes('*'))).toBe(true);
  });
});
