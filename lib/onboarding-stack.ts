// The onboarding stack: CloudTrail-triggered EventBridge rules -> a Standard state machine loaded
// from state-machines/*.asl.json -> one Lambda per step group, each with its own least-privilege
// role, plus the DynamoDB status and lease tables. See docs in the lead's design (Shape, Config).
import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Aws, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
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
  parseRoleArn,
  roleAccessEntryArnPattern,
  secretArnPattern,
  vpcCniAddonArnPattern,
} from './arns';
import { EksApiTrigger } from './eks-api-trigger';

const REPO_ROOT = path.join(__dirname, '..');
export const CLUSTER_ASL_PATH = path.join(REPO_ROOT, 'state-machines', 'cluster-onboarding.asl.json');

/** Tag carried by every AWS resource the workflow creates (pod subnets, pod security group, access entries). */
export const MANAGED_TAG_KEY = 'eks-aviatrix:managed';
/** Tag EKS puts on the security group it creates for a cluster. */
export const EKS_CLUSTER_SG_TAG_KEY = 'aws:eks:cluster-name';

export interface OnboardingStackProps extends StackProps {
  /** Validated config (lib/config.ts parseConfig). Handed to every Lambda as ONBOARDING_CONFIG. */
  config: OnboardingConfig;
  /** Seconds between polls in the workflow's Wait states. Default 30. */
  pollIntervalSeconds?: number;
  /** Retention of the Lambda and state machine log groups. Default one month. */
  logRetention?: logs.RetentionDays;
  /** Powertools log level of the Lambdas. Default INFO. */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/** The step groups: one Lambda each, at lambdas/<name>/handler.ts. */
export const STEP_FUNCTIONS = [
  { name: 'resolve-cluster', id: 'ResolveCluster', substitution: 'ResolveClusterFunctionArn', timeout: Duration.minutes(1) },
  { name: 'pod-network', id: 'PodNetwork', substitution: 'PodNetworkFunctionArn', timeout: Duration.minutes(2) },
  { name: 'vpc-cni', id: 'VpcCni', substitution: 'VpcCniFunctionArn', timeout: Duration.minutes(2) },
  { name: 'record-outcome', id: 'RecordOutcome', substitution: 'RecordOutcomeFunctionArn', timeout: Duration.minutes(1) },
  // Controller calls have a 30 s per-request timeout and retry 5xx: more than 2 min is plausible.
  { name: 'aviatrix-onboard', id: 'AviatrixOnboard', substitution: 'AviatrixOnboardFunctionArn', timeout: Duration.minutes(4) },
  // Waits up to 4 min for a per-gateway lease (lambdas/aviatrix/lease.ts), then read-modify-writes
  // two gateways and the transit: killed at 2 min it would die holding a lease mid-write.
  { name: 'aviatrix-snat', id: 'AviatrixSnat', substitution: 'AviatrixSnatFunctionArn', timeout: Duration.minutes(9) },
] as const;

export type StepName = (typeof STEP_FUNCTIONS)[number]['name'];

export class OnboardingStack extends Stack {
  readonly statusTable: dynamodb.Table;
  readonly leaseTable: dynamodb.Table;
  readonly functions: Record<StepName, nodejs.NodejsFunction>;
  readonly clusterStateMachine: sfn.StateMachine;
  readonly triggers: EksApiTrigger[] = [];

