// SDK clients, created on first use and reused by a warm Lambda. Endpoints come from the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables, so the local world needs no code path of its own.
// Every SDK module is loaded only when first used: loading the EC2 module alone costs a cold start
// about 0.2 s, which functions (and code paths) that never call EC2 should not pay. Code imports
// commands, paginators and error classes from lambdas/shared/sdk/<service>.ts, never from
// '@aws-sdk/*' directly (types excepted); `npm run bench` and test/cdk/bundles.test.ts check it.
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { memberRoleName } from '../../lib/member-role-name';
import { ALL_FUNCTIONS, KUBE_RECONCILER_ROLE_ID } from '../../lib/functions';
import { isTransient } from './classify';
import { OnboardingError, withFailedCall } from './errors';
import { requireSetting, runtime } from './runtime';
import { callBudget, withinCallBudget } from './step';
import { currentFunctionName, currentTarget, runningFunctionName, Target } from './target';
import { keptWhileWarm } from './warm-state';

/**
 * A stand-in for a module's export that loads the module on first use: `new`, calls, `instanceof`
 * and static members all reach the real export, so call sites read as if they imported it.
 */
export function lazySdk<M extends object>(load: () => M): M {
  let loaded: M | undefined;
  const mod = () => (loaded ??= load());
  const members = new Map<PropertyKey, unknown>();
  return new Proxy({} as M, {
    get(_target, name) {
      if (!members.has(name)) {
        const real = () => (mod() as Record<PropertyKey, never>)[name] as unknown as (...args: unknown[]) => unknown;
        // A plain function as target, so the proxy can be called and constructed.
        members.set(
          name,
          new Proxy(function lazyMember() {}, {
            construct: (_t, args) => Reflect.construct(real(), args),
            apply: (_t, self, args) => Reflect.apply(real(), self, args),
            get: (_t, prop) => Reflect.get(real(), prop),
          }),
        );
      }
      return members.get(name);
    },
  });
}

/* eslint-disable @typescript-eslint/no-require-imports */
export const ec2Sdk = lazySdk(() => require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2'));
export const eksSdk = lazySdk(() => require('@aws-sdk/client-eks') as typeof import('@aws-sdk/client-eks'));
export const dynamoSdk = lazySdk(() => require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb'));
export const stsSdk = lazySdk(() => require('@aws-sdk/client-sts') as typeof import('@aws-sdk/client-sts'));
export const sfnSdk = lazySdk(() => require('@aws-sdk/client-sfn') as typeof import('@aws-sdk/client-sfn'));
export const snsSdk = lazySdk(() => require('@aws-sdk/client-sns') as typeof import('@aws-sdk/client-sns'));
export const iamSdk = lazySdk(() => require('@aws-sdk/client-iam') as typeof import('@aws-sdk/client-iam'));
export const secretsSdk = lazySdk(() => require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager'));
/** The Auto Scaling module itself (commands, error classes), loaded only by the node-replacement path. */
export const autoScalingSdk = (): typeof import('@aws-sdk/client-auto-scaling') =>
  require('@aws-sdk/client-auto-scaling') as typeof import('@aws-sdk/client-auto-scaling');
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * The SDK's own retries, the same for every client: AWS_MAX_ATTEMPTS attempts (default 5), each
 * waiting at most AWS_REQUEST_TIMEOUT_MS (default 20 s) for an answer, with the
 * SDK's back-off, or with AWS_RETRY_BASE_DELAY_MS set, full jitter over that base doubled per retry
 * (the local world sets it low so faults do not sleep through seconds of back-off).
 */
export function sdkClientOptions() {
  const maxAttempts = Number(process.env.AWS_MAX_ATTEMPTS) || 5;
  // Without throwOnRequestTimeout the SDK only warns and waits on a silent connection until the
  // Lambda itself times out; a timed-out attempt is retried like any other transient failure.
  const requestHandler = { requestTimeout: Number(process.env.AWS_REQUEST_TIMEOUT_MS) || 20_000, throwOnRequestTimeout: true };
  const baseMs = Number(process.env.AWS_RETRY_BASE_DELAY_MS);
  if (!(baseMs > 0)) return { maxAttempts, requestHandler };
  const { ConfiguredRetryStrategy } = require('@smithy/core/retry') as typeof import('@smithy/core/retry');
  return { maxAttempts, requestHandler, retryStrategy: new ConfiguredRetryStrategy(maxAttempts, (attempt) => Math.random() * baseMs * 2 ** attempt) };
}

/** The part of an SDK client this module touches: its middleware stack. */
interface WithMiddleware {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }): void };
}

