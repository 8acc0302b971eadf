// CloudWatch metrics as Embedded Metric Format log lines (Powertools Metrics): no PutMetricData call,
// no extra IAM, no latency on the path. Dimensions stay low-cardinality (workflow, outcome, error
// name, controller action, lease kind); the cluster goes into the log line, never a dimension.
// Each handler flushes once at the end of runStep (lambdas/shared/step.ts).
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DEFAULT_METRICS_NAMESPACE } from '../../lib/config';
import { keptWhileWarm } from './warm-state';

/** What the dashboard and alarms read (lib/observability.ts); one name each. */
export const METRIC = {
  runs: 'Runs',
  failures: 'Failures',
  runSeconds: 'RunSeconds',
  activeToEniConfigSeconds: 'ActiveToEniConfigSeconds',
  changes: 'Changes',
  driftRepaired: 'DriftItemsRepaired',
  leaseWaitSeconds: 'LeaseWaitSeconds',
  leaseTimeouts: 'LeaseTimeouts',
  controllerLatency: 'ControllerLatency',
  controllerErrors: 'ControllerErrors',
} as const;

export type WorkflowName = 'onboarding' | 'nodegroup' | 'offboarding';
export type RunOutcome = 'Onboarded' | 'Failed' | 'Skipped' | 'Refused' | 'Offboarded';

/** The `service` dimension of every metric (POWERTOOLS_SERVICE_NAME on the functions). */
export const SERVICE_NAME = 'eks-aviatrix-onboarding';

let metrics: Metrics | undefined;
keptWhileWarm(() => (metrics = undefined));

/** Created on first use, so the namespace (POWERTOOLS_METRICS_NAMESPACE, set by the stack from config) is read then. */
function store(): Metrics {
  metrics ??= new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE || DEFAULT_METRICS_NAMESPACE,
    serviceName: process.env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME,
  });
  return metrics;
}

/** One EMF line of its own: for metrics whose dimensions differ from the run's (per action, per lease kind). */
function emit(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number, dimensions: Record<string, string>): void {
  const single = store().singleMetric();
  single.addDimensions(dimensions);
  single.addMetric(name, unit, value);
}

export interface RunMetrics {
  workflow: WorkflowName;
  outcome: RunOutcome;
  /** The error name of a failed run (Failures by Reason). */
  errorName?: string;
  /** Seconds from the workflow's start (the event's delivery) to its end; onboarded runs only. */
  runSeconds?: number;
  changes: number;
  /** A drift-repair run: its changes are drift repaired. */
  driftRepair: boolean;
}

/** The record-outcome step's metrics: one run's outcome. */
export function recordRun(run: RunMetrics): void {
  emit(METRIC.runs, MetricUnit.Count, 1, { Workflow: run.workflow, Outcome: run.outcome });
  if (run.outcome === 'Failed' || run.outcome === 'Refused') {
    emit(METRIC.failures, MetricUnit.Count, 1, { Workflow: run.workflow, Reason: run.errorName ?? 'Unknown' });
  }
  const m = store();
  m.addDimension('Workflow', run.workflow);
  if (run.runSeconds !== undefined) m.addMetric(METRIC.runSeconds, MetricUnit.Seconds, run.runSeconds);
  m.addMetric(METRIC.changes, MetricUnit.Count, run.changes);
  if (run.driftRepair) m.addMetric(METRIC.driftRepaired, MetricUnit.Count, run.changes);
}

/** Seconds between the workflow seeing the cluster ACTIVE and its ENIConfigs written. */
export function recordEniConfigLatency(seconds: number): void {
  emit(METRIC.activeToEniConfigSeconds, MetricUnit.Seconds, seconds, {});
}

/** A lease acquired after `seconds` of waiting, or given up on (timedOut). Kind: gateway, cluster, vpc... */
export function recordLease(kind: string, seconds: number, timedOut: boolean): void {
  if (timedOut) emit(METRIC.leaseTimeouts, MetricUnit.Count, 1, {});
  else emit(METRIC.leaseWaitSeconds, MetricUnit.Seconds, seconds, { LeaseKind: kind });
}

/** One controller request (after its retries): latency, and whether it failed. */
export function recordControllerCall(action: string, milliseconds: number, failed: boolean): void {
  emit(METRIC.controllerLatency, MetricUnit.Milliseconds, milliseconds, { Action: action });
  if (failed) emit(METRIC.controllerErrors, MetricUnit.Count, 1, { Action: action });
}

/** Writes the buffered metrics (one EMF line); runStep calls it when a handler ends. */
export function flushMetrics(): void {
  if (metrics?.hasStoredMetrics()) metrics.publishStoredMetrics();
}
