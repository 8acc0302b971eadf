// Scheduled drift repair: re-runs the cluster workflow for every onboarded cluster, so a lost
// CloudTrail event or a change made by hand is repaired. One run per cluster per schedule tick.
import { executionName, startOnce, StartResult } from '../domain/executions';
import { allStatusRecords } from '../domain/status-record';
import { requireSetting, runtime } from '../shared/runtime';
import { runStep } from '../shared/step';

/** Clusters whose last run onboarded them, or failed (a fixed cause is then picked up). */
const REPAIRED_STATUSES = new Set(['ONBOARDED', 'FAILED']);

export const handler = async (event: { time?: string }) =>
  runStep('drift-repair', undefined, async () => {
    const machine = requireSetting(process.env.CLUSTER_STATE_MACHINE_ARN, 'CLUSTER_STATE_MACHINE_ARN');
    const records = await allStatusRecords(requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME'));
    // The schedule's own time names the runs, so a repeated delivery of one tick starts nothing new.
    const tick = (event.time ?? new Date().toISOString()).replace(/[^0-9]/g, '').slice(0, 12);
    const runs: StartResult[] = [];
    for (const record of records.filter((r) => REPAIRED_STATUSES.has(r.status))) {
      runs.push(await startOnce(machine, executionName('drift', record.clusterName, tick), { clusterName: record.clusterName, dryRun: false, trigger: 'DriftRepair' }));
    }
    return { tick, runs };
  });
