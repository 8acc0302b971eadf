// The onboarding stack: CloudTrail-triggered EventBridge rules -> the start-workflow function ->
// three Standard state machines loaded from state-machines/*.asl.json (cluster onboarding, node-group
// onboarding, cluster offboarding) -> one Lambda per step group with least-privilege roles, plus a
// drift-repair schedule and the DynamoDB status and lease tables. See the design (Shape, Config).
import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Aws, CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagPackSuppression, NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { OnboardingConfig } from './config';
import {
  ec2Arn,
  eksAccessPolicyArn,
  eksClusterArnPattern,
  eksNodegroupArnPattern,
  parseRoleArn,
  roleAccessEntryArnPattern,
  secretArnPattern,
  vpcCniAddonArnPattern,
} from './arns';
import { ALL_FUNCTIONS, FunctionName, FunctionSpec, KUBE_RECONCILER_ROLE_ID, STEP_FUNCTIONS } from './functions';
import { deadLetterQueue, EksApiCall, EksApiTrigger, EksApiTriggerProps, functionTarget, TARGET_MAX_EVENT_AGE } from './eks-api-trigger';

const REPO_ROOT = path.join(__dirname, '..');
const ASL_DIR = path.join(REPO_ROOT, 'state-machines');
export const CLUSTER_ASL_PATH = path.join(ASL_DIR, 'cluster-onboarding.asl.json');

/** Tag carried by every AWS resource the workflow creates (pod subnets, pod security group, access entries). */
export const MANAGED_TAG_KEY = 'eks-aviatrix:managed';
/** Tag the network step puts on a VPC when it associates the secondary CIDR (cleanup may disassociate only there). */
export const SECONDARY_CIDR_TAG_KEY = 'eks-aviatrix:secondary-cidr';
/** Tag EKS puts on the security group it creates for a cluster. */
export const EKS_CLUSTER_SG_TAG_KEY = 'aws:eks:cluster-name';

export interface OnboardingStackProps extends StackProps {
  /** Validated config (lib/config.ts parseConfig). Handed to every Lambda as ONBOARDING_CONFIG. */
  config: OnboardingConfig;
  /** Seconds between polls in the workflows' Wait states. Default 30. */
  pollIntervalSeconds?: number;
  /** Retention of the Lambda and state machine log groups. Default one month. */
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

  private readonly config: OnboardingConfig;
  private readonly logRetention: logs.RetentionDays;

  get clusterStateMachine(): sfn.StateMachine {
    return this.stateMachines.ClusterOnboarding;
  }

  constructor(scope: Construct, id: string, props: OnboardingStackProps) {
    super(scope, id, props);
    this.config = props.config;
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

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
      // The vpc-cni step grants this role an access entry (cluster-admin) to write ENIConfig; the
      // nodegroup step runs as the same role, hence as the same Kubernetes identity.
      RECONCILER_ROLE_ARN: kubeReconcilerRole.roleArn,
      POWERTOOLS_SERVICE_NAME: 'eks-aviatrix-onboarding',
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
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

    this.grantResolveCluster(this.roles.ResolveClusterRole);
    this.grantPodNetwork(this.roles.PodNetworkRole);
    this.grantKubeReconciler(kubeReconcilerRole);
    this.grantRecordOutcome(this.roles.RecordOutcomeRole);
    this.grantAviatrixOnboard(this.roles.AviatrixOnboardRole);
    this.grantAviatrixSnat(this.roles.AviatrixSnatRole);
    this.grantCleanup(this.roles.CleanupRole);

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
    this.grantStartWorkflow(this.roles.StartWorkflowRole);
    this.keepFailedInvocations(startWorkflow, 'StartWorkflowFailures');
    for (const trigger of TRIGGERS) {
      this.addTrigger(trigger.id, { eventNames: [trigger.call], target: startWorkflow, description: trigger.description });
    }

    const driftRepair = this.functions['drift-repair'];
    driftRepair.addEnvironment('CLUSTER_STATE_MACHINE_ARN', this.clusterStateMachine.stateMachineArn);
    driftRepair.addEnvironment('OFFBOARDING_STATE_MACHINE_ARN', this.stateMachines.ClusterOffboarding.stateMachineArn);
    this.grantDriftRepair(this.roles.DriftRepairRole);
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
      bundling: {
        minify: true,
        sourceMap: true,
        target: 'node22',
        format: nodejs.OutputFormat.CJS,
        // The nodejs22.x runtime ships AWS SDK v3: leaving it out keeps each bundle small (faster
        // cold-start load and parse). Everything else (Powertools, smithy signer, axios) is bundled.
        externalModules: ['@aws-sdk/*'],
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
    // The role's IAM5 acknowledgements (X-Ray's Resource::* included) sit with its grant method.
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

  // --- Per-function policies -------------------------------------------------------------------

  private grantResolveCluster(role: iam.Role): void {
    // DescribeCluster carries the tags the opt-in rule reads; nothing else is needed.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster'], resources: [eksClusterArnPattern()] }));
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Clusters are created by others after deploy; any cluster may be onboarded (opt-in is checked in code). Read-only.'],
      ['*', 'X-Ray active tracing (xray:PutTraceSegments/PutTelemetryRecords, no resource-level permissions).'],
    ]);
  }

