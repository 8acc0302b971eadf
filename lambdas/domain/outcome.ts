// Step 11: record where the cluster stands, on the cluster itself (tags, written only when they
// change, so a repeated run writes nothing to EKS) and in the status table (one record a cluster).
import { TagResourceCommand } from '../shared/sdk/eks';
import { eks } from '../shared/aws';
import { updateStatusRecord } from './status-record';
import { Change, ClusterSummary, StepResult, WorkflowInput, WorkflowState } from '../shared/workflow';

export type OutcomeStatus = 'ONBOARDED' | 'FAILED' | 'SKIPPED' | 'PLANNED' | 'OFFBOARDED' | 'OFFBOARDING_FAILED';
export type WorkflowKind = 'onboarding' | 'offboarding';
export const TAG_STATUS = 'eks-aviatrix:status';
export const TAG_POD_CIDR = 'eks-aviatrix:pod-cidr';
/** Where each step leaves its result in the workflow state, in workflow order. */
const STEP_RESULTS: Record<string, (state: WorkflowState) => unknown> = {
  network: (state) => state.network,
  cni: (state) => state.cni,
  'controller-onboarding': (state) => (state.controller as { onboarding?: unknown } | undefined)?.onboarding,
  'gateway-snat': (state) => (state.controller as { snat?: unknown } | undefined)?.snat ?? state.snat,
  nodegroup: (state) => state.nodegroup,
  cleanup: (state) => state.cleanup,
};

export interface Outcome {
  clusterName: string;
  status: OutcomeStatus;
  stepsDone: string[];
  changes: Change[];
  /** Things a person should act on that did not stop the run (early nodes, max-pods). */
  warnings: string[];
  error?: string;
  finishedAt: string;
}

/** The message of a caught error: Lambda reports it as JSON in Cause, the local runner as text. */
export function errorMessage(error: { Error?: string; Cause?: unknown } | undefined): string | undefined {
  if (!error) return undefined;
  const cause = typeof error.Cause === 'string' ? error.Cause : JSON.stringify(error.Cause ?? '');
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    if (parsed.errorMessage) return `${error.Error}: ${parsed.errorMessage}`;
  } catch {
    // plain text cause
  }
  return `${error.Error}: ${cause}`;
}

function statusOf(state: WorkflowState, input: WorkflowInput | undefined, failed: boolean, kind: WorkflowKind): OutcomeStatus {
  if (kind === 'offboarding') return failed ? 'OFFBOARDING_FAILED' : input?.dryRun ? 'PLANNED' : 'OFFBOARDED';
  if (failed) return 'FAILED';
  if (state.resolve?.phase === 'skipped') return 'SKIPPED';
  return input?.dryRun ? 'PLANNED' : 'ONBOARDED';
}

/** The run's input: lifted to `input` once the cluster was ready, else only in the resolve result. */
const inputOf = (state: WorkflowState): WorkflowInput | undefined => state.input ?? state.resolve?.input;

export function summarizeOutcome(state: WorkflowState, failed: boolean, kind: WorkflowKind = 'onboarding'): Outcome {
  const input = inputOf(state);
  const results = Object.entries(STEP_RESULTS).map(([step, read]) => [step, read(state) as (StepResult & { phase?: string }) | undefined] as const);
  const done = results.filter(([, result]) => result !== undefined && result.phase !== 'pending').map(([step]) => step);
  const changes = results.flatMap(([, result]) => result?.changes ?? []);
  const warnings = results.flatMap(([, result]) => (result as { warnings?: string[] } | undefined)?.warnings ?? []);
  const error = errorMessage(state.error as { Error?: string; Cause?: unknown } | undefined);
  const status = statusOf(state, input, failed, kind);
  return {
    clusterName: input?.clusterName ?? 'unknown',
    status,
    stepsDone: done,
    changes,
    warnings,
    ...(error ? { error } : {}),
    finishedAt: new Date().toISOString(),
  };
}

async function tagCluster(cluster: ClusterSummary, tags: Record<string, string>): Promise<boolean> {
  const differs = Object.entries(tags).some(([key, value]) => cluster.tags[key] !== value);
  if (differs) await eks().send(new TagResourceCommand({ resourceArn: cluster.arn, tags }));
  return differs;
}

export async function recordOutcome(
  state: WorkflowState,
  failed: boolean,
  statusTableName: string | undefined,
  executionId: string,
  kind: WorkflowKind = 'onboarding',
): Promise<Outcome & { tagged: boolean }> {
  const outcome = summarizeOutcome(state, failed, kind);
  const input = inputOf(state);
  const cluster = state.resolve?.cluster;
  const podCidr = (state.network as { podCidr?: string } | undefined)?.podCidr;
  // The record first: it is what offboarding and drift repair go by, so a tag failure must not cost it.
  // Input that never named a cluster has nothing to record against.
  if (statusTableName && input && !input.dryRun) {
    await updateStatusRecord(statusTableName, outcome.clusterName, {
      status: outcome.status,
      executionId,
      trigger: input.trigger,
      eventId: input.eventId,
      stepsDone: outcome.stepsDone.join(','),
      changeCount: outcome.changes.length,
      changes: JSON.stringify(outcome.changes),
      error: outcome.error,
      warnings: outcome.warnings.length > 0 ? JSON.stringify(outcome.warnings) : undefined,
      ...(cluster ? { clusterArn: cluster.arn, vpcId: cluster.vpcId } : {}),
      ...(podCidr ? { podCidr } : {}),
      finishedAt: outcome.finishedAt,
    });
  }
  // The cluster is tagged when it is onboarded, or when a failed run had already changed something
  // (so half-done work shows on the cluster). Refused, skipped and dry runs leave it untouched.
  const tagWorthy = outcome.status === 'ONBOARDED' || (outcome.status === 'FAILED' && outcome.changes.length > 0);
  let tagged = false;
  if (cluster && input && !input.dryRun && tagWorthy) {
    try {
      tagged = await tagCluster(cluster, { [TAG_STATUS]: outcome.status, ...(podCidr ? { [TAG_POD_CIDR]: podCidr } : {}) });
    } catch (error) {
      // Tags are a courtesy to people looking at the cluster; the status record holds the truth.
      outcome.warnings.push(`could not tag EKS cluster ${cluster.name} with its onboarding status: ${(error as Error).message}`);
    }
  }
  return { ...outcome, tagged };
}
