// Steps 7 (the controller's access entry) and 8: onboard the cluster to the Aviatrix controller and
// keep its SmartGroups. Thin: domain modules do the work; this reads config, builds the clients and
// validates the input. Also serves offboarding: { action: "offboard", clusterName, dryRun? }.
import { ensureAccessEntry, VIEW_POLICY } from '../domain/access-entries';
import { controllerAccess } from '../aviatrix/access-account';
import { aviatrixClient } from '../aviatrix/client';
import { removeControllerAccessEntry } from '../aviatrix/controller-access';
import { desiredSmartGroups, offboardOnboarding, OffboardOnboardingResult, OnboardResult, reconcileOnboarding } from '../aviatrix/onboarding';
import { vpcNameTag } from '../domain/vpc-name';
import { VIEW_NODES_KUBE_GROUP } from '../shared/kube-rbac';
import { OwnershipRegistry } from '../aviatrix/ownership';
import { preflightOf } from '../aviatrix/preflight-state';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { controllerKey, Leases, planThenLease } from '../shared/lease';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { keptWhileWarm } from '../shared/warm-state';
import { WorkflowState } from '../shared/workflow';

export interface OffboardOnboardEvent {
  action: 'offboard';
  clusterName: string;
  dryRun?: boolean;
  /** The lease holder. */
  executionId?: string;
  /** The offboarding's record (its identity: a record a re-created cluster took over is refused). */
  record?: { identity?: string };
}

export interface OffboardOnboardResult extends OffboardOnboardingResult {
  /** Why the controller role's access entry was left alone, when it was. */
  accessEntrySkipped?: string;
}

export type OnboardHandlerInput = (WorkflowState & { action?: undefined }) | OffboardOnboardEvent;

/**
 * Every action runs inside runStep: logged, unknown errors named with the step and cluster, AWS
 * throttling and 5xx turned into TransientError (which the ASL retries).
 */
export async function handler(event: OnboardHandlerInput, context?: LambdaContextLike): Promise<OnboardResult | OffboardOnboardResult> {
  beginInvocation(event, context);
  if (event.action === 'offboard') {
    return runStep('aviatrix-offboard', event.clusterName, () => serialized(event.clusterName, event.executionId, event.dryRun === true, (dryRun) => work(event, dryRun)));
  }
  const clusterName = event.resolve?.cluster?.name ?? event.input?.clusterName;
  return runStep('aviatrix-onboard', clusterName, () => serialized(clusterName, event.executionId, event.input?.dryRun === true, (dryRun) => work(event, dryRun)));
}

let leases: Leases | undefined;
keptWhileWarm(() => (leases = undefined));

/**
 * Two runs never change one cluster's controller objects (onboarding, SmartGroups) at once: a run
 * that has something to change holds the cluster's controller lease while it re-reads and writes.
 * A converged run finds nothing to change in its plan and takes no lease (so it writes nothing).
 */
async function serialized<T extends { changes: unknown[] }>(
  clusterName: string | undefined,
  holder: string | undefined,
  dryRun: boolean,
  fn: (dryRun: boolean) => Promise<T>,
): Promise<T> {
  const result = await planThenLease(dryRun, fn, (plan) => plan.changes.length > 0, (apply) => {
    if (!clusterName || !holder) {
      throw new OnboardingError('InvalidInput', `aviatrix-onboard needs the workflow's executionId to hold cluster ${clusterName ?? '(unknown)'}'s lease; start the workflow from its first state`);
    }
    // workMs: the onboarding, SmartGroup writes and read-backs after the lease, a few controller
    // calls of seconds each; 120 s of the 240 s covers one of them running to its worst case.
    leases ??= new Leases({ tableName: requireSetting(runtime().leaseTableName, 'LEASE_TABLE_NAME'), acquireTimeoutMs: 20_000, durationSeconds: 300, workMs: 120_000 });
    return leases.withLease(controllerKey(clusterName), holder, apply);
  });
  // A converged run answers with its plan, which is not a dry run.
  return dryRun ? result : { ...result, dryRun: false };
}

async function work(event: OnboardHandlerInput, dryRun: boolean): Promise<(OnboardResult & { warnings?: string[] }) | OffboardOnboardResult> {
  const { config, statusTableName } = runtime();
  const ownership = new OwnershipRegistry({ tableName: requireSetting(statusTableName, 'STATUS_TABLE_NAME') });
  const client = aviatrixClient(config.aviatrix);

  if (event.action === 'offboard') {
    if (!event.clusterName) throw new OnboardingError('InvalidInput', 'offboard needs clusterName');
    const identity = event.record?.identity;
    const controller = await offboardOnboarding(client, ownership, { clusterName: event.clusterName, dryRun, ...(identity ? { identity } : {}) });
    const access = await removeControllerAccessEntry(event.clusterName, controllerAccess(config).roleArn, dryRun);
    return {
      ...controller,
      changes: [...controller.changes, ...access.changes],
      ...(access.skipped ? { accessEntrySkipped: access.skipped } : {}),
    };
  }

  const state = event;
  const cluster = state.resolve?.cluster;
  if (!cluster?.arn || !cluster.vpcId) {
    throw new OnboardingError('InvalidInput', 'aviatrix-onboard needs state.resolve.cluster with arn and vpcId (the resolve step output)');
  }
  // Checked before any write of this step: the template the cluster's tag names, the VPC's Name tag.
  const vpcName = config.aviatrix.vpcSmartGroupMatch === 'name' ? await vpcNameTag(cluster.vpcId) : undefined;
  const onboardCluster = { name: cluster.name, arn: cluster.arn, vpcId: cluster.vpcId, tags: cluster.tags ?? {}, ...(vpcName ? { vpcName } : {}) };
  desiredSmartGroups(onboardCluster, config.aviatrix);
  // The controller discovers pods, namespaces and labels through this entry (design step 7), and
  // nodes through its group's view-nodes RBAC (written by the kube reconciler, kube-access.ts).
  const access = await ensureAccessEntry(cluster.name, controllerAccess(config).roleArn, VIEW_POLICY, dryRun, VIEW_NODES_KUBE_GROUP);
  // The preflight's controller branch, when it passed in this run, already checked the k8s feature.
  const featureChecked = preflightOf(state) !== undefined;
  const onboarded = await reconcileOnboarding(client, config.aviatrix, { cluster: onboardCluster, dryRun, featureChecked }, ownership);
  return { ...onboarded, changes: [...access.changes, ...onboarded.changes], ...(access.warnings.length > 0 ? { warnings: access.warnings } : {}) };
}
