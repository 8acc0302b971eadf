// Design step 8: onboard the EKS cluster to the Aviatrix controller by its ARN (with the controller's
// own cloud credentials) and keep its SmartGroups: "<cluster>-vpc" for the cluster's VPC and one
// Kubernetes-type group "<cluster>-<name>" per configured spec. Observe, compare, change only what
// differs; a dry run returns the plan and writes nothing. What it creates is claimed in the
// ownership registry first (ownership.ts), so offboarding deletes exactly that and nothing else.
// A SmartGroup is ours only when the cluster's record claims it (by uuid; by name while only the
// intent is recorded): a group with one of our names that we do not own (hand-made, or a same-named
// cluster of another Region or account on this controller) is never updated or deleted. When it
// matches exactly what we want it is adopted (claimed); when it differs the step stops, before any
// write, with a GatewayConflict naming the group and the fix.
//
// The VPC SmartGroup matches `{"type":"vpc","res_id":<vpc id>}` by default rather than the
// blueprint's `{"type":"vpc","name":<Name tag>}`: `res_id` is one of the documented selector keys,
// the VPC id is known exactly from DescribeCluster, immutable and unique, whereas the Name tag may
// be missing, shared by several VPCs, or renamed later. `vpcSmartGroupMatch: "name"` chooses the
// blueprint's form; a renamed VPC then updates the group on the next run.
//
// Which Kubernetes groups a cluster gets: the template its tag (smartGroupTemplateTag) names in
// smartGroupTemplates, or kubernetesSmartGroups without the tag. The controller documents no
// members endpoint, so what a written group resolves to cannot be checked; each write is read back
// instead, and a group the controller keeps differently from what was sent fails the step.
import { AviatrixConfig, DEFAULTS, KubernetesSmartGroupSpec } from '../../lib/config';
import { scopedName } from '../shared/target';
import { requireVpcName } from '../domain/vpc-name';
import { Change, ClusterSummary, StepResult } from '../shared/workflow';
import { OnboardingError } from '../shared/errors';
import { AviatrixClient, ControllerApiError, K8sCluster, K8sClusterBody, SelectorExpression, SmartGroup, SmartGroupBody } from './client';
import { OwnedSmartGroup, OwnershipRegistry, refuseIfTakenOver } from './ownership';

/** The SmartGroup settings; the optional ones fall back to the config defaults. */
export type SmartGroupConfig = Pick<AviatrixConfig, 'kubernetesSmartGroups'> &
  Partial<Pick<AviatrixConfig, 'smartGroupTemplates' | 'smartGroupTemplateTag' | 'vpcSmartGroupMatch'>>;

export interface OnboardInput {
  cluster: Pick<ClusterSummary, 'name' | 'arn' | 'vpcId'> & {
    tags?: Record<string, string>;
    /** The VPC's Name tag (read only with vpcSmartGroupMatch "name"; absent when the VPC has none). */
    vpcName?: string;
  };
  dryRun: boolean;
  /** The run's controller preflight already found the `k8s` feature on: not read again. */
  featureChecked?: boolean;
}

export interface SmartGroupOutcome {
  name: string;
  uuid?: string;
  action: 'unchanged' | 'create' | 'update' | 'adopt';
}

export interface OnboardResult extends StepResult {
  /** The controller's id of the onboarded cluster (absent in a dry-run plan for a new cluster). */
  k8sClusterId?: string;
  k8sClusterAction: 'unchanged' | 'create' | 'update';
  /** The template the cluster's tag chose (absent: kubernetesSmartGroups). */
  smartGroupTemplate?: string;
  smartGroups: SmartGroupOutcome[];
}

export function desiredK8sCluster(arn: string, existing?: K8sCluster): K8sClusterBody {
  const body: K8sClusterBody = { cluster_id: arn, credential: { use_csp_credentials: true } };
  // Keep flags someone else set: PUT replaces the whole object.
  if (existing?.gateway_tunnel_enabled) body.gateway_tunnel_enabled = true;
  if (existing?.intra_cluster_inspection_enabled) body.intra_cluster_inspection_enabled = true;
  return body;
}

