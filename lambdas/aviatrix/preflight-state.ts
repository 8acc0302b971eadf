// The controller preflight's answer as the workflow state carries it (the Preflight Parallel's
// controller branch), for the later controller steps of the same run.
import type { WorkflowState } from '../shared/workflow';
import type { ControllerPreflight } from './snat';

/** The preflight's answer, when its controller branch passed in this run. */
export const preflightOf = (state: WorkflowState): ControllerPreflight | undefined => {
  const controller = (state.preflight as { controller?: ControllerPreflight & { failed?: boolean } } | undefined)?.controller;
  return controller?.spokeGateway ? controller : undefined;
};
