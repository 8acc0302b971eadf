// Records the run's outcome (also on the failure path, where `failed` is true) and its metrics.
import { recordOutcome, WorkflowKind } from '../domain/outcome';
import { runMetrics } from '../domain/run-metrics';
import { recordRun } from '../shared/metrics';
import { runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { WorkflowState } from '../shared/workflow';

export interface RecordEvent {
  state: WorkflowState;
  failed: boolean;
  executionId: string;
  /** Default onboarding; the offboarding workflow records OFFBOARDED. */
  workflow?: WorkflowKind;
}

export const handler = async (event: RecordEvent, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  return runStep('record-outcome', event.state.input?.clusterName, async () => {
    const outcome = await recordOutcome(event.state, event.failed, runtime().statusTableName, event.executionId, event.workflow);
    const run = runMetrics(event.state, outcome, event.workflow);
    if (run) recordRun(run);
    return outcome;
  });
};
