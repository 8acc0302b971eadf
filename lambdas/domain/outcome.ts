// Step 11: record where the cluster stands, on the cluster itself (tags, written only when they
// change, so a repeated run writes nothing to EKS) and in the status table (one record a cluster).
import { TagResourceCommand } from '../shared/sdk/eks';
import { eks } from '../shared/aws';
import { claimantOf, CLAIMS_NOTHING, OFFBOARDED, OFFBOARDING_FAILED, OFFBOARDING_INCOMPLETE, OFFBOARDING_STATUSES, readStatusRecord, updateStatusRecord } from './status-record';
import { normalizeInput } from './input';
import { egressChange, egressIpsOf, egressTags } from './egress';
import { Change, ClusterSummary, StepResult, WorkflowInput, WorkflowState } from '../shared/workflow';

/** REFUSED: stopped by the first look or the preflight, before any write. */
/** OFFBOARDING_INCOMPLETE: leftovers (network interfaces) keep the pod CIDR and its exclusion; drift repair offboards again. */
export type OutcomeStatus = 'ONBOARDED' | 'FAILED' | 'REFUSED' | 'SKIPPED' | 'PLANNED' | typeof OFFBOARDED | typeof OFFBOARDING_INCOMPLETE | typeof OFFBOARDING_FAILED;
export type WorkflowKind = 'onboarding' | 'offboarding';
export const TAG_STATUS = 'eks-aviatrix:status';
export const TAG_POD_CIDR = 'eks-aviatrix:pod-cidr';
/** Where each step leaves its result in the workflow state, in workflow order. */
const STEP_RESULTS: Record<string, (state: WorkflowState) => unknown> = {
  exclusion: (state) => state.exclusion,
  network: (state) => state.network,
  cni: (state) => state.cni,
  'controller-onboarding': (state) => (state.controller as { onboarding?: unknown } | undefined)?.onboarding,
  'gateway-snat': (state) => (state.controller as { snat?: unknown } | undefined)?.snat ?? state.snat,
  'external-snat': (state) => state.externalSnat,
  nodegroup: (state) => state.nodegroup,
  cleanup: (state) => state.cleanup,
  'exclusion-removal': (state) => state.exclusionRemoval,
};

/** Branches of Parallel states that catch their own errors: each failed one is named in the record. */
const BRANCH_ERRORS: ((state: WorkflowState) => unknown)[] = [
  (state) => (state.preflight as { controller?: unknown } | undefined)?.controller,
  (state) => (state.preflight as { network?: unknown } | undefined)?.network,
  (state) => (state.controller as { onboarding?: unknown } | undefined)?.onboarding,
  (state) => (state.controller as { snat?: unknown } | undefined)?.snat,
];
type CaughtError = { Error?: string; Cause?: unknown };

/** The run's error, followed by every other failed branch's. */
function allErrors(state: WorkflowState): string | undefined {
  const messages = [state.error as CaughtError | undefined, ...BRANCH_ERRORS.map((read) => (read(state) as { failed?: boolean; error?: CaughtError } | undefined))
    .map((branch) => (branch?.failed ? branch.error : undefined))]
    .map((e) => errorMessage(e))
    .filter((m): m is string => m !== undefined);
  const unique = [...new Set(messages)];
  return unique.length > 0 ? unique.join(' | ') : undefined;
}

/**
 * Failed before anything was written: by the first look at the cluster (the run's input is lifted
 * to `input` only after it) or by the preflight (a failed branch of its Parallel). A step that fails
 * later leaves no result of its own in the state, so the results cannot tell a refusal apart.
 */
const refusedBeforeWriting = (state: WorkflowState) =>
  state.input === undefined || Object.values((state.preflight ?? {}) as Record<string, { failed?: boolean } | undefined>).some((branch) => branch?.failed === true);

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

/** The message in an error's Cause: Lambda reports it as JSON (errorMessage), other sources as text. */
export function causeMessage(cause: unknown): string {
  const text = typeof cause === 'string' ? cause : JSON.stringify(cause ?? '');
  try {
    const parsed = JSON.parse(text) as { errorMessage?: string };
    if (parsed.errorMessage) return parsed.errorMessage;
  } catch {
    // plain text cause
  }
  return text;
}

/** The message of a caught error, after its name. */
export function errorMessage(error: { Error?: string; Cause?: unknown } | undefined): string | undefined {
  if (!error) return undefined;
  return `${error.Error}: ${causeMessage(error.Cause)}`;
}

function statusOf(state: WorkflowState, input: WorkflowInput | undefined, failed: boolean, kind: WorkflowKind): OutcomeStatus {
  if (kind === 'offboarding') {
    // Refused before any write (the cluster still runs): the cluster's own status stays as it was.
    if (failed) return refusedBeforeWriting(state) ? 'REFUSED' : OFFBOARDING_FAILED;
    if (input?.dryRun) return 'PLANNED';
    return (state.cleanup as { cidrKept?: { retry: boolean } } | undefined)?.cidrKept?.retry ? OFFBOARDING_INCOMPLETE : OFFBOARDED;
  }
  if (failed) return refusedBeforeWriting(state) ? 'REFUSED' : 'FAILED';
  if (state.resolve?.phase === 'skipped') return 'SKIPPED';
  return input?.dryRun ? 'PLANNED' : 'ONBOARDED';
}

