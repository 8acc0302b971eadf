// The reconciler's access entry, the ENIConfigs and the VPC CNI custom-networking settings.
import { reconcileCni } from '../domain/cni';
import { requireSetting, runtime } from '../shared/runtime';
import { withClusterLease } from '../shared/cluster-lease';
import { runStep } from '../shared/step';
import { recordEniConfigLatency } from '../shared/metrics';
import { readyCluster, stepResult } from '../shared/state';
import { PodNetworkResult, WorkflowState } from '../shared/workflow';

export const handler = async (state: WorkflowState) => {
  const cluster = readyCluster(state);
  return runStep('vpc-cni', cluster.name, () =>
    withClusterLease({ clusterName: cluster.name }, state.executionId, state.input.dryRun, () => reconcileCni(
      {
        cluster,
        network: stepResult<PodNetworkResult>(state, 'network'),
        dryRun: state.input.dryRun,
        reconcilerRoleArn: requireSetting(runtime().reconcilerRoleArn, 'RECONCILER_ROLE_ARN'),
        ...(state.cni ? { previous: state.cni } : {}),
      },
      runtime().config,
    ).then((result) => {
      // Measured by the invocation that wrote ENIConfigs (a later poll carries the same changes).
      const written = (r?: { changes: { resource: string }[] }) => r?.changes.filter((c) => c.resource.startsWith('ENIConfig ')).length ?? 0;
      if (!result.dryRun && written(result) > written(state.cni) && cluster.activeSeenAt) {
        recordEniConfigLatency((Date.now() - Date.parse(cluster.activeSeenAt)) / 1000);
      }
      return result;
    })),
  );
};
