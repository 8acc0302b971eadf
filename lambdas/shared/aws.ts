// SDK clients, created on first use and reused by a warm Lambda. Endpoints come from the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables, so the local world needs no code path of its own.
// Each client module is loaded only when first used: loading the EC2 client alone costs a cold
// start about 0.2 s, which functions that never call EC2 should not pay (see `npm run bench`).
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { EKSClient } from '@aws-sdk/client-eks';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';

const retry = { maxAttempts: 5 } as const;
let ec2Client: EC2Client | undefined;
let eksClient: EKSClient | undefined;
let dynamoClient: DynamoDBClient | undefined;
let autoScalingClient: AutoScalingClient | undefined;
let sfnClient: SFNClient | undefined;
let snsClient: SNSClient | undefined;

/* eslint-disable @typescript-eslint/no-require-imports */
export const ec2 = (): EC2Client =>
  (ec2Client ??= new (require('@aws-sdk/client-ec2') as typeof import('@aws-sdk/client-ec2')).EC2Client(retry));
export const eks = (): EKSClient =>
  (eksClient ??= new (require('@aws-sdk/client-eks') as typeof import('@aws-sdk/client-eks')).EKSClient(retry));
export const dynamo = (): DynamoDBClient =>
  (dynamoClient ??= new (require('@aws-sdk/client-dynamodb') as typeof import('@aws-sdk/client-dynamodb')).DynamoDBClient(retry));
/** The Auto Scaling module itself (commands, error classes), loaded only by the node-replacement path. */
export const autoScalingSdk = (): typeof import('@aws-sdk/client-auto-scaling') =>
  require('@aws-sdk/client-auto-scaling') as typeof import('@aws-sdk/client-auto-scaling');
export const autoscaling = (): AutoScalingClient => (autoScalingClient ??= new (autoScalingSdk().AutoScalingClient)(retry));
export const sfn = (): SFNClient =>
  (sfnClient ??= new (require('@aws-sdk/client-sfn') as typeof import('@aws-sdk/client-sfn')).SFNClient(retry));
export const sns = (): SNSClient =>
  (snsClient ??= new (require('@aws-sdk/client-sns') as typeof import('@aws-sdk/client-sns')).SNSClient(retry));
