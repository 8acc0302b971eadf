// The node-group step: wait for the node group, report early nodes and max-pods, replace if allowed.
import { reconcileNodegroup, NodegroupResult } from '../domain/nodegroup';
import { OnboardingError } from '../shared/errors';
import { runtime } from '../shared/runtime';
import { readyCluster } from '../shared/state';
import { withClusterLease } from '../shared/cluster-lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { WorkflowState } from '../shared/workflow';

/**
 * What the node-group step does once it holds the cluster lease: reads of the node group, its nodes
 * and instances, and at most one instance refresh, whose progress the workflow polls: 40 s of 120 s.
 */
const NODEGROUP_WORK_MS = 40_000;

export const handler = async (state: WorkflowState & { nodegroup?: NodegroupResult }, context?: LambdaContextLike) => {
  beginInvocation(state, context);
  const cluster = readyCluster(state);
  const nodegroupName = state.input.nodegroupName;
  if (!nodegroupName) {
    throw new OnboardingError('InvalidInput', `the node-group workflow needs "nodegroupName", for example {"clusterName": "${cluster.name}", "nodegroupName": "ng-1"}`);
  }
  return runStep('nodegroup', cluster.name, () =>
    withClusterLease({ clusterName: cluster.name, workMs: NODEGROUP_WORK_MS }, state.executionId, state.input.dryRun, () =>
      reconcileNodegroup(
        { cluster, nodegroupName, dryRun: state.input.dryRun, ...(state.nodegroup ? { previous: state.nodegroup } : {}) },
        runtime().config,
      ),
    ),
  );
};
