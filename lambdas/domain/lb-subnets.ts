// Config `loadBalancerSubnets`: the routable subnets named there get the tags the AWS Load Balancer
// Controller discovers subnets by (kubernetes.io/role/elb, kubernetes.io/role/internal-elb), so
// load balancers for pods on the non-routable range land in routable subnets of the cluster's VPC.
// A tag we add is marked per cluster (eks-aviatrix:lb-role/<cluster> = the role tag's key); a role
// tag someone else set is left alone and never removed. Offboarding removes this cluster's marker,
// and the role tag once no other cluster's marker is left.
import { CreateTagsCommand, DeleteTagsCommand, DescribeSubnetsCommand, Subnet, Tag } from '../shared/sdk/ec2';
import { OnboardingConfig } from '../../lib/config';
import { ec2 } from '../shared/aws';
import { Change } from '../shared/workflow';

export const LB_ROLE_TAGS = { public: 'kubernetes.io/role/elb', internal: 'kubernetes.io/role/internal-elb' } as const;
export const LB_MARKER_PREFIX = 'eks-aviatrix:lb-role/';
const markerKey = (clusterName: string) => `${LB_MARKER_PREFIX}${clusterName}`;
const markers = (tags: Tag[]) => tags.filter((t) => t.Key?.startsWith(LB_MARKER_PREFIX));

async function subnets(filters: { Name: string; Values: string[] }[]): Promise<Subnet[]> {
  return (await ec2().send(new DescribeSubnetsCommand({ Filters: filters }))).Subnets ?? [];
}

/** Tags the configured subnets of the cluster's VPC; subnets of other VPCs are another cluster's. */
export async function tagLoadBalancerSubnets(
  clusterName: string,
  vpcId: string,
  config: Pick<OnboardingConfig, 'loadBalancerSubnets'>,
  dryRun: boolean,
): Promise<Change[]> {
  const wanted = new Map<string, string>([
    ...config.loadBalancerSubnets.public.map((id) => [id, LB_ROLE_TAGS.public] as const),
    ...config.loadBalancerSubnets.internal.map((id) => [id, LB_ROLE_TAGS.internal] as const),
  ]);
  if (wanted.size === 0) return [];
  const found = await subnets([{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'subnet-id', Values: [...wanted.keys()] }]);
  const changes: Change[] = [];
  for (const subnet of found) {
    const role = wanted.get(subnet.SubnetId ?? '')!;
    const tags = subnet.Tags ?? [];
    const hasRole = tags.some((t) => t.Key === role);
    const ours = markers(tags);
    // Someone else's role tag (no marker of ours): theirs to keep, nothing to add.
    if (ours.some((t) => t.Key === markerKey(clusterName)) || (hasRole && ours.length === 0)) continue;
    const add = [{ Key: markerKey(clusterName), Value: role }, ...(hasRole ? [] : [{ Key: role, Value: '1' }])];
    if (!dryRun) await ec2().send(new CreateTagsCommand({ Resources: [subnet.SubnetId!], Tags: add }));
    changes.push({ resource: `subnet ${subnet.SubnetId}`, action: 'tag', detail: `${role}=1 for load balancers (ours, removed at offboarding)` });
  }
  return changes;
}

/** Offboarding: this cluster's marker goes, and the role tag with it once no other cluster marks the subnet. */
export async function untagLoadBalancerSubnets(clusterName: string, vpcId: string, dryRun: boolean): Promise<Change[]> {
  const found = await subnets([{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'tag-key', Values: [markerKey(clusterName)] }]);
  const changes: Change[] = [];
  for (const subnet of found) {
    const tags = subnet.Tags ?? [];
    const mine = tags.find((t) => t.Key === markerKey(clusterName));
    const others = markers(tags).filter((t) => t.Key !== markerKey(clusterName) && t.Value === mine?.Value);
    const remove = [{ Key: markerKey(clusterName) }, ...(others.length === 0 && mine?.Value ? [{ Key: mine.Value }] : [])];
    if (!dryRun) await ec2().send(new DeleteTagsCommand({ Resources: [subnet.SubnetId!], Tags: remove }));
    changes.push({ resource: `subnet ${subnet.SubnetId}`, action: 'delete', detail: `tags ${remove.map((t) => t.Key).join(', ')}` });
  }
  return changes;
}