  private readonly config: OnboardingConfig;
  private readonly logRetention: logs.RetentionDays;

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
    // Per-gateway leases around the controller's whole-list read-modify-writes; expired leases
    // are swept by TTL (the code also treats an expired lease as free, TTL deletion being lazy).
    this.leaseTable = new dynamodb.Table(this, 'LeaseTable', {
      partitionKey: { name: 'leaseId', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // --- Lambdas, one role each ----------------------------------------------------------------
    const roles = Object.fromEntries(
      STEP_FUNCTIONS.map((step) => [
        step.name,
        new iam.Role(this, `${step.id}Role`, {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description: `eks-aviatrix-onboarding ${step.name} step (least privilege, no managed policies)`,
        }),
      ]),
    ) as Record<StepName, iam.Role>;

    const environment: Record<string, string> = {
      ONBOARDING_CONFIG: JSON.stringify(props.config),
      STATUS_TABLE_NAME: this.statusTable.tableName,
      LEASE_TABLE_NAME: this.leaseTable.tableName,
      // The vpc-cni step grants its own role an access entry (cluster-admin) to write ENIConfig.
      RECONCILER_ROLE_ARN: roles['vpc-cni'].roleArn,
      POWERTOOLS_SERVICE_NAME: 'eks-aviatrix-onboarding',
      POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    };

    this.functions = Object.fromEntries(
      STEP_FUNCTIONS.map((step) => [step.name, this.stepFunction(step, roles[step.name], environment)]),
    ) as Record<StepName, nodejs.NodejsFunction>;

    this.grantResolveCluster(roles['resolve-cluster']);
    this.grantPodNetwork(roles['pod-network']);
    this.grantVpcCni(roles['vpc-cni']);
    this.grantRecordOutcome(roles['record-outcome']);
    this.grantAviatrixOnboard(roles['aviatrix-onboard']);
    this.grantAviatrixSnat(roles['aviatrix-snat']);

    // --- The cluster workflow ------------------------------------------------------------------
    this.clusterStateMachine = this.stateMachine('ClusterOnboarding', CLUSTER_ASL_PATH, props.pollIntervalSeconds ?? 30);

    // --- Triggers ------------------------------------------------------------------------------
    this.addTrigger('CreateClusterTrigger', {
      eventNames: ['CreateCluster'],
      stateMachine: this.clusterStateMachine,
      description: 'Successful eks:CreateCluster (CloudTrail) starts the cluster onboarding workflow',
    });
    // A new node group re-runs the cluster workflow (idempotent reconcilers). The node-group and
    // deletion workflows arrive with the next issues: add their rules with addTrigger() then.
    this.addTrigger('CreateNodegroupTrigger', {
      eventNames: ['CreateNodegroup'],
      stateMachine: this.clusterStateMachine,
      description: 'Successful eks:CreateNodegroup (CloudTrail) re-runs the cluster onboarding workflow',
    });
  }

  /** Wires one CloudTrail-based EKS API rule (with its own DLQ) to a state machine. */
  addTrigger(id: string, props: ConstructorParameters<typeof EksApiTrigger>[2]): EksApiTrigger {
    const trigger = new EksApiTrigger(this, id, props);
    this.triggers.push(trigger);
    return trigger;
  }

  private stepFunction(
    step: (typeof STEP_FUNCTIONS)[number],
    role: iam.Role,
    environment: Record<string, string>,
  ): nodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${step.id}Logs`, {
      retention: this.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Own log permissions for this function's log group only (no AWSLambdaBasicExecutionRole).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogGroup',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    const fn = new nodejs.NodejsFunction(this, step.id, {
      entry: path.join(REPO_ROOT, 'lambdas', step.name, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: step.timeout,
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment,
      description: `eks-aviatrix-onboarding: ${step.name} step`,
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

  private stateMachine(id: string, aslPath: string, pollIntervalSeconds: number): sfn.StateMachine {
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
      description: `eks-aviatrix-onboarding ${id} state machine: invokes exactly the step functions`,
    });
    // Exactly these functions, unqualified (the ASL uses the function ARNs), no `:*` versions.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeStepFunctions',
        actions: ['lambda:InvokeFunction'],
        resources: STEP_FUNCTIONS.map((step) => this.functions[step.name].functionArn),
      }),
    );
    const machine = new sfn.StateMachine(this, id, {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(aslPath),
      definitionSubstitutions: {
        ...Object.fromEntries(STEP_FUNCTIONS.map((step) => [step.substitution, this.functions[step.name].functionArn])),
        PollIntervalSeconds: String(pollIntervalSeconds),
      },
      role,
      // ALL gives every state transition; execution data stays out: state inputs/outputs carry the
      // CloudTrail event (caller identity, source IP) and step results, and a log group is read by
      // more people than the execution history. Failures are still visible through error/cause.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      // No `timeout` here: CDK applies it only to chain-built definitions and ignores it for
      // DefinitionBody.fromFile. The machine's TimeoutSeconds lives in the ASL (checked by a test).
    });
    this.checkMachineTimeout(machine, aslPath);
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

  /**
   * The machine-wide TimeoutSeconds lives in the ASL file; it must leave room for the waits the
   * config allows (cluster ACTIVE + add-on update), or long-but-legal waits end as a timeout.
   */
  private checkMachineTimeout(machine: sfn.StateMachine, aslPath: string): void {
    const text = fs.readFileSync(aslPath, 'utf8').replace(/\$\{\w+\}/g, '0');
    let timeout: unknown;
    try {
      timeout = (JSON.parse(text) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
    } catch (error) {
      Annotations.of(machine).addError(`${path.basename(aslPath)} is not valid JSON: ${(error as Error).message}`);
      return;
    }
    const needed = this.config.clusterActiveTimeoutSeconds + this.config.addonUpdateTimeoutSeconds;
    if (typeof timeout !== 'number') {
      Annotations.of(machine).addError(`${path.basename(aslPath)} has no numeric top-level TimeoutSeconds`);
    } else if (timeout <= needed) {
      Annotations.of(machine).addError(
        `${path.basename(aslPath)} TimeoutSeconds (${timeout}) must exceed onboarding.clusterActiveTimeoutSeconds + ` +
          `onboarding.addonUpdateTimeoutSeconds (${needed}); lower those or raise the machine's TimeoutSeconds`,
      );
    }
  }

