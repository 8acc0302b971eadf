// The onboarding's state: the status table (one record per cluster, read by the CLI), the lease
// table and the claim index. Both named from the naming prefix (lib/names.ts).
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { ResourceNames } from './names';

export class StatusTables extends Construct {
  readonly statusTable: dynamodb.Table;
  readonly leaseTable: dynamodb.Table;
  readonly claimTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: { names: ResourceNames }) {
    super(scope, id);
    this.statusTable = new dynamodb.Table(this, 'StatusTable', {
      tableName: props.names.statusTable,
      partitionKey: { name: 'clusterName', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      // Kept when the stack goes: it records what was applied to each cluster (README, Deploy).
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Per-gateway leases around the controller's whole-list read-modify-writes, and per-cluster
    // leases so two runs for one cluster never write at once; expired leases are swept by TTL (the
    // code also treats an expired lease as free, TTL deletion being lazy).
    this.leaseTable = new dynamodb.Table(this, 'LeaseTable', {
      tableName: props.names.leaseTable,
      partitionKey: { name: 'leaseId', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Which clusters claim each gateway's SNAT policies and each transit's exclusions: one item per
    // (gateway or transit, cluster), written in the same transaction as the status record's claim,
    // so "who else needs this" is a consistent Query of one partition instead of a Scan of every
    // record. Derived data: a table found empty is rebuilt from the status records once a settle
    // time is over, the records scanned until then (docs/claim-index.md), so it goes with the stack.
    this.claimTable = new dynamodb.Table(this, 'ClaimTable', {
      tableName: props.names.claimTable,
      partitionKey: { name: 'resource', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'claimant', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
