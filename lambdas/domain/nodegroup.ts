// The node-group step: wait (bounded) for the node group, find nodes that registered before their
// AZ's ENIConfig existed (their pods got routable addresses from the node subnet), report max-pods
// settings that ignore custom networking, and with config's consent replace the early nodes.
//
// Replacement is a rolling update of the managed node group (UpdateNodegroupVersion at its current
// version), not an instance refresh of its Auto Scaling group: EKS owns that group, drains nodes
// respecting PodDisruptionBudgets, and AWS advises against changing a managed group's ASG directly.
import { DescribeInstanceTypesCommand, InstanceTypeInfo } from '@aws-sdk/client-ec2';
import {
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  Nodegroup,
  ResourceNotFoundException,
  UpdateNodegroupVersionCommand,
} from '@aws-sdk/client-eks';
import { OnboardingConfig } from '../../lib/config';
import { ec2, eks } from '../shared/aws';
import { OnboardingError } from '../shared/errors';
import { KubeClient } from '../shared/kube';
import { Change, ClusterSummary, StepResult } from '../shared/workflow';
import { describeCluster } from './cluster';
import { ENICONFIG_PATH } from './cni';

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
  replacementUpdateId?: string;
  waitingSince?: string;
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

/** Pods a node can hold under custom networking: the primary ENI hosts none. */
export function customNetworkingMaxPods(type: InstanceTypeInfo): number | undefined {
  const enis = type.NetworkInfo?.MaximumNetworkInterfaces;
  const addresses = type.NetworkInfo?.Ipv4AddressesPerInterface;
  if (!enis || !addresses) return undefined;
  return (enis - 1) * (addresses - 1) + 2;
}

