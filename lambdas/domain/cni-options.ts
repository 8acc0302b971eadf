// The VPC CNI options around custom networking (config `networkPolicy`, `prefixDelegation`) and the
// read-only checks that say what custom networking breaks: pods with their own security groups,
// load balancers that cannot reach non-routable pod addresses, nodes whose kernel cannot enforce
// network policies, and the max-pods a node really gets. The VpcCni step writes the settings with
// its custom-networking env (one add-on update); the network preflight refuses a CNI too old for them.
import { DescribeAddonCommand, ResourceNotFoundException, TagResourceCommand, UntagResourceCommand } from '../shared/sdk/eks';
import { DescribeNetworkInterfacesCommand, DescribeSubnetsCommand, InstanceTypeInfo } from '../shared/sdk/ec2';
import { OnboardingConfig } from '../../lib/config';
import { ec2, eks } from '../shared/aws';
import { parseCidr } from '../shared/cidr';
import { OnboardingError } from '../shared/errors';
import { KubeClient } from '../shared/kube';
import { Change, ClusterSummary, PodSubnet } from '../shared/workflow';

/** The add-on settings the custom-networking stage owns: env entries and top-level keys. */
export interface CniSettings {
  env: Readonly<Record<string, string>>;
  top: Readonly<Record<string, string>>;
}

export const NETWORK_POLICY_KEY = 'enableNetworkPolicy';
export const PREFIX_DELEGATION_ENV = 'ENABLE_PREFIX_DELEGATION';
export const POD_ENI_ENV = 'ENABLE_POD_ENI';

/** The first VPC CNI release with each option (network policy agent: 1.14.0; /28 prefixes: 1.9.0). */
export const MIN_CNI_VERSION = { networkPolicy: [1, 14, 0], prefixDelegation: [1, 9, 0] } as const;
/** The network policy agent's eBPF programs need Linux 5.10 or later on the node. */
export const MIN_NETWORK_POLICY_KERNEL = [5, 10] as const;

export function desiredCniSettings(
  base: Readonly<Record<string, string>>,
  config: Pick<OnboardingConfig, 'networkPolicy' | 'prefixDelegation' | 'warmPrefixTarget'>,
): CniSettings {
  const prefixes = config.prefixDelegation
    ? { [PREFIX_DELEGATION_ENV]: 'true', ...(config.warmPrefixTarget !== undefined ? { [WARM_PREFIX_TARGET_ENV]: String(config.warmPrefixTarget) } : {}) }
    : {};
  return {
    env: { ...base, ...prefixes },
    top: config.networkPolicy ? { [NETWORK_POLICY_KEY]: 'true' } : {},
  };
}

// ---------------------------------------------------------------------------------------------
// Which option values are ours

export const WARM_PREFIX_TARGET_ENV = 'WARM_PREFIX_TARGET';
/**
 * The cluster tag naming the option values onboarding wrote (`KEY=value`, space-separated: EKS tag
 * values allow no commas). Switching an option off undoes only those, and only while they still
 * hold the value written; a value someone set by hand is never touched.
 */
export const CNI_CLAIMS_TAG = 'eks-aviatrix:cni-options';
/** The option keys and where each lives in the add-on configuration. */
const OPTION_KEYS: Record<string, keyof CniSettings> = { [NETWORK_POLICY_KEY]: 'top', [PREFIX_DELEGATION_ENV]: 'env', [WARM_PREFIX_TARGET_ENV]: 'env' };

export type OptionClaims = Record<string, string>;

