// Design steps 4-6: the secondary CIDR, one pod subnet per cluster AZ on the route table of that
// AZ's node subnets, the pod security group (open to every security group the cluster's nodes
// carry) and the cluster security group rule.
// A reconciler: observe the VPC and the cluster's nodes, plan the difference, validate the plan,
// apply it, read back. The same plan, without writes, is the network half of the preflight.
import {
  AssociateRouteTableCommand,
  AssociateVpcCidrBlockCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  describeSecurityGroups,
  DescribeVpcsCommand,
  IpPermission,
  Instance,
  paginateDescribeInstances,
  paginateDescribeRouteTables,
  paginateDescribeSubnets,
  RevokeSecurityGroupIngressCommand,
  Route,
  RouteTable,
  SecurityGroup,
  Subnet,
  Tag,
  Vpc,
  VpcCidrBlockAssociation,
} from '../shared/sdk/ec2';
import { DescribeNodegroupCommand, paginateListNodegroups, ResourceNotFoundException } from '../shared/sdk/eks';
import { OnboardingConfig } from '../../lib/config';
import { ec2, eks } from '../shared/aws';
import { contains, formatCidr, Ipv4Cidr, overlaps, parseCidr, parseCidrOrThrow, podSubnetPrefix, splitCidr } from '../shared/cidr';
import { OnboardingError, settleAll, withAppliedChanges } from '../shared/errors';
import { joinWithoutLease } from '../shared/lease';
import { apiAccessRules } from './api-access';
import { claimsVpcResources, claimVpcResources, readStatusRecord } from './status-record';
import { Change, ClusterSummary, NodeSubnet, PodNetworkResult, PodSubnet } from '../shared/workflow';

export const TAG_MANAGED = 'eks-aviatrix:managed';
/** EKS tags the cluster security group it creates with the cluster's name. */
export const EKS_CLUSTER_TAG = 'aws:eks:cluster-name';
export const TAG_PURPOSE = 'eks-aviatrix:purpose';
export const TAG_CLUSTER = 'eks-aviatrix:cluster';
/** On the VPC: the id of the secondary CIDR association this project made. */
export const TAG_SECONDARY_CIDR = 'eks-aviatrix:secondary-cidr';
const WEBHOOK_PORT = 9443;
/** Marks the pod group's rules from node security groups: ours to revoke once no node carries the group. */
export const NODE_RULE_DESCRIPTION = 'eks-aviatrix: nodes to pods';
/** Marks the rules podSecurityGroups adds for pods with their own security groups (pod-security-groups.ts). */
export const POD_SG_RULE_DESCRIPTION = 'eks-aviatrix: pods with their own security groups';
/** Every node launcher (managed node groups, Karpenter, self-managed groups) tags its instances so. */
export const nodeInstanceTagKey = (clusterName: string) => `kubernetes.io/cluster/${clusterName}`;
const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((c) => parseCidr(c) as Ipv4Cidr);

/** One security group rule, in the form we compare: protocol, ports, and one source. */
export interface Rule {
  protocol: string;
  fromPort?: number;
  toPort?: number;
  sourceGroupId?: string;
  cidr?: string;
  description?: string;
}

interface VpcView {
  vpc: Vpc;
  subnets: Subnet[];
  routeTables: RouteTable[];
  /** The cluster's own groups, the only ones a plan looks at (readOwnGroups). */
  ownGroups: OwnGroups;
}

/** The cluster's pod security group (absent until PodNetwork makes it) and its cluster security group, when EC2 shows it in the VPC. */
interface OwnGroups {
  /** The group of the pod group's name, ours only if it carries our tag (planNetwork refuses another). */
  podGroup?: SecurityGroup;
  clusterGroup?: SecurityGroup;
}

/** Where the cluster's nodes are, whatever launched them. */
export interface NodeView {
  /** Subnets of node groups (not being deleted) and of the cluster's running instances. */
  subnetIds: string[];
  /** Security groups of the running instances and node groups' remote-access groups. */
  securityGroupIds: string[];
}

type PlannedSubnet = PodSubnet & { create: boolean; associate: 'none' | 'new' };

export interface NetworkPlan {
  result: Omit<PodNetworkResult, 'dryRun' | 'changes'>;
  changes: Change[];
  associateCidr: boolean;
  subnets: PlannedSubnet[];
  createSecurityGroup: boolean;
  podIngress: Rule[];
  /** Our node rules on the pod group whose source no node carries any more. */
  podRevoke: Rule[];
  /** The CIDR association is still settling: subnets cannot be carved from it yet. */
  cidrSettling: boolean;
}

type ViewPart = 'vpc' | 'subnets' | 'routeTables' | 'ownGroups';
const ALL_PARTS: ViewPart[] = ['vpc', 'subnets', 'routeTables', 'ownGroups'];

/**
 * The VPC, its subnets and route tables (shared by the clusters of the VPC: one pod subnet per AZ)
 * and the cluster's own security groups; only `parts` are read, the rest taken from `base` (what
 * this call read before and did not change since).
 */
async function observe(cluster: ClusterSummary, parts: ViewPart[] = ALL_PARTS, base?: VpcView): Promise<VpcView> {
  const vpcId = cluster.vpcId;
  const filter = [{ Name: 'vpc-id', Values: [vpcId] }];
  const collect = async <T>(pages: AsyncIterable<T>): Promise<T[]> => {
    const all: T[] = [];
    for await (const page of pages) all.push(page);
    return all;
  };
  const read = (part: ViewPart) => parts.includes(part) || !base;
  const [vpcs, subnetPages, tablePages, ownGroups] = await Promise.all([
    read('vpc') ? ec2().send(new DescribeVpcsCommand({ VpcIds: [vpcId] })).then((r) => r.Vpcs ?? []) : [base!.vpc],
    read('subnets') ? collect(paginateDescribeSubnets({ client: ec2() }, { Filters: filter })).then((p) => p.flatMap((x) => x.Subnets ?? [])) : base!.subnets,
    read('routeTables') ? collect(paginateDescribeRouteTables({ client: ec2() }, { Filters: filter })).then((p) => p.flatMap((x) => x.RouteTables ?? [])) : base!.routeTables,
    read('ownGroups') ? readOwnGroups(cluster) : base!.ownGroups,
  ]);
  const vpc = vpcs[0];
  if (!vpc) throw new OnboardingError('NetworkConflict', `VPC ${vpcId} of the cluster was not found; check the cluster's VPC in the EKS console`);
  return { vpc, subnets: subnetPages, routeTables: tablePages, ownGroups };
}

