// What a person receives on the notification topic: one readable message per event that needs
// them. Built from the EventBridge "Step Functions Execution Status Change" event, the execution's
// history (which step failed) and the cluster's status record (what the run had applied).
// Pure: the notify handler fetches, this renders.
import { describeTarget, scopedName, Target, targetOfRequest } from '../shared/target';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { Change } from '../shared/workflow';
import { WorkflowName } from '../shared/metrics';
import { StatusRecord } from './status-record';
import { causeMessage } from './outcome';
import { REFUSAL_ERROR } from './run-metrics';
import type { EgressChange } from './egress';

/** The `detail` of a "Step Functions Execution Status Change" event. */
export interface ExecutionStatusDetail {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  /** The execution input as JSON text (absent when too large for the event). */
  input?: string | null;
  error?: string | null;
  cause?: string | null;
}

export interface Notification {
  /** SNS subjects: at most 100 characters, one line. */
  subject: string;
  message: string;
}

export interface NotificationContext {
  workflow: WorkflowName;
  /** The cluster's status record, when it was written by this very execution. */
  record?: StatusRecord;
  /** The state that failed (or was running when the execution timed out or was stopped). */
  failedStep?: string;
}

const FAILURE_STATUSES = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);
/** The states a failure is routed through: the step that failed is the one before them. */
const FAILURE_PATH = /^(RecordFailure|ReleaseLeases|Take\w*Error|Failed)$/;
const STEP_ENTERED = /^(Task|Parallel|Map|Wait)StateEntered$/;
const STEP_FAILED = /^(LambdaFunction(Failed|TimedOut|StartFailed)|Task(Failed|TimedOut))$/;

/**
 * The step that failed, from the execution history (oldest first): the task that exits right after
 * a failure (a caught error) and before the failure path; for a run that timed out or was stopped,
 * the step it was still in. A failure followed by a new attempt (LambdaFunctionScheduled) was retried.
 */
export function failedStepOf(events: HistoryEvent[]): string | undefined {
  const open: string[] = [];
  let failed: string | undefined;
  let pending = false;
  for (const event of events) {
    const type = event.type ?? '';
    const entered = type.endsWith('StateEntered') ? event.stateEnteredEventDetails?.name : undefined;
    const exited = type.endsWith('StateExited') ? event.stateExitedEventDetails?.name : undefined;
    if (entered && FAILURE_PATH.test(entered)) break;
    if (entered && STEP_ENTERED.test(type)) open.push(entered);
    if (exited) {
      const at = open.lastIndexOf(exited);
      if (at >= 0) open.splice(at, 1);
      if (pending) failed = exited;
      pending = false;
    }
    if (STEP_FAILED.test(type)) pending = true;
    if (type === 'LambdaFunctionScheduled' || type === 'TaskScheduled') pending = false;
  }
  return failed ?? open.at(-1);
}

