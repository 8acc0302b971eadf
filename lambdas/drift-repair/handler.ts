// Scheduled drift repair. Re-runs the cluster workflow for every cluster in the Region, so a change
// made by hand is repaired and a cluster whose CreateCluster event was lost is onboarded (the
// workflow itself skips clusters that are not opted in). A cluster recorded as onboarded that no
// longer exists had its DeleteCluster event lost: it is offboarded. One run per cluster per tick.
import { paginateListClusters } from '@aws-sdk/client-eks';
import { executionName, startOnce, StartResult } from '../domain/executions';
import { OFFBOARDED } from '../domain/offboarding';
import { allStatusRecords } from '../domain/status-record';
import { eks } from '../shared/aws';
import { requireSetting, runtime } from '../shared/runtime';
import { runStep } from '../shared/step';

async function clustersInRegion(): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListClusters({ client: eks() }, {})) names.push(...(page.clusters ?? []));
  return names;
}

export const handler = async (event: { time?: string }) =>
  runStep('drift-repair', undefined, async () => {
    const clusterMachine = requireSetting(process.env.CLUSTER_STATE_MACHINE_ARN, 'CLUSTER_STATE_MACHINE_ARN');
    const offboardingMachine = requireSetting(process.env.OFFBOARDING_STATE_MACHINE_ARN, 'OFFBOARDING_STATE_MACHINE_ARN');
    const [clusters, records] = await Promise.all([
      clustersInRegion(),
      allStatusRecords(requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME')),
    ]);
    // The schedule's own time names the runs, so a repeated delivery of one tick starts nothing new.
    const tick = (event.time ?? new Date().toISOString()).replace(/[^0-9]/g, '').slice(0, 12);
    const input = (clusterName: string) => ({ clusterName, dryRun: false, trigger: 'DriftRepair' });
    const runs: StartResult[] = [];
    for (const clusterName of clusters) {
      runs.push(await startOnce(clusterMachine, executionName('drift', tick, clusterName), input(clusterName)));
    }
    const gone = records.filter((r) => r.vpcId && r.status !== OFFBOARDED && r.status !== 'SKIPPED' && !clusters.includes(r.clusterName));
    for (const record of gone) {
      runs.push(await startOnce(offboardingMachine, executionName('drift-offboard', tick, record.clusterName), input(record.clusterName)));
    }
    return { tick, runs };
  });
