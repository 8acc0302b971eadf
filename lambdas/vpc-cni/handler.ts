// The reconciler's access entry, the ENIConfigs and the VPC CNI custom-networking settings; with
// { action: "external-snat", state }, the CNI's external SNAT once both gateways SNAT pod traffic.
import { kubernetesIdentityArn } from '../shared/aws';
import { targetOfInput } from '../shared/target';
import { CniInput, GatewaySnatReport, reconcileCni, reconcileExternalSnat, switchedCni } from '../domain/cni';
import { runtime } from '../shared/runtime';
import { withClusterLeaseIfChanges } from '../shared/cluster-lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { recordEniConfigLatency } from '../shared/metrics';
import { readyCluster, stepResult } from '../shared/state';
import { CniResult, PodNetworkResult, WorkflowState } from '../shared/workflow';

/**
 * What VpcCni and ExternalSnat do once they hold the cluster lease: re-read aws-node and the add-on,
 * the access entry, the ENIConfigs (server-side apply, one per AZ, at once) and one UpdateAddon,
 * whose progress the workflow polls: ten-odd calls, so 40 s of the 120 s.
 */
const CNI_WORK_MS = 40_000;

export type VpcCniEvent = WorkflowState | { action: 'external-snat'; state: WorkflowState };

export const handler = async (event: VpcCniEvent, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  const externalSnat = event.action === 'external-snat';
  const state = externalSnat ? (event as { state: WorkflowState }).state : (event as WorkflowState);
  const cluster = readyCluster(state);
  const previous = (externalSnat ? state.externalSnat : state.cni) as CniResult | undefined;
  const input: CniInput = {
    cluster,
    network: stepResult<PodNetworkResult>(state, 'network'),
    dryRun: state.input.dryRun,
    reconcilerRoleArn: kubernetesIdentityArn(targetOfInput(state.input)),
    ...(previous ? { previous } : {}),
  };
  const scope = { clusterName: cluster.name, workMs: CNI_WORK_MS };
  if (externalSnat) {
    // The cluster workflow's SNAT runs in the controller Parallel; the node-group workflow's alone.
    const snat = (state.controller as { snat?: GatewaySnatReport } | undefined)?.snat ?? (state.snat as GatewaySnatReport | undefined);
    const since = (state.cni as CniResult | undefined)?.customNetworkingSince;
    const stage = { snat, reportEarlyNodes: !state.input.nodegroupName, accessEnsured: !state.input.dryRun, ...(since ? { customNetworkingSince: since } : {}) };
    return runStep('external-snat', cluster.name, () =>
      withClusterLeaseIfChanges(
        scope, state.executionId, state.input.dryRun, previous?.changes.length ?? 0,
        (dryRun) => reconcileExternalSnat({ ...input, ...stage, dryRun }, runtime().config),
        !previous && switchedCni(state.cni as CniResult | undefined),
      ),
    );
  }
  // Both stages are planned first: a call that would change nothing takes no lease. A first call
  // after PodNetwork created a pod subnet or security group has ENIConfigs to write: no plan then.
  const knownWrites = !previous && input.network.changes.some((c) => c.action === 'create');
  return runStep('vpc-cni', cluster.name, () =>
    withClusterLeaseIfChanges(scope, state.executionId, state.input.dryRun, previous?.changes.length ?? 0, (dryRun) =>
      reconcileCni({ ...input, dryRun }, runtime().config).then((result) => {
        // Measured by the invocation that wrote ENIConfigs (a later poll carries the same changes).
        const written = (r?: { changes: { resource: string }[] }) => r?.changes.filter((c) => c.resource.startsWith('ENIConfig ')).length ?? 0;
        if (!result.dryRun && written(result) > written(state.cni as CniResult | undefined) && cluster.activeSeenAt) {
          recordEniConfigLatency((Date.now() - Date.parse(cluster.activeSeenAt)) / 1000);
        }
        return result;
      }),
      knownWrites,
    ),
  );
};