function parse<T>(text: string | null | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** The Step Functions console page of an execution. */
export function consoleLink(executionArn: string): string {
  const region = executionArn.split(':')[3];
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The command that runs the same work again: a fresh run (safe, every step is a reconciler). */
export function rerunCommand(workflow: WorkflowName, stateMachineArn: string, clusterName: string, nodegroupName?: string, target?: Target): string {
  // The CLI reads "<account>/<region>/<name>" (as `status` lists it) for a member account's cluster.
  const cluster = scopedName(clusterName, target);
  if (workflow === 'onboarding') return `npx eks-aviatrix run ${cluster}`;
  if (workflow === 'nodegroup') return `npx eks-aviatrix run ${cluster} --nodegroup ${nodegroupName ?? '<nodegroup>'}`;
  const input = JSON.stringify({ clusterName, ...target }).replace(/'/g, "'\\''");
  return `aws stepfunctions start-execution --state-machine-arn ${stateMachineArn} --input '${input}'`;
}

const subjectLine = (text: string) => (text.length <= 100 ? text : `${text.slice(0, 97)}...`);
const changeLine = (c: Change) => `  - ${c.action} ${c.resource} (${c.detail})`;
const list = <T>(record: StatusRecord | undefined, key: string): T[] => parse<T[]>(record?.[key]) ?? [];

const STATUS_WORDS: Record<string, string> = { FAILED: 'failed', TIMED_OUT: 'timed out', ABORTED: 'was stopped (aborted)' };

/**
 * The message for a finished execution, or undefined when nobody needs to hear about it: failures,
 * time-outs and stops always; a successful run only when drift repair changed something or it
 * reported nodes to replace (the record's warnings).
 */
export function renderExecutionNotice(detail: ExecutionStatusDetail, context: NotificationContext): Notification | undefined {
  const input = parse<{ clusterName?: string; nodegroupName?: string; trigger?: string }>(detail.input) ?? {};
  const trigger = input.trigger ?? context.record?.trigger ?? 'Manual';
  const target = targetOfRequest(input);
  const cluster = input.clusterName ?? context.record?.clusterName ?? 'unknown';
  const { workflow, record } = context;
  const about = `${workflow} workflow for EKS cluster "${cluster}"${describeTarget(target)}${input.nodegroupName ? ` (node group ${input.nodegroupName})` : ''}`;
  const rerun = rerunCommand(workflow, detail.stateMachineArn, cluster, input.nodegroupName, target);
  const footer = [
    '',
    `Console:     ${consoleLink(detail.executionArn)}`,
    `Run again:   ${rerun}`,
    '             (always safe: every step observes, compares and changes only what differs)',
    'Runbook:     README.md, section "Runbook"',
  ];
  const changes = list<Change>(record, 'changes');
  const warnings = list<string>(record, 'warnings');

  if (FAILURE_STATUSES.has(detail.status)) {
    // Refused by design (ClusterRefused), or stopped by the first look or the preflight before any write.
    const refused = detail.error === REFUSAL_ERROR || record?.lastRunStatus === 'REFUSED';
    const errorName = detail.error ?? (detail.status === 'TIMED_OUT' ? 'States.Timeout' : 'none');
    const message =
      detail.cause ? causeMessage(detail.cause)
      : detail.status === 'TIMED_OUT' ? 'the execution ran longer than its TimeoutSeconds and was ended by Step Functions'
      : detail.status === 'ABORTED' ? 'someone or something stopped the execution (StopExecution)'
      : 'no cause given';
    const applied =
      refused ? ['  nothing: a refusal is decided before any write']
      : !record ? [`  not recorded: the run ${detail.status === 'FAILED' ? 'failed before it had resolved the cluster, or while recording' : 'ended before its failure record'}; the execution history shows each step's result`]
      : changes.length === 0 ? ['  nothing: no change was made']
      : changes.map(changeLine);
    const lines = [
      refused
        ? `The ${about} was REFUSED: this cluster cannot be onboarded as it is. Nothing was changed.`
        : `The ${about} ${STATUS_WORDS[detail.status]}.`,
      '',
      `Cluster:     ${cluster}`,
      `Workflow:    ${workflow} (trigger ${trigger})`,
      `Execution:   ${detail.name}`,
      `Status:      ${detail.status}`,
      `Failed step: ${context.failedStep ?? 'unknown'}`,
      `Error:       ${errorName}`,
      `${refused ? 'Reason, fix:' : 'Message:    '} ${message}`,
      `Applied before the failure:`,
      ...applied,
      ...footer,
      detail.status === 'FAILED'
        ? `${refused ? 'After the fix, run' : 'Run'} it again (command above): every error is caught into the failure record, so a redrive would only fail again.`
        : `Or continue it from the step it was in: aws stepfunctions redrive-execution --execution-arn ${detail.executionArn}`,
    ];
    const subject = refused
      ? `[eks-aviatrix] ${cluster} refused: ${workflow}`
      : `[eks-aviatrix] ${cluster}: ${workflow} ${detail.status} at ${context.failedStep ?? 'unknown step'}: ${errorName}`;
    return { subject: subjectLine(subject), message: lines.join('\n') };
  }

  if (detail.status !== 'SUCCEEDED' || !record) return undefined;
  const repaired = trigger === 'DriftRepair' && changes.length > 0;
  const egress = parse<EgressChange>(record.egressIpsChanged);
  if (!repaired && warnings.length === 0 && !egress) return undefined;
  const ips = (value: string) => value || '(none)';
  const lines = [
    `The ${about} succeeded${repaired ? ' and repaired drift' : ''}${warnings.length ? '; it reports something to act on' : ''}${
      egress ? '; the IPs its traffic leaves with changed' : ''
    }.`,
    '',
    `Cluster:     ${cluster}`,
    `Workflow:    ${workflow} (trigger ${trigger})`,
    `Execution:   ${detail.name}`,
    ...(repaired ? [`Drift repaired (${changes.length} changes made by hand were undone):`, ...changes.map(changeLine)] : []),
    ...(warnings.length ? ['To act on (nodes to replace, pod capacity):', ...warnings.map((w) => `  - ${w}`)] : []),
    ...(egress
      ? [
          'Egress IPs changed (update firewalls and allow-lists that name them):',
          `  to the fabric:   ${ips(egress.fabric.from)} -> ${ips(egress.fabric.to)}`,
          `  to the internet: ${ips(egress.internet.from)} -> ${ips(egress.internet.to)}`,
        ]
      : []),
    ...footer,
  ];
  const what = [repaired ? `drift repaired (${changes.length})` : '', warnings.length ? `${warnings.length} to act on` : '', egress ? 'egress IPs changed' : '']
    .filter(Boolean)
    .join(', ');
  return { subject: subjectLine(`[eks-aviatrix] ${cluster}: ${what}`), message: lines.join('\n') };
}
