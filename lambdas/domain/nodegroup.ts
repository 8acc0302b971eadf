// The node-group step: wait (bounded) for the node group, find nodes that registered before their
// AZ's ENIConfig existed (their pods got routable addresses from the node subnet), report max-pods
// settings that ignore custom networking, and with config's consent replace the early nodes.
//
// Replacement is an instance refresh of the node group's Auto Scaling group(s) (design: "When a node
// group is created"), not eks:UpdateNodegroupVersion: a version update without a version upgrades the
// node group to the cluster's Kubernetes version and the latest AMI release, which nobody asked for,
// and cannot serve node groups on a custom-AMI launch template. An instance refresh relaunches the
// same instances from the same launch template and version: nothing is upgraded, only replaced. It
// is rolling (MinHealthyPercentage 90), SkipMatching is off so every instance is replaced, and EKS
// drains a managed node group's node before Auto Scaling terminates its instance. A refresh that
// is already running (InstanceRefreshInProgress) is waited for rather than duplicated; if it leaves
// early nodes behind, one refresh of our own follows.
import type { InstanceRefresh } from '@aws-sdk/client-auto-scaling';
import { DescribeInstanceTypesCommand, InstanceTypeInfo } from '../shared/sdk/ec2';
import { DescribeNodegroupCommand, Nodegroup, ResourceNotFoundException } from '../shared/sdk/eks';
import { OnboardingConfig } from '../../lib/config';
import { autoscaling, autoScalingSdk, ec2, eks } from '../shared/aws';
import { OnboardingError, TransientError } from '../shared/errors';
import { Change, ClusterSummary, StepResult } from '../shared/workflow';
import { KubeClient } from '../shared/kube';
import { kubeClientFor } from './cluster';
import { AWS_NODE_PATH, ENICONFIG_PATH } from './cni';
import { describeCapacity, maxPodsFor, PodCapacityOptions, podCapacityOptions } from './cni-options';

const ZONE_LABEL = 'topology.kubernetes.io/zone';
const NODEGROUP_LABEL = 'eks.amazonaws.com/nodegroup';
const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';

interface KubeNode {
  metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> };
  status?: { capacity?: { pods?: string } };
}

interface EniConfigItem {
  metadata: { name: string; creationTimestamp: string };
}

export interface NodegroupResult extends StepResult {
  phase: 'pending' | 'done';
  reason?: string;
  nodegroupName: string;
  /** Nodes that registered before their AZ's ENIConfig existed. */
  earlyNodes: string[];
  /** Nodes whose max-pods is above what custom networking can give them. */
  maxPodsWarnings: string[];
  warnings: string[];
  /** The instance refreshes replacing the early nodes, followed across Wait-state polls. */
  replacementRefreshes?: InstanceRefreshRef[];
  waitingSince?: string;
}

export interface InstanceRefreshRef {
  autoScalingGroupName: string;
  instanceRefreshId: string;
  /** Someone else's refresh, found running when ours was refused: waited for, not started here. */
  adopted?: boolean;
}

export interface NodegroupInput {
  cluster: ClusterSummary;
  nodegroupName: string;
  dryRun: boolean;
  previous?: NodegroupResult;
}