  private grantPodNetwork(role: iam.Role): void {
    const managed = { StringEquals: { [`aws:RequestTag/${MANAGED_TAG_KEY}`]: 'true' } };
    const vpcs = ec2Arn('vpc/*');
    const subnets = ec2Arn('subnet/*');
    const securityGroups = ec2Arn('security-group/*');
    const routeTables = ec2Arn('route-table/*');
    // The pod SG keeps its default allow-all egress: only ingress rules are ever added.
    const sgRuleActions = ['ec2:AuthorizeSecurityGroupIngress'];
    const statements = [
      new iam.PolicyStatement({ sid: 'Describe', actions: ['ec2:Describe*'], resources: ['*'] }),
      new iam.PolicyStatement({ sid: 'AssociateSecondaryCidr', actions: ['ec2:AssociateVpcCidrBlock'], resources: [vpcs] }),
      // CreateSubnet/CreateSecurityGroup authorize two resources: the new one (which must carry the
      // managed tag in the request) and the VPC (which has no request tags): separate statements.
      new iam.PolicyStatement({ sid: 'CreateManagedSubnet', actions: ['ec2:CreateSubnet'], resources: [subnets], conditions: managed }),
      new iam.PolicyStatement({ sid: 'CreateSubnetInVpc', actions: ['ec2:CreateSubnet'], resources: [vpcs] }),
      new iam.PolicyStatement({
        sid: 'CreateManagedSecurityGroup',
        actions: ['ec2:CreateSecurityGroup'],
        resources: [securityGroups],
        conditions: managed,
      }),
      new iam.PolicyStatement({ sid: 'CreateSecurityGroupInVpc', actions: ['ec2:CreateSecurityGroup'], resources: [vpcs] }),
      new iam.PolicyStatement({
        sid: 'TagOnCreateOnly',
        actions: ['ec2:CreateTags'],
        resources: [subnets, securityGroups],
        conditions: { StringEquals: { 'ec2:CreateAction': ['CreateSubnet', 'CreateSecurityGroup'] } },
      }),
      // Route tables are the cluster's (programmed by Aviatrix), untagged by us; the subnet must be ours.
      new iam.PolicyStatement({
        sid: 'AssociateRouteTable',
        actions: ['ec2:AssociateRouteTable', 'ec2:ReplaceRouteTableAssociation'],
        resources: [routeTables],
      }),
      new iam.PolicyStatement({
        sid: 'AssociateManagedSubnet',
        actions: ['ec2:AssociateRouteTable'],
        resources: [subnets],
        conditions: { StringEquals: { [`ec2:ResourceTag/${MANAGED_TAG_KEY}`]: 'true' } },
      }),
      new iam.PolicyStatement({
        sid: 'RulesOnManagedSecurityGroups',
        actions: sgRuleActions,
        resources: [securityGroups],
        conditions: { StringEquals: { [`ec2:ResourceTag/${MANAGED_TAG_KEY}`]: 'true' } },
      }),
      new iam.PolicyStatement({
        sid: 'RulesOnEksClusterSecurityGroups',
        actions: sgRuleActions,
        resources: [securityGroups],
        conditions: { Null: { [`ec2:ResourceTag/${EKS_CLUSTER_SG_TAG_KEY}`]: 'false' } },
      }),
      // Marks the VPC whose secondary CIDR we associated: cleanup may disassociate only there.
      new iam.PolicyStatement({
        sid: 'TagVpcSecondaryCidr',
        actions: ['ec2:CreateTags'],
        resources: [vpcs],
        conditions: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [SECONDARY_CIDR_TAG_KEY] } },
      }),
      new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster', 'eks:ListNodegroups'], resources: [eksClusterArnPattern()] }),
      // Node-group subnets count as node subnets (their route tables and AZs).
      new iam.PolicyStatement({ sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: [eksNodegroupArnPattern()] }),
      this.clusterLeaseStatement(),
    ];
    statements.forEach((s) => role.addToPrincipalPolicy(s));
    this.suppressWildcards(role, [
      ['*', 'ec2:Describe* supports no resource-level permissions (read-only). Also X-Ray active tracing (xray:PutTraceSegments/PutTelemetryRecords, no resource-level permissions).'],
      ['Action::ec2:Describe*', 'Read-only EC2 discovery (VPCs, CIDR associations, subnets, route tables, security groups, AZs).'],
      [vpcs, 'The cluster VPCs are not known at deploy time (any onboarded cluster); only CIDR association, creating tagged subnets/SGs in them, and the eks-aviatrix:secondary-cidr tag (aws:TagKeys condition).'],
      [subnets, 'New subnets only with the eks-aviatrix:managed=true request tag; route-table association only of subnets carrying that tag; tags only on create.'],
      [securityGroups, 'New SGs only with the eks-aviatrix:managed=true request tag; rule changes only on SGs tagged eks-aviatrix:managed=true or aws:eks:cluster-name.'],
      [routeTables, 'The node subnets\' route tables (programmed by Aviatrix) are found at run time; EC2 authorizes only the route table for (Replace)RouteTableAssociation.'],
      [eksClusterArnPattern(), 'Read-only describe and node-group listing of any cluster (clusters are created after deploy).'],
      [eksNodegroupArnPattern(), 'Read-only describe of any node group of any cluster (node groups are created after deploy).'],
    ]);
  }

  /**
   * The kube reconciler role: vpc-cni (add-on, aws-node, ENIConfig) and nodegroup (nodes, max-pods,
   * node replacement) run as this ONE role, so they are ONE Kubernetes identity with ONE access
   * entry per cluster (see KUBE_RECONCILER_ROLE_ID). The policy is the union of both steps' needs.
   */
  private grantKubeReconciler(role: iam.Role): void {
    const addon = vpcCniAddonArnPattern();
    const nodegroups = eksNodegroupArnPattern();
    // vpc-cni
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadClusters',
        actions: ['eks:DescribeCluster', 'eks:DescribeUpdate', 'eks:ListNodegroups'],
        resources: [eksClusterArnPattern()],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcCniAddonOnly',
        actions: ['eks:DescribeAddon', 'eks:DescribeUpdate', 'eks:UpdateAddon'],
        resources: [addon],
      }),
    );
    // Its own access entry (cluster-admin, to server-side-apply ENIConfig), and nobody else's.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CreateOwnAccessEntry',
        actions: ['eks:CreateAccessEntry'],
        resources: [eksClusterArnPattern()],
        conditions: { StringEquals: { 'eks:principalArn': role.roleArn } },
      }),
    );
    const ownEntry = roleAccessEntryArnPattern(Aws.ACCOUNT_ID, role.roleName);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadOwnAccessEntry', actions: ['eks:DescribeAccessEntry', 'eks:ListAssociatedAccessPolicies'], resources: [ownEntry] }),
    );
    role.addToPrincipalPolicy(this.tagAccessEntryStatement('TagOwnAccessEntry', ownEntry));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssociateClusterAdminToOwnEntry',
        actions: ['eks:AssociateAccessPolicy'],
        resources: [ownEntry],
        conditions: { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSClusterAdminPolicy') } },
      }),
    );
    // nodegroup: wait for the node group, read its instance types' ENI limits (max-pods) and, when
    // config allows, replace early nodes by an instance refresh of the node group's Auto Scaling group.
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadNodegroups', actions: ['eks:DescribeNodegroup'], resources: [nodegroups] }));
    if (this.config.allowNodeReplacement) {
      // Only Auto Scaling groups that EKS made for a managed node group (it tags them so).
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'RefreshNodegroupInstances',
          actions: ['autoscaling:StartInstanceRefresh'],
          resources: [`arn:${Aws.PARTITION}:autoscaling:${Aws.REGION}:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/eks-*`],
          conditions: { Null: { 'aws:ResourceTag/eks:cluster-name': 'false', 'aws:ResourceTag/eks:nodegroup-name': 'false' } },
        }),
      );
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadInstanceRefreshes', actions: ['autoscaling:DescribeInstanceRefreshes'], resources: ['*'] }));
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadInstanceTypes', actions: ['ec2:DescribeInstanceTypes'], resources: ['*'] }),
    );
    role.addToPrincipalPolicy(this.clusterLeaseStatement());
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Any onboarded cluster (created after deploy): describe, list node groups, and create an access entry only for this role (eks:principalArn condition).'],
      [addon, 'Only the vpc-cni add-on of any cluster; the cluster name and add-on UUID are unknown at deploy time.'],
      [ownEntry, 'Only this role\'s own access entry on any cluster (the entry UUID is assigned by EKS); association limited to AmazonEKSClusterAdminPolicy, tags to eks-aviatrix:* keys.'],
      [nodegroups, 'Any node group of any onboarded cluster (created after deploy): describe (read-only).'],
      [
        '*',
        'ec2:DescribeInstanceTypes and autoscaling:DescribeInstanceRefreshes support no resource-level permissions (read-only). ' +
          'Also X-Ray active tracing (no resource-level permissions).',
      ],
      ...(this.config.allowNodeReplacement
        ? [[
            `arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/eks-*`,
            'Instance refresh only of Auto Scaling groups EKS made for a managed node group (eks:cluster-name and eks:nodegroup-name tags required), ' +
              'created after deploy; only with allowNodeReplacement.',
          ] as [string, string]]
        : []),
    ]);
  }

  private grantRecordOutcome(role: iam.Role): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TagClustersWithOwnKeys',
        actions: ['eks:TagResource'],
        resources: [eksClusterArnPattern()],
        conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['eks-aviatrix:*'] } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StatusRecord',
        // updateStatusRecord (lambdas/domain/status-record.ts) is one UpdateItem; nothing is read.
        actions: ['dynamodb:UpdateItem'],
        resources: [this.statusTable.tableArn],
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Tags any onboarded cluster (created after deploy), and only with eks-aviatrix:* tag keys (aws:TagKeys condition).'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
  }

  /**
   * Both Aviatrix functions record which controller objects (SNAT policies, exclusions, SmartGroups)
   * each cluster added in its status record (lambdas/aviatrix/ownership.ts), so offboarding removes
   * only those: read, conditional update, and a scan for the other clusters' claims.
   */
  private grantOwnershipRegistry(role: iam.Role): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnershipRegistry',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Scan'],
        resources: [this.statusTable.tableArn],
      }),
    );
  }

  private grantControllerCredentials(role: iam.Role): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ControllerCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArnPattern(this.config.aviatrix.credentialsSecretName)],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster'], resources: [eksClusterArnPattern()] }));
  }

  // Both Aviatrix functions run outside a VPC: they reach the controller's public (or
  // internet-routed) URL. A controller reachable only privately needs VPC config (not in config yet).
  private grantAviatrixOnboard(role: iam.Role): void {
    this.grantControllerCredentials(role);
    this.grantOwnershipRegistry(role);
    const controller = parseRoleArn(this.config.aviatrix.controllerRoleArn);
    const controllerEntry = roleAccessEntryArnPattern(controller.account, controller.roleName);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CreateControllerAccessEntry',
        actions: ['eks:CreateAccessEntry'],
        resources: [eksClusterArnPattern()],
        conditions: { StringEquals: { 'eks:principalArn': this.config.aviatrix.controllerRoleArn } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadControllerAccessEntry',
        actions: ['eks:DescribeAccessEntry', 'eks:ListAssociatedAccessPolicies'],
        resources: [controllerEntry],
      }),
    );
    role.addToPrincipalPolicy(this.tagAccessEntryStatement('TagControllerAccessEntry', controllerEntry));
    // Offboarding removes the controller's entry (only that one).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'DeleteControllerAccessEntry', actions: ['eks:DeleteAccessEntry'], resources: [controllerEntry] }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssociateViewPolicyToControllerEntry',
        actions: ['eks:AssociateAccessPolicy'],
        resources: [controllerEntry],
        conditions: { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSViewPolicy') } },
      }),
    );
    // A per-cluster lease: two runs never change one cluster's controller objects at once.
    role.addToPrincipalPolicy(this.clusterLeaseStatement());
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Any onboarded cluster (created after deploy): describe, and create an access entry only for the controller role (eks:principalArn condition).'],
      [controllerEntry, 'Only the Aviatrix controller role\'s access entry on any cluster (UUID assigned by EKS): read, delete, tag with eks-aviatrix:* keys; association limited to AmazonEKSViewPolicy.'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
  }

  private grantAviatrixSnat(role: iam.Role): void {
    this.grantControllerCredentials(role);
    this.grantOwnershipRegistry(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'GatewayLeases',
        // Scan: the failure path releases every lease an execution holds (lambdas/aviatrix/lease.ts releaseAll).
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan'],
        resources: [this.leaseTable.tableArn],
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Read-only describe of any onboarded cluster (created after deploy).'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
  }

  /** The AWS side of deletion: only what the workflow created (tagged). */
  private grantCleanup(role: iam.Role): void {
    const vpcs = ec2Arn('vpc/*');
    const subnets = ec2Arn('subnet/*');
    const securityGroups = ec2Arn('security-group/*');
    const managed = { StringEquals: { [`ec2:ResourceTag/${MANAGED_TAG_KEY}`]: 'true' } };
    const statements = [
      new iam.PolicyStatement({ sid: 'Describe', actions: ['ec2:Describe*'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'DeleteManagedOnly',
        actions: ['ec2:DeleteSubnet', 'ec2:DeleteSecurityGroup'],
        resources: [subnets, securityGroups],
        conditions: managed,
      }),
      // Only a VPC the network step tagged when it associated the secondary CIDR.
      new iam.PolicyStatement({
        sid: 'DisassociateSecondaryCidr',
        actions: ['ec2:DisassociateVpcCidrBlock'],
        resources: [vpcs],
        conditions: { Null: { [`ec2:ResourceTag/${SECONDARY_CIDR_TAG_KEY}`]: 'false' } },
      }),
      // ...and, once disassociated, removes that tag (that key only; a DeleteTags without keys,
      // which would remove every tag, is refused by the Null condition).
      new iam.PolicyStatement({
        sid: 'UntagSecondaryCidr',
        actions: ['ec2:DeleteTags'],
        resources: [vpcs],
        conditions: {
          'ForAllValues:StringEquals': { 'aws:TagKeys': [SECONDARY_CIDR_TAG_KEY] },
          Null: { 'aws:TagKeys': 'false', [`ec2:ResourceTag/${SECONDARY_CIDR_TAG_KEY}`]: 'false' },
        },
      }),
      // The rules between the pod SG and the EKS cluster SG block either's deletion: revoked first.
      new iam.PolicyStatement({
        sid: 'RevokeOnManagedSecurityGroups',
        actions: ['ec2:RevokeSecurityGroupIngress'],
        resources: [securityGroups],
        conditions: managed,
      }),
      new iam.PolicyStatement({
        sid: 'RevokeOnEksClusterSecurityGroups',
        actions: ['ec2:RevokeSecurityGroupIngress'],
        resources: [securityGroups],
        conditions: { Null: { [`ec2:ResourceTag/${EKS_CLUSTER_SG_TAG_KEY}`]: 'false' } },
      }),
      // The cluster's access entries went with the cluster: cleanup only waits for it to be gone.
      new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster'], resources: [eksClusterArnPattern()] }),
      new iam.PolicyStatement({
        sid: 'StatusRecords',
        // Offboarding only reads records (readStatusRecord, allStatusRecords); record-outcome writes them.
        actions: ['dynamodb:GetItem', 'dynamodb:Scan'],
        resources: [this.statusTable.tableArn],
      }),
      this.clusterLeaseStatement(),
    ];
    statements.forEach((s) => role.addToPrincipalPolicy(s));
    this.suppressWildcards(role, [
      ['*', 'ec2:Describe* supports no resource-level permissions (read-only). Also X-Ray active tracing (no resource-level permissions).'],
      ['Action::ec2:Describe*', 'Read-only EC2 discovery of what the workflow created (subnets, security groups, CIDR associations).'],
      [vpcs, 'Cluster VPCs are not known at deploy time; CIDR disassociation (and removal of that one tag) only on VPCs tagged eks-aviatrix:secondary-cidr by the network step.'],
      [subnets, 'Deletion only of subnets tagged eks-aviatrix:managed=true (ec2:ResourceTag condition): nothing untagged is deleted.'],
      [securityGroups, 'Deletion only of SGs tagged eks-aviatrix:managed=true (ec2:ResourceTag condition): nothing untagged is deleted. Ingress revocation only on those or on EKS cluster SGs (aws:eks:cluster-name tag).'],
      [eksClusterArnPattern(), 'Read-only describe of any cluster (clusters are created after deploy): cleanup waits until it is gone.'],
    ]);
  }

  /** start-workflow: exactly the three workflows (a duplicate delivery is refused by its execution name). */
  private grantStartWorkflow(role: iam.Role): void {
    const machines = STATE_MACHINES.map((m) => this.stateMachines[m.id]);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'StartWorkflows', actions: ['states:StartExecution'], resources: machines.map((m) => m.stateMachineArn) }),
    );
    this.suppressWildcards(role, [['*', 'X-Ray active tracing (no resource-level permissions).']]);
  }

  /**
   * drift-repair: the Region's clusters and the status records; the cluster workflow for each cluster,
   * the offboarding workflow for an onboarded cluster that no longer exists (a lost DeleteCluster).
   */
  private grantDriftRepair(role: iam.Role): void {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListOnboardedClusters', actions: ['dynamodb:Scan'], resources: [this.statusTable.tableArn] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListRegionClusters', actions: ['eks:ListClusters'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'StartRepairWorkflows',
        actions: ['states:StartExecution'],
        resources: [this.clusterStateMachine.stateMachineArn, this.stateMachines.ClusterOffboarding.stateMachineArn],
      }),
    );
    this.suppressWildcards(role, [['*', 'X-Ray active tracing, and eks:ListClusters (neither supports resource-level permissions).']]);
  }

  /** The per-cluster lease (two runs for one cluster never write at once): item-level calls only. */
  private clusterLeaseStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'ClusterLease',
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
      resources: [this.leaseTable.tableArn],
    });
  }

  /** Tag-on-create of an access entry (CreateAccessEntry with tags), eks-aviatrix:* keys only. */
  private tagAccessEntryStatement(sid: string, entryArnPattern: string): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid,
      actions: ['eks:TagResource'],
      resources: [entryArnPattern],
      conditions: { 'ForAllValues:StringLike': { 'aws:TagKeys': ['eks-aviatrix:*'] } },
    });
  }

  /** IAM5 acknowledgements, one per wildcard, each with its reason, scoped to this role's policy. */
  private suppressWildcards(role: iam.Role, wildcards: [resourceOrAction: string, reason: string][]): void {
    const suppressions: NagPackSuppression[] = wildcards.map(([what, reason]) => ({
      id: 'AwsSolutions-IAM5',
      reason,
      appliesTo: [what.startsWith('Action::') ? what : `Resource::${this.resolveForNag(what)}`],
    }));
    NagSuppressions.addResourceSuppressions(role, suppressions, true);
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
