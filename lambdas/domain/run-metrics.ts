// One run's outcome as metrics (lambdas/shared/metrics.ts recordRun): which workflow, how it ended,
// how long it took, how much it changed. Dry runs are plans, not runs: no metrics.
import { WorkflowInput, WorkflowState } from '../shared/workflow';
import { RunMetrics, RunOutcome, WorkflowName } from '../shared/metrics';
import { Outcome, OutcomeStatus, WorkflowKind } from './outcome';

const OUTCOMES: Partial<Record<OutcomeStatus, RunOutcome>> = {
  ONBOARDED: 'Onboarded',
  FAILED: 'Failed',
  REFUSED: 'Refused',
  SKIPPED: 'Skipped',
  OFFBOARDED: 'Offboarded',
  OFFBOARDING_INCOMPLETE: 'Offboarded',
  OFFBOARDING_FAILED: 'Failed',
};

/** A refusal is a failure by design (ClusterRefused): counted apart, since its fix is the cluster's. */
export const REFUSAL_ERROR = 'ClusterRefused';

export function workflowName(input: Pick<WorkflowInput, 'nodegroupName'> | undefined, kind: WorkflowKind = 'onboarding'): WorkflowName {
  if (kind === 'offboarding') return 'offboarding';
  return input?.nodegroupName ? 'nodegroup' : 'onboarding';
}

export function runMetrics(state: WorkflowState, outcome: Outcome, kind: WorkflowKind = 'onboarding', now = Date.now()): RunMetrics | undefined {
  const input = state.input ?? state.resolve?.input;
  const status = OUTCOMES[outcome.status];
  if (!status || input?.dryRun) return undefined;
  const errorName = (state.error as { Error?: string } | undefined)?.Error;
  // Stopped before any write (the first look or the preflight), or a cluster refused by design.
  const refused = status === 'Refused' || (status === 'Failed' && errorName === REFUSAL_ERROR);
  const started = Date.parse(state.startedAt);
  const succeeded = status === 'Onboarded' || status === 'Offboarded';
  return {
    workflow: workflowName(input, kind),
    outcome: refused ? 'Refused' : status,
    ...(errorName ? { errorName } : {}),
    ...(succeeded && Number.isFinite(started) ? { runSeconds: Math.max(0, (now - started) / 1000) } : {}),
    changes: outcome.changes.length,
    driftRepair: input?.trigger === 'DriftRepair',
  };
}
