// The two DynamoDB tables the stack creates (lib/onboarding-stack.ts), made in moto with the same keys.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

export async function createStackTables(dynamo: DynamoDBClient, names: { statusTable: string; leaseTable: string }): Promise<void> {
  for (const [TableName, key] of [
    [names.statusTable, 'clusterName'],
    [names.leaseTable, 'leaseId'],
  ] as const) {
    await dynamo.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
}