/**
 * The Kubernetes SmartGroup specs of a cluster: the template its tag names, or kubernetesSmartGroups
 * when it has no such tag. A tag naming no template fails before any write, naming both.
 */
export function chooseSmartGroupTemplate(
  cluster: Pick<OnboardInput['cluster'], 'name' | 'tags'>,
  config: SmartGroupConfig,
): { template?: string; specs: KubernetesSmartGroupSpec[] } {
  const tagKey = config.smartGroupTemplateTag ?? DEFAULTS.smartGroupTemplateTag;
  const template = cluster.tags?.[tagKey];
  if (template === undefined) return { specs: config.kubernetesSmartGroups };
  const templates = config.smartGroupTemplates ?? {};
  if (!Object.prototype.hasOwnProperty.call(templates, template)) {
    const known = Object.keys(templates);
    throw new OnboardingError(
      'ConfigError',
      `EKS cluster "${cluster.name}" has the tag ${tagKey}=${template}, but onboarding.aviatrix.smartGroupTemplates has no template ` +
        `"${template}" (${known.length > 0 ? `it has ${known.map((k) => `"${k}"`).join(', ')}` : 'it has none'}); set the tag to one of ` +
        'those, remove it to use kubernetesSmartGroups, or add the template to the config',
    );
  }
  return { template, specs: templates[template] };
}

/** The wire selector of one spec, with the cluster's ARN as k8s_cluster_id (section 6). */
function kubernetesSelector(spec: KubernetesSmartGroupSpec, clusterArn: string): SelectorExpression {
  if (spec.type === 'k8s_node') return { type: 'k8s_node', k8s_cluster_id: clusterArn };
  const all: SelectorExpression = { type: 'k8s', k8s_cluster_id: clusterArn };
  if (spec.namespace) all.k8s_namespace = spec.namespace;
  if (spec.service) all.k8s_service = spec.service;
  if (spec.pod) all.k8s_pod = spec.pod;
  for (const [key, value] of Object.entries(spec.labels ?? {})) all[`tags.${key}`] = value;
  for (const [key, value] of Object.entries(spec.namespaceLabels ?? {})) all[`namespacetags.${key}`] = value;
  return all;
}

function vpcSelector(cluster: OnboardInput['cluster'], config: SmartGroupConfig): SelectorExpression {
  if (config.vpcSmartGroupMatch !== 'name') return { type: 'vpc', res_id: cluster.vpcId };
  return { type: 'vpc', name: requireVpcName(cluster, cluster.vpcName) };
}