/**
 * The run's input: lifted to `input` once the cluster was ready, else in the resolve result, else
 * (a cluster refused on its first look) the raw request, so a refusal is recorded too.
 */
function inputOf(state: WorkflowState): WorkflowInput | undefined {
  if (state.input ?? state.resolve?.input) return state.input ?? state.resolve?.input;
  try {
    return state.request === undefined ? undefined : normalizeInput(state.request);
  } catch {
    return undefined; // input that never named a cluster: nothing to record against
  }
}

export function summarizeOutcome(state: WorkflowState, failed: boolean, kind: WorkflowKind = 'onboarding'): Outcome {
  const input = inputOf(state);
  const results = Object.entries(STEP_RESULTS).map(([step, read]) => [step, read(state) as (StepResult & { phase?: string }) | undefined] as const);
  const done = results.filter(([, result]) => result !== undefined && result.phase !== 'pending').map(([step]) => step);
  const changes = results.flatMap(([, result]) => result?.changes ?? []);
  const warnings = results.flatMap(([, result]) => (result as { warnings?: string[] } | undefined)?.warnings ?? []);
  const error = allErrors(state);
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
  // The IPs the cluster's traffic leaves with, as this onboarded run's SNAT step found them; compared
  // with the cluster's tags as the run started (no extra read), so a replaced gateway is reported.
  const egress = outcome.status === 'ONBOARDED' ? egressIpsOf((state.controller as { snat?: unknown } | undefined)?.snat) : undefined;
  const changedEgress = egress && cluster ? egressChange(cluster.tags ?? {}, egress) : undefined;
  // The cluster the run began with was deleted or re-created meanwhile: its offboarding owns the
  // record, so this run claims nothing, tags nothing (a new cluster has the same ARN) and leaves an
  // offboarded or offboarding record as it is.
  const gone = failed && (state.error as CaughtError | undefined)?.Error === 'ClusterGone';
  // The run's cluster, when it knows which one of the name: it never writes over a later one's record.
  // An offboarding run knows it from the record it began with.
  // An offboarding begun from a record without one (kept before identities were) writes only to a
  // record that still has none: never over a cluster re-created and onboarded meanwhile.
  const record = state.record as { identity?: string } | undefined;
  const identity = cluster?.createdAt ? claimantOf(cluster) : record ? record.identity ?? null : undefined;
  // The record first: it is what offboarding and drift repair go by, so a tag failure must not cost it.
  // Input that never named a cluster has nothing to record against.
  if (statusTableName && input && !input.dryRun) {
    // A refusal (nothing written) must not hide where a live cluster stands: its status stays, and
    // the refusal shows as the last run's status.
    const current = outcome.status === 'REFUSED' ? await readStatusRecord(statusTableName, outcome.clusterName) : undefined;
    const keepStatus = current?.status !== undefined && !CLAIMS_NOTHING.has(current.status);
    const recorded = await updateStatusRecord(statusTableName, outcome.clusterName, {
      ...(keepStatus ? {} : { status: outcome.status }),
      lastRunStatus: outcome.status,
      executionId,
      trigger: input.trigger,
      eventId: input.eventId,
      stepsDone: outcome.stepsDone.join(','),
      changeCount: outcome.changes.length,
      changes: JSON.stringify(outcome.changes),
      error: outcome.error,
      warnings: outcome.warnings.length > 0 ? JSON.stringify(outcome.warnings) : undefined,
      ...(cluster && !gone ? { clusterArn: cluster.arn, vpcId: cluster.vpcId } : {}),
      ...(podCidr && !gone ? { podCidr } : {}),
      ...(egress ? { egressIps: JSON.stringify(egress) } : outcome.status === OFFBOARDED ? { egressIps: undefined } : {}),
      // Set only by the run that saw the change, for its notification.
      egressIpsChanged: changedEgress ? JSON.stringify(changedEgress) : undefined,
      finishedAt: outcome.finishedAt,
    }, { ...(gone ? { unlessStatus: OFFBOARDING_STATUSES } : {}), ...(identity !== undefined ? { identity } : {}) });
    if (!recorded) {
      outcome.warnings.push(`the status record of ${outcome.clusterName} was left as its offboarding or a cluster re-created under its name wrote it`);
    }
  }
  // The cluster is tagged when it is onboarded, or when a failed run had already changed something
  // (so half-done work shows on the cluster). Refused, skipped and dry runs leave it untouched.
  const tagWorthy = outcome.status === 'ONBOARDED' || (outcome.status === 'FAILED' && outcome.changes.length > 0);
  let tagged = false;
  if (cluster && input && !input.dryRun && tagWorthy && !gone) {
    try {
      tagged = await tagCluster(cluster, { [TAG_STATUS]: outcome.status, ...(podCidr ? { [TAG_POD_CIDR]: podCidr } : {}), ...(egress ? egressTags(egress) : {}) });
    } catch (error) {
      // Tags are a courtesy to people looking at the cluster; the status record holds the truth.
      outcome.warnings.push(`could not tag EKS cluster ${cluster.name} with its onboarding status: ${(error as Error).message}`);
    }
  }
  return { ...outcome, tagged };
}