async function describeNodegroup(clusterName: string, nodegroupName: string): Promise<Nodegroup> {
  try {
    const { nodegroup } = await eks().send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
    if (nodegroup) return nodegroup;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  throw new OnboardingError(
    'ClusterNotFound',
    `node group "${nodegroupName}" does not exist on EKS cluster "${clusterName}"; check the name, or start the cluster workflow with {"clusterName": "${clusterName}"}`,
  );
}

/**
 * Nodes (of any launcher; `labelSelector` narrows them) that registered before custom networking
 * took effect in their AZ: before its ENIConfig existed, or before `customNetworkingSince` (when
 * this run switched the add-on on). Their pods got addresses from the node subnet.
 */
export async function findEarlyNodes(kube: KubeClient, labelSelector?: string, customNetworkingSince?: string): Promise<{ nodes: KubeNode[]; early: string[] }> {
  const [nodeList, eniConfigList] = await Promise.all([
    kube.get<{ items: KubeNode[] }>(`/api/v1/nodes${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`),
    kube.get<{ items: EniConfigItem[] }>(ENICONFIG_PATH),
  ]);
  const nodes = nodeList?.items ?? [];
  const eniConfigCreated = new Map((eniConfigList?.items ?? []).map((e) => [e.metadata.name, Date.parse(e.metadata.creationTimestamp)]));
  const switchedOn = customNetworkingSince ? Date.parse(customNetworkingSince) : 0;
  const early = nodes
    .filter((node) => {
      const since = eniConfigCreated.get(node.metadata.labels?.[ZONE_LABEL] ?? '');
      return since === undefined || Date.parse(node.metadata.creationTimestamp) < Math.max(since, switchedOn);
    })
    .map((node) => node.metadata.name)
    .sort();
  return { nodes, early };
}

async function maxPodsByInstanceType(types: string[], options: PodCapacityOptions): Promise<Map<string, number>> {
  const limits = new Map<string, number>();
  if (types.length === 0) return limits;
  const { InstanceTypes = [] } = await ec2().send(new DescribeInstanceTypesCommand({ InstanceTypes: types as never }));
  for (const type of InstanceTypes as InstanceTypeInfo[]) {
    const limit = maxPodsFor(type, options);
    if (type.InstanceType && limit !== undefined) limits.set(type.InstanceType, limit);
  }
  return limits;
}

function base(input: NodegroupInput): Omit<NodegroupResult, 'phase'> {
  return {
    dryRun: input.dryRun,
    changes: [...(input.previous?.changes ?? [])],
    nodegroupName: input.nodegroupName,
    earlyNodes: [],
    maxPodsWarnings: [],
    warnings: [],
  };
}

function checkWaitBound(input: NodegroupInput, config: OnboardingConfig, what: string, where = 'in the EKS console'): string {
  const since = input.previous?.waitingSince ?? new Date().toISOString();
  const waited = Math.round((Date.now() - Date.parse(since)) / 1000);
  if (waited >= config.nodegroupActiveTimeoutSeconds) {
    throw new OnboardingError(
      'WaitTimedOut',
      `${what} of node group "${input.nodegroupName}" on EKS cluster "${input.cluster.name}" did not finish within ${waited} s ` +
        `(limit onboarding.nodegroupActiveTimeoutSeconds = ${config.nodegroupActiveTimeoutSeconds}); check it ${where}, then run again`,
    );
  }
  return since;
}

/** The refresh settings: rolling, at most 10% of capacity out at once, every instance replaced. */
const REFRESH_PREFERENCES = { MinHealthyPercentage: 90, InstanceWarmup: 60, SkipMatching: false } as const;
/** Statuses of a refresh that has not finished yet (anything else is final). */
const RUNNING = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);

const refreshNames = (refs: InstanceRefreshRef[]) => refs.map((r) => `${r.instanceRefreshId} of Auto Scaling group "${r.autoScalingGroupName}"`).join(', ');

async function describeRefresh(ref: InstanceRefreshRef): Promise<InstanceRefresh> {
  const sdk = autoScalingSdk();
  const { InstanceRefreshes = [] } = await autoscaling().send(
    new sdk.DescribeInstanceRefreshesCommand({ AutoScalingGroupName: ref.autoScalingGroupName, InstanceRefreshIds: [ref.instanceRefreshId] }),
  );
  const found = InstanceRefreshes.find((r) => r.InstanceRefreshId === ref.instanceRefreshId);
  if (!found) {
    throw new OnboardingError(
      'ClusterRefused',
      `instance refresh ${ref.instanceRefreshId} of Auto Scaling group "${ref.autoScalingGroupName}" no longer exists (was the group deleted or recreated?); check the node group, then run the workflow again`,
    );
  }
  return found;
}

/**
 * Starts a refresh of `group`. When Auto Scaling refuses because one is already running, that one
 * is followed instead (adopted), so two refreshes never compete for the same instances.
 */
