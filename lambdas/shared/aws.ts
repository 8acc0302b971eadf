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

let secretsClient: SecretsManagerClient | undefined;
let ec2Client: EC2Client | undefined;
let eksClient: EKSClient | undefined;
let dynamoClient: DynamoDBClient | undefined;
let autoScalingClient: AutoScalingClient | undefined;
let sfnClient: SFNClient | undefined;
let snsClient: SNSClient | undefined;
let iamClient: IAMClient | undefined;

export const ec2 = (): EC2Client => (ec2Client ??= new ec2Sdk.EC2Client(sdkClientOptions()));
export const eks = (): EKSClient => (eksClient ??= new eksSdk.EKSClient(sdkClientOptions()));
export const dynamo = (): DynamoDBClient => (dynamoClient ??= new dynamoSdk.DynamoDBClient(sdkClientOptions()));
export const autoscaling = (): AutoScalingClient => (autoScalingClient ??= new (autoScalingSdk().AutoScalingClient)(sdkClientOptions()));
export const sfn = (): SFNClient => (sfnClient ??= new sfnSdk.SFNClient(sdkClientOptions()));
export const sns = (): SNSClient => (snsClient ??= new snsSdk.SNSClient(sdkClientOptions()));
export const iam = (): IAMClient => (iamClient ??= new iamSdk.IAMClient(sdkClientOptions()));
export const secretsManager = (): SecretsManagerClient => (secretsClient ??= new secretsSdk.SecretsManagerClient(sdkClientOptions()));
