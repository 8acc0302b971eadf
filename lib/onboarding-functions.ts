// The Lambda functions (lib/functions.ts lists them), their log groups and roles, and the roles'
// policies from the one IAM table (lib/permissions.ts). Functions and roles are named from the
// naming prefix, so a run's log lines are found without looking anything up (`eks-aviatrix logs`).
import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Aws, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { rowPolicy } from './policy-rows';
import { OnboardingConfig } from './config';
import { stampConfig } from '../lambdas/shared/config-stamp';
import { BUNDLE_ALIASES, BUNDLING, EXTERNAL_MODULES } from './bundling';
import { ALL_FUNCTIONS, claimWriterTimeoutSeconds, FunctionName, FunctionSpec, KUBE_RECONCILER_ROLE_ID } from './functions';
import { ResourceNames } from './names';
import { PACKAGE_ROOT } from './package-root';
import { PermissionContext, permissionTable, X_RAY_REASON } from './permissions';
import { attachToNetwork, FunctionNetwork, privateEndpointNetwork } from './private-endpoint-access';

/**
 * Room left for the stamped config (ONBOARDING_CONFIG and ONBOARDING_CONFIG_SHA256, keys and values)
 * in the 4 KB Lambda environment after the other variables: table names, the reconciler role ARN,
 * Powertools settings and, on notify (the most), the topic ARN and three state machine ARNs (~100
 * characters each) come to ~800 bytes with the default naming prefix.
 */
export const MAX_CONFIG_ENV_BYTES = 3200;

/**
 * Lambdas are bundled by esbuild from this package's own sources (lambdas/<step>/handler.ts), in
 * this repository and in an app that installed the packed package alike. Nothing is installed at
 * bundling time, so the lock file only tells CDK the project root: the repository's when present,
 * the package's package.json otherwise (npm does not pack package-lock.json).
 */
function lockFile(): string {
  const lock = path.join(PACKAGE_ROOT, 'package-lock.json');
  return fs.existsSync(lock) ? lock : path.join(PACKAGE_ROOT, 'package.json');
}

