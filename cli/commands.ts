// The three commands: plan, run, status. Each returns its exit status.
import { AttributeValue, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Clients, explainAwsError } from './aws';
import { CliError, EXIT_FAILED, EXIT_OK } from './errors';
import { consoleUrl, FinishedExecution, followExecution, startExecution } from './execution';
import { describeFailure, elapsed, formatChanges, formatStatus, Outcome, plural, StatusRow } from './format';
import { DeployedStack, OUTPUTS } from './stack';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export interface CommandContext {
  clients: Clients;
  stack: DeployedStack;
  io: Output;
  pollMs: number;
}

const TRIGGER = 'CLI';

function parseOutcome(execution: FinishedExecution): Outcome {
  try {
    const outcome = JSON.parse(execution.output ?? 'null') as Outcome | null;
    if (outcome && Array.isArray(outcome.changes)) return outcome;
  } catch {
    // fall through
  }
  throw new CliError(`The execution ${execution.executionArn} succeeded but its output is not an outcome: ${String(execution.output).slice(0, 200)}`, EXIT_FAILED);
}

const took = (execution: FinishedExecution) => elapsed(execution.startDate.getTime(), execution.stopDate.getTime()).trim();

export async function plan(ctx: CommandContext, cluster: string): Promise<number> {
  const { clients, stack, io } = ctx;
  const arn = stack.require('clusterStateMachineArn');
  const started = await startExecution(clients.sfn, arn, { clusterName: cluster, dryRun: true, trigger: TRIGGER }, OUTPUTS.clusterStateMachineArn);
  const execution = await followExecution(clients.sfn, started, { pollMs: ctx.pollMs });
  if (execution.status !== 'SUCCEEDED') {
    io.err(`Plan for ${cluster} failed: ${failureOf(execution)}`);
    return EXIT_FAILED;
  }
  const outcome = parseOutcome(execution);
  if (outcome.status === 'SKIPPED') {
    io.out(`Skipped: ${cluster} is not selected for onboarding (the optIn setting); there is nothing to plan.`);
    return EXIT_OK;
  }
  if (outcome.changes.length === 0) {
    io.out(`No changes: ${cluster} is onboarded as configured.`);
    return EXIT_OK;
  }
  io.out(`Planned changes for ${cluster} (${outcome.changes.length}):`);
  for (const line of formatChanges(outcome.changes)) io.out(line);
  io.out(`Apply them with: eks-aviatrix run ${cluster}`);
  return EXIT_OK;
}

export async function run(ctx: CommandContext, cluster: string, nodegroup?: string): Promise<number> {
  const { clients, stack, io } = ctx;
  const output = nodegroup ? 'nodegroupStateMachineArn' : 'clusterStateMachineArn';
  const arn = stack.require(output);
  const input = nodegroup ? { clusterName: cluster, nodegroupName: nodegroup, trigger: TRIGGER } : { clusterName: cluster, trigger: TRIGGER };
  const target = nodegroup ? `node group ${nodegroup} of ${cluster}` : cluster;
  const started = await startExecution(clients.sfn, arn, input, OUTPUTS[output]);
  io.out(`Onboarding ${target}: execution ${started.executionArn.split(':').pop()}`);
  io.out(`  ${consoleUrl(clients.region, started.executionArn)}`);
  const execution = await followExecution(clients.sfn, started, { pollMs: ctx.pollMs, progress: io.out });
  if (execution.status === 'SUCCEEDED') {
    const outcome = parseOutcome(execution);
    if (outcome.changes.length === 0) {
      io.out(`Succeeded in ${took(execution)}: ${target} is ${outcome.status}, nothing changed.`);
    } else {
      io.out(`Succeeded in ${took(execution)}: ${target} is ${outcome.status}, ${plural(outcome.changes.length, 'change')}:`);
      for (const line of formatChanges(outcome.changes)) io.out(line);
    }
    return EXIT_OK;
  }
  const changed = execution.lastOutcome?.changes ?? [];
  if (changed.length > 0) {
    io.out(`Changed before the failure (${changed.length}):`);
    for (const line of formatChanges(changed)) io.out(line);
  }
  io.err(`Failed after ${took(execution)}: ${failureOf(execution)}`);
  return EXIT_FAILED;
}

function failureOf(execution: FinishedExecution): string {
  if (execution.status === 'FAILED') return describeFailure(execution.error, execution.cause);
  return `the execution ended ${execution.status}${execution.error ? ` (${describeFailure(execution.error, execution.cause)})` : ''}`;
}

const str = (value: AttributeValue | undefined) => value?.S;

function rowOf(item: Record<string, AttributeValue>): StatusRow {
  const count = item.changeCount?.N;
  return {
    clusterName: str(item.clusterName) ?? '?',
    status: str(item.status) ?? '?',
    ...(str(item.finishedAt) ? { finishedAt: str(item.finishedAt) } : {}),
    ...(count !== undefined ? { changeCount: Number(count) } : {}),
    ...(str(item.trigger) ? { trigger: str(item.trigger) } : {}),
    ...(str(item.error) ? { error: str(item.error) } : {}),
  };
}

export async function status(ctx: CommandContext, cluster?: string): Promise<number> {
  const { clients, stack, io } = ctx;
  const table = stack.require('statusTableName');
  const rows: StatusRow[] = [];
  try {
    if (cluster) {
      const { Item } = await clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { clusterName: { S: cluster } }, ConsistentRead: true }));
      if (Item) rows.push(rowOf(Item));
    } else {
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await clients.dynamodb.send(new ScanCommand({ TableName: table, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }));
        rows.push(...(page.Items ?? []).map(rowOf));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') {
      throw new CliError(`The status table ${table} (stack output ${OUTPUTS.statusTableName}) does not exist in ${clients.region}. Deploy the stack again with \`npx cdk deploy\`.`);
    }
    throw explainAwsError(error);
  }
  if (rows.length === 0) {
    io.out(cluster ? `No status recorded for ${cluster}: no onboarding run has finished for it.` : 'No status recorded yet: no onboarding run has finished.');
    return EXIT_OK;
  }
  for (const line of formatStatus(rows)) io.out(line);
  return EXIT_OK;
}
