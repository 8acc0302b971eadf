// SDK clients, created on first use and reused by a warm Lambda. Endpoints come from the SDK's own
// AWS_ENDPOINT_URL_<SERVICE> variables, so the local world needs no code path of its own.
import { EC2Client } from '@aws-sdk/client-ec2';
import { EKSClient } from '@aws-sdk/client-eks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const retry = { maxAttempts: 5 } as const;
let ec2Client: EC2Client | undefined;
let eksClient: EKSClient | undefined;
let dynamoClient: DynamoDBClient | undefined;

export const ec2 = (): EC2Client => (ec2Client ??= new EC2Client(retry));
export const eks = (): EKSClient => (eksClient ??= new EKSClient(retry));
export const dynamo = (): DynamoDBClient => (dynamoClient ??= new DynamoDBClient(retry));