export function desiredSmartGroups(
  cluster: OnboardInput['cluster'],
  config: SmartGroupConfig,
  { specs }: { specs: KubernetesSmartGroupSpec[] } = chooseSmartGroupTemplate(cluster, config),
): SmartGroupBody[] {
  // SmartGroup names are controller-wide: a member account's cluster's carry its account and Region.
  const prefix = scopedName(cluster.name).replace(/\//g, '-');
  return [
    { name: `${prefix}-vpc`, selector: { any: [{ all: vpcSelector(cluster, config) }] } },
    ...specs.map((spec) => ({ name: `${prefix}-${spec.name}`, selector: { any: [{ all: kubernetesSelector(spec, cluster.arn) }] } })),
  ];
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

/** The controller onboards Kubernetes clusters only with its `k8s` feature on. */
export async function requireKubernetesFeature(client: Pick<AviatrixClient, 'getControllerFeature'>, clusterName: string): Promise<void> {
  if (await client.getControllerFeature('k8s')) return;
  throw new OnboardingError(
    'ControllerError',
    `the Aviatrix controller's Kubernetes feature ("k8s") is disabled, so cluster ${clusterName} cannot be onboarded; ` +
      'enable it on the controller (Terraform aviatrix_config_feature "k8s") and run again',
  );
}

export async function reconcileOnboarding(
  client: AviatrixClient,
  config: SmartGroupConfig,
  input: OnboardInput,
  ownership: OwnershipRegistry,
): Promise<OnboardResult> {
  const { cluster, dryRun } = input;
  const changes: Change[] = [];

  // Config and cluster checks first: they fail before any controller call.
  const chosen = chooseSmartGroupTemplate(cluster, config);
  const { template } = chosen;
  const desired = desiredSmartGroups(cluster, config, chosen);
  if (!input.featureChecked) await requireKubernetesFeature(client, cluster.name);
  const owned = await ownership.read(cluster.name);

  // SmartGroups first read and checked: a conflict stops the step before any write.
  const existingGroups = await client.listSmartGroups();
  const plans = planSmartGroups(cluster.name, desired, owned.smartGroups, existingGroups);

  // Kubernetes cluster onboarding.
  const onboarded = (await client.listK8sClusters()).find((c) => c.cluster_id === cluster.arn);
  let k8sClusterId = onboarded?.id;
  let k8sClusterAction: OnboardResult['k8sClusterAction'] = 'unchanged';
  const wanted = desiredK8sCluster(cluster.arn, onboarded);
  if (!onboarded) {
    k8sClusterAction = 'create';
    changes.push({ resource: `aviatrix k8s cluster ${cluster.arn}`, action: 'create', detail: 'onboard the cluster with the controller cloud credentials' });
    if (!dryRun) {
      // Intent first: the id is not known before the create, so the claim names the ARN meanwhile.
      await ownership.setK8sClusterId(cluster.name, cluster.arn);
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
      await ownership.setK8sClusterId(cluster.name, k8sClusterId);
    }
  } else {
    if (!sameK8sCluster(onboarded, wanted)) {
      k8sClusterAction = 'update';
      changes.push({ resource: `aviatrix k8s cluster ${cluster.arn}`, action: 'update', detail: 'use the controller cloud credentials' });
      if (!dryRun) await client.updateK8sCluster(onboarded.id, wanted);
    }
    // Ours when we claimed it (by id, or by ARN when a crash cut the create short); else someone else's.
    const ours = owned.k8sClusterId === onboarded.id || owned.k8sClusterId === cluster.arn;
    // A claim on an onboarding that is gone (someone else's is there now) is dropped.
    if (!dryRun) await ownership.setK8sClusterId(cluster.name, ours ? onboarded.id : undefined);
  }

  // SmartGroups: create what is missing, repair ours, adopt identical unowned ones.
  const ownedNames = new Set(owned.smartGroups.map((g) => g.name));
  const toCreate = plans.filter((p) => !p.current).map((p) => p.group);
  if (!dryRun && toCreate.length > 0) {
    await ownership.setSmartGroups(cluster.name, [
      ...owned.smartGroups,
      ...toCreate.filter((g) => !ownedNames.has(g.name)).map((g) => ({ name: g.name })),
    ]);
  }
  const smartGroups: SmartGroupOutcome[] = [];
  const claimed: OwnedSmartGroup[] = [];
  for (const { group, current, ours } of plans) {
    if (!current) {
      changes.push({ resource: `aviatrix SmartGroup ${group.name}`, action: 'create', detail: `selector ${describeSelector(group)}` });
      const uuid = dryRun ? undefined : await createSmartGroupOrFindTwin(client, cluster.name, group);
      if (uuid) await readBack(client, uuid, group);
      smartGroups.push({ name: group.name, ...(uuid ? { uuid } : {}), action: 'create' });
      claimed.push({ name: group.name, ...(uuid ? { uuid } : {}) });
      continue;
    }
    claimed.push({ name: group.name, uuid: current.uuid });
    if (!ours) {
      // Identical to what we want (planSmartGroups refuses any other): only the claim is new.
      smartGroups.push({ name: group.name, uuid: current.uuid, action: 'adopt' });
    } else if (current.name !== group.name || selectorKey(current.selector) !== selectorKey(group.selector)) {
      changes.push({ resource: `aviatrix SmartGroup ${group.name}`, action: 'update', detail: `selector ${describeSelector(group)}` });
      if (!dryRun) {
        await client.updateSmartGroup(current.uuid, group);
        await readBack(client, current.uuid, group);
      }
      smartGroups.push({ name: group.name, uuid: current.uuid, action: 'update' });
    } else {
      smartGroups.push({ name: group.name, uuid: current.uuid, action: 'unchanged' });
    }
  }
  // Groups we created that the config no longer asks for: delete them (and only them).
  const desiredNames = new Set(desired.map((g) => g.name));
  const stale = owned.smartGroups.filter((g) => !desiredNames.has(g.name));
  const leftover = await deleteOwnedSmartGroups(client, stale, existingGroups, dryRun, changes, `no longer in config for cluster ${cluster.name}`);
  if (!dryRun) await ownership.setSmartGroups(cluster.name, [...claimed, ...leftover]);

  return { dryRun, changes, ...(k8sClusterId ? { k8sClusterId } : {}), k8sClusterAction, ...(template ? { smartGroupTemplate: template } : {}), smartGroups };
}

/**
 * The controller's own copy of a group just written (the contract's check: it documents no members
 * endpoint). One it lost or keeps with another name or selector fails the step, naming both.
 */
async function readBack(client: AviatrixClient, uuid: string, group: SmartGroupBody): Promise<void> {
  const stored = await client.getSmartGroup(uuid);
  if (stored && stored.name === group.name && selectorKey(stored.selector) === selectorKey(group.selector)) return;
  throw new OnboardingError(
    'ControllerError',
    `the Aviatrix controller accepted SmartGroup "${group.name}" (uuid ${uuid}) but reads it back as ` +
      `${stored ? `"${stored.name}" matching ${describeSelector(stored)}` : 'missing'} instead of ${describeSelector(group)}; ` +
      'check the controller version supports these selector keys, then run the workflow again',
  );
}

/**
 * Creates the group; when the controller answers that the name is taken (a concurrent run for the
 * same cluster created it after our read), the same-named group is looked up and taken when it is
 * identical to ours, or reported as a conflict (planSmartGroups) when it is not.
 */
async function createSmartGroupOrFindTwin(client: AviatrixClient, clusterName: string, group: SmartGroupBody): Promise<string> {
  try {
    return await client.createSmartGroup(group);
  } catch (error) {
    if (!(error instanceof ControllerApiError && /already exists/i.test(error.reason))) throw error;
    const [plan] = planSmartGroups(clusterName, [group], [], await client.listSmartGroups());
    if (!plan.current) throw error;
    return plan.current.uuid;
  }
}

interface SmartGroupPlan {
  group: SmartGroupBody;
  /** The controller's group to keep (absent: create one). */
  current?: SmartGroup;
  /** True when our claim names `current`; false when it is an identical unowned group to adopt. */
  ours: boolean;
}

/**
 * Matches each wanted group to the controller's groups. Ours: the uuid our claim records, or (only
 * the intent recorded) a same-named group identical to what we want. An unowned same-named group
 * identical to what we want is adopted; one that differs is someone else's and is a conflict: one
 * GatewayConflict naming every such group and the fix, thrown before any write.
 */
export function planSmartGroups(
  clusterName: string,
  desired: SmartGroupBody[],
  claims: OwnedSmartGroup[],
  existing: SmartGroup[],
): SmartGroupPlan[] {
  const claimedUuids = new Set(claims.map((c) => c.uuid).filter((u): u is string => !!u));
  const conflicts: string[] = [];
  const plans: SmartGroupPlan[] = [];
  for (const group of desired) {
    const claim = claims.find((c) => c.name === group.name);
    const mine = claim?.uuid ? existing.find((e) => e.uuid === claim.uuid) : undefined;
    if (mine) {
      plans.push({ group, current: mine, ours: true });
      continue;
    }
    const sameName = existing.filter((e) => e.name === group.name && !claimedUuids.has(e.uuid));
    if (sameName.length === 0) {
      plans.push({ group, ours: true });
      continue;
    }
    const identical = sameName.find((e) => selectorKey(e.selector) === selectorKey(group.selector));
    if (identical) {
      plans.push({ group, current: identical, ours: false });
      continue;
    }
    for (const other of sameName) {
      conflicts.push(
        `SmartGroup "${other.name}" (uuid ${other.uuid}) matches ${describeSelector(other)} instead of ${describeSelector(group)}`,
      );
    }
  }
  if (conflicts.length > 0) {
    throw new OnboardingError(
      'GatewayConflict',
      `the Aviatrix controller already has ${conflicts.join('; ')}, and cluster ${clusterName}'s ownership record does not claim ` +
        `${conflicts.length === 1 ? 'it' : 'them'} (made by hand, or by a same-named cluster in another Region or account on this ` +
        `controller), so ${conflicts.length === 1 ? 'it is' : 'they are'} not changed; rename ${conflicts.length === 1 ? 'that group' : 'those groups'} ` +
        'on the controller, or delete it if it is stale, and run the workflow again',
    );
  }
  return plans;
}

/**
 * Deletes SmartGroups we created (found by uuid, or by name while only the intent was recorded).
 * Not found counts as done. Returns the claims to keep (none: a failure throws).
 */
async function deleteOwnedSmartGroups(
  client: AviatrixClient,
  groups: OwnedSmartGroup[],
  existing: SmartGroup[],
  dryRun: boolean,
  changes: Change[],
  why: string,
): Promise<OwnedSmartGroup[]> {
  for (const group of groups) {
    const current = group.uuid ? existing.find((e) => e.uuid === group.uuid) : existing.find((e) => e.name === group.name);
    if (!current) continue;
    changes.push({ resource: `aviatrix SmartGroup ${current.name}`, action: 'delete', detail: why });
    if (dryRun) continue;
    try {
      await client.deleteSmartGroup(current.uuid, current.name);
    } catch (error) {
      if (!(error instanceof ControllerApiError && error.isNotFound && (error.status ?? 0) < 500)) throw error;
    }
  }
  return [];
}

export interface OffboardOnboardingResult extends StepResult {
  smartGroupsDeleted: string[];
  k8sClusterDeleted: boolean;
}

/**
 * Undoes step 8 for a deleted cluster: deletes the SmartGroups and the k8s-cluster onboarding this
 * project created for it (not found = done), then drops those claims. Nothing it did not create is
 * touched. No record or no claims: no controller call, no write.
 */
export async function offboardOnboarding(
  client: AviatrixClient,
  ownership: OwnershipRegistry,
  input: { clusterName: string; dryRun: boolean; identity?: string },
): Promise<OffboardOnboardingResult> {
  const { clusterName, dryRun } = input;
  const owned = await ownership.read(clusterName);
  // Before anything else: the controller access entry (removed after this) is on the cluster of the name too.
  refuseIfTakenOver(clusterName, owned, input.identity);
  const changes: Change[] = [];
  const result = (): OffboardOnboardingResult => ({
    dryRun,
    changes,
    smartGroupsDeleted: changes.filter((c) => c.resource.startsWith('aviatrix SmartGroup ')).map((c) => c.resource.slice('aviatrix SmartGroup '.length)),
    k8sClusterDeleted: changes.some((c) => c.resource.startsWith('aviatrix k8s cluster ')),
  });
  if (owned.smartGroups.length === 0 && !owned.k8sClusterId) return result();

  if (owned.smartGroups.length > 0) {
    const existing = await client.listSmartGroups();
    await deleteOwnedSmartGroups(client, owned.smartGroups, existing, dryRun, changes, `cluster ${clusterName} is offboarded`);
    if (!dryRun) await ownership.setSmartGroups(clusterName, []);
  }

  const claim = owned.k8sClusterId;
  if (claim) {
    const current = claim.startsWith('arn:')
      ? (await client.listK8sClusters()).find((c) => c.cluster_id === claim)
      : await client.getK8sCluster(claim);
    if (current) {
      changes.push({ resource: `aviatrix k8s cluster ${current.cluster_id}`, action: 'delete', detail: `cluster ${clusterName} is offboarded` });
      if (!dryRun) {
        try {
          await client.deleteK8sCluster(current.id);
        } catch (error) {
          if (!(error instanceof ControllerApiError && error.isNotFound && (error.status ?? 0) < 500)) throw error;
        }
      }
    }
    if (!dryRun) await ownership.setK8sClusterId(clusterName, undefined);
  }
  return result();
}

function describeSelector(group: Pick<SmartGroupBody, 'selector'>): string {
  const blocks = group.selector?.any ?? [];
  if (blocks.length === 0) return '(no selector)';
  return blocks.map((b) => Object.entries(b?.all ?? {}).map(([k, v]) => `${k}=${v}`).join(' AND ')).join(' OR ');
}
