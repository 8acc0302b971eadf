// The node-group step: wait for the node group, report early nodes and max-pods, replace if allowed.
import { reconcileNodegroup, NodegroupResult } from '../domain/nodegroup';
import { OnboardingError } from '../shared/errors';
import { runtime } from '../shared/runtime';
import { readyCluster } from '../shared/state';
import { withClusterLease } from '../shared/cluster-lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { WorkflowState } from '../shared/workflow';

export const handler = async (state: WorkflowState & { nodegroup?: NodegroupResult }, context?: LambdaContextLike) => {
  beginInvocation(state, context);
  const cluster = readyCluster(state);
  const nodegroupName = state.input.nodegroupName;
  if (!nodegroupName) {
    throw new OnboardingError('InvalidInput', `the node-group workflow needs "nodegroupName", for example {"clusterName": "${cluster.name}", "nodegroupName": "ng-1"}`);
  }
  return runStep('nodegroup', cluster.name, () =>
    withClusterLease({ clusterName: cluster.name }, state.executionId, state.input.dryRun, () =>
      reconcileNodegroup(
        { cluster, nodegroupName, dryRun: state.input.dryRun, ...(state.nodegroup ? { previous: state.nodegroup } : {}) },
        runtime().config,
      ),
    ),
  );
};