/**
 * The cluster's pod group (by its name, unique in a VPC) and cluster group (by id), and no other
 * group: every cluster adds a pod group and a cluster group to its VPC, so a read of all the VPC's
 * groups would grow with the clusters in it. Two reads side by side, as EC2 ANDs filters of
 * different names.
 */
async function readOwnGroups(cluster: ClusterSummary): Promise<OwnGroups> {
  const [podGroups, clusterGroups] = await Promise.all([
    describeSecurityGroups([
      { Name: 'vpc-id', Values: [cluster.vpcId] },
      { Name: 'group-name', Values: [podGroupName(cluster.name)] },
    ]),
    // EKS may not report the cluster group yet (early in CREATING): nothing to read then.
    cluster.clusterSecurityGroupId ? describeSecurityGroups([{ Name: 'group-id', Values: [cluster.clusterSecurityGroupId] }]) : [],
  ]);
  return { podGroup: podGroups[0], clusterGroup: clusterGroupIn(cluster, clusterGroups) };
}

const tagValue = (tags: Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const isDefaultRouteToInternet = (table: RouteTable) =>
  (table.Routes ?? []).some((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.GatewayId?.startsWith('igw-'));

function explicitTableOf(view: VpcView, subnetId: string): { table: RouteTable; associationId: string } | undefined {
  for (const table of view.routeTables) {
    const association = table.Associations?.find((a) => a.SubnetId === subnetId);
    if (association?.RouteTableAssociationId) return { table, associationId: association.RouteTableAssociationId };
  }
  return undefined;
}

function routeTableOf(view: VpcView, subnetId: string): RouteTable | undefined {
  return explicitTableOf(view, subnetId)?.table ?? view.routeTables.find((t) => t.Associations?.some((a) => a.Main));
}

/**
 * The cluster's nodes: its node groups (except those being deleted) and the running instances
 * tagged for the cluster, which covers Karpenter, self-managed groups and any other launcher.
 */
async function observeNodes(cluster: ClusterSummary): Promise<NodeView> {
  const names: string[] = [];
  for await (const page of paginateListNodegroups({ client: eks() }, { clusterName: cluster.name })) names.push(...(page.nodegroups ?? []));
  const nodegroups = await Promise.all(
    names.map(async (nodegroupName) => {
      try {
        const { nodegroup } = await eks().send(new DescribeNodegroupCommand({ clusterName: cluster.name, nodegroupName }));
        return nodegroup && nodegroup.status !== 'DELETING' ? nodegroup : undefined;
      } catch (error) {
        // Listed, then deleted before we asked: gone is what we would have counted it as.
        if (error instanceof ResourceNotFoundException) return undefined;
        throw error;
      }
    }),
  );
  const instances: Instance[] = [];
  const filters = [
    { Name: 'vpc-id', Values: [cluster.vpcId] },
    { Name: 'tag-key', Values: [nodeInstanceTagKey(cluster.name)] },
    { Name: 'instance-state-name', Values: ['pending', 'running'] },
  ];
  for await (const page of paginateDescribeInstances({ client: ec2() }, { Filters: filters })) {
    for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
  }
  const live = nodegroups.filter((n) => n !== undefined);
  return {
    subnetIds: [...new Set([...live.flatMap((n) => n.subnets ?? []), ...instances.map((i) => i.SubnetId ?? '').filter(Boolean)])].sort(),
    securityGroupIds: [
      ...new Set([
        ...live.map((n) => n.resources?.remoteAccessSecurityGroup ?? '').filter(Boolean),
        ...instances.flatMap((i) => (i.SecurityGroups ?? []).map((g) => g.GroupId ?? '')).filter(Boolean),
      ]),
    ].sort(),
  };
}

/** The node subnets (the cluster's, its node groups' and its nodes') with their AZ and route table. */
function nodeSubnetsOf(view: VpcView, cluster: ClusterSummary, nodegroupSubnets: string[]): NodeSubnet[] {
  return [...new Set([...cluster.subnetIds, ...nodegroupSubnets])].sort().map((subnetId) => {
    const subnet = view.subnets.find((s) => s.SubnetId === subnetId);
    const table = routeTableOf(view, subnetId);
    if (!subnet?.AvailabilityZone || !subnet.CidrBlock || !table?.RouteTableId) {
      throw new OnboardingError(
        'NetworkConflict',
        `subnet ${subnetId} of EKS cluster "${cluster.name}" is not in VPC ${cluster.vpcId} or has no route table; check the cluster's subnets`,
      );
    }
    return { subnetId, availabilityZone: subnet.AvailabilityZone, cidr: subnet.CidrBlock, routeTableId: table.RouteTableId };
  });
}

/** The route table pods in an AZ should use: that of the AZ's node subnets, preferring a private one. */
function routeTableForAz(view: VpcView, nodeSubnets: NodeSubnet[], az: string): string {
  const candidates = nodeSubnets.filter((s) => s.availabilityZone === az).map((s) => s.routeTableId);
  const privateTable = candidates.find((id) => {
    const table = view.routeTables.find((t) => t.RouteTableId === id);
    return table !== undefined && !isDefaultRouteToInternet(table);
  });
  return privateTable ?? candidates[0];
}

const isLive = (a: VpcCidrBlockAssociation) => a.CidrBlockState?.State === 'associated' || a.CidrBlockState?.State === 'associating';

function associatedCidrs(vpc: Vpc): string[] {
  return (vpc.CidrBlockAssociationSet ?? []).filter(isLive).map((a) => a.CidrBlock ?? '');
}

/** The VPC's live secondary association of the pod CIDR (a VPC whose primary CIDR it is has none of ours). */
function podCidrAssociation(vpc: Vpc, podCidr: string): VpcCidrBlockAssociation | undefined {
  return (vpc.CidrBlockAssociationSet ?? []).find((a) => a.CidrBlock === podCidr && podCidr !== vpc.CidrBlock && isLive(a));
}

/** Refuses a secondary CIDR that AWS would reject or that the VPC cannot take. No writes happen before this. */
function validateNewCidr(view: VpcView, secondary: Ipv4Cidr, config: OnboardingConfig): void {
  const vpcId = view.vpc.VpcId;
  const text = formatCidr(secondary);
  const existing = associatedCidrs(view.vpc);
  for (const cidr of existing) {
    const parsed = parseCidr(cidr);
    if (parsed && overlaps(parsed, secondary)) {
      throw new OnboardingError(
        'NetworkConflict',
        `secondary CIDR ${text} overlaps CIDR ${cidr} of VPC ${vpcId}; choose a free range in onboarding.secondaryCidr`,
      );
    }
  }
  for (const table of view.routeTables) {
    for (const route of table.Routes ?? []) {
      const destination = route.DestinationCidrBlock ? parseCidr(route.DestinationCidrBlock) : undefined;
      if (route.GatewayId === 'local' || !destination) continue;
      if (contains(secondary, destination)) {
        throw new OnboardingError(
          'NetworkConflict',
          `secondary CIDR ${text} is equal to or larger than route ${route.DestinationCidrBlock} in route table ` +
            `${table.RouteTableId} of VPC ${vpcId}, which AWS rejects; remove that route or choose another onboarding.secondaryCidr`,
        );
      }
    }
  }
  if (existing.length >= config.maxVpcCidrBlocks) {
    throw new OnboardingError(
      'NetworkConflict',
      `VPC ${vpcId} already has ${existing.length} IPv4 CIDR blocks, its quota (onboarding.maxVpcCidrBlocks = ${config.maxVpcCidrBlocks}); ` +
        `request a higher "IPv4 CIDR blocks per VPC" quota and raise onboarding.maxVpcCidrBlocks, or remove an unused CIDR block`,
    );
  }
}

function planPodSubnets(
  view: VpcView, secondary: Ipv4Cidr, azs: string[], nodeSubnets: NodeSubnet[], config: OnboardingConfig, warnings: string[],
): PlannedSubnet[] {
  const inRange = view.subnets.filter((s) => {
    const cidr = s.CidrBlock ? parseCidr(s.CidrBlock) : undefined;
    return cidr !== undefined && contains(secondary, cidr);
  });
  const prefix = podSubnetPrefix(secondary, azs.length, config.podSubnetPrefixLength);
  const blocks = splitCidr(secondary, prefix, 2 ** (prefix - secondary.prefix));
  const taken = view.subnets.map((s) => parseCidr(s.CidrBlock ?? '')).filter((c): c is Ipv4Cidr => c !== undefined);

  return azs.map((az) => {
    const routeTableId = routeTableForAz(view, nodeSubnets, az);
    // Reuse a pod subnet already in this AZ (ours first): other clusters in the VPC share them.
    const existing = inRange
      .filter((s) => s.AvailabilityZone === az)
      .sort((a, b) => Number(tagValue(b.Tags, TAG_MANAGED) === 'true') - Number(tagValue(a.Tags, TAG_MANAGED) === 'true'))[0];
    if (existing?.SubnetId && existing.CidrBlock) {
      const explicit = explicitTableOf(view, existing.SubnetId);
      // Any route table a node subnet of this AZ uses will do: several node groups may use several.
      const routed = nodeSubnets.some((n) => n.availabilityZone === az && n.routeTableId === explicit?.table.RouteTableId);
      const ours = tagValue(existing.Tags, TAG_MANAGED) === 'true';
      // Someone else's subnet, or an association someone else made, is used as it is: that routing
      // is theirs to change (we hold no ReplaceRouteTableAssociation, which would reach any subnet).
      if (!routed && (!ours || explicit)) {
        warnings.push(
          `pod subnet ${existing.SubnetId} (${existing.CidrBlock}) in ${az} was ${ours ? 'associated by someone else' : 'not made by onboarding'} and uses route table ` +
            `${explicit?.table.RouteTableId ?? 'the main one'}, not ${routeTableId} of the node subnets; associate it by hand if Aviatrix should route its pods`,
        );
      }
      const associate = routed || !ours || explicit ? 'none' : 'new';
      return {
        availabilityZone: az,
        subnetId: existing.SubnetId,
        cidr: existing.CidrBlock,
        routeTableId,
        create: false,
        associate,
      };
    }
    const free = blocks.find((block) => !taken.some((t) => overlaps(t, block)));
    if (!free) {
      throw new OnboardingError(
        'NetworkConflict',
        `no free /${prefix} block is left in ${formatCidr(secondary)} of VPC ${view.vpc.VpcId} for a pod subnet in ${az} ` +
          `(the pod subnets of the other AZs fill it); use a node subnet in an AZ that has a pod subnet, or re-plan the VPC's pod ` +
          `subnets with a longer onboarding.podSubnetPrefixLength before its first cluster is onboarded`,
      );
    }
    taken.push(free);
    return { availabilityZone: az, cidr: formatCidr(free), routeTableId, create: true, associate: 'new' };
  });
}

const ruleKey = (r: Rule) =>
  r.protocol === '-1' ? `all:${r.sourceGroupId ?? r.cidr}` : `${r.protocol}:${r.fromPort}-${r.toPort}:${r.sourceGroupId ?? r.cidr}`;

/** The rules a security group holds, one entry per source. */
export function rulesOf(permissions: IpPermission[] | undefined): Rule[] {
  return (permissions ?? []).flatMap((p) => {
    const base = { protocol: p.IpProtocol ?? '-1', ...(p.IpProtocol === '-1' ? {} : { fromPort: p.FromPort, toPort: p.ToPort }) };
    return [
      ...(p.UserIdGroupPairs ?? []).map((pair) => ({ ...base, sourceGroupId: pair.GroupId })),
      ...(p.IpRanges ?? []).map((range) => ({ ...base, cidr: range.CidrIp })),
    ];
  });
}

export const missingRules = (desired: Rule[], actual: Rule[]) => desired.filter((d) => !actual.some((a) => ruleKey(a) === ruleKey(d)));

export function toPermission(rule: Rule): IpPermission {
  return {
    IpProtocol: rule.protocol,
    ...(rule.protocol === '-1' ? {} : { FromPort: rule.fromPort, ToPort: rule.toPort }),
    ...(rule.sourceGroupId ? { UserIdGroupPairs: [{ GroupId: rule.sourceGroupId, ...(rule.description ? { Description: rule.description } : {}) }] } : {}),
    ...(rule.cidr ? { IpRanges: [{ CidrIp: rule.cidr, ...(rule.description ? { Description: rule.description } : {}) }] } : {}),
  };
}

const podGroupName = (cluster: string) => `eks-aviatrix-pods-${cluster}`;
const PLACEHOLDER_POD_SG = '(new pod security group)';

/**
 * Every ingress rule of a pod security group: those PodNetwork writes (before ACTIVE) and those
 * from the cluster security group (written after ACTIVE, see reconcileClusterGroupRules).
 */
export function podIngressRules(cluster: ClusterSummary, podGroupId: string, nodeSecurityGroupIds: string[] = []): Rule[] {
  return [...podRulesBeforeActive(cluster, podGroupId, nodeSecurityGroupIds), ...podRulesFromClusterGroup(cluster)];
}

/**
 * The pod group's rules that need only what EKS reports from CreateCluster on: from the security
 * groups the nodes carry, from itself, and TCP 9443 (admission webhooks) from the control plane's
 * additional groups. Those from the cluster security group wait for ACTIVE.
 */
function podRulesBeforeActive(cluster: ClusterSummary, podGroupId: string, nodeSecurityGroupIds: string[]): Rule[] {
  const notClusterGroup = (id: string) => Boolean(id) && id !== cluster.clusterSecurityGroupId;
  return [
    // Nodes to pods (kubelet probes).
    ...[...new Set(nodeSecurityGroupIds)].filter(notClusterGroup).map((groupId) => ({ protocol: '-1', sourceGroupId: groupId, description: NODE_RULE_DESCRIPTION })),
    { protocol: '-1', sourceGroupId: podGroupId }, // pod to pod
    ...[...new Set(cluster.controlPlaneSecurityGroupIds)].filter(notClusterGroup).map(webhookRule),
  ];
}

const webhookRule = (groupId: string): Rule => ({ protocol: 'tcp', fromPort: WEBHOOK_PORT, toPort: WEBHOOK_PORT, sourceGroupId: groupId });

/** From the cluster security group: nodes to pods (managed nodes carry it) and the API server's webhook calls; none while EKS reports no group. */
function podRulesFromClusterGroup(cluster: ClusterSummary): Rule[] {
  const groupId = cluster.clusterSecurityGroupId;
  return groupId ? [{ protocol: '-1', sourceGroupId: groupId, description: NODE_RULE_DESCRIPTION }, webhookRule(groupId)] : [];
}

/** Our node rules on the pod group (marked by their description) from groups no node carries now. */
function staleNodeRules(podGroup: SecurityGroup | undefined, desired: Rule[]): Rule[] {
  const wanted = new Set(desired.map(ruleKey));
  return (podGroup?.IpPermissions ?? []).flatMap((p) =>
    p.IpProtocol !== '-1'
      ? []
      : (p.UserIdGroupPairs ?? [])
          .filter((pair) => pair.Description === NODE_RULE_DESCRIPTION && pair.GroupId)
          .map((pair) => ({ protocol: '-1', sourceGroupId: pair.GroupId, description: NODE_RULE_DESCRIPTION }))
          .filter((rule) => !wanted.has(ruleKey(rule))),
  );
}

/** The groups given pod rules for SecurityGroupPolicies: each has our rule on the cluster group (read here at no cost). */
function policyGroupsOf(clusterGroup: SecurityGroup): Pick<PodNetworkResult, 'podPolicyGroupIds'> {
  const ids = (clusterGroup.IpPermissions ?? []).flatMap((p) =>
    (p.UserIdGroupPairs ?? []).filter((pair) => pair.Description === POD_SG_RULE_DESCRIPTION && pair.GroupId).map((pair) => pair.GroupId as string),
  );
  return ids.length > 0 ? { podPolicyGroupIds: [...new Set(ids)].sort() } : {};
}

const bypassesSpoke = (route: Route) => Boolean(route.GatewayId?.startsWith('igw-') || route.NatGatewayId);
const routesInScope = (route: Route) => {
  const destination = parseCidr(route.DestinationCidrBlock ?? '');
  return route.DestinationCidrBlock === '0.0.0.0/0' || (destination !== undefined && RFC1918.some((block) => overlaps(block, destination)));
};

/**
 * Pods must leave through the spoke (its SNAT policies program the default route): a route table
 * whose default or private-range route goes to an internet or NAT gateway would bypass it.
 */
function checkPodRoutes(view: VpcView, subnets: PlannedSubnet[], config: OnboardingConfig, warnings: string[]): void {
  for (const tableId of [...new Set(subnets.map((s) => s.routeTableId))]) {
    const table = view.routeTables.find((t) => t.RouteTableId === tableId);
    const bypass = (table?.Routes ?? []).filter((r) => routesInScope(r) && bypassesSpoke(r));
    if (bypass.length === 0) continue;
    const what = bypass.map((r) => `${r.DestinationCidrBlock} -> ${r.GatewayId ?? r.NatGatewayId}`).join(', ');
    const message =
      `route table ${tableId} of the pod subnets sends ${what}, bypassing the Aviatrix spoke (and its SNAT and firewall policies); ` +
      'remove that route so the spoke programs the default route, use node subnets routed through the spoke, or set onboarding.routeCheck to "warn"';
    if (config.routeCheck === 'warn') warnings.push(message);
    else throw new OnboardingError('NetworkConflict', message);
  }
}

/** The effective default-route target of each subnet; instances and ENIs are how a gateway is reached. */
function spokeRoutedSubnets(view: VpcView, exclude: Set<string>): string[] {
  return view.subnets
    .filter((s) => s.SubnetId && s.CidrBlock && !exclude.has(s.SubnetId))
    .filter((s) => {
      const route = routeTableOf(view, s.SubnetId ?? '')?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0');
      return Boolean(route?.InstanceId || route?.NetworkInterfaceId);
    })
    .map((s) => s.CidrBlock ?? '')
    .sort();
}

export function planNetwork(view: VpcView, cluster: ClusterSummary, config: OnboardingConfig, nodes: NodeView = { subnetIds: [], securityGroupIds: [] }): NetworkPlan {
  const secondary = parseCidrOrThrow(config.secondaryCidr, 'onboarding.secondaryCidr');
  const podCidr = formatCidr(secondary);
  // Ours is a secondary association: a VPC whose primary CIDR is the pod CIDR is a conflict.
  const association = podCidrAssociation(view.vpc, podCidr);
  if (!association) validateNewCidr(view, secondary, config);

  const nodeSubnets = nodeSubnetsOf(view, cluster, nodes.subnetIds);
  const azs = [...new Set(nodeSubnets.map((s) => s.availabilityZone))].sort();
  const warnings: string[] = [];
  const subnets = planPodSubnets(view, secondary, azs, nodeSubnets, config, warnings);
  checkPodRoutes(view, subnets, config, warnings);

  const { podGroup, clusterGroup } = view.ownGroups;
  if (podGroup && tagValue(podGroup.Tags, TAG_CLUSTER) !== cluster.name) {
    throw new OnboardingError(
      'NetworkConflict',
      `security group ${podGroup.GroupId} in VPC ${cluster.vpcId} has the name onboarding gives the pod security group of EKS cluster "${cluster.name}" ` +
        `(${podGroupName(cluster.name)}) but not its tag ${TAG_CLUSTER}=${cluster.name}, so it is someone else's: delete it, then run the workflow again`,
    );
  }
  const podGroupId = podGroup?.GroupId ?? PLACEHOLDER_POD_SG;
  // EKS may report the cluster security group only once the cluster is ACTIVE: the rules naming it
  // are the VpcCni step's (reconcileClusterGroupRules); here it is only read when known.
  // Late in CREATING EKS may report the group before EC2 shows it: judged after ACTIVE (reconcileClusterGroupRules).
  if (cluster.clusterSecurityGroupId && !clusterGroup && cluster.status !== 'CREATING') throw clusterGroupMissing(cluster);
  const podIngress = missingRules(podRulesBeforeActive(cluster, podGroupId, nodes.securityGroupIds), rulesOf(podGroup?.IpPermissions));
  // Stale node rules are judged only against a known cluster group, whose rule is not stale.
  const podRevoke = cluster.clusterSecurityGroupId ? staleNodeRules(podGroup, podIngressRules(cluster, podGroupId, nodes.securityGroupIds)) : [];

  const changes: Change[] = [];
  if (!association) changes.push({ resource: view.vpc.VpcId ?? '', action: 'associate', detail: `secondary CIDR ${podCidr}` });
  for (const s of subnets) {
    if (s.create) changes.push({ resource: `pod subnet ${s.availabilityZone}`, action: 'create', detail: `${s.cidr} in ${s.availabilityZone}` });
    if (s.associate !== 'none') {
      changes.push({
        resource: s.subnetId ?? `pod subnet ${s.availabilityZone}`,
        action: 'associate',
        detail: `route table ${s.routeTableId}`,
      });
    }
  }
  if (!podGroup) changes.push({ resource: podGroupName(cluster.name), action: 'create', detail: `pod security group in ${cluster.vpcId}` });
  for (const rule of podIngress) changes.push({ resource: podGroup?.GroupId ?? podGroupName(cluster.name), action: 'update', detail: `allow ingress ${describeRule(rule)}` });
  for (const rule of podRevoke) changes.push({ resource: podGroup?.GroupId ?? '', action: 'update', detail: `revoke ingress ${describeRule(rule)} (no node carries that group any more)` });

  return {
    result: {
      vpcId: cluster.vpcId,
      podCidr,
      warnings,
      podSubnets: subnets.map(({ availabilityZone, subnetId, cidr, routeTableId }) => ({
        availabilityZone,
        ...(subnetId ? { subnetId } : {}),
        cidr,
        routeTableId,
      })),
      nodeSubnets,
      nodeSecurityGroupIds: [...new Set([cluster.clusterSecurityGroupId, ...nodes.securityGroupIds])].filter(Boolean).sort(),
      spokeRoutedSubnets: spokeRoutedSubnets(
        view,
        new Set([...nodeSubnets.map((n) => n.subnetId), ...subnets.map((p) => p.subnetId ?? '')]),
      ),
      ...(podGroup?.GroupId ? { podSecurityGroupId: podGroup.GroupId } : {}),
      ...(clusterGroup ? policyGroupsOf(clusterGroup) : {}),
    },
    changes,
    associateCidr: !association,
    subnets,
    createSecurityGroup: !podGroup,
    podIngress,
    podRevoke,
    cidrSettling: association?.CidrBlockState?.State === 'associating',
  };
}

function describeRule(rule: Rule): string {
  const what = rule.protocol === '-1' ? 'all traffic' : `${rule.protocol} ${rule.fromPort}`;
  return `${what} from ${rule.sourceGroupId ?? rule.cidr}`;
}

function managedTags(purpose: string, name: string, cluster?: string): Tag[] {
  return [
    { Key: 'Name', Value: name },
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_PURPOSE, Value: purpose },
    ...(cluster ? [{ Key: TAG_CLUSTER, Value: cluster }] : []),
  ];
}

/**
 * AssociateVpcCidrBlock, safe to repeat: when the answer to a first attempt was lost (a timeout or
 * a cut connection after EC2 did the work), the SDK's retry is refused as overlapping its own
 * association; the VPC then already holds the block, which is the result. (Under the VPC lease,
 * no other workflow associates in this VPC meanwhile.)
 */
async function associateOnce(vpcId: string, cidr: string): Promise<VpcCidrBlockAssociation | undefined> {
  try {
    return (await ec2().send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: cidr }))).CidrBlockAssociation;
  } catch (error) {
    const { Vpcs } = await ec2().send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
    const existing = Vpcs?.[0] && podCidrAssociation(Vpcs[0], cidr);
    if (existing) return existing;
    throw error;
  }
}

