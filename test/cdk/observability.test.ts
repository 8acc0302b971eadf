// lib/observability.ts in the synthesized template: the notification topic, one alarm per state
// machine / dead-letter queue / function (errors and throttles), the drift and lease alarms, the
// dashboard, tracing, log retention and the saved queries; with and without the optional settings.
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../lib/config';
import { ALL_FUNCTIONS, CONSTRUCT_ID, STATE_MACHINES } from '../../lib/onboarding-stack';
import { synthesized, TEST_RAW_CONFIG } from './fixtures';

type Resources = Record<string, { Properties: any }>;

let template: Template;
let optional: Template;
let optionalAnnotations: Annotations;

const EXISTING_TOPIC = 'arn:aws:sns:eu-west-1:111122223333:platform-alerts';

beforeAll(() => {
  template = synthesized().template;
  ({ template: optional, annotations: optionalAnnotations } = synthesized({
    config: parseConfig({
      ...TEST_RAW_CONFIG,
      driftSchedule: 'cron(15 3 * * ? *)',
      operations: {
        notificationEmails: ['oncall@example.com', 'platform@example.org'],
        notificationTopicArn: EXISTING_TOPIC,
        chatbot: { slack: { workspaceId: 'T0123', channelId: 'C0456' }, teams: { teamId: 'team', channelId: 'chan', tenantId: 'tenant' } },
        logRetentionDays: 90,
        metricsNamespace: 'Platform/EksAviatrix',
      },
    }),
  }));
}, 120_000);

const resources = (t: Template, type: string) => Object.entries(t.findResources(type) as Resources);
const idOf = (t: Template, type: string, prefix: string) => {
  // Logical ids start with the construct path (Onboarding, then Functions/Workflows/... or Operations).
  const found = resources(t, type).filter(([id]) => new RegExp(`^${CONSTRUCT_ID}(Functions|Workflows|Triggers|State)?${prefix}`).test(id));
  expect(found).toHaveLength(1);
  return found[0][0];
};
const alarms = (t: Template) => resources(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
const topicId = () => idOf(template, 'AWS::SNS::Topic', 'OperationsTopic');

describe('the notification topic', () => {
  test('is KMS-encrypted with a rotating key and refuses non-TLS access', () => {
    const [[, topic]] = resources(template, 'AWS::SNS::Topic');
    const keyId = idOf(template, 'AWS::KMS::Key', 'OperationsTopicKey');
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(template.findResources('AWS::KMS::Key')[keyId].Properties.EnableKeyRotation).toBe(true);
    const [[, policy]] = resources(template, 'AWS::SNS::TopicPolicy');
    expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Alarms publish to it through the key: CloudWatch, from this account only.
    const keyPolicy = template.findResources('AWS::KMS::Key')[keyId].Properties.KeyPolicy.Statement as any[];
    expect(keyPolicy).toContainEqual(expect.objectContaining({
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    }));
    expect(resources(template, 'AWS::SNS::Subscription')).toEqual([]);
    expect(resources(template, 'AWS::Chatbot::SlackChannelConfiguration')).toEqual([]);
  });

  test('with the optional settings: the existing topic, email subscriptions, Slack and Teams channels, no topic of its own', () => {
    expect(resources(optional, 'AWS::SNS::Topic')).toEqual([]);
    expect(resources(optional, 'AWS::KMS::Key')).toEqual([]);
    const subs = resources(optional, 'AWS::SNS::Subscription').map(([, s]) => s.Properties);
    expect(subs.map((s) => [s.Protocol, s.Endpoint, s.TopicArn]).sort()).toEqual([
      ['email', 'oncall@example.com', EXISTING_TOPIC],
      ['email', 'platform@example.org', EXISTING_TOPIC],
    ]);
    optional.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123', SlackChannelId: 'C0456', SnsTopicArns: [EXISTING_TOPIC],
    });
    optional.hasResourceProperties('AWS::Chatbot::MicrosoftTeamsChannelConfiguration', {
      TeamId: 'team', TeamsChannelId: 'chan', TeamsTenantId: 'tenant', SnsTopicArns: [EXISTING_TOPIC],
    });
    for (const alarm of alarms(optional)) expect(alarm.AlarmActions).toEqual([EXISTING_TOPIC]);
  });
});