  // --- Per-function policies -------------------------------------------------------------------

  private grantResolveCluster(role: iam.Role): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadClusters',
        actions: ['eks:DescribeCluster', 'eks:ListTagsForResource'],
        resources: [eksClusterArnPattern()],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadVpcCniAddon', actions: ['eks:DescribeAddon'], resources: [vpcCniAddonArnPattern()] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ListClusters', actions: ['eks:ListClusters'], resources: ['*'] }));
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Clusters are created by others after deploy; any cluster may be onboarded (opt-in is checked in code). Read-only.'],
      [vpcCniAddonArnPattern(), 'The vpc-cni add-on of any cluster (cluster name and add-on UUID are unknown at deploy). Read-only.'],
      ['*', 'eks:ListClusters supports no resource-level permissions. Also X-Ray active tracing (xray:PutTraceSegments/PutTelemetryRecords, no resource-level permissions).'],
    ]);
  }

  private grantPodNetwork(role: iam.Role): void {
    const managed = { StringEquals: { [`aws:RequestTag/${MANAGED_TAG_KEY}`]: 'true' } };
    const vpcs = ec2Arn('vpc/*');
    const subnets = ec2Arn('subnet/*');
    const securityGroups = ec2Arn('security-group/*');
    const routeTables = ec2Arn('route-table/*');
    const sgRuleActions = ['ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress'];
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
      new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster'], resources: [eksClusterArnPattern()] }),
    ];
    statements.forEach((s) => role.addToPrincipalPolicy(s));
    this.suppressWildcards(role, [
      ['*', 'ec2:Describe* supports no resource-level permissions (read-only). Also X-Ray active tracing (xray:PutTraceSegments/PutTelemetryRecords, no resource-level permissions).'],
      ['Action::ec2:Describe*', 'Read-only EC2 discovery (VPCs, CIDR associations, subnets, route tables, security groups, AZs).'],
      [vpcs, 'The cluster VPCs are not known at deploy time (any onboarded cluster); only CIDR association and creating tagged subnets/SGs in them.'],
      [subnets, 'New subnets only with the eks-aviatrix:managed=true request tag; route-table association only of subnets carrying that tag; tags only on create.'],
      [securityGroups, 'New SGs only with the eks-aviatrix:managed=true request tag; rule changes only on SGs tagged eks-aviatrix:managed=true or aws:eks:cluster-name.'],
      [routeTables, 'The node subnets\' route tables (programmed by Aviatrix) are found at run time; EC2 authorizes only the route table for (Replace)RouteTableAssociation.'],
      [eksClusterArnPattern(), 'Read-only describe of any cluster (clusters are created after deploy).'],
    ]);
  }

  private grantVpcCni(role: iam.Role): void {
    const addon = vpcCniAddonArnPattern();
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'ReadClusters', actions: ['eks:DescribeCluster', 'eks:DescribeUpdate'], resources: [eksClusterArnPattern()] }),
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
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssociateClusterAdminToOwnEntry',
        actions: ['eks:AssociateAccessPolicy'],
        resources: [ownEntry],
        conditions: { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSClusterAdminPolicy') } },
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Any onboarded cluster (created after deploy): describe, and create an access entry only for this role (eks:principalArn condition).'],
      [addon, 'Only the vpc-cni add-on of any cluster; the cluster name and add-on UUID are unknown at deploy time.'],
      [ownEntry, 'Only this role\'s own access entry on any cluster (the entry UUID is assigned by EKS); association limited to AmazonEKSClusterAdminPolicy.'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
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
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [this.statusTable.tableArn],
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Tags any onboarded cluster (created after deploy), and only with eks-aviatrix:* tag keys (aws:TagKeys condition).'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
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
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AssociateViewPolicyToControllerEntry',
        actions: ['eks:AssociateAccessPolicy'],
        resources: [controllerEntry],
        conditions: { StringEquals: { 'eks:policyArn': eksAccessPolicyArn('AmazonEKSViewPolicy') } },
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Any onboarded cluster (created after deploy): describe, and create an access entry only for the controller role (eks:principalArn condition).'],
      [controllerEntry, 'Only the Aviatrix controller role\'s access entry on any cluster (UUID assigned by EKS); association limited to AmazonEKSViewPolicy.'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
  }

  private grantAviatrixSnat(role: iam.Role): void {
    this.grantControllerCredentials(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'GatewayLeases',
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.leaseTable.tableArn],
      }),
    );
    this.suppressWildcards(role, [
      [eksClusterArnPattern(), 'Read-only describe of any onboarded cluster (created after deploy).'],
      ['*', 'X-Ray active tracing (no resource-level permissions).'],
    ]);
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