/**
 * The shared writes (run under the VPC lease): the CIDR association, then the pod subnets and their
 * route-table associations. Answers 'settling' when subnets must wait for a new association.
 */
async function applyShared(plan: NetworkPlan, cluster: ClusterSummary): Promise<'applied' | 'settling'> {
  const client = ec2();
  if (plan.associateCidr) {
    const CidrBlockAssociation = await associateOnce(cluster.vpcId, plan.result.podCidr);
    // An association cannot carry tags: the VPC records which one is ours, for offboarding.
    await client.send(
      new CreateTagsCommand({
        Resources: [cluster.vpcId],
        Tags: [{ Key: TAG_SECONDARY_CIDR, Value: CidrBlockAssociation?.AssociationId ?? plan.result.podCidr }],
      }),
    );
    if (CidrBlockAssociation?.CidrBlockState?.State === 'associating') return 'settling';
  }
  // Each AZ's pod subnet (its own block, its own route table association) at once; all settle
  // before a failure is reported, so the error's read-back sees every write that was made.
  await settleAll(
    plan.subnets.map(async (subnet) => {
      let subnetId = subnet.subnetId;
      if (subnet.create) {
        const created = await client.send(
          new CreateSubnetCommand({
            VpcId: cluster.vpcId,
            CidrBlock: subnet.cidr,
            AvailabilityZone: subnet.availabilityZone,
            TagSpecifications: [{ ResourceType: 'subnet', Tags: managedTags('pod-subnet', `pods-${subnet.availabilityZone}`) }],
          }),
        );
        subnetId = created.Subnet?.SubnetId;
      }
      if (subnet.associate === 'new') {
        await client.send(new AssociateRouteTableCommand({ SubnetId: subnetId, RouteTableId: subnet.routeTableId }));
      }
    }),
  );
  return 'applied';
}