export const parseClaims = (text: string | undefined): OptionClaims =>
  Object.fromEntries((text ?? '').split(' ').filter((e) => e.includes('=')).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
export const formatClaims = (claims: OptionClaims) =>
  Object.keys(claims).sort().map((key) => `${key}=${claims[key]}`).join(' ');

export interface OptionPlan {
  claims: OptionClaims;
  /** Option keys to take out of the configuration: ours, switched off, still holding our value. */
  remove: { key: string; where: keyof CniSettings }[];
}

/**
 * A value about to be written becomes ours; one we wrote stays ours while it holds that value; an
 * option switched off loses its value only while the value is still ours. What was there before we
 * wrote anything (set by hand) is never claimed.
 */
export function planOptionClaims(current: CniSettings, desired: CniSettings, claims: OptionClaims): OptionPlan {
  const plan: OptionPlan = { claims: {}, remove: [] };
  for (const [key, where] of Object.entries(OPTION_KEYS)) {
    const now = current[where][key] === undefined ? undefined : String(current[where][key]);
    const wanted = desired[where][key];
    const ours = claims[key];
    if (wanted !== undefined) {
      if (now !== wanted || ours === wanted) plan.claims[key] = wanted;
    } else if (ours !== undefined && now === ours) {
      plan.remove.push({ key, where });
    }
  }
  return plan;
}

const versionOf = (text: string | undefined): number[] | undefined => {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
};

function atLeast(version: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) if ((version[i] ?? 0) !== min[i]) return (version[i] ?? 0) > min[i];
  return true;
}

/** Why the CNI at `version` (an add-on version or an image tag) cannot serve the options config asks for. */
export function cniVersionProblems(version: string | undefined, config: Pick<OnboardingConfig, 'networkPolicy' | 'prefixDelegation'>): string[] {
  const wanted = (['networkPolicy', 'prefixDelegation'] as const).filter((option) => config[option]);
  if (wanted.length === 0) return [];
  const parsed = versionOf(version);
  return wanted
    .filter((option) => !parsed || !atLeast(parsed, MIN_CNI_VERSION[option]))
    .map((option) => `onboarding.${option} needs VPC CNI v${MIN_CNI_VERSION[option].join('.')} or later, the cluster runs ${version ?? 'an unknown version'}`);
}

function refuseOldCni(clusterName: string, version: string | undefined, config: OnboardingConfig, how: string): void {
  const problems = cniVersionProblems(version, config);
  if (problems.length === 0) return;
  throw new OnboardingError(
    'ClusterRefused',
    `EKS cluster "${clusterName}": ${problems.join('; ')}; ${how}, or turn the option off, then run again`,
  );
}

/** Preflight (read-only): an add-on too old for the configured options stops the run before any write. */
export async function preflightCniOptions(clusterName: string, config: OnboardingConfig): Promise<void> {
  if (!config.networkPolicy && !config.prefixDelegation) return;
  let version: string | undefined;
  try {
    version = (await eks().send(new DescribeAddonCommand({ clusterName, addonName: 'vpc-cni' }))).addon?.addonVersion;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return; // self-managed: the VpcCni step reads the aws-node image
    throw error;
  }
  refuseOldCni(clusterName, version, config, `update the add-on (aws eks update-addon --cluster-name ${clusterName} --addon-name vpc-cni --addon-version <newer>)`);
}

/** The same check for a self-managed CNI, from the aws-node container image tag. */
export function refuseOldSelfManagedCni(clusterName: string, image: string | undefined, config: OnboardingConfig): void {
  refuseOldCni(clusterName, image?.split(':').pop(), config, 'update the aws-node DaemonSet to a newer amazon-k8s-cni image');
}

/** Without the option keys `remove` names (ours, switched off). */
export function withoutOptions(configuration: Record<string, unknown>, remove: OptionPlan['remove']): Record<string, unknown> {
  const result: Record<string, unknown> = { ...configuration };
  const env = { ...((configuration.env as Record<string, unknown> | undefined) ?? {}) };
  for (const { key, where } of remove) {
    if (where === 'env') delete env[key];
    else delete result[key];
  }
  if (configuration.env !== undefined) result.env = env;
  return result;
}

/**
 * Records the claims on the cluster before the add-on write they describe: a run stopped in between
 * leaves a claim on a value not written yet, which the next run writes or drops, never a value of
 * ours unclaimed. Returns the change, or nothing when the tag already says so.
 */
