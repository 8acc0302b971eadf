// The DynamoDB tables the stack creates (lib/status-tables.ts), made in moto with the same keys.
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';

export async function createStackTables(dynamo: DynamoDBClient, names: { statusTable: string; leaseTable: string; claimTable: string }): Promise<void> {
  for (const [TableName, keys] of [
    [names.statusTable, ['clusterName']],
    [names.leaseTable, ['leaseId']],
    [names.claimTable, ['resource', 'claimant']],
  ] as const) {
    await dynamo.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: keys.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: keys.map((AttributeName, i) => ({ AttributeName, KeyType: i === 0 ? 'HASH' : 'RANGE' })),
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
}