describe('the notify function', () => {
  test('hears every end of the three workflows and may read their history, the status record and publish', () => {
    const notify = idOf(template, 'AWS::Lambda::Function', 'Notify');
    const rule = resources(template, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern?.source?.[0] === 'aws.states')![1];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: {
        status: ['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED'],
        stateMachineArn: STATE_MACHINES.map((m) => ({ Ref: idOf(template, 'AWS::StepFunctions::StateMachine', m.id) })),
      },
    });
    expect(rule.Properties.Targets[0].Arn).toEqual({ 'Fn::GetAtt': [notify, 'Arn'] });
    expect(rule.Properties.Targets[0].DeadLetterConfig).toBeDefined();
    const env = template.findResources('AWS::Lambda::Function')[notify].Properties.Environment.Variables;
    expect(env.NOTIFICATION_TOPIC_ARN).toEqual({ Ref: topicId() });
    for (const m of STATE_MACHINES) expect(env[m.env]).toEqual({ Ref: idOf(template, 'AWS::StepFunctions::StateMachine', m.id) });

    // One policy per row of lib/permissions.ts.
    const statements = resources(template, 'AWS::IAM::Policy')
      .filter(([id]) => id.startsWith(`${CONSTRUCT_ID}FunctionsNotifyRole`))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as any[]);
    const history = statements.find((s) => s.Action === 'states:GetExecutionHistory');
    expect(history.Resource).toHaveLength(3);
    expect(JSON.stringify(history.Resource)).toMatch(/:execution:/);
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topicId() } }));
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'dynamodb:GetItem' }));
  });
});

