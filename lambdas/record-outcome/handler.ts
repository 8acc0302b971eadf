// Records the run's outcome (also on the failure path, where `failed` is true).
import { recordOutcome, WorkflowKind } from '../domain/outcome';
import { runtime } from '../shared/runtime';
import { runStep } from '../shared/step';
import { WorkflowState } from '../shared/workflow';

export interface RecordEvent {
  state: WorkflowState;
  failed: boolean;
  executionId: string;
  /** Default onboarding; the offboarding workflow records OFFBOARDED. */
  workflow?: WorkflowKind;
}

export const handler = async (event: RecordEvent) =>
  runStep('record-outcome', event.state.input?.clusterName, () =>
    recordOutcome(event.state, event.failed, runtime().statusTableName, event.executionId, event.workflow),
  );
