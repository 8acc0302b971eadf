// Deleting clusters: the real offboarding ASL with the real handlers against the local world.
import {
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  DeleteNetworkInterfaceCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

let w: OnboardingWorld;
let first: CreatedCluster;
let eks: EKSClient;

const OFFBOARDING = 'cluster-offboarding.asl.json';
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];

beforeAll(async () => {
  // EKS takes a while to delete a cluster: offboarding starts while it is still DELETING.
  w = await startOnboardingWorld({ eks: { deletionDescribes: 4 } });
  eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  // Two clusters in one VPC: they share the spoke pair, the transit and the pod subnets.
  first = await createCluster(w, { name: 'shared-a' });
  await createCluster(w, { name: 'shared-b', vpc: first.vpc });
  for (const name of ['shared-a', 'shared-b']) {
    w.activateCluster(name);
    const run = await runWorkflow('cluster-onboarding.asl.json', { clusterName: name });
    expect(run.status).toBe('SUCCEEDED');
  }
});

afterAll(async () => {
  eks?.destroy();
  await w?.stop();
});

const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));
const deleteEvent = (clusterName: string, id: string) => ({
  id,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.eks',
  detail: { eventSource: 'eks.amazonaws.com', eventName: 'DeleteCluster', eventID: id, requestParameters: { name: clusterName } },
});

function controllerSnapshot() {
  const spoke = first.spokeName;
  return {
    spoke: w.controller.snatPolicies(spoke),
    ha: w.controller.snatPolicies(`${spoke}-hagw`),
    exclusions: w.controller.exclusions(TRANSIT_GATEWAY),
    smartGroups: w.controller.smartGroups().map((g) => g.name).sort(),
    k8s: w.controller.k8sClusters().map((k) => String(k.cluster_id)).sort(),
  };
}

async function podResources() {
  const ec2 = w.world.ec2Direct;
  const filter = [{ Name: 'vpc-id', Values: [first.vpc.vpcId] }];
  const [subnets, groups, vpcs] = await Promise.all([
    ec2.send(new DescribeSubnetsCommand({ Filters: filter })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter })),
    ec2.send(new DescribeVpcsCommand({ VpcIds: [first.vpc.vpcId] })),
  ]);
  return {
    podSubnets: (subnets.Subnets ?? []).filter((s) => s.CidrBlock?.startsWith('100.64.')).map((s) => s.SubnetId!).sort(),
    groups: (groups.SecurityGroups ?? []).map((g) => g.GroupName!).sort(),
    cidrs: (vpcs.Vpcs?.[0]?.CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlockState?.State === 'associated').map((a) => a.CidrBlock),
  };
}

const clusterGroups = new Map<string, string>();
const clusterGroupOf = (name: string) => clusterGroups.get(name) ?? '';