async function startRefresh(group: string): Promise<InstanceRefreshRef> {
  const sdk = autoScalingSdk();
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const { InstanceRefreshId } = await autoscaling().send(
        new sdk.StartInstanceRefreshCommand({ AutoScalingGroupName: group, Strategy: 'Rolling', Preferences: { ...REFRESH_PREFERENCES } }),
      );
      if (!InstanceRefreshId) throw new TransientError(`StartInstanceRefresh for Auto Scaling group "${group}" returned no InstanceRefreshId`);
      return { autoScalingGroupName: group, instanceRefreshId: InstanceRefreshId };
    } catch (error) {
      if (!(error instanceof sdk.InstanceRefreshInProgressFault)) throw error;
    }
    const { InstanceRefreshes = [] } = await autoscaling().send(new sdk.DescribeInstanceRefreshesCommand({ AutoScalingGroupName: group }));
    const running = InstanceRefreshes.find((r) => r.InstanceRefreshId && RUNNING.has(r.Status ?? ''));
    if (running?.InstanceRefreshId) return { autoScalingGroupName: group, instanceRefreshId: running.InstanceRefreshId, adopted: true };
    // It finished between the two calls: try once more.
  }
  throw new TransientError(`Auto Scaling group "${group}" reports an instance refresh in progress but lists none running`);
}

function refreshFailure(nodegroupName: string, failed: InstanceRefresh[]): OnboardingError {
  const what = failed
    .map((r) => `instance refresh ${r.InstanceRefreshId} of Auto Scaling group "${r.AutoScalingGroupName}" ended ${r.Status} (${r.StatusReason || 'no reason given'})`)
    .join('; ');
  const groups = [...new Set(failed.map((r) => r.AutoScalingGroupName))];
  return new OnboardingError(
    'ClusterRefused',
    `the node replacement of node group "${nodegroupName}" did not finish: ${what}. Find the cause with ` +
      groups.map((g) => `"aws autoscaling describe-scaling-activities --auto-scaling-group-name ${g}"`).join(' and ') +
      ` and the node group's health in the EKS console (launch template, instance capacity, PodDisruptionBudgets that block draining), fix it, then run the workflow again`,
  );
}