async function maxPodsByInstanceType(types: string[]): Promise<Map<string, number>> {
  const limits = new Map<string, number>();
  if (types.length === 0) return limits;
  const { InstanceTypes = [] } = await ec2().send(new DescribeInstanceTypesCommand({ InstanceTypes: types as never }));
  for (const type of InstanceTypes) {
    const limit = customNetworkingMaxPods(type);
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

function checkWaitBound(input: NodegroupInput, config: OnboardingConfig, what: string): string {
  const since = input.previous?.waitingSince ?? new Date().toISOString();
  const waited = Math.round((Date.now() - Date.parse(since)) / 1000);
  if (waited >= config.nodegroupActiveTimeoutSeconds) {
    throw new OnboardingError(
      'WaitTimedOut',
      `${what} of node group "${input.nodegroupName}" on EKS cluster "${input.cluster.name}" did not finish within ${waited} s ` +
        `(limit onboarding.nodegroupActiveTimeoutSeconds = ${config.nodegroupActiveTimeoutSeconds}); check it in the EKS console, then run again`,
    );
  }
  return since;
}

export async function reconcileNodegroup(input: NodegroupInput, config: OnboardingConfig): Promise<NodegroupResult> {
  const { cluster, nodegroupName } = input;
  const result = base(input);

  const replacement = input.previous?.replacementUpdateId;
  if (replacement) {
    const { update } = await eks().send(new DescribeUpdateCommand({ name: cluster.name, updateId: replacement, nodegroupName }));
    if (update?.status === 'InProgress') {
      const waitingSince = checkWaitBound(input, config, 'the node replacement');
      return { ...result, phase: 'pending', reason: `node replacement ${replacement} is in progress`, replacementUpdateId: replacement, waitingSince };
    }
    if (update?.status !== 'Successful') {
      const why = (update?.errors ?? []).map((e) => `${e.errorCode}: ${e.errorMessage}`).join('; ') || 'no details';
      throw new OnboardingError('ClusterRefused', `the node replacement ${replacement} of node group "${nodegroupName}" ended ${update?.status} (${why}); check the node group in the EKS console`);
    }
  }

  const nodegroup = await describeNodegroup(cluster.name, nodegroupName);
  if (nodegroup.status === 'CREATING' || nodegroup.status === 'UPDATING') {
    const waitingSince = checkWaitBound(input, config, 'the creation');
    return { ...result, phase: 'pending', reason: `node group ${nodegroupName} is ${nodegroup.status}`, waitingSince };
  }
  if (nodegroup.status !== 'ACTIVE' && nodegroup.status !== 'DEGRADED') {
    throw new OnboardingError('ClusterRefused', `node group "${nodegroupName}" of EKS cluster "${cluster.name}" is ${nodegroup.status}; onboarding needs it ACTIVE`);
  }

  const described = await describeCluster(cluster.name);
  const kube = new KubeClient(cluster.name, described.endpoint ?? '', described.certificateAuthority?.data ?? '');
  const selector = encodeURIComponent(`${NODEGROUP_LABEL}=${nodegroupName}`);
  const [nodeList, eniConfigList] = await Promise.all([
    kube.get<{ items: KubeNode[] }>(`/api/v1/nodes?labelSelector=${selector}`),
    kube.get<{ items: EniConfigItem[] }>(ENICONFIG_PATH),
  ]);
  const nodes = nodeList?.items ?? [];
  const eniConfigCreated = new Map((eniConfigList?.items ?? []).map((e) => [e.metadata.name, Date.parse(e.metadata.creationTimestamp)]));

  for (const node of nodes) {
    const zone = node.metadata.labels?.[ZONE_LABEL] ?? '';
    const since = eniConfigCreated.get(zone);
    if (since === undefined || Date.parse(node.metadata.creationTimestamp) < since) result.earlyNodes.push(node.metadata.name);
  }
  result.earlyNodes.sort();

  const types = [...new Set(nodes.map((n) => n.metadata.labels?.[INSTANCE_TYPE_LABEL]).filter((t): t is string => Boolean(t)))];
  const limits = await maxPodsByInstanceType(types);
  for (const node of nodes) {
    const type = node.metadata.labels?.[INSTANCE_TYPE_LABEL] ?? '';
    const capacity = Number(node.status?.capacity?.pods);
    const limit = limits.get(type);
    if (limit !== undefined && capacity > limit) {
      result.maxPodsWarnings.push(
        `node ${node.metadata.name} (${type}) allows ${capacity} pods but custom networking gives it addresses for ${limit}; ` +
          `set max-pods to ${limit} in the node group's launch template`,
      );
    }
  }
  result.warnings.push(...result.maxPodsWarnings);

  if (result.earlyNodes.length === 0) return { ...result, phase: 'done' };
  if (!config.allowNodeReplacement) {
    result.warnings.push(
      `nodes ${result.earlyNodes.join(', ')} of node group "${nodegroupName}" registered before their AZ's ENIConfig existed, so their pods ` +
        `use node-subnet addresses; replace them (aws eks update-nodegroup-version --cluster-name ${cluster.name} --nodegroup-name ${nodegroupName}) ` +
        'or set onboarding.allowNodeReplacement to let onboarding do it',
    );
    return { ...result, phase: 'done' };
  }
  const change: Change = { resource: `node group ${nodegroupName}`, action: 'update', detail: `replace nodes ${result.earlyNodes.join(', ')} (rolling update)` };
  result.changes.push(change);
  if (input.dryRun) return { ...result, phase: 'done' };
  if (replacement) {
    // A finished replacement that still left early nodes would loop: stop and say so.
    throw new OnboardingError('ClusterRefused', `nodes ${result.earlyNodes.join(', ')} still predate their ENIConfig after replacement ${replacement}; check the node group's launch template`);
  }
  const { update } = await eks().send(new UpdateNodegroupVersionCommand({ clusterName: cluster.name, nodegroupName, force: false }));
  return {
    ...result,
    phase: 'pending',
    reason: 'node replacement started',
    ...(update?.id ? { replacementUpdateId: update.id } : {}),
    waitingSince: new Date().toISOString(),
  };
}
