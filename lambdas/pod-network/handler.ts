// Secondary CIDR, pod subnets, route tables and security groups for the cluster's VPC.
import { NetworkStepResult, reconcileNetwork } from '../domain/network';
import { runtime } from '../shared/runtime';
import { withClusterLease } from '../shared/cluster-lease';
import { runStep } from '../shared/step';
import { readyCluster } from '../shared/state';
import { WorkflowState } from '../shared/workflow';

export const handler = async (state: WorkflowState) => {
  const cluster = readyCluster(state);
  return runStep('pod-network', cluster.name, () =>
    withClusterLease({ clusterName: cluster.name, vpcId: cluster.vpcId }, state.executionId, state.input.dryRun, () =>
      reconcileNetwork(cluster, runtime().config, state.input.dryRun, state.network as NetworkStepResult | undefined),
    ),
  );
};
