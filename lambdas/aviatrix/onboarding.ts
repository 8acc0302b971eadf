// Design step 8: onboard the EKS cluster to the Aviatrix controller by its ARN (with the controller's
// own cloud credentials) and keep its SmartGroups: "<cluster>-vpc" for the cluster's VPC and one
// Kubernetes-type group "<cluster>-<name>" per configured spec. Observe, compare, change only what
// differs; a dry run returns the plan and writes nothing.
//
// The VPC SmartGroup matches `{"type":"vpc","res_id":<vpc id>}` rather than the blueprint's
// `{"type":"vpc","name":<Name tag>}`: `res_id` is one of the documented selector keys, the VPC id is
// known exactly from DescribeCluster, immutable and unique, whereas the Name tag may be missing,
// shared by several VPCs, or renamed later (which would silently change what the group matches).
import { AviatrixConfig } from '../../lib/config';
import { Change, ClusterSummary, StepResult } from '../shared/workflow';
import { OnboardingError } from '../shared/errors';
import { AviatrixClient, ControllerApiError, K8sCluster, K8sClusterBody, SelectorExpression, SmartGroupBody } from './client';

export interface OnboardInput {
  cluster: Pick<ClusterSummary, 'name' | 'arn' | 'vpcId'>;
  dryRun: boolean;
}

export interface SmartGroupOutcome {
  name: string;
  uuid?: string;
  action: 'unchanged' | 'create' | 'update';
}

export interface OnboardResult extends StepResult {
  /** The controller's id of the onboarded cluster (absent in a dry-run plan for a new cluster). */
  k8sClusterId?: string;
  k8sClusterAction: 'unchanged' | 'create' | 'update';
  smartGroups: SmartGroupOutcome[];
}

export function desiredK8sCluster(arn: string, existing?: K8sCluster): K8sClusterBody {
  const body: K8sClusterBody = { cluster_id: arn, credential: { use_csp_credentials: true } };
  // Keep flags someone else set: PUT replaces the whole object.
  if (existing?.gateway_tunnel_enabled) body.gateway_tunnel_enabled = true;
  if (existing?.intra_cluster_inspection_enabled) body.intra_cluster_inspection_enabled = true;
  return body;
}

export function desiredSmartGroups(
  cluster: OnboardInput['cluster'],
  config: Pick<AviatrixConfig, 'kubernetesSmartGroups'>,
): SmartGroupBody[] {
  const groups: SmartGroupBody[] = [
    { name: `${cluster.name}-vpc`, selector: { any: [{ all: { type: 'vpc', res_id: cluster.vpcId } }] } },
  ];
  for (const spec of config.kubernetesSmartGroups) {
    const all: SelectorExpression = { type: 'k8s', k8s_cluster_id: cluster.arn };
    if (spec.namespace) all.k8s_namespace = spec.namespace;
    for (const [key, value] of Object.entries(spec.labels ?? {})) if (value !== '') all[`tags.${key}`] = value;
    groups.push({ name: `${cluster.name}-${spec.name}`, selector: { any: [{ all }] } });
  }
  return groups;
}

/** Order-insensitive identity of a selector; empty values count as absent. */
export function selectorKey(selector: SmartGroupBody['selector'] | undefined): string {
  const blocks = (selector?.any ?? []).map((block) => {
    const entries = Object.entries(block?.all ?? {})
      .filter(([, v]) => v !== '' && v !== undefined && v !== null)
      .map(([k, v]) => [k, String(v)] as const)
      .sort(([a], [b]) => a.localeCompare(b));
    return JSON.stringify(entries);
  });
  return JSON.stringify(blocks.sort());
}

function sameK8sCluster(existing: K8sCluster, wanted: K8sClusterBody): boolean {
  return (
    existing.cluster_id === wanted.cluster_id &&
    existing.credential?.use_csp_credentials === true &&
    !existing.credential?.kube_config
  );
}

export async function reconcileOnboarding(
  client: AviatrixClient,
  config: Pick<AviatrixConfig, 'kubernetesSmartGroups'>,
  input: OnboardInput,
): Promise<OnboardResult> {
  const { cluster, dryRun } = input;
  const changes: Change[] = [];

  if (!(await client.getControllerFeature('k8s'))) {
    throw new OnboardingError(
      'ControllerError',
      `the Aviatrix controller's Kubernetes feature ("k8s") is disabled, so cluster ${cluster.name} cannot be onboarded; ` +
        'enable it on the controller (Terraform aviatrix_config_feature "k8s") and run again',
    );
  }

  // Kubernetes cluster onboarding.
  const onboarded = (await client.listK8sClusters()).find((c) => c.cluster_id === cluster.arn);
  let k8sClusterId = onboarded?.id;
  let k8sClusterAction: OnboardResult['k8sClusterAction'] = 'unchanged';
  const wanted = desiredK8sCluster(cluster.arn, onboarded);
  if (!onboarded) {
    k8sClusterAction = 'create';
    changes.push({ resource: `aviatrix k8s cluster ${cluster.arn}`, action: 'create', detail: 'onboard the cluster with the controller cloud credentials' });
    if (!dryRun) {
      try {
        k8sClusterId = await client.createK8sCluster(wanted);
      } catch (error) {
        // A concurrent run may have onboarded it between our read and our write.
        if (!(error instanceof ControllerApiError && /already exists/i.test(error.reason))) throw error;
        k8sClusterId = (await client.listK8sClusters()).find((c) => c.cluster_id === cluster.arn)?.id;
        if (!k8sClusterId) throw error;
        k8sClusterAction = 'unchanged';
        changes.pop();
      }
    }
  } else if (!sameK8sCluster(onboarded, wanted)) {
    k8sClusterAction = 'update';
    changes.push({ resource: `aviatrix k8s cluster ${cluster.arn}`, action: 'update', detail: 'use the controller cloud credentials' });
    if (!dryRun) await client.updateK8sCluster(onboarded.id, wanted);
  }

  // SmartGroups, matched by name.
  const existingGroups = await client.listSmartGroups();
  const smartGroups: SmartGroupOutcome[] = [];
  for (const group of desiredSmartGroups(cluster, config)) {
    const current = existingGroups.find((g) => g.name === group.name);
    if (!current) {
      changes.push({ resource: `aviatrix SmartGroup ${group.name}`, action: 'create', detail: `selector ${describeSelector(group)}` });
      const uuid = dryRun ? undefined : await client.createSmartGroup(group);
      smartGroups.push({ name: group.name, ...(uuid ? { uuid } : {}), action: 'create' });
    } else if (selectorKey(current.selector) !== selectorKey(group.selector)) {
      changes.push({ resource: `aviatrix SmartGroup ${group.name}`, action: 'update', detail: `selector ${describeSelector(group)}` });
      if (!dryRun) await client.updateSmartGroup(current.uuid, group);
      smartGroups.push({ name: group.name, uuid: current.uuid, action: 'update' });
    } else {
      smartGroups.push({ name: group.name, uuid: current.uuid, action: 'unchanged' });
    }
  }

  return { dryRun, changes, ...(k8sClusterId ? { k8sClusterId } : {}), k8sClusterAction, smartGroups };
}

function describeSelector(group: SmartGroupBody): string {
  return group.selector.any.map((b) => Object.entries(b.all).map(([k, v]) => `${k}=${v}`).join(' AND ')).join(' OR ');
}
