// Scheduled drift repair. Re-runs the cluster workflow for every cluster it has a record of, so a
// change made by hand is repaired. Clusters with no record (a lost CreateCluster event, or clusters
// that existed before the stack) are adopted only when opting in takes a tag: with optIn "all",
// adopting would switch every existing cluster's CNI to custom networking unasked, so they are
// listed instead. A recorded cluster that no longer exists had its DeleteCluster event lost: it is
// offboarded. One run per cluster per tick.
import { paginateListClusters } from '../shared/sdk/eks';
import { executionName, startOnce, StartResult } from '../domain/executions';
import { allStatusRecords, CLAIMS_NOTHING } from '../domain/status-record';
import { eks } from '../shared/aws';
import { logger } from '../shared/logger';
import { requireSetting, runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';

async function clustersInRegion(): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListClusters({ client: eks() }, {})) names.push(...(page.clusters ?? []));
  return names;
}

export const handler = async (event: { time?: string }, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  return runStep('drift-repair', undefined, async () => {
    const clusterMachine = requireSetting(process.env.CLUSTER_STATE_MACHINE_ARN, 'CLUSTER_STATE_MACHINE_ARN');
    const offboardingMachine = requireSetting(process.env.OFFBOARDING_STATE_MACHINE_ARN, 'OFFBOARDING_STATE_MACHINE_ARN');
    const [clusters, records] = await Promise.all([
      clustersInRegion(),
      allStatusRecords(requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME')),
    ]);
    // The schedule's own time names the runs, so a repeated delivery of one tick starts nothing new.
    const tick = (event.time ?? new Date().toISOString()).replace(/[^0-9]/g, '').slice(0, 12);
    const input = (clusterName: string) => ({ clusterName, dryRun: false, trigger: 'DriftRepair' });
    const recorded = new Set(records.map((r) => r.clusterName));
    const adopt = runtime().config.optIn.mode === 'tag';
    const runs: StartResult[] = [];
    const notOnboarded: string[] = [];
    for (const clusterName of clusters) {
      if (!recorded.has(clusterName) && !adopt) {
        notOnboarded.push(clusterName);
        continue;
      }
      runs.push(await startOnce(clusterMachine, executionName('drift', tick, clusterName), input(clusterName)));
    }
    const gone = records.filter((r) => r.vpcId && !CLAIMS_NOTHING.has(r.status) && !clusters.includes(r.clusterName));
    for (const record of gone) {
      runs.push(await startOnce(offboardingMachine, executionName('drift-offboard', tick, record.clusterName), input(record.clusterName)));
    }
    if (notOnboarded.length > 0) {
      logger.warn('clusters with no onboarding record were left alone (optIn "all"): onboard them with `eks-aviatrix run <cluster>`', { notOnboarded });
    }
    return { tick, runs, notOnboarded };
  });
};
