// Operations: who hears about a failed onboarding, and where a person looks. One SNS topic (KMS,
// TLS-only) that receives the notify function's messages and every alarm; the alarms (each says
// what to do, the README's Runbook says more); a dashboard; saved Logs Insights queries; the metrics
// namespace handed to the functions. Plain CloudWatch constructs from one table of alarms:
// cdk-monitoring-constructs was measured (README, Operations) and adds ~3.6x the template per
// monitored resource and 11 MB of dependency for widgets this dashboard does not need.
import * as fs from 'fs';
import { Annotations, Aws, Duration, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC, SERVICE_NAME } from '../lambdas/shared/metrics';
import { OnboardingConfig } from './config';
import { deadLetterQueue, functionTarget, TARGET_MAX_EVENT_AGE } from './eks-api-trigger';

export interface WorkflowSpec {
  id: string;
  machine: sfn.StateMachine;
  /** The ASL file (its TimeoutSeconds). */
  aslPath: string;
  /** Env variable the notify function finds the machine's ARN under. */
  env: string;
  /** Seconds a run may legitimately take (its config-bounded waits); an alarm fires past that plus a margin. */
  expectedSeconds: number;
}

export interface ObservabilityProps {
  config: OnboardingConfig;
  functions: Record<string, lambda.Function>;
  workflows: WorkflowSpec[];
  statusTable: dynamodb.ITable;
  driftRepairRule: events.Rule;
}

/** Time a run's own steps take on top of its waits (API calls, controller, add-on rollout). */
const RUN_MARGIN_SECONDS = 30 * 60;
const FIVE_MINUTES = Duration.minutes(5);

/** The interval of a `rate(...)` schedule in seconds; undefined for `cron(...)`. */
export function scheduleSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!m) return undefined;
  return Number(m[1]) * { minute: 60, hour: 3600, day: 86400 }[m[2] as 'minute' | 'hour' | 'day'];
}

export class Observability extends Construct {
  readonly topic: sns.ITopic;
  /** The key of the topic this construct made (none for a topic from config). */
  topicKeyArn?: string;
  readonly alarms: cw.Alarm[] = [];
  readonly dashboard: cw.Dashboard;
  readonly notifyRule: events.Rule;
  private readonly namespace: string;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const ops = props.config.operations;
    this.namespace = ops.metricsNamespace;
    this.topic = this.notificationTopic(props.config);
    for (const fn of Object.values(props.functions)) fn.addEnvironment('POWERTOOLS_METRICS_NAMESPACE', this.namespace);
    this.notifyRule = this.wireNotify(props);