/**
 * The cluster's own writes: its pod security group (named and tagged after the cluster) and the
 * rules on it and on the cluster security group. No other cluster writes these, so the cluster
 * lease alone serializes them.
 */
async function applyOwn(plan: NetworkPlan, cluster: ClusterSummary): Promise<void> {
  const client = ec2();
  let podGroupId = plan.result.podSecurityGroupId;
  if (plan.createSecurityGroup) {
    const created = await client.send(
      new CreateSecurityGroupCommand({
        GroupName: podGroupName(cluster.name),
        Description: `Pods of EKS cluster ${cluster.name} (custom networking)`,
        VpcId: cluster.vpcId,
        TagSpecifications: [
          { ResourceType: 'security-group', Tags: managedTags('pod-security-group', podGroupName(cluster.name), cluster.name) },
        ],
      }),
    );
    podGroupId = created.GroupId;
  }
  const resolve = (rule: Rule): Rule =>
    rule.sourceGroupId === PLACEHOLDER_POD_SG ? { ...rule, sourceGroupId: podGroupId } : rule;
  // The pod group's rules: added, then revoked (one group, in order).
  if (plan.podIngress.length > 0) await authorizeIngress(podGroupId!, plan.podIngress.map(resolve).map(toPermission));
  if (plan.podRevoke.length > 0) await client.send(new RevokeSecurityGroupIngressCommand({ GroupId: podGroupId, IpPermissions: plan.podRevoke.map(toPermission) }));
}