export async function recordOptionClaims(cluster: ClusterSummary, before: string | undefined, claims: OptionClaims, dryRun: boolean): Promise<Change | undefined> {
  const after = formatClaims(claims);
  if (after === formatClaims(parseClaims(before))) return undefined;
  if (!dryRun) {
    if (after) await eks().send(new TagResourceCommand({ resourceArn: cluster.arn, tags: { [CNI_CLAIMS_TAG]: after } }));
    else await eks().send(new UntagResourceCommand({ resourceArn: cluster.arn, tagKeys: [CNI_CLAIMS_TAG] }));
  }
  return { resource: `EKS cluster ${cluster.name}`, action: 'tag', detail: after ? `${CNI_CLAIMS_TAG}=${after} (the VPC CNI option values onboarding sets)` : `remove ${CNI_CLAIMS_TAG}` };
}

// ---------------------------------------------------------------------------------------------
// Max pods

export interface PodCapacityOptions {
  customNetworking: boolean;
  prefixDelegation: boolean;
  /** Security groups for pods: the trunk ENI takes one network interface slot. */
  podEni: boolean;
}

/**
 * Pods a node of this type can give addresses to: ENIs for pods x (addresses per ENI - 1) + 2
 * (host-network pods). Custom networking leaves the primary ENI without pods; prefix delegation
 * puts a /28 (16 addresses) in every slot; a node's max-pods stays at 110 below 30 vCPUs, 250 above.
 */
export function maxPodsFor(type: InstanceTypeInfo, options: PodCapacityOptions): number | undefined {
  const enis = type.NetworkInfo?.MaximumNetworkInterfaces;
  const addresses = type.NetworkInfo?.Ipv4AddressesPerInterface;
  if (!enis || !addresses) return undefined;
  const podEnis = enis - (options.customNetworking ? 1 : 0) - (options.podEni ? 1 : 0);
  const computed = Math.max(podEnis, 0) * (addresses - 1) * (options.prefixDelegation ? 16 : 1) + 2;
  const vcpus = type.VCpuInfo?.DefaultVCpus ?? 0;
  return Math.min(computed, vcpus < 30 ? 110 : 250);
}

/** The CNI settings max-pods depends on, from the aws-node container env. */
export function podCapacityOptions(env: ReadonlyMap<string, string | undefined>): PodCapacityOptions {
  return {
    customNetworking: env.get('AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG') === 'true',
    prefixDelegation: env.get(PREFIX_DELEGATION_ENV) === 'true',
    podEni: env.get(POD_ENI_ENV) === 'true',
  };
}

export const describeCapacity = (o: PodCapacityOptions) =>
  [o.customNetworking ? 'custom networking' : 'the node subnet', o.prefixDelegation ? 'with /28 prefixes' : '', o.podEni ? 'less the trunk ENI of security groups for pods' : '']
    .filter(Boolean)
    .join(' ');

// ---------------------------------------------------------------------------------------------
// Pod subnets for prefix delegation

const FREE_BLOCK = 16;

/** Aligned /28 blocks of `cidr` holding none of `used` nor an address AWS reserves (the first four, the last). */
export function freePrefixBlocks(cidr: string, used: string[]): number {
  const subnet = parseCidr(cidr);
  if (!subnet) return 0;
  const size = 2 ** (32 - subnet.prefix);
  const taken = new Set<number>();
  const mark = (address: number) => taken.add(Math.floor((address - subnet.network) / FREE_BLOCK));
  [0, 1, 2, 3, size - 1].forEach((offset) => mark(subnet.network + offset));
  for (const text of used) {
    const [ip] = text.split('/');
    const parsed = parseCidr(`${ip}/32`);
    if (parsed && parsed.network >= subnet.network && parsed.network < subnet.network + size) mark(parsed.network);
  }
  return Math.floor(size / FREE_BLOCK) - taken.size;
}

/**
 * Prefix delegation needs free /28 blocks in each AZ's pod subnet: none left refuses (nodes there
 * could not start pods); fewer blocks than half the free addresses would fill warns (fragmented).
 */
