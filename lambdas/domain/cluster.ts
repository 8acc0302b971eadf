// Step 1 and the refusals: wait (bounded) for the cluster to be ACTIVE, check the opt-in rule, and
// refuse clusters this design cannot serve before anything is written.
import { Cluster, DescribeClusterCommand, DescribeNodegroupCommand, ResourceNotFoundException } from '../shared/sdk/eks';
import { OnboardingConfig } from '../../lib/config';
import { eks } from '../shared/aws';
import { OnboardingError } from '../shared/errors';
import { KubeClient } from '../shared/kube';
import { ClusterIdentity, ClusterSummary, ResolveResult } from '../shared/workflow';
import { privateEndpointRefusal } from './api-access';
import { preflightCniOptions } from './cni-options';

const WAITING_STATUSES = new Set(['CREATING', 'UPDATING', 'PENDING']);

export async function describeCluster(name: string): Promise<Cluster> {
  try {
    const { cluster } = await eks().send(new DescribeClusterCommand({ name }));
    if (cluster) return cluster;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const region = await eks().config.region();
  throw new OnboardingError(
    'ClusterNotFound',
    `EKS cluster "${name}" does not exist in ${region}; check the name and that the workflow runs in the cluster's Region`,
  );
}

/**
 * A Kubernetes API client for the cluster: from the endpoint and CA the resolve step read (passed
 * in the workflow state, so no step reads the cluster again), else from DescribeCluster.
 */
export async function kubeClientFor(name: string, known?: ClusterSummary): Promise<KubeClient> {
  if (known?.name === name && known.endpoint && known.certificateAuthority) return new KubeClient(name, known.endpoint, known.certificateAuthority);
  const cluster = await describeCluster(name);
  if (!cluster.endpoint || !cluster.certificateAuthority?.data) {
    throw new OnboardingError('ClusterRefused', `EKS cluster "${name}" reports no API endpoint or CA yet; run the workflow again once it is ACTIVE`);
  }
  return new KubeClient(name, cluster.endpoint, cluster.certificateAuthority.data);
}

/** When EKS created the cluster, as the ISO text a run's identity keeps (a re-created cluster differs only there). */
export const createdAtOf = (cluster: Cluster): string | undefined => (cluster.createdAt ? new Date(cluster.createdAt).toISOString() : undefined);

export function summarize(cluster: Cluster): ClusterSummary {
  const createdAt = createdAtOf(cluster);
  const arn = cluster.arn ?? '';
  const [, , , region = '', accountId = ''] = arn.split(':');
  const vpc = cluster.resourcesVpcConfig ?? {};
  return {
    name: cluster.name ?? '',
    arn,
    status: cluster.status ?? 'UNKNOWN',
    region,
    accountId,
    ...(cluster.version ? { version: cluster.version } : {}),
    vpcId: vpc.vpcId ?? '',
    clusterSecurityGroupId: vpc.clusterSecurityGroupId ?? '',
    controlPlaneSecurityGroupIds: vpc.securityGroupIds ?? [],
    subnetIds: vpc.subnetIds ?? [],
    ...(cluster.endpoint ? { endpoint: cluster.endpoint } : {}),
    ...(cluster.certificateAuthority?.data ? { certificateAuthority: cluster.certificateAuthority.data } : {}),
    ...(vpc.endpointPublicAccess === false ? { privateEndpointOnly: true } : {}),
    tags: cluster.tags ?? {},
    ...(cluster.roleArn ? { roleArn: cluster.roleArn } : {}),
    ...(createdAt ? { createdAt } : {}),
  };
}

/** Why this design cannot serve the cluster, or undefined when it can. */
export function refusalReason(cluster: Cluster, config: OnboardingConfig): string | undefined {
  const early = earlyRefusalReason(cluster, config);
  if (early) return early;
  if (!cluster.resourcesVpcConfig?.clusterSecurityGroupId) {
    return (
      `EKS cluster "${cluster.name}" is ACTIVE but reports no cluster security group, which the pod network's rules name; check it ` +
      `(aws eks describe-cluster --name ${cluster.name} --query cluster.resourcesVpcConfig.clusterSecurityGroupId) and run the workflow again once EKS reports one`
    );
  }
  return undefined;
}

/**
 * The refusals judged from what CreateCluster fixed (Auto Mode, IP family, authentication mode,
 * endpoint access, VPC and subnets): a CREATING cluster that passes them has its network wired
 * while EKS creates it. The cluster security group is judged at ACTIVE (refusalReason).
 */
function earlyRefusalReason(cluster: Cluster, config: OnboardingConfig): string | undefined {
  const name = cluster.name;
  if (cluster.computeConfig?.enabled) {
    return `EKS cluster "${name}" uses EKS Auto Mode, which manages its own pod networking; onboard it by hand or use a cluster without Auto Mode`;
  }
  if (cluster.kubernetesNetworkConfig?.ipFamily === 'ipv6') {
    return `EKS cluster "${name}" is an IPv6 cluster; custom networking with a secondary IPv4 pod CIDR applies to IPv4 clusters only`;
  }
  const mode = cluster.accessConfig?.authenticationMode ?? 'CONFIG_MAP';
  if (mode === 'CONFIG_MAP') {
    return (
      `EKS cluster "${name}" uses authentication mode CONFIG_MAP, which does not allow access entries; switch it with ` +
      `"aws eks update-cluster-config --name ${name} --access-config authenticationMode=API_AND_CONFIG_MAP" and run again`
    );
  }
  if (cluster.resourcesVpcConfig?.endpointPublicAccess === false) {
    // Served only from functions in a VPC that reaches the endpoint (onboarding.privateEndpointAccess).
    const refusal = privateEndpointRefusal(name ?? '', summarize(cluster).accountId, config);
    if (refusal) return refusal;
  }
  if (!cluster.resourcesVpcConfig?.vpcId || !cluster.resourcesVpcConfig.subnetIds?.length) {
    return `EKS cluster "${name}" reports no VPC or subnets; it cannot be onboarded until EKS reports them`;
  }
  return undefined;
}

export function optInReason(cluster: Cluster, config: OnboardingConfig): string | undefined {
  const rule = config.optIn;
  if (rule.mode === 'all') return undefined;
  if (cluster.tags?.[rule.tagKey] === rule.tagValue) return undefined;
  return `EKS cluster "${cluster.name}" is not opted in: tag it ${rule.tagKey}=${rule.tagValue} (onboarding.optIn) and run again`;
}

/** Part of the preflight of a node-group run: a misspelled name must stop the run before any write. */
async function requireNodegroup(clusterName: string, nodegroupName: string): Promise<void> {
  try {
    const { nodegroup } = await eks().send(new DescribeNodegroupCommand({ clusterName, nodegroupName }));
    if (nodegroup) return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  throw new OnboardingError(
    'InvalidInput',
    `node group "${nodegroupName}" does not exist on EKS cluster "${clusterName}"; check the name (aws eks list-nodegroups --cluster-name ${clusterName}) ` +
      `and run again, or run the cluster workflow with {"clusterName": "${clusterName}"}`,
  );
}

/** One observation of the cluster: pending while it is being created, ready once ACTIVE and servable. */
/**
 * EKS takes about 10 minutes to create a cluster: a CREATING cluster younger than this is first
 * looked at again when it is this old, then every poll interval. A 10-minute CREATING phase so
 * costs ~5 looks instead of 20 (each look is 3 state transitions).
 */
export const EXPECTED_CREATING_SECONDS = 480;

/** How long the workflow waits before looking at a pending cluster again: never past its wait limit. */
export function clusterWaitSeconds(status: string, createdAt: Date | undefined, now: number, pollSeconds: number, remainingSeconds: number): number {
  const age = createdAt ? (now - createdAt.getTime()) / 1000 : Infinity;
  const untilExpected = status === 'CREATING' ? EXPECTED_CREATING_SECONDS - age : 0;
  return Math.max(1, Math.round(Math.min(Math.max(pollSeconds, untilExpected), remainingSeconds)));
}

export async function resolveCluster(
  name: string,
  startedAt: string,
  config: OnboardingConfig,
  now = Date.now(),
  /** A node-group run's node group: it must exist and belong to the cluster before anything is written. */
  nodegroupName?: string,
  /** The deployed poll interval: the wait between looks once the first (longer) wait is over. */
  pollSeconds = 30,
  /** The cluster the run wired the network for while it was CREATING (phase `early`): it now waits for that one to be ACTIVE. */
  awaiting?: ClusterIdentity,
): Promise<ResolveResult> {
  const awaitingActive = awaiting !== undefined;
  // What a run that stops here tells about the network it wired while the cluster was CREATING.
  const leftWired = awaitingActive ? WIRED_WHILE_CREATING : '';
  const cluster = awaiting ? await sameCluster(awaiting) : await describeCluster(name);
  const status = cluster.status ?? 'UNKNOWN';
  // CreateCluster fixed the VPC and subnets: the network is wired while EKS creates the cluster
  // (docs/rollout-order.md). A node-group run waits: its node group needs an ACTIVE cluster anyway.
  if (status === 'CREATING' && !awaitingActive && !nodegroupName && cluster.resourcesVpcConfig?.vpcId && cluster.resourcesVpcConfig.subnetIds?.length) {
    const skip = optInReason(cluster, config);
    if (skip) return { phase: 'skipped', reason: skip, cluster: summarize(cluster) };
    const refusal = earlyRefusalReason(cluster, config);
    if (refusal) throw new OnboardingError('ClusterRefused', refusal);
    return { phase: 'early', reason: `cluster ${name} is CREATING: its network first`, cluster: summarize(cluster) };
  }
  if (WAITING_STATUSES.has(status)) {
    const waited = Math.round((now - Date.parse(startedAt)) / 1000);
    if (waited >= config.clusterActiveTimeoutSeconds) {
      throw new OnboardingError(
        'WaitTimedOut',
        `EKS cluster "${name}" is still ${status} after ${waited} s (limit onboarding.clusterActiveTimeoutSeconds = ` +
          `${config.clusterActiveTimeoutSeconds}); check it in the EKS console, then start the workflow again with {"clusterName": "${name}"}${leftWired}`,
      );
    }
    const waitSeconds = clusterWaitSeconds(status, cluster.createdAt, now, pollSeconds, config.clusterActiveTimeoutSeconds - waited);
    return { phase: 'pending', reason: `cluster ${name} is ${status}`, cluster: summarize(cluster), waitSeconds };
  }
  if (status !== 'ACTIVE') {
    throw new OnboardingError('ClusterRefused', `EKS cluster "${name}" is ${status}; onboarding needs an ACTIVE cluster${leftWired}`);
  }
  // The opt-in was judged when the run began (a run that waited for ACTIVE does not judge it twice).
  const skip = awaitingActive ? undefined : optInReason(cluster, config);
  if (skip) return { phase: 'skipped', reason: skip, cluster: summarize(cluster) };
  const refusal = refusalReason(cluster, config);
  if (refusal) throw new OnboardingError('ClusterRefused', refusal + leftWired);
  if (nodegroupName) await requireNodegroup(name, nodegroupName);
  // The add-on EKS installs at creation is judged now (the network preflight saw a CREATING cluster).
  if (awaitingActive) {
    await preflightCniOptions(name, config).catch((error: unknown) => {
      throw error instanceof OnboardingError ? new OnboardingError(error.name, error.message + leftWired) : error;
    });
  }
  // When the workflow saw it ACTIVE: the start of the ACTIVE -> ENIConfig metric (vpc-cni step).
  return { phase: 'ready', cluster: { ...summarize(cluster), activeSeenAt: new Date(now).toISOString() } };
}

/** What a run that stops at ACTIVE leaves: the network it wired while the cluster was CREATING. */
const WIRED_WHILE_CREATING =
  '. The pod network wired while it was CREATING (secondary CIDR, pod subnets, pod security group, transit exclusion) stays claimed in ' +
  'its status record: a later run completes it, and offboarding removes it when the cluster is deleted';

/**
 * The cluster a run began with while it was CREATING, looked at again. Deleted, being deleted, or
 * a different cluster re-created under its name: the run ends (ClusterGone) without writing for it.
 * What it wired belongs to the deleted cluster, whose offboarding (DeleteCluster) removes it.
 */
export async function sameCluster(expected: ClusterIdentity): Promise<Cluster> {
  const name = expected.name;
  const gone = (what: string, recreated = false) =>
    new OnboardingError(
      'ClusterGone',
      `EKS cluster "${name}" ${what} while the run was under way; the run ends without writing for it. What it wired in ` +
        `${expected.vpcId} belongs to the deleted cluster: its offboarding (DeleteCluster) removes it` +
        (recreated ? `; the new cluster gets a run of its own (start one with {"clusterName": "${name}"})` : ''),
    );
  let cluster: Cluster;
  try {
    cluster = await describeCluster(name);
  } catch (error) {
    if (error instanceof OnboardingError && error.name === 'ClusterNotFound') throw gone('was deleted');
    throw error;
  }
  const createdAt = createdAtOf(cluster);
  if (cluster.arn !== expected.arn || createdAt !== expected.createdAt || cluster.resourcesVpcConfig?.vpcId !== expected.vpcId) {
    throw gone(`was re-created (created ${createdAt ?? 'at an unknown time'} in ${cluster.resourcesVpcConfig?.vpcId ?? 'no VPC'}, not ${expected.createdAt ?? 'at an unknown time'} in ${expected.vpcId})`, true);
  }
  if (cluster.status === 'DELETING') throw gone('is being deleted');
  return cluster;
}

/**
 * Before the first write of a run that began while the cluster was CREATING (under the cluster
 * lease): the cluster must still be that one, CREATING or ACTIVE. A cluster deleted meanwhile may
 * have had its offboarding already (finding nothing to undo): nothing may be built for it.
 */
export async function requireEarlyClusterLive(expected: ClusterIdentity): Promise<void> {
  const cluster = await sameCluster(expected);
  if (cluster.status !== 'CREATING' && cluster.status !== 'ACTIVE') {
    throw new OnboardingError(
      'ClusterRefused',
      `EKS cluster "${expected.name}" is ${cluster.status}; its pod network is built only for a CREATING or ACTIVE cluster. Start the workflow again once it is ACTIVE`,
    );
  }
}