describe('deleting one of two clusters that share a VPC, gateways and transit', () => {
  beforeAll(() => {
    for (const name of ['shared-a', 'shared-b']) clusterGroups.set(name, w.world.eks.cluster(name)!.clusterSecurityGroupId);
  });

  it('removes what was added for it, and only that', async () => {
    await w.world.ec2Direct.send(new CreateSecurityGroupCommand({ GroupName: 'hand-made', Description: 'not ours', VpcId: first.vpc.vpcId }));
    const before = controllerSnapshot();
    const resourcesBefore = await podResources();

    await eks.send(new DeleteClusterCommand({ name: 'shared-a' }));
    const result = await runWorkflow(OFFBOARDING, deleteEvent('shared-a', 'del-a-1'));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ status: 'OFFBOARDED' });
    // The rules between the pod group and the EKS cluster group would block either's deletion in EC2.
    const changes = (result.output as { changes: { resource: string; action: string; detail: string }[] }).changes;
    const clusterGroupId = clusterGroupOf('shared-a');
    expect(changes).toContainEqual(expect.objectContaining({ resource: clusterGroupId, action: 'update', detail: expect.stringMatching(/^revoke ingress from pod security group sg-/) }));
    expect(changes).toContainEqual(expect.objectContaining({ action: 'update', detail: `revoke all traffic from ${clusterGroupId}` }));

    const after = controllerSnapshot();
    // shared-b needs every SNAT policy shared-a had (same pod CIDR, same node subnets, same gateways).
    expect(after.spoke).toEqual(before.spoke);
    expect(after.ha).toEqual(before.ha);
    expect(after.exclusions).toEqual(before.exclusions);
    expect(after.smartGroups).toEqual(before.smartGroups.filter((name) => !name.startsWith('shared-a-')));
    expect(after.k8s).toEqual(before.k8s.filter((arn) => !arn.endsWith(':cluster/shared-a')));

    const resources = await podResources();
    expect(resources.podSubnets).toEqual(resourcesBefore.podSubnets); // still used by shared-b
    // Ours went; EKS deleted its own cluster security group with the cluster.
    expect(resources.groups).toEqual(resourcesBefore.groups.filter((name) => name !== 'eks-aviatrix-pods-shared-a' && !name.startsWith('eks-cluster-sg-shared-a-')));
    expect(resources.groups).toContain('hand-made');
    expect(resources.cidrs).toContain('100.64.0.0/16');
  });

  it('deleting twice succeeds with no writes', async () => {
    const mark = w.world.log.mark();
    const result = await runWorkflow(OFFBOARDING, deleteEvent('shared-a', 'del-a-2'));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ status: 'NOTHING_TO_DO', reason: 'cluster shared-a is already offboarded' });
    expect(writesSince(mark)).toEqual([]);
  });

  it('a cluster that was never onboarded succeeds with no writes', async () => {
    const mark = w.world.log.mark();
    const result = await runWorkflow(OFFBOARDING, { clusterName: 'never-seen' });
    expect(result.output).toMatchObject({ status: 'NOTHING_TO_DO', reason: 'cluster never-seen was never onboarded' });
    expect(writesSince(mark)).toEqual([]);
  });

  it('refuses to offboard a cluster that still runs', async () => {
    const mark = w.world.log.mark();
    const result = await runWorkflow(OFFBOARDING, { clusterName: 'shared-b' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.message).toMatch(/EKS cluster "shared-b" is ACTIVE; .* delete the cluster first/);
    expect(writesSince(mark)).toEqual([]);
  });

  it('deleting the last cluster keeps a subnet still in use, and with it the CIDR and its exclusion, until a later run', async () => {
    const resources = await podResources();
    // A leftover interface in one pod subnet: that subnet must stay (and so must the CIDR).
    const { NetworkInterface } = await w.world.ec2Direct.send(new CreateNetworkInterfaceCommand({ SubnetId: resources.podSubnets[0] }));
    await eks.send(new DeleteClusterCommand({ name: 'shared-b' }));
    const result = await runWorkflow(OFFBOARDING, deleteEvent('shared-b', 'del-b-1'));
    expect(result.error).toBeUndefined();
    const outcome = result.output as { status: string; warnings: string[] };
    expect(outcome.status).toBe('OFFBOARDING_INCOMPLETE');
    expect(outcome.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`pod subnet ${resources.podSubnets[0]} .* still has 1 network interfaces and stays`)),
        expect.stringMatching(/secondary CIDR 100\.64\.0\.0\/16 of .* stays/),
        expect.stringMatching(/the pod CIDR is still in the VPC .*, so it stays excluded from the transit/),
      ]),
    );
    const after = await podResources();
    expect(after.podSubnets).toEqual([resources.podSubnets[0]]);
    expect(after.cidrs).toContain('100.64.0.0/16');
    expect(after.groups).toContain('hand-made');
    expect(after.groups.filter((g) => g.startsWith('eks-aviatrix-pods-'))).toEqual([]);
    const snapshot = controllerSnapshot();
    expect(snapshot.spoke).toEqual([]);
    expect(snapshot.ha).toEqual([]);
    // The VPC still carries the pod CIDR: the transit must not advertise it.
    expect(snapshot.exclusions).toEqual(['100.64.0.0/16']);
    expect(snapshot.smartGroups).toEqual([]);

    // The leftover goes; offboarding again (what drift repair does for an incomplete one) finishes:
    // the CIDR leaves the VPC first, then the exclusion goes.
    await w.world.ec2Direct.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: NetworkInterface!.NetworkInterfaceId! }));
    const mark = w.world.log.mark();
    const again = await runWorkflow(OFFBOARDING, deleteEvent('shared-b', 'del-b-2'));
    expect(again.error).toBeUndefined();
    expect(again.output).toMatchObject({ status: 'OFFBOARDED' });
    expect((await podResources()).cidrs).not.toContain('100.64.0.0/16');
    expect(controllerSnapshot().exclusions).toEqual([]);
    const order = w.world.log.since(mark).filter((c) => c.write).map((c) => c.action);
    const disassociated = order.indexOf('DisassociateVpcCidrBlock');
    const unexcluded = order.indexOf('edit_gateway_advertised_cidr');
    expect(disassociated).toBeGreaterThanOrEqual(0);
    expect(unexcluded).toBeGreaterThan(disassociated);
  });
});