/**
 * Adds ingress rules planned as missing. EC2 refuses the whole call when any rule exists
 * (InvalidPermission.Duplicate): after a lost answer the SDK's retry meets our own rules, and a
 * rule someone added since the plan meets one of them. Either way each rule is then added on its
 * own, a duplicate counting as done, so every planned rule ends up present exactly once.
 */
export async function authorizeIngress(
  groupId: string,
  permissions: IpPermission[],
  /** Told of each permission (by its index) once it is present: the caller can name them if a later one fails. */
  present: (index: number) => void = () => undefined,
): Promise<void> {
  const add = (IpPermissions: IpPermission[]) => ec2().send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions }));
  const isDuplicate = (error: unknown) => (error as { name?: string }).name === 'InvalidPermission.Duplicate';
  try {
    await add(permissions);
    permissions.forEach((_, i) => present(i));
  } catch (error) {
    if (!isDuplicate(error)) throw error;
    for (const [i, permission] of permissions.entries()) {
      await add([permission]).catch((e: unknown) => { if (!isDuplicate(e)) throw e; });
      present(i);
    }
  }
}

const clusterGroupMissing = (cluster: ClusterSummary) =>
  new OnboardingError(
    'NetworkConflict',
    `cluster security group ${cluster.clusterSecurityGroupId} of EKS cluster "${cluster.name}" is not in VPC ${cluster.vpcId}; EKS made it with the ` +
      `cluster and does not make it again: check it (aws ec2 describe-security-groups --group-ids ${cluster.clusterSecurityGroupId}); ` +
      'if it was deleted, re-create the cluster, then run the workflow again',
  );