/**
 * Bounds every call of `client`, the SDK's own retries included, by what its step has left
 * (lambdas/shared/step.ts callBudget): a slow or silent service ends the step in a TransientError
 * naming the call, which the ASL retries, instead of the Lambda timeout, which it does not retry and
 * which would stop the step mid-work with its leases held. Outside a step (no Lambda clock) no bound.
 * Any failure of a call is marked with the call's name (withFailedCall), which the step's message names.
 */
export function withStepDeadline<C>(client: C): C {
  type Next = (args: unknown) => Promise<unknown>;
  type Context = { clientName?: string; commandName?: string };
  const deadline = (next: Next, context: Context) => (args: unknown) => {
    const call = `${(context.clientName ?? 'AWS').replace(/Client$/, '')} ${(context.commandName ?? 'call').replace(/Command$/, '')}`;
    return withinCallBudget(call, () =>
      next(args).catch((error: unknown) => {
        throw withFailedCall(error, call);
      }),
    );
  };
  (client as unknown as WithMiddleware).middlewareStack.add(deadline, { step: 'initialize', name: 'stepDeadline', override: true });
  // The deadline above only stops waiting (the SDK does not see withinCallBudget's signal): a call
  // that ends in an error (the deadline's among them) is also aborted, so that the SDK does not go
  // on retrying a write that could land after the step has released its leases. Aborting a call
  // that has already ended does nothing.
  const sendable = client as unknown as { send: (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown> };
  const send = sendable.send.bind(client);
  sendable.send = (command, options) => {
    if (!callBudget() || options?.abortSignal) return send(command, options);
    const abort = new AbortController();
    return send(command, { ...options, abortSignal: abort.signal }).catch((error: unknown) => {
      abort.abort();
      throw error;
    });
  };
  return client;
}

let secretsClient: SecretsManagerClient | undefined;
let dynamoClient: DynamoDBClient | undefined;
let sfnClient: SFNClient | undefined;
let snsClient: SNSClient | undefined;

// Hub-only clients: the tables, the workflows, the topic and the controller secret live in the hub.
export const dynamo = (): DynamoDBClient => (dynamoClient ??= withStepDeadline(new dynamoSdk.DynamoDBClient(sdkClientOptions())));
export const sfn = (): SFNClient => (sfnClient ??= withStepDeadline(new sfnSdk.SFNClient(sdkClientOptions())));
export const sns = (): SNSClient => (snsClient ??= withStepDeadline(new snsSdk.SNSClient(sdkClientOptions())));
export const secretsManager = (): SecretsManagerClient => (secretsClient ??= withStepDeadline(new secretsSdk.SecretsManagerClient(sdkClientOptions())));

// Cluster-scoped clients: they act in the ambient target's account and Region (lambdas/shared/target.ts)
// as this function's member role there (memberCredentials below), and with the function's own
// credentials in the hub's own account and Region.
export const ec2 = (): EC2Client => targetClient('ec2', (o) => new ec2Sdk.EC2Client(o));
export const eks = (): EKSClient => targetClient('eks', (o) => new eksSdk.EKSClient(o));
export const autoscaling = (): AutoScalingClient => targetClient('autoscaling', (o) => new (autoScalingSdk().AutoScalingClient)(o));
/** The cluster's own IAM role lives in the cluster's account (the pod-security-group check reads it). */
export const iam = (): IAMClient => targetClient('iam', (o) => new iamSdk.IAMClient(o));
/** Signs the Kubernetes bearer token (lambdas/shared/kube-token.ts): the identity EKS maps to an access entry. */
export const sts = (): STSClient => targetClient('sts', (o) => new stsSdk.STSClient(o));

/** Member credentials are renewed this long before they expire (a step runs at most 9 minutes). */
const RENEW_BEFORE_MS = 10 * 60_000;
const ASSUMED_SECONDS = 3600;

const clients = new Map<string, unknown>();
const credentials = new Map<string, Promise<AwsCredentialIdentity>>();

function targetClient<C>(service: string, make: (options: ReturnType<typeof sdkClientOptions> & { region?: string; credentials?: () => Promise<AwsCredentialIdentity> }) => C): C {
  const target = currentTarget();
  // Per member role: the client's credentials are that role's (one role per function in Lambda).
  const roleArn = target && memberRoleArn(target);
  const key = `${service}/${roleArn ?? 'hub'}`;
  if (!clients.has(key)) {
    clients.set(key, withStepDeadline(make({ ...sdkClientOptions(), ...(target && roleArn ? { region: target.region, credentials: () => memberCredentials(roleArn, target) } : {}) })));
  }
  return clients.get(key) as C;
}

/** The hub role id of the running function (lib/functions.ts): its member role has that role's rows. */
function functionRoleId(): string {
  const name = runningFunctionName() ?? '';
  // Function names are "<prefix>-<step>"; the longest step name that ends it is the function.
  const spec = ALL_FUNCTIONS.filter((f) => name.endsWith(`-${f.name}`)).sort((a, b) => b.name.length - a.name.length)[0];
  if (!spec) throw new OnboardingError('ConfigError', `cannot tell which step function "${name}" is, to pick its member role; function names end in the step name (lib/functions.ts)`);
  return spec.role;
}

/** The member role this function assumes in `target` (lib/member-role-name.ts, as lib/multi-account.ts names it). */
export function memberRoleArn(target: Target, roleId = functionRoleId()): string {
  const { members } = runtime().config;
  if (!members) {
    throw new OnboardingError(
      'ConfigError',
      `the cluster is in account ${target.account} Region ${target.region}, but this deployment serves only its own account and Region: ` +
        'add onboarding.hub and onboarding.members (that account and Region) to the config, deploy the member stack there, and redeploy the hub',
    );
  }
  const accountListed = members.accounts.includes(target.account) || (members.accounts.length === 0 && members.organizationId !== undefined);
  if (!accountListed || !members.regions.includes(target.region)) {
    throw new OnboardingError(
      'ConfigError',
      `account ${target.account} Region ${target.region} is not a member of this deployment (onboarding.members.accounts ${JSON.stringify(members.accounts)}, ` +
        `regions ${JSON.stringify(members.regions)}): add it there, deploy the member stack in it, and redeploy the hub`,
    );
  }
  const partition = /^(cn|us-gov)-/.test(target.region) ? (target.region.startsWith('cn-') ? 'aws-cn' : 'aws-us-gov') : 'aws';
  return `arn:${partition}:iam::${target.account}:role/${memberRoleName(members, roleId, target.region)}`;
}

/**
 * The IAM identity the Kubernetes steps act as (their access entry's principal): the kube
 * reconciler's hub role, or its member role in a member account and Region.
 */
export function kubernetesIdentityArn(target: Target | undefined): string {
  return target ? memberRoleArn(target, KUBE_RECONCILER_ROLE_ID) : requireSetting(runtime().reconcilerRoleArn, 'RECONCILER_ROLE_ARN');
}

/**
 * Credentials of this function's member role in `target`, from one AssumeRole (with the configured
 * external id) per account/Region, reused until shortly before they expire. The hub's own STS,
 * with the function's own credentials, makes the call.
 */
function memberCredentials(roleArn: string, target: Target): Promise<AwsCredentialIdentity> {
  const cached = credentials.get(roleArn);
  // The first call stores its AssumeRole at once: clients of two services called side by side share it.
  if (!cached) return assumeShared(roleArn, target);
  const renew = () => {
    const current = credentials.get(roleArn);
    return current && current !== cached ? current : assumeShared(roleArn, target);
  };
  return cached.then((c) => ((c.expiration?.getTime() ?? 0) - Date.now() > RENEW_BEFORE_MS ? c : renew()), renew);
}

/** One AssumeRole for `roleArn`, stored before it is sent so that concurrent callers wait for it. */
function assumeShared(roleArn: string, target: Target): Promise<AwsCredentialIdentity> {
  const assumed = assumeMemberRole(roleArn, target);
  credentials.set(roleArn, assumed);
  return assumed;
}

let hubSts: STSClient | undefined;

keptWhileWarm(() => {
  secretsClient = dynamoClient = sfnClient = snsClient = hubSts = undefined;
  clients.clear();
  credentials.clear();
});

async function assumeMemberRole(roleArn: string, target: Target): Promise<AwsCredentialIdentity> {
  hubSts ??= withStepDeadline(new stsSdk.STSClient(sdkClientOptions()));
  const { externalId } = runtime().config.members ?? {};
  try {
    const { Credentials: c } = await hubSts.send(
      new stsSdk.AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: (currentFunctionName() ?? 'eks-aviatrix').slice(0, 64),
        DurationSeconds: ASSUMED_SECONDS,
        ...(externalId ? { ExternalId: externalId } : {}),
      }),
    );
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('STS answered AssumeRole without credentials');
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
  } catch (error) {
    credentials.delete(roleArn);
    if (isTransient(error)) throw error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new OnboardingError(
      'ConfigError',
      `could not assume member role ${roleArn} for the cluster's account ${target.account} Region ${target.region} (${reason}); ` +
        'deploy the member stack (EksAviatrixOnboardingMember) in that account and Region with this config\'s members.externalId, see docs/multi-account.md',
    );
  }
}
