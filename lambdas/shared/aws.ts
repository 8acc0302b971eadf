// SDK clients, created on first use and reused by a warm Lambda. Endpoints come from the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables, so the local world needs no code path of its own.
// Each client module is loaded only when first used: loading the EC2 client alone costs a cold
// start about 0.2 s, which functions that never call EC2 should not pay (see `npm run bench`).
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
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

export const ec2 = (): EC2Client =>
  (ec2Client ??= new (require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2')).EC2Client(sdkClientOptions()));
export const eks = (): EKSClient =>
  (eksClient ??= new (require('@aws-sdk/client-eks') as typeof import('@aws-sdk/client-eks')).EKSClient(sdkClientOptions()));
export const dynamo = (): DynamoDBClient =>
  (dynamoClient ??= new (require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb')).DynamoDBClient(sdkClientOptions()));
/** The Auto Scaling module itself (commands, error classes), loaded only by the node-replacement path. */
export const autoScalingSdk = (): typeof import('@aws-sdk/client-auto-scaling') =>
  require('@aws-sdk/client-auto-scaling') as typeof import('@aws-sdk/client-auto-scaling');
export const autoscaling = (): AutoScalingClient => (autoScalingClient ??= new (autoScalingSdk().AutoScalingClient)(sdkClientOptions()));
/** The Secrets Manager module itself (commands), loaded only by the controller functions. */
export const secretsManagerSdk = (): typeof import('@aws-sdk/client-secrets-manager') =>
  require('@aws-sdk/client-secrets-manager') as typeof import('@aws-sdk/client-secrets-manager');
export const secretsManager = (): SecretsManagerClient => (secretsClient ??= new (secretsManagerSdk().SecretsManagerClient)(sdkClientOptions()));