describe('alarms', () => {
  test('every alarm notifies the topic and says what to do', () => {
    for (const alarm of alarms(template)) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topicId() }]);
      expect(alarm.AlarmDescription).toMatch(/Runbook: README\.md, "Runbook"\.$/);
    }
  });

  test('per state machine: failed + timed out + aborted executions, and one running longer than its configured waits allow', () => {
    for (const m of STATE_MACHINES) {
      const machine = idOf(template, 'AWS::StepFunctions::StateMachine', m.id);
      const ended = alarms(template).filter((a) => a.Metrics?.[0]?.Expression === 'failed + timedOut + aborted' &&
        a.Metrics.some((q: any) => q.MetricStat?.Metric.Dimensions?.[0].Value.Ref === machine));
      expect(ended).toHaveLength(1);
      expect(ended[0].Metrics.filter((q: any) => q.MetricStat).map((q: any) => q.MetricStat.Metric.MetricName).sort())
        .toEqual(['ExecutionsAborted', 'ExecutionsFailed', 'ExecutionsTimedOut']);
      expect(ended[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
      const long = alarms(template).filter((a) => a.MetricName === 'ExecutionTime' && a.Dimensions[0].Value.Ref === machine);
      expect(long).toHaveLength(1);
      expect(long[0]).toMatchObject({ Statistic: 'Maximum', ComparisonOperator: 'GreaterThanThreshold' });
    }
    // Cluster onboarding: ACTIVE wait (2700 s) + add-on wait (1200 s) + 30 min for the steps themselves.
    const cluster = idOf(template, 'AWS::StepFunctions::StateMachine', 'ClusterOnboarding');
    expect(alarms(template).find((a) => a.MetricName === 'ExecutionTime' && a.Dimensions[0].Value.Ref === cluster)!.Threshold).toBe((2700 + 1200 + 1800) * 1000);
  });

  test('one per dead-letter queue: any visible message', () => {
    const queues = resources(template, 'AWS::SQS::Queue').map(([id]) => id);
    expect(queues.length).toBe(9); // 4 triggers, drift schedule, start-workflow and drift-repair failures, notify's two
    for (const queue of queues) {
      const found = alarms(template).filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' &&
        a.Dimensions[0].Value['Fn::GetAtt'][0] === queue);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatchObject({ Statistic: 'Maximum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
  });

  test('per function: errors and throttles', () => {
    for (const spec of ALL_FUNCTIONS) {
      const fn = idOf(template, 'AWS::Lambda::Function', spec.id);
      for (const metric of ['Errors', 'Throttles']) {
        const found = alarms(template).filter((a) => a.Namespace === 'AWS/Lambda' && a.MetricName === metric && a.Dimensions[0].Value.Ref === fn);
        expect(found).toHaveLength(1);
        expect(found[0].AlarmDescription).toContain(`Function ${spec.name} `);
      }
    }
  });

  test('the drift-repair schedule not invoking anything for 2 intervals (missing data breaches)', () => {
    const rule = resources(template, 'AWS::Events::Rule').find(([, r]) => r.Properties.ScheduleExpression)![0];
    const drift = alarms(template).filter((a) => a.Namespace === 'AWS/Events');
    expect(drift).toEqual([expect.objectContaining({
      MetricName: 'Invocations', Dimensions: [{ Name: 'RuleName', Value: { Ref: rule } }],
      Period: 6 * 3600, EvaluationPeriods: 2, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
    })]);
    // A cron schedule has no fixed interval: one day, and a synth warning that says so.
    expect(alarms(optional).find((a) => a.Namespace === 'AWS/Events')!.Period).toBe(86400);
    expect(optionalAnnotations.findWarning('*', Match.stringLikeRegexp('driftSchedule "cron\\(15 3 \\* \\* \\? \\*\\)" has no fixed interval'))).toHaveLength(1);
  });

  test('lease acquisitions timing out, from the functions\' metric in the configured namespace', () => {
    expect(alarms(template).filter((a) => a.MetricName === 'LeaseTimeouts')).toEqual([expect.objectContaining({
      Namespace: 'EksAviatrixOnboarding', Statistic: 'Sum', Threshold: 1, Dimensions: [{ Name: 'service', Value: 'eks-aviatrix-onboarding' }],
    })]);
    expect(alarms(optional).find((a) => a.MetricName === 'LeaseTimeouts')!.Namespace).toBe('Platform/EksAviatrix');
  });

  test('no other alarms: 2 per machine, 1 per queue, 2 per function, drift and lease', () => {
    const expected = STATE_MACHINES.length * 2 + 9 + ALL_FUNCTIONS.length * 2 + 2;
    expect(alarms(template)).toHaveLength(expected);
  });
});

describe('dashboard, tracing, logs, metrics namespace', () => {
  test('the dashboard has the widgets the runbook refers to', () => {
    const [[, dashboard]] = resources(template, 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of [
      'Runs by workflow and outcome', 'Onboarding duration, event to onboarded (s)', 'ACTIVE to ENIConfig (s)', 'Failures by reason',
      'Dead-letter queue depth', 'Lambda errors', 'Lambda duration p95 (ms)', 'Lambda throttles', 'Controller latency p95 by action (ms)', 'Alarms',
    ]) expect(body).toContain(`\\"title\\":\\"${title}\\"`);
    expect(body).toContain('SEARCH(\'{EksAviatrixOnboarding,service,Workflow,Outcome} MetricName=\\\\\\"Runs\\\\\\"\'');
  });

  test('X-Ray: active tracing on every function and tracing on every state machine', () => {
    const fns = resources(template, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Handler === 'index.handler');
    expect(fns).toHaveLength(ALL_FUNCTIONS.length);
    for (const [, fn] of fns) expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    for (const [, machine] of resources(template, 'AWS::StepFunctions::StateMachine')) {
      expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    }
  });

  test('every log group keeps the configured retention (default 30 days); the metrics namespace reaches every function', () => {
    for (const [t, days, namespace] of [[template, 30, 'EksAviatrixOnboarding'], [optional, 90, 'Platform/EksAviatrix']] as const) {
      const groups = resources(t, 'AWS::Logs::LogGroup');
      expect(groups.length).toBe(ALL_FUNCTIONS.length + STATE_MACHINES.length);
      for (const [, group] of groups) expect(group.Properties.RetentionInDays).toBe(days);
      for (const [, fn] of resources(t, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Handler === 'index.handler')) {
        expect(fn.Properties.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe(namespace);
      }
    }
  });

  test('saved Logs Insights queries: one cluster\'s history and the failures, over every function\'s logs', () => {
    const queries = resources(template, 'AWS::Logs::QueryDefinition').map(([, q]) => q.Properties);
    expect(queries.map((q) => q.Name).sort()).toEqual([
      'TestOnboarding/failures (run over the last 24 hours)',
      'TestOnboarding/one-cluster-history (replace CLUSTER)',
    ]);
    const history = queries.find((q) => q.Name.includes('history'))!;
    expect(history.QueryString).toContain('| filter clusterName = "CLUSTER"');
    expect(queries.find((q) => q.Name.includes('failures'))!.QueryString).toContain('| filter level = "ERROR"');
    for (const q of queries) expect(q.LogGroupNames).toHaveLength(ALL_FUNCTIONS.length);
  });
});
