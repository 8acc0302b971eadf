// EksAviatrixOnboarding: the whole onboarding as one construct another CDK app can embed next to
// its own resources. CloudTrail-triggered EventBridge rules -> start-workflow -> three Standard
// state machines -> one Lambda per step group with least-privilege roles, plus the drift-repair
// schedule, the status and lease tables, and notifications/alarms/dashboard.
import { ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { OnboardingConfig, parseConfig } from './config';
import { stringPaths } from '../lambdas/shared/config-stamp';
import { FunctionName } from './functions';
import { HubAccess } from './hub-access';
import { DEFAULT_NAME_PREFIX, namePrefixProblem, ResourceNames, resourceNames } from './names';
import { Observability } from './observability';
import { OnboardingFunctions } from './onboarding-functions';
import { StatusTables } from './status-tables';
import { EksApiTrigger } from './eks-api-trigger';
import { Triggers } from './triggers';
import { aslPath, MachineId, machineWaits, STATE_MACHINES, Workflows } from './workflows';

export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export interface EksAviatrixOnboardingProps {
  /**
   * The onboarding config (lib/config.ts). Validated here (parseConfig: a bad value fails synth
   * naming the key) and handed to every Lambda as ONBOARDING_CONFIG, stamped with its digest.
   */
  config: OnboardingConfig;
  /** Seconds between polls in the workflows' Wait states. Default 30. */
  pollIntervalSeconds?: number;
  /** Retention of the Lambda and state machine log groups. Default config.operations.logRetentionDays. */
  logRetention?: logs.RetentionDays;
  /** Powertools log level of the Lambdas. Default INFO. */
  logLevel?: LogLevel;
  /**
   * Prefix of the state machine, table, function and log group names (`<prefix>-cluster-onboarding`,
   * `<prefix>-status`, ...). Default `eks-aviatrix`; give another to deploy a second copy in one
   * account and Region.
   */
  namePrefix?: string;
}

export class EksAviatrixOnboarding extends Construct {
  readonly names: ResourceNames;
  readonly statusTable: dynamodb.Table;
  readonly leaseTable: dynamodb.Table;
  readonly claimTable: dynamodb.Table;
  readonly functions: Record<FunctionName, nodejs.NodejsFunction>;
  readonly roles: Record<string, iam.Role>;
  readonly stateMachines: Record<MachineId, sfn.StateMachine>;
  readonly triggers: EksApiTrigger[];
  readonly driftRepairRule: events.Rule;
  /** Notifications, alarms, dashboard, saved queries (lib/observability.ts). */
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: EksAviatrixOnboardingProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? DEFAULT_NAME_PREFIX;
    const prefixProblem = namePrefixProblem(prefix);
    if (prefixProblem) throw new Error(`EksAviatrixOnboarding ${this.node.path}: ${prefixProblem}`);
    const pollIntervalSeconds = props.pollIntervalSeconds ?? 30;
    if (!Number.isInteger(pollIntervalSeconds) || pollIntervalSeconds < 1 || pollIntervalSeconds > 3600) {
      throw new Error(`EksAviatrixOnboarding ${this.node.path}: pollIntervalSeconds must be a whole number of seconds from 1 to 3600, got ${pollIntervalSeconds}`);
    }
    // Validated here, once, whatever the caller did: the Lambdas trust what the stack hands them (lambdas/shared/config-stamp.ts).
    // A CDK token has no value to validate before deploy, so it is refused by name rather than by the format it cannot show.
    const deployTime = stringPaths(props.config, (value) => Token.isUnresolved(value));
    if (deployTime.length > 0) {
      const names = deployTime.map((path) => path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : `${name}.${key}`), 'onboarding'));
      throw new Error(
        `EksAviatrixOnboarding ${this.node.path}: ${names.join(', ')} ${names.length === 1 ? 'is a CDK token' : 'are CDK tokens'}, known only at deploy; ` +
          'the config is validated at synth, so give the literal value (the name or ARN as a string)',
      );
    }
    const config = parseConfig(props.config);
    if (config.hub && config.hub.namePrefix !== prefix) {
      throw new Error(`EksAviatrixOnboarding ${this.node.path}: onboarding.hub.namePrefix "${config.hub.namePrefix}" must equal the naming prefix "${prefix}": member roles trust the hub roles by that name`);
    }
    this.names = resourceNames(prefix);
    const logRetention = props.logRetention ?? (config.operations.logRetentionDays as logs.RetentionDays);

    const tables = new StatusTables(this, 'State', { names: this.names });
    this.statusTable = tables.statusTable;
    this.leaseTable = tables.leaseTable;
    this.claimTable = tables.claimTable;

    const functions = new OnboardingFunctions(this, 'Functions', {
      config,
      names: this.names,
      statusTableName: this.statusTable.tableName,
      leaseTableName: this.leaseTable.tableName,
      claimTableName: this.claimTable.tableName,
      logRetention,
      logLevel: props.logLevel ?? 'INFO',
    });
    this.functions = functions.functions;
    this.roles = functions.roles;

    this.stateMachines = new Workflows(this, 'Workflows', { config, names: this.names, functions: this.functions, pollIntervalSeconds, logRetention }).stateMachines;

    const triggers = new Triggers(this, 'Triggers', {
      startWorkflow: this.functions['start-workflow'],
      driftRepair: this.functions['drift-repair'],
      stateMachines: this.stateMachines,
      driftSchedule: config.driftSchedule,
    });
    this.triggers = triggers.triggers;
    this.driftRepairRule = triggers.driftRepairRule;

    this.observability = new Observability(this, 'Operations', {
      config,
      functions: this.functions,
      statusTable: this.statusTable,
      driftRepairRule: this.driftRepairRule,
      workflows: STATE_MACHINES.map((m) => ({
        id: m.id, machine: this.stateMachines[m.id], aslPath: aslPath(m), env: m.env, expectedSeconds: machineWaits(m.id, config).seconds,
      })),
    });

    functions.applyPermissionTable({
      config,
      statusTableArn: this.statusTable.tableArn,
      leaseTableArn: this.leaseTable.tableArn,
      claimTableArn: this.claimTable.tableArn,
      clusterStateMachineArn: this.stateMachines.ClusterOnboarding.stateMachineArn,
      offboardingStateMachineArn: this.stateMachines.ClusterOffboarding.stateMachineArn,
      stateMachineArns: STATE_MACHINES.map((m) => this.stateMachines[m.id].stateMachineArn),
      executionArnPatterns: STATE_MACHINES.map((m) =>
        Stack.of(this).formatArn({ service: 'states', resource: 'execution', resourceName: `${this.names.stateMachines[m.id]}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ),
      notificationTopicArn: this.observability.topic.topicArn,
      ...(this.observability.topicKeyArn ? { notificationKeyArn: this.observability.topicKeyArn } : {}),
    });
    // Member accounts' events in, and each Lambda role's right to assume its own member role.
    new HubAccess(this, 'HubAccess', { config, roles: this.roles });
  }

  get clusterStateMachine(): sfn.StateMachine {
    return this.stateMachines.ClusterOnboarding;
  }
}
