// Secondary CIDR, pod subnets, route tables and security groups for the cluster's VPC.
import { NetworkStepResult, reconcileNetwork } from '../domain/network';
import { runtime } from '../shared/runtime';
import { withClusterLeaseIfChanges } from '../shared/cluster-lease';
import { runStep } from '../shared/step';
import { readyCluster } from '../shared/state';
import { WorkflowState } from '../shared/workflow';

export const handler = async (state: WorkflowState) => {
  const cluster = readyCluster(state);
  const previous = state.network as NetworkStepResult | undefined;
  return runStep('pod-network', cluster.name, () =>
    withClusterLeaseIfChanges({ clusterName: cluster.name, vpcId: cluster.vpcId }, state.executionId, state.input.dryRun, previous?.changes.length ?? 0, (dryRun) =>
      reconcileNetwork(cluster, runtime().config, dryRun, previous),
    ),
  );
};
