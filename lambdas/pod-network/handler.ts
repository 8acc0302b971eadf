// Secondary CIDR, pod subnets, route tables and security groups for the cluster's VPC.
// With { action: "preflight", state } the same plan is made and checked, and nothing is written:
// the network half of design step 2, so a refusal comes before the first write anywhere.
import { NetworkStepResult, nodesOf, reconcileNetwork } from '../domain/network';
import { preflightCniOptions } from '../domain/cni-options';
import { requireEarlyClusterLive } from '../domain/cluster';
import { tagLoadBalancerSubnets } from '../domain/lb-subnets';
import { requireVpcName, vpcNameTag } from '../domain/vpc-name';
import { requireSetting, runtime } from '../shared/runtime';
import { awaitVpcLeaseFree, withClusterLeaseIfChanges, withVpcLease } from '../shared/cluster-lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { networkCluster } from '../shared/state';
import { WorkflowState } from '../shared/workflow';

/**
 * What PodNetwork does once it holds its leases: the VPC re-read (3 EC2 reads), the CIDR association
 * or the pod subnets with their route-table associations, the pod security group and its rules, a
 * read-back and the load-balancer subnet tags: about a dozen EC2 calls in series, seconds when EC2
 * answers, so 40 s of the 120 s leave room for a slow EC2 and 80 s to wait for a lease.
 */
export const POD_NETWORK_WORK_MS = 40_000;

export type PodNetworkEvent = WorkflowState | { action: 'preflight'; state: WorkflowState };

export const handler = async (event: PodNetworkEvent, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  if (event.action === 'preflight') {
    const state = (event as { state: WorkflowState }).state;
    const cluster = networkCluster(state);
    const { config } = runtime();
    // Refused here, before the first write: a VPC CNI too old for the configured options, and a VPC
    // without the Name its SmartGroup is to match (the onboarding step checks it again).
    return runStep('network-preflight', cluster.name, async () => {
      if (config.aviatrix.vpcSmartGroupMatch === 'name') requireVpcName(cluster, await vpcNameTag(cluster.vpcId));
      await preflightCniOptions(cluster.name, config);
      return reconcileNetwork(cluster, config, true);
    });
  }
  const state = event as WorkflowState;
  // Runs while a new cluster is still CREATING (phase early): nothing here needs it ACTIVE.
  const cluster = networkCluster(state);
  const previous = state.network as NetworkStepResult | undefined;
  // Writes are certain when this run's preflight planned network changes moments ago, or the
  // previous call waited for AWS to settle (the subnets wait for the CIDR association).
  const preflight = (state.preflight as { network?: Partial<NetworkStepResult> } | undefined)?.network;
  const knownWrites = previous ? previous.phase === 'pending' : (preflight?.changes?.length ?? 0) > 0;
  // Then the nodes that answer saw (seconds ago) are used as they are: a node group created since
  // gets its own workflow, and any other node the next run (drift repair) counts.
  const seen = previous ?? preflight;
  const knownNodes = knownWrites && seen?.nodeSubnets ? nodesOf({ nodeSubnets: seen.nodeSubnets, nodeSecurityGroupIds: seen.nodeSecurityGroupIds }) : undefined;
  return runStep('pod-network', cluster.name, () =>
    // The cluster lease for the whole write phase; the VPC lease only around the writes clusters of
    // the VPC share, and not at all when they are in place (reconcileUnderLeases says which).
    withClusterLeaseIfChanges({ clusterName: cluster.name, workMs: POD_NETWORK_WORK_MS }, state.executionId, state.input.dryRun, previous?.changes.length ?? 0, (dryRun) =>
      // A CREATING cluster may be deleted before the first write (its offboarding then found nothing
      // to undo): looked at again under the lease, before the claim. The ASL drops the exclusion.
      (state.resolve?.phase === 'early' && !previous && !dryRun ? requireEarlyClusterLive(cluster) : Promise.resolve()).then(() => reconcileNetwork(
        cluster,
        runtime().config,
        dryRun,
        previous,
        {
          statusTableName: requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME'),
          withVpcLease: (work) => withVpcLease(cluster.vpcId, state.executionId, POD_NETWORK_WORK_MS, work),
          awaitVpcLeaseFree: () => awaitVpcLeaseFree(cluster.vpcId, state.executionId, POD_NETWORK_WORK_MS),
        },
        knownNodes,
      )).then(
        // The load-balancer subnet tags carry a marker per cluster: the cluster lease is enough.
        async (result) =>
          result.phase === 'done' ? { ...result, changes: [...result.changes, ...(await tagLoadBalancerSubnets(cluster.name, cluster.vpcId, runtime().config, dryRun))] } : result,
      ),
      knownWrites,
    ),
  );
};