/** The cluster security group among `groups`, only in the cluster's VPC: a group of that id elsewhere is not the cluster's. */
const clusterGroupIn = (cluster: ClusterSummary, groups: SecurityGroup[]) =>
  groups.find((g) => g.GroupId === cluster.clusterSecurityGroupId && g.VpcId === cluster.vpcId);

/** The cluster security group (refused when EC2 does not show it in the cluster's VPC) and the pod group, in one read. */
export interface ClusterGroups {
  clusterGroup: SecurityGroup;
  podGroup?: SecurityGroup;
}

export async function readClusterGroups(cluster: ClusterSummary, podGroupId: string | undefined): Promise<ClusterGroups> {
  const groups = await describeSecurityGroups([{ Name: 'group-id', Values: [cluster.clusterSecurityGroupId, ...(podGroupId ? [podGroupId] : [])] }]);
  const clusterGroup = clusterGroupIn(cluster, groups);
  if (!clusterGroup) throw clusterGroupMissing(cluster);
  return { clusterGroup, ...(podGroupId ? { podGroup: groups.find((g) => g.GroupId === podGroupId) } : {}) };
}

/**
 * The rules that name the cluster security group, which EKS may report only once the cluster is
 * ACTIVE: on the pod group, all traffic (nodes to pods) and TCP 9443 (webhooks) from it; on it,
 * all traffic from the pod group (pods to the API server) and, for a private-only endpoint, the
 * onboarding functions on 443. Written by the VpcCni step after ACTIVE, beside its access entry,
 * under the cluster lease (no other cluster writes these rules). One read of both groups; no read
 * back: AuthorizeSecurityGroupIngress answers only once the rule exists (authorizeIngress counts
 * a duplicate as done).
 */