export async function reconcileNodegroup(input: NodegroupInput, config: OnboardingConfig): Promise<NodegroupResult> {
  const { cluster, nodegroupName } = input;
  const result = base(input);

  const refreshes = input.previous?.replacementRefreshes ?? [];
  if (refreshes.length > 0) {
    const states = await Promise.all(refreshes.map(describeRefresh));
    const running = states.filter((r) => RUNNING.has(r.Status ?? ''));
    if (running.length > 0) {
      const waitingSince = checkWaitBound(input, config, `the instance refresh (${refreshNames(refreshes)})`, 'in the EC2 console (Auto Scaling groups, Instance refresh)');
      const progress = running.map((r) => `${r.InstanceRefreshId} of ${r.AutoScalingGroupName} is ${r.Status} (${r.PercentageComplete ?? 0}% done)`).join('; ');
      return { ...result, phase: 'pending', reason: `node replacement: instance refresh ${progress}`, replacementRefreshes: refreshes, waitingSince };
    }
    const failed = states.filter((r) => r.Status !== 'Successful');
    if (failed.length > 0) throw refreshFailure(nodegroupName, failed);
  }

  const nodegroup = await describeNodegroup(cluster.name, nodegroupName);
  if (nodegroup.status === 'CREATING' || nodegroup.status === 'UPDATING') {
    const waitingSince = checkWaitBound(input, config, 'the creation');
    return { ...result, phase: 'pending', reason: `node group ${nodegroupName} is ${nodegroup.status}`, waitingSince };
  }
  if (nodegroup.status !== 'ACTIVE' && nodegroup.status !== 'DEGRADED') {
    throw new OnboardingError('ClusterRefused', `node group "${nodegroupName}" of EKS cluster "${cluster.name}" is ${nodegroup.status}; onboarding needs it ACTIVE`);
  }

  const kube = await kubeClientFor(cluster.name, cluster);
  const { nodes, early } = await findEarlyNodes(kube, `${NODEGROUP_LABEL}=${nodegroupName}`);
  result.earlyNodes.push(...early);

  const types = [...new Set(nodes.map((n) => n.metadata.labels?.[INSTANCE_TYPE_LABEL]).filter((t): t is string => Boolean(t)))];
  // What the CNI runs with (custom networking, prefix delegation, security groups for pods) sets the limit.
  const awsNode = await kube.get<{ spec?: { template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } } } }>(AWS_NODE_PATH);
  const env = new Map((awsNode?.spec?.template?.spec?.containers?.find((c) => c.name === 'aws-node')?.env ?? []).map((e) => [e.name, e.value]));
  // The nodes' pods take addresses from the pod subnets once this project's custom networking is on.
  const capacityOptions = { ...podCapacityOptions(env), customNetworking: true };
  const limits = await maxPodsByInstanceType(types, capacityOptions);
  for (const node of nodes) {
    const type = node.metadata.labels?.[INSTANCE_TYPE_LABEL] ?? '';
    const capacity = Number(node.status?.capacity?.pods);
    const limit = limits.get(type);
    if (limit === undefined || capacity === limit) continue;
    if (capacity > limit) {
      result.maxPodsWarnings.push(
        `node ${node.metadata.name} (${type}) allows ${capacity} pods but ${describeCapacity(capacityOptions)} gives it addresses for ${limit}; ` +
          `set max-pods to ${limit} in the node group's launch template`,
      );
    } else if (capacityOptions.prefixDelegation) {
      result.maxPodsWarnings.push(
        `node ${node.metadata.name} (${type}) allows ${capacity} pods but ${describeCapacity(capacityOptions)} gives it addresses for ${limit}; ` +
          `raise max-pods to ${limit} in the node group's launch template to use prefix delegation`,
      );
    }
  }
  result.warnings.push(...result.maxPodsWarnings);

  if (result.earlyNodes.length === 0) return { ...result, phase: 'done' };
  const groups = (nodegroup.resources?.autoScalingGroups ?? []).map((g) => g.name).filter((n): n is string => Boolean(n));
  if (!config.allowNodeReplacement) {
    const how = groups.length
      ? groups.map((g) => `aws autoscaling start-instance-refresh --auto-scaling-group-name ${g} --preferences '${JSON.stringify(REFRESH_PREFERENCES)}'`).join(' and ')
      : "an instance refresh of the node group's Auto Scaling group";
    result.warnings.push(
      `nodes ${result.earlyNodes.join(', ')} of node group "${nodegroupName}" registered before their AZ's ENIConfig existed, so their pods ` +
        `use node-subnet addresses; replace them (${how}) or set onboarding.allowNodeReplacement to let onboarding do it`,
    );
    return { ...result, phase: 'done' };
  }
  if (refreshes.length > 0 && refreshes.every((r) => !r.adopted)) {
    // Our own refresh finished and still left early nodes: another one would loop. Stop and say so.
    throw new OnboardingError(
      'ClusterRefused',
      `nodes ${result.earlyNodes.join(', ')} of node group "${nodegroupName}" still predate their ENIConfig after instance refresh ${refreshNames(refreshes)} ` +
        `finished; check that the Auto Scaling group launches from the node group's launch template and that the nodes are gone from "kubectl get nodes", then run the workflow again`,
    );
  }
  if (groups.length === 0) {
    throw new OnboardingError(
      'ClusterRefused',
      `node group "${nodegroupName}" of EKS cluster "${cluster.name}" lists no Auto Scaling group (DescribeNodegroup resources.autoScalingGroups), ` +
        `so nodes ${result.earlyNodes.join(', ')} cannot be replaced by an instance refresh; replace them by hand`,
    );
  }
  const change: Change = {
    resource: `node group ${nodegroupName}`,
    action: 'update',
    detail: `replace nodes ${result.earlyNodes.join(', ')} (instance refresh of Auto Scaling group ${groups.join(', ')}; same launch template, nothing upgraded)`,
  };
  // After waiting for someone else's refresh, the plan entry is already there.
  if (!result.changes.some((c) => c.resource === change.resource && c.detail.startsWith('replace nodes'))) result.changes.push(change);
  if (input.dryRun) return { ...result, phase: 'done' };
  // A run that already waited on a refresh keeps its clock: adopting refreshes cannot extend the bound.
  const waitingSince = refreshes.length > 0 ? checkWaitBound(input, config, 'the node replacement', 'in the EC2 console (Auto Scaling groups, Instance refresh)') : new Date().toISOString();
  const started: InstanceRefreshRef[] = [];
  for (const group of groups) started.push(await startRefresh(group));
  const adopted = started.filter((r) => r.adopted);
  return {
    ...result,
    phase: 'pending',
    reason: adopted.length
      ? `node replacement: waiting for instance refresh ${refreshNames(adopted)}, which was already running`
      : `node replacement started: instance refresh ${refreshNames(started)}`,
    replacementRefreshes: started,
    waitingSince,
  };
}
