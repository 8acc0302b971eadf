// DynamoDB: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-dynamodb' instead would load the module cold.
import { dynamoSdk } from '../aws';

export type * from '@aws-sdk/client-dynamodb';
export const {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  paginateScan,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} = dynamoSdk;
/** The client's instance type (the const above hides the SDK's own). */
export type DynamoDBClient = InstanceType<typeof DynamoDBClient>;