export async function reconcileClusterGroupRules(
  cluster: ClusterSummary,
  /** Absent only in a plan made before the pod security group exists. */
  podGroupId: string | undefined,
  config: OnboardingConfig,
  dryRun: boolean,
  /** The caller's readClusterGroups, when it waits for that read too. */
  read: Promise<ClusterGroups> = readClusterGroups(cluster, podGroupId),
): Promise<{ changes: Change[]; podPolicyGroupIds?: string[] }> {
  const { clusterGroup, podGroup } = await read;
  const podSource = podGroupId ?? PLACEHOLDER_POD_SG;
  const podMissing = missingRules(podRulesFromClusterGroup(cluster), rulesOf(podGroup?.IpPermissions));
  const clusterMissing = missingRules([{ protocol: '-1', sourceGroupId: podSource }, ...apiAccessRules(cluster, config)], rulesOf(clusterGroup.IpPermissions));
  const change = (resource: string) => (rule: Rule): Change => ({ resource, action: 'update', detail: `allow ingress ${describeRule(rule)}` });
  const writes = [
    { groupId: podSource, changes: podMissing.map(change(podGroupId ?? podGroupName(cluster.name))), rules: podMissing },
    { groupId: cluster.clusterSecurityGroupId, changes: clusterMissing.map(change(cluster.clusterSecurityGroupId)), rules: clusterMissing },
  ];
  if (!dryRun) {
    // Both groups at once; a failure names every rule already present (the other group's, and its own group's before it).
    const present = writes.map(() => new Set<number>());
    try {
      await settleAll(writes.map((w, i) => (w.rules.length > 0 ? authorizeIngress(w.groupId, w.rules.map(toPermission), (rule) => present[i].add(rule)) : undefined)));
    } catch (error) {
      throw withAppliedChanges(error, writes.flatMap((w, i) => w.changes.filter((_, rule) => present[i].has(rule))));
    }
  }
  return { changes: writes.flatMap((w) => w.changes), ...policyGroupsOf(clusterGroup) };
}

/** Observes, plans and (unless dry run) applies the pod network, then reads it back. */
export interface NetworkStepResult extends PodNetworkResult {
  phase: 'pending' | 'done';
  reason?: string;
  /** Calls in a row that applied changes and did not see them yet (EC2 reads are eventually consistent). */
  unsettledRounds?: number;
}

/**
 * How many waits for EC2 to show our own changes before calling it a conflict. Every pending
 * answer of this step is settled by AWS in seconds, so the workflow's WaitForNetwork is a short
 * wait of its own (2 s), not the poll interval: 10 rounds give EC2 ~20 s.
 */
const MAX_UNSETTLED_ROUNDS = 10;

/**
 * What a writing call needs beyond EC2: where it records the VPC resources the cluster relies on
 * (see claimVpcResources), and how it holds the VPC's lease.
 */
export interface NetworkClaims {
  statusTableName: string;
  /** Runs `work` holding the VPC's lease (shared with other clusters' PodNetwork and cleanup). */
  withVpcLease: <T>(work: () => Promise<T>) => Promise<T>;
  /** Waits (bounded) until no other workflow holds the VPC's lease, without taking it: for the join. */
  awaitVpcLeaseFree: () => Promise<void>;
}

/** True when `plan` writes something the clusters of the VPC share: the CIDR, a pod subnet or its route table. */
function writesShared(plan: NetworkPlan): boolean {
  return plan.associateCidr || plan.subnets.some((s) => s.create || s.associate !== 'none');
}

/** The parts of the VPC view that `plan`'s writes change: read back after applying, the rest is kept. */
function touchedBy(plan: NetworkPlan): ViewPart[] {
  const touched: ViewPart[] = [];
  if (plan.associateCidr) touched.push('vpc');
  if (plan.subnets.some((s) => s.create)) touched.push('subnets');
  if (plan.subnets.some((s) => s.create || s.associate !== 'none')) touched.push('routeTables');
  if (plan.createSecurityGroup || plan.podIngress.length + plan.podRevoke.length > 0) touched.push('ownGroups');
  return touched;
}

/** The node view an earlier answer of this run recorded (the preflight's, or this step's last call). */
export function nodesOf(result: Pick<PodNetworkResult, 'nodeSubnets' | 'nodeSecurityGroupIds'>): NodeView {
  return { subnetIds: result.nodeSubnets.map((s) => s.subnetId), securityGroupIds: result.nodeSecurityGroupIds ?? [] };
}

