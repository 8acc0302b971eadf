// Reading what earlier steps left in the workflow state, with a clear error when it is missing
// (a hand-edited input or a state machine out of step with its Lambdas).
import { OnboardingError } from './errors';
import { ClusterSummary, WorkflowState } from './workflow';

export function readyCluster(state: WorkflowState): ClusterSummary {
  const cluster = state.resolve?.cluster;
  if (state.resolve?.phase !== 'ready' || !cluster) {
    throw new OnboardingError('InvalidInput', 'workflow state has no ready cluster from the resolve-cluster step; start the workflow from its first state');
  }
  return cluster;
}

/**
 * The cluster as the steps before the Kubernetes side see it: ready, or still CREATING with its
 * VPC and subnets known (`early`; its cluster security group may not be reported yet).
 */
export function networkCluster(state: WorkflowState): ClusterSummary {
  if (state.resolve?.phase === 'early' && state.resolve.cluster) return state.resolve.cluster;
  return readyCluster(state);
}

export function stepResult<T>(state: WorkflowState, step: string): T {
  const result = state[step];
  if (!result || typeof result !== 'object') {
    throw new OnboardingError('InvalidInput', `workflow state has no result of the ${step} step; start the workflow from its first state`);
  }
  return result as T;
}