export interface OnboardingFunctionsProps {
  config: OnboardingConfig;
  names: ResourceNames;
  statusTableName: string;
  leaseTableName: string;
  claimTableName: string;
  logRetention: logs.RetentionDays;
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export class OnboardingFunctions extends Construct {
  readonly functions: Record<FunctionName, nodejs.NodejsFunction>;
  /** One role per function, but one shared by the Kubernetes steps (lib/functions.ts). */
  readonly roles: Record<string, iam.Role>;
  /** With privateEndpointAccess: where the Kubernetes-writing functions run. */
  private readonly functionNetwork?: FunctionNetwork;

  constructor(scope: Construct, id: string, props: OnboardingFunctionsProps) {
    super(scope, id);
    const roleUsers = new Map<string, string[]>();
    for (const fn of ALL_FUNCTIONS) roleUsers.set(fn.role, [...(roleUsers.get(fn.role) ?? []), fn.name]);
    this.roles = Object.fromEntries(
      [...roleUsers].map(([roleId, users]) => [
        roleId,
        new iam.Role(this, roleId, {
          roleName: props.names.role(roleId, Stack.of(this).region),
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description:
            roleId === KUBE_RECONCILER_ROLE_ID
              ? `eks-aviatrix-onboarding kube reconciler (${users.join(' and ')} steps): one Kubernetes identity, one access entry`
              : `eks-aviatrix-onboarding ${users.join(', ')} (least privilege, no managed policies)`,
        }),
      ]),
    );

    const privateEndpoint = privateEndpointNetwork(this, props.config);
    this.functionNetwork = privateEndpoint?.network;
    // The config validated by the construct, stamped so that the Lambdas trust it without validating it again.
    const stamped = stampConfig(privateEndpoint?.config ?? props.config, (value) => Token.isUnresolved(value));
    const environment: Record<string, string> = {
      ...stamped,
      STATUS_TABLE_NAME: props.statusTableName,
      LEASE_TABLE_NAME: props.leaseTableName,
      CLAIM_TABLE_NAME: props.claimTableName,
      // The claim index is trusted only once a claim writer of the version before can no longer be running (docs/claim-index.md).
      CLAIM_INDEX_SETTLE_SECONDS: String(claimWriterTimeoutSeconds() + 60),
      // The vpc-cni step gives this role an access entry in a Kubernetes group whose RBAC allows what
      // it writes; the nodegroup step runs as the same role, hence as the same Kubernetes identity.
      RECONCILER_ROLE_ARN: this.roles[KUBE_RECONCILER_ROLE_ID].roleArn,
      // A cluster of another account or Region is reached through that member's role (lambdas/shared/target.ts).
      HUB_ACCOUNT_ID: Aws.ACCOUNT_ID,
      POWERTOOLS_SERVICE_NAME: 'eks-aviatrix-onboarding',
      POWERTOOLS_LOG_LEVEL: props.logLevel,
    };
    // Lambda allows 4 KB of environment in total; a CA bundle in config can get close.
    const configBytes = Object.entries(stamped).reduce((bytes, [key, value]) => bytes + Buffer.byteLength(key + value, 'utf8'), 0);
    if (configBytes > MAX_CONFIG_ENV_BYTES) {
      Annotations.of(this).addError(
        `onboarding config takes ${configBytes} bytes of the Lambda environment (as JSON, with its digest); Lambda environments are limited to 4 KB in total ` +
          `(keep it under ${MAX_CONFIG_ENV_BYTES}): shorten onboarding.aviatrix.caBundlePem or onboarding.aviatrix.kubernetesSmartGroups`,
      );
    }
    this.functions = Object.fromEntries(
      ALL_FUNCTIONS.map((spec) => [spec.name, this.lambdaFunction(spec, environment, props)]),
    ) as Record<FunctionName, nodejs.NodejsFunction>;
  }

  private lambdaFunction(spec: FunctionSpec, environment: Record<string, string>, props: OnboardingFunctionsProps): nodejs.NodejsFunction {
    const role = this.roles[spec.role];
    const functionName = props.names.function(spec.name);
    const logGroup = new logs.LogGroup(this, `${spec.id}Logs`, {
      // Lambda's own default name for the function's group, so the console's "View logs" finds it too.
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention,
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
      functionName,
      entry: path.join(PACKAGE_ROOT, 'lambdas', spec.name, 'handler.ts'),
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
      projectRoot: PACKAGE_ROOT,
      depsLockFilePath: lockFile(),
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
    // The functions that call the Kubernetes API reach private-only endpoints from these subnets.
    if (this.functionNetwork && spec.role === KUBE_RECONCILER_ROLE_ID) attachToNetwork(fn, this.functionNetwork);
    // The role's IAM5 acknowledgements sit with its rows in lib/permissions.ts (applyPermissionTable).
    return fn;
  }

  /**
   * One inline policy per row of the permission table, so each row's wildcards get their own
   * cdk-nag acknowledgement with the row's reason (a role-wide one would cover statements of
   * different conditions alike). Functions wait for their role's policies.
   */
  applyPermissionTable(context: Omit<PermissionContext, 'account' | 'region' | 'roleArn' | 'roleName'>): void {
    const table = permissionTable({
      ...context,
      account: Aws.ACCOUNT_ID,
      region: Aws.REGION,
      roleArn: (roleId) => this.roles[roleId].roleArn,
      roleName: (roleId) => this.roles[roleId].roleName,
      ...(this.functionNetwork ? { functionNetwork: this.functionNetwork } : {}),
    });
    for (const [roleId, rows] of Object.entries(table)) {
      const role = this.roles[roleId];
      if (!role) throw new Error(`lib/permissions.ts has rows for ${roleId}, which no function uses (lib/functions.ts)`);
      for (const row of rows) {
        const policy = rowPolicy(this, `${roleId}${row.sid}`, role, row);
        for (const fn of ALL_FUNCTIONS.filter((f) => f.role === roleId)) this.functions[fn.name as FunctionName].node.addDependency(policy);
      }
      // The role's default policy holds what CDK adds itself: its log group and X-Ray (Resource::*).
      NagSuppressions.addResourceSuppressions(role, [{ id: 'AwsSolutions-IAM5', reason: X_RAY_REASON, appliesTo: ['Resource::*'] }], true);
    }
  }
}
