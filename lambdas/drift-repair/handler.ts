// Scheduled drift repair. Re-runs the cluster workflow for every cluster it has a record of, so a
// change made by hand is repaired. Clusters with no record (a lost CreateCluster event, or clusters
// that existed before the stack) are adopted only when opting in takes a tag: with optIn "all",
// adopting would switch every existing cluster's CNI to custom networking unasked, so they are
// listed instead. A recorded cluster that no longer exists had its DeleteCluster event lost: it is
// offboarded. One run per cluster per tick, in the hub's own account and Region and in every member's.
import { paginateListClusters } from '../shared/sdk/eks';
import { executionName, startOnce, StartResult } from '../domain/executions';
import { allStatusRecords, CLAIMS_NOTHING, StatusRecord } from '../domain/status-record';
import { eks } from '../shared/aws';
import { logger } from '../shared/logger';
import { requireSetting, runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { parseScopedName, sameTarget, scopedName, Target, targetOf, withTarget } from '../shared/target';

async function clustersInRegion(): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListClusters({ client: eks() }, {})) names.push(...(page.clusters ?? []));
  return names;
}

/**
 * Where drift repair looks: the hub's own account and Region, every listed member account in every
 * member Region, and any account/Region a record names (an Organization's accounts are not listed
 * in config; their recorded clusters are still repaired).
 */
function targets(records: StatusRecord[]): (Target | undefined)[] {
  const { members } = runtime().config;
  const keyed = new Map<string, Target | undefined>([['hub', undefined]]);
  const add = (t: Target | undefined) => {
    if (t) keyed.set(`${t.account}/${t.region}`, t);
  };
  for (const account of members?.accounts ?? []) for (const region of members?.regions ?? []) add(targetOf(account, region));
  for (const record of records) add(parseScopedName(record.clusterName).target);
  return [...keyed.values()];
}

export const handler = async (event: { time?: string }, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  return runStep('drift-repair', undefined, async () => {
    const clusterMachine = requireSetting(process.env.CLUSTER_STATE_MACHINE_ARN, 'CLUSTER_STATE_MACHINE_ARN');
    const offboardingMachine = requireSetting(process.env.OFFBOARDING_STATE_MACHINE_ARN, 'OFFBOARDING_STATE_MACHINE_ARN');
    const records = await allStatusRecords(requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME'));
    // The schedule's own time names the runs, so a repeated delivery of one tick starts nothing new.
    const tick = (event.time ?? new Date().toISOString()).replace(/[^0-9]/g, '').slice(0, 12);
    const adopt = runtime().config.optIn.mode === 'tag';
    const runs: StartResult[] = [];
    const notOnboarded: string[] = [];
    const unreachable: string[] = [];
    for (const target of targets(records)) {
      // One account or Region whose member role is missing must not stop the others' repair.
      const clusters = await withTarget(target, clustersInRegion).catch((error: Error) => {
        unreachable.push(`${scopedName('*', target)}: ${error.message}`);
        return undefined;
      });
      if (!clusters) continue;
      const input = (clusterName: string) => ({ clusterName, ...target, dryRun: false, trigger: 'DriftRepair' });
      const mine = records.filter((r) => sameTarget(parseScopedName(r.clusterName).target, target));
      const recorded = new Set(mine.map((r) => parseScopedName(r.clusterName).name));
      for (const clusterName of clusters) {
        if (!recorded.has(clusterName) && !adopt) {
          notOnboarded.push(scopedName(clusterName, target));
          continue;
        }
        runs.push(await startOnce(clusterMachine, executionName('drift', tick, scopedName(clusterName, target)), input(clusterName)));
      }
      const gone = mine.filter((r) => r.vpcId && !CLAIMS_NOTHING.has(r.status) && !clusters.includes(parseScopedName(r.clusterName).name));
      for (const record of gone) {
        const { name } = parseScopedName(record.clusterName);
        runs.push(await startOnce(offboardingMachine, executionName('drift-offboard', tick, record.clusterName), input(name)));
      }
    }
    if (notOnboarded.length > 0) {
      logger.warn('clusters with no onboarding record were left alone (optIn "all"): onboard them with `eks-aviatrix run <cluster>`', { notOnboarded });
    }
    if (unreachable.length > 0) logger.error('accounts/Regions drift repair could not look into', { unreachable });
    return { tick, runs, notOnboarded, ...(unreachable.length > 0 ? { unreachable } : {}) };
  });
};
