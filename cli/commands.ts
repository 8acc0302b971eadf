// The four commands: plan, run, offboard, status. Each returns its exit status, the lines it ends
// with (text mode) and the document `--json` prints; progress while a run goes streams as it comes.
import { AttributeValue, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Clients, explainAwsError } from './aws';
import { clusterInput } from './cluster-ref';
import { CliError, EXIT_CHANGES, EXIT_FAILED, EXIT_OK } from './errors';
import { consoleUrl, FinishedExecution, followExecution, startExecution } from './execution';
import { Change, describeFailure, elapsed, formatChanges, formatStatus, Outcome, plural, StatusRow } from './format';
import { DeployedStack, OUTPUTS, OutputName } from './stack';

export interface CommandContext {
  clients: Clients;
  stack: DeployedStack;
  /** Receives the lines a run prints as it goes; absent with --json. */
  progress?: (line: string) => void;
  pollMs: number;
}

export interface CommandResult {
  code: number;
  out: string[];
  err: string[];
  json: Record<string, unknown>;
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

function failureOf(execution: FinishedExecution): string {
  if (execution.status === 'FAILED') return describeFailure(execution.error, execution.cause);
  return `the execution ended ${execution.status}${execution.error ? ` (${describeFailure(execution.error, execution.cause)})` : ''}`;
}

interface Workflow {
  command: 'plan' | 'run' | 'offboard';
  output: OutputName;
  input: { clusterName: string; account?: string; region?: string; nodegroupName?: string; dryRun?: boolean; trigger: string };
  /** What the run is about, for its lines: "prod-a", "node group ng-1 of prod-a". */
  target: string;
  /** The first line of a followed run ("Onboarding prod-a"); plan prints no progress. */
  announce?: string;
}

interface WorkflowEnd {
  execution: FinishedExecution;
  /** The outcome of a run that succeeded. */
  outcome?: Outcome;
  /** What the document of a run that failed or succeeded says, beyond the command's own keys. */
  json: Record<string, unknown>;
}

/** Starts a workflow, follows it to its end and reads its outcome. */
async function startAndFollow(ctx: CommandContext, workflow: Workflow): Promise<WorkflowEnd> {
  const { clients, stack } = ctx;
  const arn = stack.require(workflow.output);
  const started = await startExecution(clients.sfn, arn, workflow.input, OUTPUTS[workflow.output]);
  const progress = workflow.announce ? ctx.progress : undefined;
  progress?.(`${workflow.announce}: execution ${started.executionArn.split(':').pop()}`);
  progress?.(`  ${consoleUrl(clients.region, started.executionArn)}`);
  const execution = await followExecution(clients.sfn, started, { pollMs: ctx.pollMs, ...(progress ? { progress } : {}) });
  const { clusterName, nodegroupName, dryRun } = workflow.input;
  const base = {
    command: workflow.command,
    cluster: clusterName,
    ...(nodegroupName ? { nodegroup: nodegroupName } : {}),
    dryRun: dryRun === true,
    executionArn: execution.executionArn,
    executionStatus: execution.status,
  };
  if (execution.status !== 'SUCCEEDED') {
    const changes: Change[] = execution.lastOutcome?.changes ?? [];
    return { execution, json: { ...base, status: execution.status, changes, error: failureOf(execution) } };
  }
  const outcome = parseOutcome(execution);
  const extra = { ...(outcome.reason ? { reason: outcome.reason } : {}), ...(outcome.warnings?.length ? { warnings: outcome.warnings } : {}) };
  return { execution, outcome, json: { ...base, status: outcome.status, changes: outcome.changes, ...extra } };
}

/** The end of a run that failed: what it had changed, and the failure. */
function failedRun(end: WorkflowEnd, message: string): CommandResult {
  const changed = end.execution.lastOutcome?.changes ?? [];
  const out = changed.length > 0 ? [`Changed before the failure (${changed.length}):`, ...formatChanges(changed)] : [];
  return { code: EXIT_FAILED, out, err: [message], json: end.json };
}

/** The end of a run that succeeded and changed things (or, dry, would have). */
function succeededRun(end: WorkflowEnd, target: string, outcome: Outcome): CommandResult {
  const done = `Succeeded in ${took(end.execution)}: ${target} is ${outcome.status}`;
  const out =
    outcome.changes.length === 0
      ? [`${done}, nothing changed.`]
      : [`${done}, ${plural(outcome.changes.length, 'change')}:`, ...formatChanges(outcome.changes)];
  return { code: EXIT_OK, out: [...out, ...warningLines(outcome)], err: [], json: end.json };
}

const warningLines = (outcome: Outcome) => (outcome.warnings ?? []).map((w) => `Warning: ${w}`);

/** A dry run's list of changes: exit 2 when there are any, like `terraform plan -detailed-exitcode`. */
function pendingChanges(end: WorkflowEnd, heading: string, apply: string, changes: Change[]): CommandResult {
  return { code: EXIT_CHANGES, out: [`${heading} (${changes.length}):`, ...formatChanges(changes), `Apply them with: ${apply}`], err: [], json: end.json };
}

export async function plan(ctx: CommandContext, cluster: string): Promise<CommandResult> {
  const end = await startAndFollow(ctx, { command: 'plan', output: 'clusterStateMachineArn', input: { ...clusterInput(cluster), dryRun: true, trigger: TRIGGER }, target: cluster });
  const { outcome } = end;
  if (!outcome) return { ...failedRun(end, `Plan for ${cluster} failed: ${failureOf(end.execution)}`), out: [] };
  if (outcome.status === 'SKIPPED') {
    return { code: EXIT_OK, out: [`Skipped: ${cluster} is not selected for onboarding (the optIn setting); there is nothing to plan.`], err: [], json: end.json };
  }
  // What the read-only checks found (SecurityGroupPolicies, load balancers, max-pods) is shown with the plan.
  if (outcome.changes.length === 0) return { code: EXIT_OK, out: [`No changes: ${cluster} is onboarded as configured.`, ...warningLines(outcome)], err: [], json: end.json };
  const planned = pendingChanges(end, `Planned changes for ${cluster}`, `eks-aviatrix run ${cluster}`, outcome.changes);
  return { ...planned, out: [...planned.out, ...warningLines(outcome)] };
}

export async function run(ctx: CommandContext, cluster: string, nodegroup?: string): Promise<CommandResult> {
  const target = nodegroup ? `node group ${nodegroup} of ${cluster}` : cluster;
  const end = await startAndFollow(ctx, {
    command: 'run',
    output: nodegroup ? 'nodegroupStateMachineArn' : 'clusterStateMachineArn',
    input: { ...clusterInput(cluster), ...(nodegroup ? { nodegroupName: nodegroup } : {}), trigger: TRIGGER },
    target,
    announce: `Onboarding ${target}`,
  });
  if (!end.outcome) return failedRun(end, `Failed after ${took(end.execution)}: ${failureOf(end.execution)}`);
  return succeededRun(end, target, end.outcome);
}

export async function offboard(ctx: CommandContext, cluster: string, dryRun: boolean): Promise<CommandResult> {
  const end = await startAndFollow(ctx, {
    command: 'offboard',
    output: 'offboardingStateMachineArn',
    input: { ...clusterInput(cluster), dryRun, trigger: TRIGGER },
    target: cluster,
    announce: `Offboarding ${cluster}${dryRun ? ' (dry run)' : ''}`,
  });
  const { outcome } = end;
  if (!outcome) return failedRun(end, `Failed after ${took(end.execution)}: ${failureOf(end.execution)}`);
  if (outcome.status === 'NOTHING_TO_DO') return { code: EXIT_OK, out: [`Nothing to offboard: ${outcome.reason ?? `${cluster} has nothing of ours`}.`], err: [], json: end.json };
  if (dryRun && outcome.changes.length > 0) return pendingChanges(end, `Offboarding ${cluster} would make these changes`, `eks-aviatrix offboard ${cluster}`, outcome.changes);
  return succeededRun(end, cluster, outcome);
}

const str = (value: AttributeValue | undefined) => value?.S;

/** The record's egress IPs (JSON text), for `status --json`. */
function egressIpsOf(text: string | undefined): { egressIps: unknown[] } | undefined {
  if (!text) return undefined;
  try {
    const list = JSON.parse(text) as unknown;
    return Array.isArray(list) ? { egressIps: list } : undefined;
  } catch {
    return undefined;
  }
}

function rowOf(item: Record<string, AttributeValue>): StatusRow {
  const count = item.changeCount?.N;
  return {
    clusterName: str(item.clusterName) ?? '?',
    status: str(item.status) ?? '?',
    ...(str(item.finishedAt) ? { finishedAt: str(item.finishedAt) } : {}),
    ...(count !== undefined ? { changeCount: Number(count) } : {}),
    ...(str(item.trigger) ? { trigger: str(item.trigger) } : {}),
    ...(str(item.error) ? { error: str(item.error) } : {}),
    ...(egressIpsOf(str(item.egressIps)) ?? {}),
  };
}

export async function status(ctx: CommandContext, cluster: string | undefined, wide: boolean): Promise<CommandResult> {
  const { clients, stack } = ctx;
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
      throw new CliError(`The status table ${table} does not exist in ${clients.region}. Deploy with \`npx cdk deploy\`, or pass the deployment's --prefix (or --stack).`);
    }
    throw explainAwsError(error);
  }
  rows.sort((a, b) => a.clusterName.localeCompare(b.clusterName));
  const json = { command: 'status', clusters: rows };
  if (rows.length === 0) {
    const none = cluster ? `No status recorded for ${cluster}: no onboarding run has finished for it.` : 'No status recorded yet: no onboarding run has finished.';
    return { code: EXIT_OK, out: [none], err: [], json };
  }
  return { code: EXIT_OK, out: formatStatus(rows, wide), err: [], json };
}
