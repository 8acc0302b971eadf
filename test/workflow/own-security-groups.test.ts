// Every cluster adds a pod security group and a cluster security group to its VPC, so an
// onboarding reads only its own two, and an offboarding those and the groups their rules name or
// that name them: a read of all the VPC's groups would grow with the clusters in it. The real
// cluster and offboarding ASL against the local world; the EC2 client's answers are watched
// in-process (the call log counts calls, not what they carry).
import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { describeSecurityGroups } from '../../lambdas/shared/sdk/ec2';
import { nodeInstanceTagKey, TAG_CLUSTER, TAG_MANAGED, TAG_PURPOSE } from '../../lambdas/domain/network';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const CLUSTER_WORKFLOW = 'cluster-onboarding.asl.json';
const OFFBOARDING = 'cluster-offboarding.asl.json';
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];

let w: OnboardingWorld;

beforeAll(async () => {
  watchSecurityGroupAnswers();
  w = await startOnboardingWorld();
});

afterAll(async () => {
  jest.restoreAllMocks();
  await w?.stop();
});

const run = (clusterName: string) => runWorkflow(CLUSTER_WORKFLOW, { clusterName });
const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));

async function activeCluster(name: string, vpc?: CreatedCluster['vpc']): Promise<CreatedCluster> {
  const created = await createCluster(w, { name, ...(vpc ? { vpc } : {}) });
  w.activateCluster(name);
  return created;
}

async function podGroupId(cluster: string, vpcId: string): Promise<string> {
  const { SecurityGroups = [] } = await w.world.ec2Direct.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: `tag:${TAG_CLUSTER}`, Values: [cluster] }, { Name: `tag:${TAG_PURPOSE}`, Values: ['pod-security-group'] }] }),
  );
  expect(SecurityGroups).toHaveLength(1);
  return SecurityGroups[0].GroupId!;
}

async function createGroup(vpcId: string, name: string, tags: Record<string, string>): Promise<string> {
  const created = await w.world.ec2Direct.send(
    new CreateSecurityGroupCommand({
      GroupName: name, Description: name, VpcId: vpcId,
      TagSpecifications: [{ ResourceType: 'security-group', Tags: Object.entries({ Name: name, ...tags }).map(([Key, Value]) => ({ Key, Value })) }],
    }),
  );
  return created.GroupId!;
}

/** While a test watches: the group ids of every DescribeSecurityGroups answer the code under test got. */
let answered: Set<string> | undefined;

/**
 * Installed before the first client is built: the step functions' clients keep the send they were
 * built with (lambdas/shared/aws.ts).
 */
function watchSecurityGroupAnswers(): void {
  const send = EC2Client.prototype.send;
  jest.spyOn(EC2Client.prototype, 'send').mockImplementation(async function (this: EC2Client, ...args: unknown[]) {
    const output = await (send as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    if (answered && args[0] instanceof DescribeSecurityGroupsCommand) {
      for (const group of (output as { SecurityGroups?: { GroupId?: string }[] }).SecurityGroups ?? []) answered.add(group.GroupId!);
    }
    return output;
  } as typeof send);
}

async function groupsAnswered<T>(work: () => Promise<T>): Promise<{ result: T; answered: string[] }> {
  const seen = (answered = new Set<string>());
  try {
    return { result: await work(), answered: [...seen].sort() };
  } finally {
    answered = undefined;
  }
}

describe('a crowded VPC', () => {
  let vpc: CreatedCluster['vpc'];
  /** crowd-a's nodes: an instance tagged for it, with a security group of its own. */
  let nodesA: string;

  beforeAll(async () => {
    vpc = (await activeCluster('crowd-a')).vpc;
    await activeCluster('crowd-b', vpc);
    await activeCluster('crowd-c', vpc);
    nodesA = await createGroup(vpc.vpcId, 'crowd-a-nodes', {});
    await w.world.ec2Direct.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.large', SubnetId: vpc.subnets[0].subnetId, SecurityGroupIds: [nodesA],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: nodeInstanceTagKey('crowd-a'), Value: 'owned' }] }],
      }),
    );
    for (const name of ['crowd-a', 'crowd-b']) expect((await run(name)).status).toBe('SUCCEEDED');
  });

  it('three clusters in one VPC: the third one\'s reads answer its own pod and cluster groups only, not the others\' nor a pod group of its name in another VPC', async () => {
    // A look-alike: a pod group of the cluster's name and tags in another VPC (a cluster of the name that was there).
    const elsewhere = await w.world.createVpc();
    const otherVpc = await createGroup(elsewhere.vpcId, 'eks-aviatrix-pods-crowd-c', { [TAG_MANAGED]: 'true', [TAG_CLUSTER]: 'crowd-c', [TAG_PURPOSE]: 'pod-security-group' });

    const { result, answered } = await groupsAnswered(() => run('crowd-c'));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ status: 'ONBOARDED' });
    const clusterGroup = w.world.eks.cluster('crowd-c')!.clusterSecurityGroupId;
    const podGroup = await podGroupId('crowd-c', vpc.vpcId);
    expect(answered).toEqual([clusterGroup, podGroup].sort());
    expect(answered).not.toContain(otherVpc);
  });

  it('the shared reader asks EC2 nothing for a filter with no values (no rule names a group), rather than every group of the VPC', async () => {
    const mark = w.world.log.mark();
    expect(await describeSecurityGroups([{ Name: 'vpc-id', Values: [vpc.vpcId] }, { Name: 'group-id', Values: [] }])).toEqual([]);
    expect(w.world.log.since(mark).filter((c) => c.service === 'ec2')).toEqual([]);
  });

  it('offboarding one of them reads its own groups and those their rules name, and leaves the others\' as they were', async () => {
    const podA = await podGroupId('crowd-a', vpc.vpcId);
    const clusterA = w.world.eks.cluster('crowd-a')!.clusterSecurityGroupId;
    const others = async () =>
      (await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.vpcId] }] }))).SecurityGroups!
        .filter((g) => ![podA, clusterA, nodesA].includes(g.GroupId!))
        .map((g) => ({ id: g.GroupId, rules: g.IpPermissions }));
    // Someone else's group admitting crowd-a's pods: named in a warning, its rule left to its owner.
    const peer = await createGroup(vpc.vpcId, 'crowd-a-peer', {});
    await w.world.ec2Direct.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: peer, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: podA }] }] }));
    const before = await others();
    const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    try {
      await eks.send(new DeleteClusterCommand({ name: 'crowd-a' }));
    } finally {
      eks.destroy();
    }

    const { result, answered } = await groupsAnswered(() => runWorkflow(OFFBOARDING, { clusterName: 'crowd-a' }));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ status: 'OFFBOARDED' });
    expect(answered).toEqual([podA, clusterA, nodesA, peer].sort());
    expect((result.output as { warnings: string[] }).warnings).toContain(`security group ${peer} has a rule from pod security group ${podA} that onboarding did not add; it stays`);
    // The rule naming the nodes' group went (it would block that group's deletion), and the pod group with it.
    expect((result.output as { changes: unknown[] }).changes).toContainEqual({ resource: podA, action: 'update', detail: expect.stringMatching(new RegExp(`^revoke all traffic from .*${nodesA}`)) });
    expect(await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [podA] }] }))).toMatchObject({ SecurityGroups: [] });
    expect(await others()).toEqual(before);
  });
});