    // Every queue of the onboarding is a dead-letter queue (the triggers', the functions' failures,
    // notify's); the embedding app's own queues are none of its business.
    const queues = (this.node.scope ?? this).node.findAll().filter((c): c is sqs.Queue => c instanceof sqs.Queue);
    this.addAlarms(props, queues);
    this.dashboard = this.buildDashboard(props, queues);
    this.savedQueries(Object.values(props.functions));
  }

  private notificationTopic(config: OnboardingConfig): sns.ITopic {
    const ops = config.operations;
    let topic: sns.ITopic;
    if (ops.notificationTopicArn) {
      topic = sns.Topic.fromTopicArn(this, 'Topic', ops.notificationTopicArn);
    } else {
      const key = new kms.Key(this, 'TopicKey', {
        description: 'eks-aviatrix-onboarding notification topic',
        enableKeyRotation: true,
      });
      // CloudWatch alarms publish to the encrypted topic: they need the key (this account's alarms only).
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsPublish',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
      topic = new sns.Topic(this, 'Topic', { displayName: 'EKS Aviatrix onboarding', masterKey: key, enforceSSL: true });
      this.topicKeyArn = key.keyArn;
    }
    for (const email of ops.notificationEmails) topic.addSubscription(new subscriptions.EmailSubscription(email));
    const chat = ops.chatbot;
    if (chat?.slack) {
      new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName: `${Stack.of(this).stackName}-notifications`.slice(0, 128),
        slackWorkspaceId: chat.slack.workspaceId,
        slackChannelId: chat.slack.channelId,
        notificationTopics: [topic],
        // Notifications only: the channel cannot act on the account.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess')],
      });
    }
    if (chat?.teams) {
      const role = new iam.Role(this, 'TeamsChannelRole', {
        assumedBy: new iam.ServicePrincipal('chatbot.amazonaws.com'),
        description: 'AWS Chatbot Teams channel for eks-aviatrix-onboarding notifications (no permissions: notifications only)',
      });
      new chatbot.CfnMicrosoftTeamsChannelConfiguration(this, 'Teams', {
        configurationName: `${Stack.of(this).stackName}-notifications`.slice(0, 128),
        iamRoleArn: role.roleArn,
        teamId: chat.teams.teamId,
        teamsChannelId: chat.teams.channelId,
        teamsTenantId: chat.teams.tenantId,
        snsTopicArns: [topic.topicArn],
        guardrailPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      });
    }
    return topic;
  }

  /** The notify function hears every end of our workflows; it decides what is worth a message. */
  private wireNotify(props: ObservabilityProps): events.Rule {
    const notify = props.functions.notify;
    notify.addEnvironment('NOTIFICATION_TOPIC_ARN', this.topic.topicArn);
    for (const w of props.workflows) notify.addEnvironment(w.env, w.machine.stateMachineArn);
    // Its permissions (history, status records, the topic and its key) are rows of lib/permissions.ts.

    const rule = new events.Rule(this, 'NotifyRule', {
      description: 'The end of every eks-aviatrix-onboarding workflow execution: the notify function publishes what a person must know',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED'],
          stateMachineArn: props.workflows.map((w) => w.machine.stateMachineArn),
        },
      },
    });
    rule.addTarget(functionTarget(notify, deadLetterQueue(this, 'NotifyDeadLetterQueue', 'the status-change events EventBridge could not deliver to the notify function')));
    notify.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: TARGET_MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(
        deadLetterQueue(this, 'NotifyFailures', 'the status-change events whose notification still failed after Lambda\'s asynchronous retries'),
      ),
    });
    return rule;
  }

  private alarm(id: string, metric: cw.Metric | cw.MathExpression, description: string, options: Partial<cw.CreateAlarmOptions> = {}): cw.Alarm {
    const alarm = metric.createAlarm(this, id, {
      alarmDescription: `${description} Runbook: README.md, "Runbook".`,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      ...options,
    });
    alarm.addAlarmAction(new cwActions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }

  private metric(name: string, statistic: string, dimensionsMap: Record<string, string> = {}): cw.Metric {
    return new cw.Metric({ namespace: this.namespace, metricName: name, statistic, period: FIVE_MINUTES, dimensionsMap: { service: SERVICE_NAME, ...dimensionsMap } });
  }

  private addAlarms(props: ObservabilityProps, queues: sqs.Queue[]): void {
    for (const w of props.workflows) {
      const ended = new cw.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: { failed: w.machine.metricFailed(), timedOut: w.machine.metricTimedOut(), aborted: w.machine.metricAborted() },
        period: FIVE_MINUTES,
        label: `${w.id} executions failed, timed out or aborted`,
      });
      this.alarm(`${w.id}ExecutionsFailed`, ended,
        `A ${w.id} execution failed, timed out or was aborted: a cluster may be half-wired. The notification names the cluster, the failed step and the fix; ` +
          'fix the cause, then run the workflow again (always safe).');
      const timeout = (JSON.parse(fs.readFileSync(w.aslPath, 'utf8').replace(/\$\{\w+\}/g, '0')) as { TimeoutSeconds: number }).TimeoutSeconds;
      const expected = Math.min(w.expectedSeconds + RUN_MARGIN_SECONDS, timeout);
      this.alarm(`${w.id}ExecutionTooLong`, w.machine.metricTime({ statistic: 'Maximum', period: FIVE_MINUTES }),
        `A ${w.id} execution took longer than expected (${expected} s: its configured waits plus ${RUN_MARGIN_SECONDS / 60} min). ` +
          'Look for a slow cluster, add-on update or node group in the execution history, or a lease held by another run.',
        { threshold: expected * 1000, comparisonOperator: cw.ComparisonOperator.GREATER_THAN_THRESHOLD });
    }
    for (const queue of queues) {
      this.alarm(`${queue.node.path.split('/').slice(1).join('')}Messages`,
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES }),
        `Dead-letter queue ${queue.node.path} holds a message: an event was not delivered or its function kept failing (kept 14 days). ` +
          'Read the message, fix the cause (the function\'s logs say it), then start the workflow for its cluster by hand and delete the message.');
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      const id = fn.node.id;
      this.alarm(`${id}Errors`, fn.metricErrors({ period: FIVE_MINUTES }),
        `Function ${name} reported errors. A step error is also a failed execution (see that notification); otherwise read the function's logs (saved query "failures").`);
      this.alarm(`${id}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES }),
        `Function ${name} was throttled: the account's Lambda concurrency is exhausted. Raise the concurrency quota or find the function using it; throttled steps are retried.`);
    }
    const interval = scheduleSeconds(props.config.driftSchedule);
    if (interval === undefined || interval * 2 > 7 * 86400) {
      Annotations.of(this).addWarningV2('eks-aviatrix:drift-alarm',
        `onboarding.driftSchedule "${props.config.driftSchedule}" has no fixed interval of at most 3.5 days: the drift-repair alarm assumes one day`);
    }
    const period = Duration.seconds(Math.max(300, Math.min(interval ?? 86400, 3.5 * 86400)));
    this.alarm('DriftRepairNotRunning',
      new cw.Metric({ namespace: 'AWS/Events', metricName: 'Invocations', dimensionsMap: { RuleName: props.driftRepairRule.ruleName }, statistic: 'Sum', period }),
      `The drift-repair schedule (${props.config.driftSchedule}) invoked nothing for 2 intervals: drift and lost deletions go unrepaired. ` +
        'Check that its EventBridge rule is enabled and its dead-letter queue; run the drift-repair function by hand meanwhile.',
      { threshold: 1, evaluationPeriods: 2, comparisonOperator: cw.ComparisonOperator.LESS_THAN_THRESHOLD, treatMissingData: cw.TreatMissingData.BREACHING });
    this.alarm('LeaseTimeouts', this.metric(METRIC.leaseTimeouts, 'Sum'),
      'A run waited for a lease (cluster, VPC or gateway) until its limit: another run holds it for long, or a dead run\'s lease has not expired yet. ' +
        'It is retried; if it repeats, find the holder in the lease table.');
  }

  private buildDashboard(props: ObservabilityProps, queues: sqs.Queue[]): cw.Dashboard {
    const search = (dimensions: string, metric: string, stat: string, label: string) =>
      new cw.MathExpression({ expression: `SEARCH('{${this.namespace},${dimensions}} MetricName="${metric}"', '${stat}', 300)`, label, period: FIVE_MINUTES });
    const fns = Object.entries(props.functions);
    const graph = (title: string, left: cw.IMetric[], width = 8) => new cw.GraphWidget({ title, left, width, height: 6 });
    const dashboard = new cw.Dashboard(this, 'Dashboard', { defaultInterval: Duration.days(7) });
    dashboard.addWidgets(
      graph('Runs by workflow and outcome', [search('service,Workflow,Outcome', METRIC.runs, 'Sum', '')]),
      graph('Onboarding duration, event to onboarded (s)', ['p50', 'p95'].flatMap((stat) =>
        ['onboarding', 'nodegroup'].map((workflow) => this.metric(METRIC.runSeconds, stat, { Workflow: workflow }).with({ label: `${workflow} ${stat}` })))),
      graph('ACTIVE to ENIConfig (s)', ['p50', 'p95'].map((stat) => this.metric(METRIC.activeToEniConfigSeconds, stat).with({ label: stat }))),
    );
    dashboard.addWidgets(
      graph('Failures by reason', [search('service,Workflow,Reason', METRIC.failures, 'Sum', '')]),
      graph('Dead-letter queue depth', queues.map((q) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: FIVE_MINUTES, label: q.node.path }))),
      graph('Executions ended badly, by workflow', props.workflows.flatMap((w) => [w.machine.metricFailed({ label: `${w.id} failed` }), w.machine.metricTimedOut({ label: `${w.id} timed out` })])),
    );
    dashboard.addWidgets(
      graph('Lambda errors', fns.map(([name, fn]) => fn.metricErrors({ label: name, period: FIVE_MINUTES }))),
      graph('Lambda duration p95 (ms)', fns.map(([name, fn]) => fn.metricDuration({ label: name, statistic: 'p95', period: FIVE_MINUTES }))),
      graph('Lambda throttles', fns.map(([name, fn]) => fn.metricThrottles({ label: name, period: FIVE_MINUTES }))),
    );
    dashboard.addWidgets(
      graph('Controller latency p95 by action (ms)', [search('service,Action', METRIC.controllerLatency, 'p95', '')]),
      graph('Controller errors by action', [search('service,Action', METRIC.controllerErrors, 'Sum', '')]),
      graph('Lease wait p95 by kind (s), and lease time-outs', [search('service,LeaseKind', METRIC.leaseWaitSeconds, 'p95', ''), this.metric(METRIC.leaseTimeouts, 'Sum')]),
    );
    dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }));
    return dashboard;
  }

  /** The common questions, saved in CloudWatch Logs Insights (Queries). */
  private savedQueries(functions: lambda.Function[]): void {
    const logGroups = functions.map((fn) => fn.logGroup);
    const prefix = `${Stack.of(this).stackName}`;
    new logs.QueryDefinition(this, 'ClusterHistoryQuery', {
      queryDefinitionName: `${prefix}/one-cluster-history (replace CLUSTER)`,
      logGroups,
      queryString: new logs.QueryString({
        fields: ['@timestamp', 'step', 'level', 'message', 'errorName', 'errorMessage', '@logStream'],
        filterStatements: ['clusterName = "CLUSTER"'],
        sort: '@timestamp asc',
        limit: 10000,
      }),
    });
    new logs.QueryDefinition(this, 'FailuresQuery', {
      queryDefinitionName: `${prefix}/failures (run over the last 24 hours)`,
      logGroups,
      queryString: new logs.QueryString({
        fields: ['@timestamp', 'clusterName', 'step', 'errorName', 'errorMessage', '@logStream'],
        filterStatements: ['level = "ERROR"'],
        sort: '@timestamp desc',
        limit: 1000,
      }),
    });
  }
}
