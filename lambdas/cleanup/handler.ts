// The AWS side of a deleted cluster. Two calls from the offboarding workflow:
//   { action: "resolve", request, startedAt } -> what the status record says there is to undo;
//   { action: "detach", input, record } -> first, while EKS deletes the cluster: revoke our rules that
//   name its security groups (they would keep EKS from deleting its cluster security group);
//   the workflow state { action: "cleanup", input, record, cleanup? } -> delete what we created, once the
//   cluster is gone (called again after each wait with its previous answer in `cleanup`).
import { cleanupAws, CleanupResult, detachSecurityGroups, OnboardedCluster, planOffboarding, refuseIfRecreated } from '../domain/offboarding';
import { untagLoadBalancerSubnets } from '../domain/lb-subnets';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { withClusterLease } from '../shared/cluster-lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { WorkflowInput } from '../shared/workflow';

export type CleanupEvent =
  | { action: 'resolve'; request: unknown }
  | { action: 'cleanup' | 'detach'; input: WorkflowInput; record: OnboardedCluster; executionId: string; cleanup?: CleanupResult };

/**
 * What detach and cleanup do once they hold the cluster and VPC leases: the rule revokes, or the
 * deletes in a row (pod security group, each pod subnet after its network-interface read, the CIDR
 * association and its tag): 60 s of the 180 s.
 */
const CLEANUP_WORK_MS = 60_000;

export const handler = async (event: CleanupEvent, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  const statusTableName = requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME');
  if (event.action === 'resolve') {
    return runStep('offboarding', undefined, () => planOffboarding(event.request, statusTableName));
  }
  if (event.action === 'detach') {
    return runStep('detach', event.record.clusterName, () =>
      withClusterLease({ clusterName: event.record.clusterName, vpcId: event.record.vpcId, workMs: CLEANUP_WORK_MS }, event.executionId, event.input.dryRun, async () => {
        await refuseIfRecreated(event.record);
        return detachSecurityGroups(event.record, event.input.dryRun, runtime().config);
      }),
    );
  }
  if (event.action === 'cleanup') {
    return runStep('cleanup', event.record.clusterName, () =>
      withClusterLease({ clusterName: event.record.clusterName, vpcId: event.record.vpcId, workMs: CLEANUP_WORK_MS }, event.executionId, event.input.dryRun, () =>
        cleanupAws(
          { record: event.record, dryRun: event.input.dryRun, statusTableName, ...(event.cleanup ? { previous: event.cleanup } : {}) },
          runtime().config,
        ).then(async (result) =>
          // The load-balancer subnet tags this cluster added (config loadBalancerSubnets), once the rest is done.
          ({
            ...result,
            // Each call carries the earlier calls' warnings and may find the same leftovers again.
            warnings: [...new Set(result.warnings)],
            ...(result.phase === 'done'
              ? { changes: [...result.changes, ...(await untagLoadBalancerSubnets(event.record.clusterName, event.record.vpcId, event.input.dryRun))] }
              : {}),
          }),
        ),
      ),
    );
  }
  throw new OnboardingError('InvalidInput', `cleanup got unknown action ${JSON.stringify((event as { action?: unknown }).action)}; expected "resolve", "detach" or "cleanup"`);
};