describe('the pod security group, read by its name and tag', () => {
  it('a group someone else made under the pod group\'s name is not taken for it: the preflight refuses before any write, naming it and the fix', async () => {
    const created = await activeCluster('name-taken');
    const foreign = await createGroup(created.vpc.vpcId, 'eks-aviatrix-pods-name-taken', { [TAG_CLUSTER]: 'another-cluster' });
    const mark = w.world.log.mark();
    const result = await run('name-taken');
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('NetworkConflict');
    expect(result.error?.message).toContain(
      `security group ${foreign} in VPC ${created.vpc.vpcId} has the name onboarding gives the pod security group of EKS cluster "name-taken" ` +
        '(eks-aviatrix-pods-name-taken) but not its tag eks-aviatrix:cluster=name-taken, so it is someone else\'s: delete it, then run the workflow again',
    );
    expect(result.statesEntered).not.toContain('PodNetwork');
    expect(writesSince(mark)).toEqual([]);
    const { SecurityGroups = [] } = await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ GroupIds: [foreign] }));
    expect(SecurityGroups[0].IpPermissions).toEqual([]);
  });
});

describe('the cluster security group, read by its id', () => {
  /** An ACTIVE cluster that EKS reports with `groupId` as its cluster security group: refused by the preflight, no write anywhere. */
  async function refusedByPreflight(name: string, groupId: (vpcId: string) => Promise<string> | string) {
    const created = await activeCluster(name);
    const cluster = w.world.eks.cluster(name)!;
    cluster.clusterSecurityGroupId = await groupId(created.vpc.vpcId);
    const mark = w.world.log.mark();
    const result = await run(name);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('NetworkConflict');
    expect(result.error?.message).toContain(
      `cluster security group ${cluster.clusterSecurityGroupId} of EKS cluster "${name}" is not in VPC ${created.vpc.vpcId}; EKS made it with the cluster and does not make it again`,
    );
    expect(result.statesEntered).toContain('NetworkPreflight');
    expect(result.statesEntered).not.toContain('PodNetwork');
    expect(writesSince(mark)).toEqual([]);
    expect(await readStatusRecord(STATUS_TABLE, name)).toMatchObject({ status: 'REFUSED' });
  }

  it('an ACTIVE cluster whose cluster security group is in another VPC is refused before any write', async () => {
    await refusedByPreflight('sg-elsewhere', async () => {
      const other = await w.world.createVpc();
      return createGroup(other.vpcId, 'cluster-group-elsewhere', {});
    });
  });

  it('an ACTIVE cluster whose cluster security group EC2 does not show is refused before any write', async () => {
    await refusedByPreflight('sg-unseen', () => 'sg-0feedc0ffee000003');
  });
});
