// Every cluster adds a pod security group and a cluster security group to its VPC, so an
// onboarding reads only its own two: a read of all the VPC's groups would grow with the clusters
// in it. The real cluster ASL against the local world; the EC2 client's answers are watched
// in-process (the call log counts calls, not what they carry).
import { CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { TAG_CLUSTER, TAG_MANAGED, TAG_PURPOSE } from '../../lambdas/domain/network';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const CLUSTER_WORKFLOW = 'cluster-onboarding.asl.json';
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
  it('three clusters in one VPC: the third one\'s reads answer its own pod and cluster groups only, not the others\' nor a pod group of its name in another VPC', async () => {
    const first = await activeCluster('crowd-a');
    await activeCluster('crowd-b', first.vpc);
    await activeCluster('crowd-c', first.vpc);
    for (const name of ['crowd-a', 'crowd-b']) expect((await run(name)).status).toBe('SUCCEEDED');
    // A look-alike: a pod group of the cluster's name and tags in another VPC (a cluster of the name that was there).
    const elsewhere = await w.world.createVpc();
    const otherVpc = await createGroup(elsewhere.vpcId, 'eks-aviatrix-pods-crowd-c', { [TAG_MANAGED]: 'true', [TAG_CLUSTER]: 'crowd-c', [TAG_PURPOSE]: 'pod-security-group' });

    const { result, answered } = await groupsAnswered(() => run('crowd-c'));

    expect(result.status).toBe('SUCCEEDED');
    const clusterGroup = w.world.eks.cluster('crowd-c')!.clusterSecurityGroupId;
    const podGroup = await podGroupId('crowd-c', first.vpc.vpcId);
    expect(answered).toEqual([clusterGroup, podGroup].sort());
    expect(answered).not.toContain(otherVpc);
    // The pod network took the cluster's own pod group.
    expect(result.output).toMatchObject({ status: 'ONBOARDED' });
    expect((await readStatusRecord(STATUS_TABLE, 'crowd-c'))?.status).toBe('ONBOARDED');
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