/**
 * A writing call. The VPC lease covers only what clusters of the VPC share or must see consistently:
 * - the read of the VPC, its subnets and route tables the shared writes are planned from;
 * - the secondary CIDR association (one per VPC: two clusters would both associate it);
 * - the pod subnets and their route-table associations (one per AZ, shared: two clusters would
 *   carve two subnets in one AZ, or the same block twice).
 * The claim (the status record naming the VPC and pod CIDR) comes first, before any lease. Then a
 * cluster that finds the shared resources all in place joins them without the VPC lease
 * (joinWithoutLease): the claim, the lease seen free (waiting while another holds it, without
 * queueing for it), a fresh read of the VPC with nothing shared to write. Safe against the offboarding of another cluster of the VPC, which deletes the pod
 * subnets and the CIDR only under this lease, after reading every claim (a consistent scan), and
 * whose lease (210 s) outlives its Lambda (180 s): one that takes the lease after our claim counts
 * it and keeps them; one that held the lease before has finished by the time we see it free, and
 * our read after that shows what it removed. Otherwise (anything missing or still associating) the
 * lease path runs as before, reading again under the lease. Every later cluster
 * of a VPC thus writes one claim and queues for nothing, the first one (and any repair) still
 * serializes on the lease.
 * The pod security group and the rules on it and on the cluster security group belong to this
 * cluster alone (named and tagged after it; cleanup of another cluster never touches them): they
 * are read before and written after the VPC lease, under the cluster lease alone, so the section
 * the clusters of one VPC queue for does not grow with the number of clusters in it (every
 * cluster adds a pod security group to the VPC, not a subnet).
 */
async function reconcileUnderLeases(
  cluster: ClusterSummary,
  config: OnboardingConfig,
  nodes: NodeView,
  claims: NetworkClaims,
): Promise<{ plan: NetworkPlan; view: VpcView; outcome: 'nothing' | 'settling' | 'applied' }> {
  const podCidr = formatCidr(parseCidrOrThrow(config.secondaryCidr, 'onboarding.secondaryCidr'));
  const [ownGroups, record] = await Promise.all([readOwnGroups(cluster), readStatusRecord(claims.statusTableName, cluster.name)]);
  let plan: NetworkPlan | undefined;
  let view: VpcView | undefined;
  const planShared = async () => {
    view = await observe(cluster, ['vpc', 'subnets', 'routeTables'], { ...EMPTY_VIEW, ownGroups });
    plan = planNetwork(view, cluster, config, nodes);
    return plan;
  };
  const joined = await joinWithoutLease(
    async () => {
      if (!claimsVpcResources(record, cluster, podCidr)) await claimVpcResources(claims.statusTableName, cluster, podCidr, record);
    },
    claims.awaitVpcLeaseFree,
    async () => {
      const seen = await planShared();
      return !seen.cidrSettling && !writesShared(seen);
    },
  );
  const shared = joined
    ? plan!.changes.length === 0 ? ('nothing' as const) : ('applied' as const)
    : await claims.withVpcLease(async () => {
        const fresh = await planShared();
        if (fresh.cidrSettling) return 'settling' as const;
        if (fresh.changes.length === 0) return 'nothing' as const;
        try {
          return await applyShared(fresh, cluster);
        } catch (error) {
          throw await failedApply(error, fresh, cluster, config, nodes);
        }
      });
  if (shared !== 'applied') return { plan: plan!, view: view!, outcome: shared };
  try {
    await applyOwn(plan!, cluster);
  } catch (error) {
    throw await failedApply(error, plan!, cluster, config, nodes);
  }
  return { plan: plan!, view: view!, outcome: 'applied' };
}

/** A placeholder base for observe: every part it is not asked to read is empty. */
const EMPTY_VIEW: VpcView = { vpc: {}, subnets: [], routeTables: [], ownGroups: {} };

/** The error of a failed apply, naming what it had done: what the plan no longer needs. */
async function failedApply(error: unknown, plan: NetworkPlan, cluster: ClusterSummary, config: OnboardingConfig, nodes: NodeView): Promise<unknown> {
  const remaining = planNetwork(await observe(cluster), cluster, config, nodes).changes.map((c) => `${c.action} ${c.detail}`);
  return withAppliedChanges(error, plan.changes.filter((c) => !remaining.includes(`${c.action} ${c.detail}`)));
}

/** Observes, plans and (unless dry run) applies the pod network, then reads it back. */
export async function reconcileNetwork(
  cluster: ClusterSummary,
  config: OnboardingConfig,
  dryRun: boolean,
  /** This step's previous answer in the same run (it is called again after a wait). */
  previous?: NetworkStepResult,
  /** Where a writing call records its claims and how it takes the VPC lease; absent: a plan. */
  claims?: NetworkClaims,
  /** The cluster's nodes as this run saw them seconds ago (preflight, or this step's last call). */
  knownNodes?: NodeView,
): Promise<NetworkStepResult> {
  const earlierChanges = previous?.changes ?? [];
  const nodes = knownNodes ?? (await observeNodes(cluster));
  if (dryRun || !claims) {
    const plan = planNetwork(await observe(cluster), cluster, config, nodes);
    return { phase: 'done', dryRun, changes: [...earlierChanges, ...plan.changes], ...plan.result };
  }
  const { plan, view, outcome } = await reconcileUnderLeases(cluster, config, nodes, claims);
  if (outcome === 'nothing') return { phase: 'done', dryRun, changes: earlierChanges, ...plan.result };
  if (outcome === 'settling') {
    // At most the association was made; subnets wait until it is associated.
    const made = plan.associateCidr ? [plan.changes[0]] : [];
    return { phase: 'pending', reason: 'the secondary CIDR association is settling', dryRun, changes: [...earlierChanges, ...made], ...plan.result };
  }
  const changes = [...earlierChanges, ...plan.changes];
  const after = planNetwork(await observe(cluster, touchedBy(plan), view), cluster, config, nodes);
  if (after.cidrSettling) return { phase: 'pending', reason: 'the secondary CIDR association is settling', dryRun, changes, ...after.result };
  if (after.changes.length === 0) return { phase: 'done', dryRun, changes, ...after.result };
  // EC2 may not show what was just created yet: look again after a wait, a bounded number of times.
  const unsettledRounds = (previous?.unsettledRounds ?? 0) + 1;
  if (unsettledRounds > MAX_UNSETTLED_ROUNDS) {
    throw new OnboardingError(
      'NetworkConflict',
      `VPC ${cluster.vpcId} still differs after applying the pod network: ${after.changes.map((c) => `${c.resource} ${c.detail}`).join('; ')}; ` +
        'check the EC2 console for a concurrent change and run the workflow again',
    );
  }
  return { phase: 'pending', reason: 'waiting for EC2 to show the changes just made', unsettledRounds, dryRun, changes, ...after.result };
}