export async function checkPodSubnetsForPrefixes(clusterName: string, podSubnets: PodSubnet[]): Promise<string[]> {
  const ids = podSubnets.map((s) => s.subnetId).filter((id): id is string => Boolean(id));
  if (ids.length === 0) return [];
  const [{ Subnets = [] }, { NetworkInterfaces = [] }] = await Promise.all([
    ec2().send(new DescribeSubnetsCommand({ SubnetIds: ids })),
    ec2().send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'subnet-id', Values: ids }] })),
  ]);
  const warnings: string[] = [];
  const full: string[] = [];
  for (const subnet of Subnets) {
    const used = NetworkInterfaces.filter((eni) => eni.SubnetId === subnet.SubnetId).flatMap((eni) => [
      ...(eni.PrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress ?? ''),
      ...(eni.Ipv4Prefixes ?? []).map((p) => p.Ipv4Prefix ?? ''),
    ]);
    const blocks = freePrefixBlocks(subnet.CidrBlock ?? '', used);
    const where = `pod subnet ${subnet.SubnetId} (${subnet.CidrBlock}, ${subnet.AvailabilityZone})`;
    if (blocks === 0) full.push(where);
    else if (blocks * FREE_BLOCK < (subnet.AvailableIpAddressCount ?? 0) / 2) {
      warnings.push(
        `${where} has ${subnet.AvailableIpAddressCount} free addresses but only ${blocks} free /28 blocks for prefix delegation ` +
          '(fragmented by single addresses); nodes may fail to get prefixes (InsufficientCidrBlocks): reserve a CIDR for prefixes ' +
          '(aws ec2 create-subnet-cidr-reservation --reservation-type prefix) or give the AZ a new pod subnet',
      );
    }
  }
  if (full.length > 0) {
    throw new OnboardingError(
      'ClusterRefused',
      `onboarding.prefixDelegation on EKS cluster "${clusterName}": ${full.join(', ')} ${full.length > 1 ? 'have' : 'has'} no free /28 block, ` +
        'so nodes there could not give pods addresses; free addresses in the subnet or turn prefixDelegation off, then run again',
    );
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Read-only checks of the cluster

interface Item {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: { nodeInfo?: { kernelVersion?: string; osImage?: string } };
}
type List = { items?: Item[] };

export const SECURITY_GROUP_POLICY_PATH = '/apis/vpcresources.k8s.aws/v1beta1/securitygrouppolicies';
const LB_TYPE = 'service.beta.kubernetes.io/aws-load-balancer-type';
const NLB_TARGET_TYPE = 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type';
const named = (i: Item) => (i.metadata.namespace ? `${i.metadata.namespace}/${i.metadata.name}` : i.metadata.name);

/** Pods whose SecurityGroupPolicy gives them their own groups: the pod security group's rules do not reach them. */
export interface PodSecurityGroupReport {
  podEniEnabled: boolean;
  policies: { name: string; securityGroupIds: string[] }[];
}

export async function readPodSecurityGroups(kube: KubeClient, env: ReadonlyMap<string, string | undefined>): Promise<PodSecurityGroupReport> {
  const list = await kube.get<List>(SECURITY_GROUP_POLICY_PATH);
  return {
    podEniEnabled: env.get(POD_ENI_ENV) === 'true',
    policies: (list?.items ?? []).map((p) => ({
      name: named(p),
      securityGroupIds: (((p.spec?.securityGroups as { groupIds?: string[] } | undefined)?.groupIds) ?? []).slice().sort(),
    })),
  };
}

/** In "report" mode: the policies whose pods miss the pod security group's rules. */
export function podSecurityGroupWarnings(clusterName: string, report: PodSecurityGroupReport, podSecurityGroupId: string | undefined): string[] {
  if (report.policies.length === 0) return [];
  const policies = report.policies.map((p) => `${p.name} (${p.securityGroupIds.join(', ') || 'no groups'})`).join(', ');
  return [
    `SecurityGroupPolicy ${policies} on EKS cluster "${clusterName}" give${report.policies.length > 1 ? '' : 's'} pods their own security groups instead of ` +
      `the ENIConfig's pod security group ${podSecurityGroupId ?? '(new)'}, so those pods lose its rules: add to each of those groups ingress from the ` +
      `node security groups and from the cluster security group (TCP 9443 for webhooks), and allow them on the cluster security group, ` +
      `or set onboarding.podSecurityGroups to "reconcile" (groups tagged eks-aviatrix:managed=true) or "reconcile-all"` +
      (report.podEniEnabled ? '' : `; ENABLE_POD_ENI is not "true" on aws-node, so the policies take effect only once it is`),
  ];
}

/** Services of type LoadBalancer that cannot reach pods on the non-routable range. */
export function ingressWarnings(clusterName: string, services: Item[]): string[] {
  const classic: string[] = [];
  const instance: string[] = [];
  for (const service of services) {
    if (service.spec?.type !== 'LoadBalancer') continue;
    const annotations = service.metadata.annotations ?? {};
    const lbType = annotations[LB_TYPE];
    if (!lbType && !service.spec?.loadBalancerClass) classic.push(named(service));
    else if (lbType !== 'nlb-ip' && annotations[NLB_TARGET_TYPE] !== 'ip') instance.push(named(service));
  }
  const why = 'pods on the non-routable range are reachable only as IP targets of a load balancer in routable subnets of the cluster VPC (README, Ingress)';
  return [
    ...(classic.length ? [`Services ${classic.join(', ')} on EKS cluster "${clusterName}" get a classic load balancer (no ${LB_TYPE} annotation, no loadBalancerClass); ${why}: use the AWS Load Balancer Controller with ${NLB_TARGET_TYPE}: ip`] : []),
    ...(instance.length ? [`Services ${instance.join(', ')} on EKS cluster "${clusterName}" use instance-mode targets; ${why}: set ${NLB_TARGET_TYPE}: ip`] : []),
  ];
}

/** Nodes whose kernel is older than the network policy agent needs (read from the nodes, any launcher). */
export function networkPolicyNodeWarnings(clusterName: string, nodes: Item[]): string[] {
  const old = nodes.filter((node) => {
    const kernel = /^(\d+)\.(\d+)/.exec(node.status?.nodeInfo?.kernelVersion ?? '');
    return kernel !== null && !atLeast([Number(kernel[1]), Number(kernel[2])], MIN_NETWORK_POLICY_KERNEL);
  });
  if (old.length === 0) return [];
  const list = old.map((n) => `${n.metadata.name} (${n.status?.nodeInfo?.kernelVersion}, ${n.status?.nodeInfo?.osImage ?? 'unknown OS'})`).join(', ');
  return [
    `onboarding.networkPolicy: nodes ${list} of EKS cluster "${clusterName}" run a Linux kernel older than ${MIN_NETWORK_POLICY_KERNEL.join('.')}, ` +
      'where the network policy agent cannot enforce policies; move them to a current EKS AMI (Amazon Linux 2023, Bottlerocket)',
  ];
}

/** The read-only checks, as warnings for the run's result (and `plan`). */
export async function clusterOptionWarnings(
  kube: KubeClient,
  clusterName: string,
  config: Pick<OnboardingConfig, 'networkPolicy' | 'podSecurityGroups'>,
  env: ReadonlyMap<string, string | undefined>,
  podSecurityGroupId: string | undefined,
): Promise<{ warnings: string[]; podSecurityGroups: PodSecurityGroupReport }> {
  const [podSecurityGroups, services, nodes] = await Promise.all([
    readPodSecurityGroups(kube, env),
    kube.get<List>('/api/v1/services'),
    config.networkPolicy ? kube.get<List>('/api/v1/nodes') : Promise.resolve(undefined),
  ]);
  return {
    podSecurityGroups,
    warnings: [
      ...(config.podSecurityGroups === 'report' ? podSecurityGroupWarnings(clusterName, podSecurityGroups, podSecurityGroupId) : []),
      ...ingressWarnings(clusterName, services?.items ?? []),
      ...networkPolicyNodeWarnings(clusterName, nodes?.items ?? []),
    ],
  };
}
