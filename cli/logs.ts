// `eks-aviatrix logs <cluster>`: the log lines of the cluster's last recorded run. Every line the
// Lambdas write carries the execution id (lambdas/shared/step.ts); the status record names the
// last run's execution; the functions' log groups are named from the naming prefix (lib/names.ts).
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ALL_FUNCTIONS } from '../lib/functions';
import { resourceNames, WORKFLOW_SUFFIXES } from '../lib/names';
import { explainAwsError } from './aws';
import type { CommandContext, CommandResult } from './commands';
import { CliError, EXIT_OK } from './errors';

export interface LogLine {
  timestamp: string;
  function: string;
  level?: string;
  step?: string;
  message?: string;
  [key: string]: unknown;
}

/** The naming prefix, from the cluster state machine's name (also when it came from stack Outputs). */
function prefixOf(clusterMachineArn: string): string {
  const name = clusterMachineArn.split(':').pop() ?? '';
  const suffix = `-${WORKFLOW_SUFFIXES.ClusterOnboarding}`;
  if (!name.endsWith(suffix)) throw new CliError(`State machine ${name} is not named <prefix>${suffix}: deploy this version of the stack, whose names come from a prefix.`);
  return name.slice(0, -suffix.length);
}

async function linesOf(client: CloudWatchLogsClient, logGroupName: string, fn: string, executionId: string): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  let nextToken: string | undefined;
  do {
    let page;
    try {
      // A quoted term matches the id as one phrase; each line is then checked as JSON.
      page = await client.send(new FilterLogEventsCommand({ logGroupName, filterPattern: `"${executionId}"`, ...(nextToken ? { nextToken } : {}) }));
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return lines; // the function never logged
      throw explainAwsError(error);
    }
    for (const event of page.events ?? []) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(event.message ?? '') as Record<string, unknown>;
      } catch {
        continue; // the runtime's START/END/REPORT lines
      }
      if (parsed.executionId !== executionId) continue;
      lines.push({ ...parsed, timestamp: new Date(event.timestamp ?? 0).toISOString(), function: fn });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return lines;
}

export async function logs(ctx: CommandContext, cluster: string): Promise<CommandResult> {
  const { clients, stack } = ctx;
  const table = stack.require('statusTableName');
  let executionId: string | undefined;
  try {
    const { Item } = await clients.dynamodb.send(new GetItemCommand({ TableName: table, Key: { clusterName: { S: cluster } }, ConsistentRead: true }));
    executionId = Item?.executionId?.S;
  } catch (error) {
    throw explainAwsError(error);
  }
  if (!executionId) {
    return { code: EXIT_OK, out: [`No run recorded for ${cluster}: its log lines are found once a run has finished.`], err: [], json: { command: 'logs', cluster, lines: [] } };
  }
  const names = resourceNames(prefixOf(stack.require('clusterStateMachineArn')));
  const client = new CloudWatchLogsClient({ region: clients.region });
  let lines: LogLine[];
  try {
    lines = (await Promise.all(ALL_FUNCTIONS.map((fn) => linesOf(client, `/aws/lambda/${names.function(fn.name)}`, fn.name, executionId!)))).flat();
  } finally {
    client.destroy();
  }
  lines.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  const out = [
    `Last run of ${cluster}: ${executionId}`,
    ...lines.map((l) => `${l.timestamp}  ${String(l.step ?? l.function).padEnd(16)} ${String(l.level ?? '').padEnd(5)} ${l.message ?? ''}${l.error ? `: ${JSON.stringify(l.error)}` : ''}`),
  ];
  if (lines.length === 0) out.push('  (no log lines found: they may have expired, or the run logged nothing)');
  return { code: EXIT_OK, out, err: [], json: { command: 'logs', cluster, executionId, lines } };
}
