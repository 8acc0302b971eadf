// The onboarding stack: CloudTrail-triggered EventBridge rules -> the start-workflow function ->
// three Standard state machines loaded from state-machines/*.asl.json (cluster onboarding, node-group
// onboarding, cluster offboarding) -> one Lambda per step group with least-privilege roles, plus a
// drift-repair schedule and the DynamoDB status and lease tables. See the design (Shape, Config).
import * as fs from 'fs';
import * as path from 'path';
import { Annotations, ArnFormat, Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { OnboardingConfig } from './config';
import { BUNDLE_ALIASES, BUNDLING, EXTERNAL_MODULES } from './bundling';
import { permissionTable, X_RAY_REASON } from './permissions';
import { ALL_FUNCTIONS, FunctionName, FunctionSpec, KUBE_RECONCILER_ROLE_ID, STEP_FUNCTIONS } from './functions';
import { deadLetterQueue, EksApiCall, EksApiTrigger, EksApiTriggerProps, functionTarget, TARGET_MAX_EVENT_AGE } from './eks-api-trigger';
import { Observability } from './observability';

const REPO_ROOT = path.join(__dirname, '..');
const ASL_DIR = path.join(REPO_ROOT, 'state-machines');
export const CLUSTER_ASL_PATH = path.join(ASL_DIR, 'cluster-onboarding.asl.json');

export { EKS_CLUSTER_SG_TAG_KEY, MANAGED_TAG_KEY, SECONDARY_CIDR_TAG_KEY } from './permissions';

export interface OnboardingStackProps extends StackProps {
  /** Validated config (lib/config.ts parseConfig). Handed to every Lambda as ONBOARDING_CONFIG. */
  config: OnboardingConfig;
  /** Seconds between polls in the workflows' Wait states. Default 30. */
  pollIntervalSeconds?: number;
  /** Retention of the Lambda and state machine log groups. Default onboarding.operations.logRetentionDays. */
  logRetention?: logs.RetentionDays;
  /** Powertools log level of the Lambdas. Default INFO. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/**
 * Room left for ONBOARDING_CONFIG in the 4 KB Lambda environment (keys and values) after the other
 * variables: table names, the reconciler role ARN, Powertools settings and, on start-workflow, three
 * state machine ARNs (~100 characters each with generated names) come to ~800 bytes.
 */
export const MAX_CONFIG_ENV_BYTES = 3200;

export { ALL_FUNCTIONS, KUBE_RECONCILER_ROLE_ID, SERVICE_FUNCTIONS, STEP_FUNCTIONS } from './functions';
export type { FunctionName, StepName } from './functions';

/** The workflows. `output` is a stack output the CLI reads; `env` is how start-workflow finds it. */
export const STATE_MACHINES = [
  { id: 'ClusterOnboarding', file: 'cluster-onboarding.asl.json', output: 'ClusterStateMachineArn', env: 'CLUSTER_STATE_MACHINE_ARN' },
  { id: 'NodegroupOnboarding', file: 'nodegroup-onboarding.asl.json', output: 'NodegroupStateMachineArn', env: 'NODEGROUP_STATE_MACHINE_ARN' },
  { id: 'ClusterOffboarding', file: 'cluster-offboarding.asl.json', output: 'OffboardingStateMachineArn', env: 'OFFBOARDING_STATE_MACHINE_ARN' },
] as const;

export type MachineId = (typeof STATE_MACHINES)[number]['id'];

/** One rule per EKS API call, each with its own DLQ, all targeting start-workflow. */
const TRIGGERS: { id: string; call: EksApiCall; description: string }[] = [
  { id: 'CreateClusterTrigger', call: 'CreateCluster', description: 'Successful eks:CreateCluster (CloudTrail) starts the cluster onboarding workflow' },
  { id: 'CreateNodegroupTrigger', call: 'CreateNodegroup', description: 'Successful eks:CreateNodegroup (CloudTrail) starts the node-group onboarding workflow' },
  { id: 'DeleteClusterTrigger', call: 'DeleteCluster', description: 'Successful eks:DeleteCluster (CloudTrail) starts the offboarding workflow' },
  { id: 'DeleteNodegroupTrigger', call: 'DeleteNodegroup', description: 'Successful eks:DeleteNodegroup (CloudTrail) starts the offboarding workflow for the node group' },
];

/** `${Name}` placeholders of an ASL file. */
export function aslSubstitutionNames(aslText: string): string[] {
  return [...new Set([...aslText.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))];
}

export class OnboardingStack extends Stack {
  readonly statusTable: dynamodb.Table;
  readonly leaseTable: dynamodb.Table;
  readonly functions: Record<FunctionName, nodejs.NodejsFunction>;
  readonly roles: Record<string, iam.Role>;
  readonly stateMachines: Record<MachineId, sfn.StateMachine>;
  readonly triggers: EksApiTrigger[] = [];
  readonly driftRepairRule: events.Rule;
  /** Notifications, alarms, dashboard, saved queries (lib/observability.ts). */
  readonly observability: Observability;

  private readonly config: OnboardingConfig;
  private readonly logRetention: logs.RetentionDays;

  get clusterStateMachine(): sfn.StateMachine {
    return this.stateMachines.ClusterOnboarding;
  }

  constructor(scope: Construct, id: string, props: OnboardingStackProps) {
    super(scope, id, props);
    this.config = props.config;
    this.logRetention = props.logRetention ?? (props.config.operations.logRetentionDays as logs.RetentionDays);

    // --- State ---------------------------------------------------------------------------------
    this.statusTable = new dynamodb.Table(this, 'StatusTable', {
      partitionKey: { name: 'clusterName', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Per-gateway leases around the controller's whole-list read-modify-writes, and per-cluster
    // leases so two runs for one cluster never write at once; expired leases are swept by TTL (the
    // code also treats an expired lease as free, TTL deletion being lazy).
    this.leaseTable = new dynamodb.Table(this, 'LeaseTable', {
      partitionKey: { name: 'leaseId', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // --- Lambdas and their roles (one per function, but one shared by the Kubernetes steps) ----
    const roleUsers = new Map<string, string[]>();
    for (const fn of ALL_FUNCTIONS) roleUsers.set(fn.role, [...(roleUsers.get(fn.role) ?? []), fn.name]);
    this.roles = Object.fromEntries(
      [...roleUsers].map(([roleId, users]) => [
        roleId,
        new iam.Role(this, roleId, {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description:
            roleId === KUBE_RECONCILER_ROLE_ID
              ? `eks-aviatrix-onboarding kube reconciler (${users.join(' and ')} steps): one Kubernetes identity, one access entry`
              : `eks-aviatrix-onboarding ${users.join(', ')} (least privilege, no managed policies)`,
        }),
      ]),
    );
    const kubeReconcilerRole = this.roles[KUBE_RECONCILER_ROLE_ID];

    const environment: Record<string, string> = {
      ONBOARDING_CONFIG: JSON.stringify(props.config),
      STATUS_TABLE_NAME: this.statusTable.tableName,
      LEASE_TABLE_NAME: this.leaseTable.tableName,
      // The vpc-cni step gives this role an access entry in a Kubernetes group whose RBAC allows what
      // it writes; the nodegroup step runs as the same role, hence as the same Kubernetes identity.
      RECONCILER_ROLE_ARN: kubeReconcilerRole.roleArn,
      POWERTOOLS_SERVICE_NAME: 'eks-aviatrix-onboarding',
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
    };

    // Lambda allows 4 KB of environment in total; a CA bundle in config can get close.
    const configBytes = Buffer.byteLength(environment.ONBOARDING_CONFIG, 'utf8');
    if (configBytes > MAX_CONFIG_ENV_BYTES) {
      Annotations.of(this).addError(
        `onboarding config is ${configBytes} bytes as JSON; Lambda environments are limited to 4 KB in total ` +
          `(keep it under ${MAX_CONFIG_ENV_BYTES}): shorten onboarding.aviatrix.caBundlePem or onboarding.aviatrix.kubernetesSmartGroups`,
      );
    }

    this.functions = Object.fromEntries(
      ALL_FUNCTIONS.map((spec) => [spec.name, this.lambdaFunction(spec, this.roles[spec.role], environment)]),
    ) as Record<FunctionName, nodejs.NodejsFunction>;

    // --- The workflows -------------------------------------------------------------------------
    const pollIntervalSeconds = props.pollIntervalSeconds ?? 30;
    this.stateMachines = Object.fromEntries(
      STATE_MACHINES.map((m) => [m.id, this.stateMachine(m.id, path.join(ASL_DIR, m.file), pollIntervalSeconds)]),
    ) as Record<MachineId, sfn.StateMachine>;
    for (const m of STATE_MACHINES) {
      new CfnOutput(this, m.output, { value: this.stateMachines[m.id].stateMachineArn, description: `${m.id} state machine` });
    }
    new CfnOutput(this, 'StatusTableName', { value: this.statusTable.tableName, description: 'Onboarding status records' });

    // --- Starting them: CloudTrail rules and the drift schedule --------------------------------
    const startWorkflow = this.functions['start-workflow'];
    for (const m of STATE_MACHINES) startWorkflow.addEnvironment(m.env, this.stateMachines[m.id].stateMachineArn);
    this.keepFailedInvocations(startWorkflow, 'StartWorkflowFailures');
    for (const trigger of TRIGGERS) {
      this.addTrigger(trigger.id, { eventNames: [trigger.call], target: startWorkflow, description: trigger.description });
    }

    const driftRepair = this.functions['drift-repair'];
    driftRepair.addEnvironment('CLUSTER_STATE_MACHINE_ARN', this.clusterStateMachine.stateMachineArn);
    driftRepair.addEnvironment('OFFBOARDING_STATE_MACHINE_ARN', this.stateMachines.ClusterOffboarding.stateMachineArn);
    this.keepFailedInvocations(driftRepair, 'DriftRepairFailures');
    this.driftRepairRule = new events.Rule(this, 'DriftRepairSchedule', {
      description: 'Re-runs the cluster onboarding workflow for every onboarded cluster (drift repair)',
      schedule: events.Schedule.expression(this.config.driftSchedule),
    });
    this.driftRepairRule.addTarget(
      functionTarget(
        driftRepair,
        deadLetterQueue(this, 'DriftRepairDeadLetterQueue', 'the schedule events EventBridge could not deliver to the drift-repair function after its retries'),
      ),
    );
    this.observability = new Observability(this, 'Operations', {
      config: this.config,
      functions: this.functions,
      statusTable: this.statusTable,
      driftRepairRule: this.driftRepairRule,
      workflows: STATE_MACHINES.map((m) => ({
        id: m.id, machine: this.stateMachines[m.id], aslPath: path.join(ASL_DIR, m.file), env: m.env, expectedSeconds: this.machineWaits(m.id).seconds,
      })),
    });
    this.applyPermissionTable();
  }

  /** Wires one CloudTrail-based EKS API rule (with its own DLQ) to a function. */
  addTrigger(id: string, props: EksApiTriggerProps): EksApiTrigger {
    const trigger = new EksApiTrigger(this, id, props);
    this.triggers.push(trigger);
    return trigger;
  }

  /**
   * EventBridge invokes functions asynchronously: its retry policy and DLQ cover delivery only. An
   * error inside the function is retried by Lambda (twice) and then lands here, not nowhere.
   */
  private keepFailedInvocations(fn: nodejs.NodejsFunction, queueId: string): void {
    const queue = deadLetterQueue(this, queueId, `the events whose ${fn.node.id} invocation still failed after Lambda's asynchronous retries`);
    fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: TARGET_MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(queue),
    });
  }

  private lambdaFunction(spec: FunctionSpec, role: iam.Role, environment: Record<string, string>): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${spec.id}Logs`, {
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Own log permissions for this function's log group only (no AWSLambdaBasicExecutionRole).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: `OwnLogGroup${spec.id}`,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new nodejs.NodejsFunction(this, spec.id, {
      entry: path.join(REPO_ROOT, 'lambdas', spec.name, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(spec.timeoutSeconds),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment: { ...environment },
      description: `eks-aviatrix-onboarding: ${spec.name}`,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      // lib/bundling.ts: the same options `npm run bench` and the bundle tests build with.
      bundling: {
        ...BUNDLING,
        format: nodejs.OutputFormat.CJS,
        externalModules: [...EXTERNAL_MODULES],
        esbuildArgs: Object.fromEntries(Object.entries(BUNDLE_ALIASES).map(([name, stub]) => [`--alias:${name}`, stub])),
      },
    });
    NagSuppressions.addResourceSuppressions(fn, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'nodejs22.x is pinned on purpose: the team standard runtime, whose bundled AWS SDK v3 the functions use ' +
          '(@aws-sdk/* is external). Moving to a newer runtime is a deliberate, tested change, not an automatic one.',
      },
    ]);
    // The role's IAM5 acknowledgements sit with its rows in lib/permissions.ts (applyPermissionTable).
    return fn;
  }

  private stateMachine(id: MachineId, aslPath: string, pollIntervalSeconds: number): sfn.StateMachine {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing per machine.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-${id}`,
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `eks-aviatrix-onboarding ${id} state machine: invokes exactly the functions its ASL references`,
    });
    // The same substitution map for every machine; each machine's role may invoke only the
    // functions its own ASL references (read from the file, unqualified ARNs, no `:*` versions).
    const substitutions: Record<string, string> = {
      ...Object.fromEntries(STEP_FUNCTIONS.map((step) => [step.substitution, this.functions[step.name].functionArn])),
      PollIntervalSeconds: String(pollIntervalSeconds),
    };
    const used = aslSubstitutionNames(fs.readFileSync(aslPath, 'utf8'));
    const unknown = used.filter((name) => !(name in substitutions));
    if (unknown.length > 0) {
      Annotations.of(role).addError(
        `${path.basename(aslPath)} uses ${unknown.map((n) => `\${${n}}`).join(', ')}, which the stack does not substitute ` +
          `(known: ${Object.keys(substitutions).join(', ')})`,
      );
    }
    const invoked = STEP_FUNCTIONS.filter((step) => used.includes(step.substitution));
    if (invoked.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'InvokeStepFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: invoked.map((step) => this.functions[step.name].functionArn),
        }),
      );
    }
    const machine = new sfn.StateMachine(this, id, {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(aslPath),
      definitionSubstitutions: substitutions,
      role,
      // ALL gives every state transition; execution data stays out: state inputs/outputs carry the
      // CloudTrail event (caller identity, source IP) and step results, and a log group is read by
      // more people than the execution history. Failures are still visible through error/cause.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      // No `timeout` here: CDK applies it only to chain-built definitions and ignores it for
      // DefinitionBody.fromFile. The machine's TimeoutSeconds lives in the ASL (checked below).
    });
    this.checkMachineTimeout(id, machine, aslPath);
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Added by CDK for Step Functions logging and tracing: logs:*LogDelivery/PutResourcePolicy/Describe* and ' +
            'xray:PutTraceSegments/GetSampling* are account-level APIs with no resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    return machine;
  }

  /** The config-bounded waits each workflow must outlast, with the keys that bound them. */
  private machineWaits(id: MachineId): { seconds: number; keys: string[] } {
    const c = this.config;
    switch (id) {
      case 'ClusterOnboarding':
        return {
          seconds: c.clusterActiveTimeoutSeconds + c.addonUpdateTimeoutSeconds,
          keys: ['onboarding.clusterActiveTimeoutSeconds', 'onboarding.addonUpdateTimeoutSeconds'],
        };
      case 'NodegroupOnboarding':
        // The cluster is ACTIVE before a node group can exist, but its vpc-cni step may still wait
        // for an add-on update; then the node group to be ACTIVE and, when allowed, the replacement.
        return {
          seconds: c.addonUpdateTimeoutSeconds + c.nodegroupActiveTimeoutSeconds * (c.allowNodeReplacement ? 2 : 1),
          keys: [
            'onboarding.addonUpdateTimeoutSeconds',
            `onboarding.nodegroupActiveTimeoutSeconds${c.allowNodeReplacement ? ' x2 (allowNodeReplacement)' : ''}`,
          ],
        };
      case 'ClusterOffboarding':
        return { seconds: 0, keys: [] };
    }
  }

  /**
   * A machine-wide TimeoutSeconds lives in the ASL file; it must leave room for the waits the config
   * allows, or long-but-legal waits end as a timeout.
   */
  private checkMachineTimeout(id: MachineId, machine: sfn.StateMachine, aslPath: string): void {
    const text = fs.readFileSync(aslPath, 'utf8').replace(/\$\{\w+\}/g, '0');
    let timeout: unknown;
    try {
      timeout = (JSON.parse(text) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
    } catch (error) {
      Annotations.of(machine).addError(`${path.basename(aslPath)} is not valid JSON: ${(error as Error).message}`);
      return;
    }
    const needed = this.machineWaits(id);
    if (typeof timeout !== 'number') {
      Annotations.of(machine).addError(`${path.basename(aslPath)} has no numeric top-level TimeoutSeconds`);
    } else if (timeout <= needed.seconds) {
      Annotations.of(machine).addError(
        `${path.basename(aslPath)} TimeoutSeconds (${timeout}) must exceed ${needed.keys.join(' + ')} ` +
          `(${needed.seconds}); lower those or raise the machine's TimeoutSeconds`,
      );
    }
  }

  // --- Per-role policies, from the one table (lib/permissions.ts) -------------------------------

  /**
   * One inline policy per row of the permission table, so each row's wildcards get their own
   * cdk-nag acknowledgement with the row's reason (a role-wide one would cover statements of
   * different conditions alike). Functions wait for their role's policies.
   */
  private applyPermissionTable(): void {
    const table = permissionTable({
      config: this.config,
      account: Aws.ACCOUNT_ID,
      region: Aws.REGION,
      statusTableArn: this.statusTable.tableArn,
      leaseTableArn: this.leaseTable.tableArn,
      roleArn: (roleId) => this.roles[roleId].roleArn,
      roleName: (roleId) => this.roles[roleId].roleName,
      clusterStateMachineArn: this.clusterStateMachine.stateMachineArn,
      offboardingStateMachineArn: this.stateMachines.ClusterOffboarding.stateMachineArn,
      stateMachineArns: STATE_MACHINES.map((m) => this.stateMachines[m.id].stateMachineArn),
      executionArnPatterns: STATE_MACHINES.map((m) =>
        this.formatArn({ service: 'states', resource: 'execution', resourceName: `${this.stateMachines[m.id].stateMachineName}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      ),
      notificationTopicArn: this.observability.topic.topicArn,
      ...(this.observability.topicKeyArn ? { notificationKeyArn: this.observability.topicKeyArn } : {}),
    });
    for (const [roleId, rows] of Object.entries(table)) {
      const role = this.roles[roleId];
      if (!role) throw new Error(`lib/permissions.ts has rows for ${roleId}, which no function uses (lib/functions.ts)`);
      for (const row of rows) {
        const policy = new iam.Policy(this, `${roleId}${row.sid}`, {
          roles: [role],
          statements: [
            new iam.PolicyStatement({ sid: row.sid, actions: row.actions, resources: row.resources, ...(row.conditions ? { conditions: row.conditions } : {}) }),
          ],
        });
        for (const fn of ALL_FUNCTIONS.filter((f) => f.role === roleId)) this.functions[fn.name as FunctionName].node.addDependency(policy);
        const wildcards = [
          ...row.actions.filter((a) => a.includes('*')).map((a) => `Action::${a}`),
          ...row.resources.filter((r) => r.includes('*')).map((r) => `Resource::${this.resolveForNag(r)}`),
        ];
        if (wildcards.length > 0) {
          NagSuppressions.addResourceSuppressions(policy, [{ id: 'AwsSolutions-IAM5', reason: row.reason, appliesTo: wildcards }]);
        }
      }
      // The role's default policy holds what CDK adds itself: its log group and X-Ray (Resource::*).
      NagSuppressions.addResourceSuppressions(role, [{ id: 'AwsSolutions-IAM5', reason: X_RAY_REASON, appliesTo: ['Resource::*'] }], true);
    }
  }

  /** cdk-nag renders pseudo parameters as <AWS::Partition> etc. and a role name Ref as <LogicalId>. */
  private resolveForNag(value: string): string {
    const resolved = this.resolve(value) as unknown;
    if (typeof resolved === 'string') return resolved;
    const join = (resolved as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (!join) return value;
    return join[1]
      .map((part) => {
        if (typeof part === 'string') return part;
        const ref = (part as { Ref?: string }).Ref;
        if (ref) return `<${ref}>`;
        const getAtt = (part as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
        if (getAtt) return `<${getAtt.join('.')}>`;
        return JSON.stringify(part);
      })
      .join(join[0]);
  }
}
