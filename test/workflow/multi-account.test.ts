// One hub, clusters in two member accounts and two Regions (issue 14): the real workflows on the
// local world, whose moto keeps accounts apart (assumed-role credentials act in the role's account)
// and whose EKS/Kubernetes emulators are one per account and Region. Three clusters share the name
// "prod": the hub's own, one in account B (eu-west-1) and one in account C (us-east-1).
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CONTROLLER_ROLE_ARN, createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';
import { main } from '../../cli/main';
import { handler as driftRepair } from '../../lambdas/drift-repair/handler';
import { deployStackLocally } from '../local-world/deployed-stack';
import type { AccountRegion } from '../local-world/world';

// The hub, two members with their member stacks, and NO_STACK: listed in config, member stack never deployed.
const [HUB, B, C, NO_STACK] = ['123456789012', '222222222222', '333333333333', '444444444444'];
const EXTERNAL_ID = 'eks-aviatrix-local-hub';
const ONBOARDING = 'cluster-onboarding.asl.json';
const MEMBERS = { accounts: [B, C, NO_STACK], regions: ['us-east-1', 'eu-west-1'], externalId: EXTERNAL_ID };

let w: OnboardingWorld;
let [b, c, noStack] = [] as AccountRegion[];
const clusters: Record<string, CreatedCluster> = {};

beforeAll(async () => {
  w = await startOnboardingWorld({
    config: {
      hub: { account: HUB, region: 'us-east-1' },
      members: { ...MEMBERS, aviatrixAccounts: { [B]: 'prod-b', [C]: 'prod-c' } },
    },
  });
  b = await w.world.addAccountRegion(B, 'eu-west-1');
  c = await w.world.addAccountRegion(C, 'us-east-1');
  noStack = await w.world.addAccountRegion(NO_STACK, 'us-east-1');
  for (const member of [b, c]) w.world.accounts.deployMemberStack({ account: member.account, region: member.region, roleNamePrefix: 'eks-aviatrix-member', externalId: EXTERNAL_ID });
  clusters.hub = await createCluster(w, { name: 'prod' });
  clusters.b = await createCluster(w, { name: 'prod', in: b });
  clusters.c = await createCluster(w, { name: 'prod', in: c });
  clusters.noStack = await createCluster(w, { name: 'prod', in: noStack });
  w.activateCluster('prod');
  for (const member of [b, c, noStack]) member.eks.activateCluster('prod');
});

afterAll(async () => {
  await w?.stop();
});

const cloudTrailEvent = (account: string, region: string, clusterName: string, id: string) => ({
  id: `envelope-${id}`,
  account,
  region,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.eks',
  detail: { eventSource: 'eks.amazonaws.com', eventName: 'CreateCluster', eventID: id, requestParameters: { name: clusterName } },
});

async function records(): Promise<Record<string, Record<string, string>>> {
  const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const { Items } = await dynamo.send(new ScanCommand({ TableName: STATUS_TABLE, ConsistentRead: true }));
  dynamo.destroy();
  return Object.fromEntries((Items ?? []).map((item) => [item.clusterName.S!, Object.fromEntries(Object.entries(item).map(([k, v]) => [k, v.S ?? v.N ?? '']))]));
}

/** The pod network as the account's own EC2 sees it (moto direct, that account's credentials). */
async function podNetwork(ec2: EC2Client, cluster: CreatedCluster) {
  const filter = [{ Name: 'vpc-id', Values: [cluster.vpc.vpcId] }];
  const [vpcs, subnets, groups] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [cluster.vpc.vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: filter })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter })),
  ]);
  return {
    podCidrs: (vpcs.Vpcs?.[0]?.CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16' && a.CidrBlockState?.State === 'associated').length,
    podSubnets: (subnets.Subnets ?? []).filter((s) => s.CidrBlock?.startsWith('100.64.')).length,
    podGroups: (groups.SecurityGroups ?? []).filter((g) => g.GroupName === 'eks-aviatrix-pods-prod').length,
  };
}

const assumeRoleCalls = () => w.world.log.since().filter((call) => call.service === 'sts' && call.action === 'AssumeRole').length;

describe('one hub, clusters of one name in three accounts and two Regions', () => {
  it('onboards each at once, its resources in its own account and Region, through that account\'s member roles', async () => {
    const runs = await Promise.all([
      runWorkflow(ONBOARDING, { clusterName: 'prod' }),
      runWorkflow(ONBOARDING, { clusterArn: b.eks.cluster('prod')!.arn }),
      runWorkflow(ONBOARDING, cloudTrailEvent(C, 'us-east-1', 'prod', 'c-create-1')),
    ]);
    expect(runs.map((r) => [r.status, r.error?.message])).toEqual([['SUCCEEDED', undefined], ['SUCCEEDED', undefined], ['SUCCEEDED', undefined]]);

    // One AssumeRole per member role and account, shared by that role's clients and concurrent calls.
    const assumed = w.world.accounts.assumed;
    expect(assumed.length).toBe(new Set(assumed).size);
    expect(new Set(assumed.map((arn) => arn.split(':')[4]))).toEqual(new Set([B, C]));
    expect(assumed.filter((arn) => arn.includes(B)).map((arn) => arn.split('/')[1]).sort()).toEqual(
      ['AviatrixOnboard', 'KubeReconciler', 'PodNetwork', 'RecordOutcome', 'ResolveCluster'].map((role) => `eks-aviatrix-member-${role}-eu-west-1`),
    );

    // Each account's VPC got one pod CIDR, two pod subnets and one pod security group, seen with its own credentials.
    expect(await podNetwork(w.world.ec2Direct, clusters.hub)).toEqual({ podCidrs: 1, podSubnets: 2, podGroups: 1 });
    expect(await podNetwork(b.ec2Direct, clusters.b)).toEqual({ podCidrs: 1, podSubnets: 2, podGroups: 1 });
    expect(await podNetwork(c.ec2Direct, clusters.c)).toEqual({ podCidrs: 1, podSubnets: 2, podGroups: 1 });
    // Nothing landed in the hub's account for the members' clusters: their VPCs do not exist there.
    await expect(w.world.ec2Direct.send(new DescribeVpcsCommand({ VpcIds: [clusters.b.vpc.vpcId] }))).rejects.toThrow(/does not exist|NotFound/);
    // B's subnets are in eu-west-1.
    const bSubnets = await b.ec2Direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [clusters.b.vpc.vpcId] }] }));
    expect(new Set(bSubnets.Subnets!.map((s) => s.AvailabilityZone!.slice(0, -1)))).toEqual(new Set(['eu-west-1']));

    // ENIConfigs in each account's own cluster; the Kubernetes identity is that account's member role.
    for (const kube of [w.world.kube, b.kube, c.kube]) expect(kube.eniConfigs('prod')).toHaveLength(2);
    const principals = (member: AccountRegion) => member.eks.accessEntries('prod').map((e) => String(e.principalArn));
    expect(principals(b)).toContain(`arn:aws:iam::${B}:role/eks-aviatrix-member-KubeReconciler-eu-west-1`);
    expect(principals(c)).toContain(`arn:aws:iam::${C}:role/eks-aviatrix-member-KubeReconciler-us-east-1`);
    expect(w.world.eks.accessEntries('prod').map((e) => String(e.principalArn)).filter((p) => p.includes('member'))).toEqual([]);
    // The controller reads each cluster through its access account's role in that account.
    expect(principals(b)).toContain(`arn:aws:iam::${B}:role/aviatrix-role-app`);
    expect(principals(c)).toContain(`arn:aws:iam::${C}:role/aviatrix-role-app`);
    expect(principals(b)).not.toContain(CONTROLLER_ROLE_ARN);

    // One record each: the hub's under the bare name (as before multi-account), the members' under account/Region/name.
    const all = await records();
    expect(Object.keys(all).sort()).toEqual(['222222222222/eu-west-1/prod', '333333333333/us-east-1/prod', 'prod']);
    expect(all.prod).toMatchObject({ status: 'ONBOARDED', vpcId: clusters.hub.vpc.vpcId });
    expect(all[`${B}/eu-west-1/prod`]).toMatchObject({ status: 'ONBOARDED', vpcId: clusters.b.vpc.vpcId, clusterArn: `arn:aws:eks:eu-west-1:${B}:cluster/prod` });
    expect(all[`${C}/us-east-1/prod`]).toMatchObject({ status: 'ONBOARDED', vpcId: clusters.c.vpc.vpcId, clusterArn: `arn:aws:eks:us-east-1:${C}:cluster/prod` });

    // SmartGroup names are controller-wide: the members' carry their account and Region.
    expect(w.controller.smartGroups().map((g) => g.name).sort()).toEqual([`${B}-eu-west-1-prod-vpc`, `${C}-us-east-1-prod-vpc`, 'prod-vpc']);
    // The controller onboarded three clusters, told apart by ARN.
    expect(w.controller.k8sClusters().map((k) => String(k.cluster_id)).sort()).toEqual([
      `arn:aws:eks:eu-west-1:${B}:cluster/prod`,
      `arn:aws:eks:us-east-1:${HUB}:cluster/prod`,
      `arn:aws:eks:us-east-1:${C}:cluster/prod`,
    ]);
  });

  it('the CLI finds each record by name (the hub\'s), by ARN, by --account/--cluster-region and by its key, and refuses a mix', async () => {
    const statusOf = async (...argv: string[]) => {
      let stdout = '';
      const code = await main(['status', '--json', ...argv], { stdout: (text) => (stdout += text), stderr: (text) => (stdout += text) });
      return { code, doc: JSON.parse(stdout) as { clusters?: { clusterName: string; status: string }[]; error?: string } };
    };
    const keyOf = async (...argv: string[]) => (await statusOf(...argv)).doc.clusters?.map((r) => r.clusterName);
    expect(await keyOf('prod')).toEqual(['prod']);
    expect(await keyOf(`arn:aws:eks:eu-west-1:${B}:cluster/prod`)).toEqual([`${B}/eu-west-1/prod`]);
    expect(await keyOf('prod', '--account', C)).toEqual([`${C}/us-east-1/prod`]);
    expect(await keyOf('prod', '--account', B, '--cluster-region', 'eu-west-1')).toEqual([`${B}/eu-west-1/prod`]);
    expect(await keyOf(`${C}/us-east-1/prod`)).toEqual([`${C}/us-east-1/prod`]);
    // The hub's own account and Region named explicitly is the hub's record.
    expect(await keyOf('prod', '--account', HUB, '--cluster-region', 'us-east-1')).toEqual(['prod']);
    const mixed = await statusOf(`arn:aws:eks:eu-west-1:${B}:cluster/prod`, '--account', C);
    expect([mixed.code, mixed.doc.error]).toEqual([64, `"arn:aws:eks:eu-west-1:${B}:cluster/prod" names its account and Region already: leave out --account and --cluster-region.`]);
  });

  it('reuses member credentials: a re-run of B assumes no role again and writes nothing in any account', async () => {
    const assumed = assumeRoleCalls();
    const mark = w.world.log.mark();
    const run = await runWorkflow(ONBOARDING, { clusterName: 'prod', account: B, region: 'eu-west-1' });
    expect(run.status).toBe('SUCCEEDED');
    expect(assumeRoleCalls()).toBe(assumed);
    expect(w.world.log.since(mark).filter((call) => call.write && ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(call.service))).toEqual([]);
  });

  it('a cluster in an account without the member stack fails naming the member role and the fix, and writes nothing there', async () => {
    const mark = w.world.log.mark();
    const run = await runWorkflow(ONBOARDING, { clusterName: 'prod', account: NO_STACK, region: 'us-east-1' });
    expect(run.status).toBe('FAILED');
    expect(run.error!.message).toContain(`arn:aws:iam::${NO_STACK}:role/eks-aviatrix-member-ResolveCluster-us-east-1`);
    expect(run.error!.message).toContain('deploy the member stack (EksAviatrixOnboardingMember) in that account and Region');
    expect(w.world.log.since(mark).filter((call) => call.write && ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(call.service))).toEqual([]);
    expect(await podNetwork(noStack.ec2Direct, clusters.noStack)).toEqual({ podCidrs: 0, podSubnets: 0, podGroups: 0 });
    // Its record is its own; the hub's "prod" is untouched.
    const all = await records();
    expect(all[`${NO_STACK}/us-east-1/prod`]?.status).toMatch(/FAILED|REFUSED/);
    expect(all.prod.status).toBe('ONBOARDED');
  });

  it('a member account with no Aviatrix access account is refused in the preflight, naming the config key, with nothing written', async () => {
    w.setConfig({ members: { ...MEMBERS, aviatrixAccounts: { [B]: 'prod-b' } } });
    try {
      const mark = w.world.log.mark();
      const run = await runWorkflow(ONBOARDING, { clusterName: 'prod', account: C, region: 'us-east-1' });
      expect(run.status).toBe('FAILED');
      expect(run.error!.message).toContain(`AWS account ${C} has no Aviatrix access account in onboarding.members.aviatrixAccounts`);
      expect(w.world.log.since(mark).filter((call) => call.write && ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(call.service))).toEqual([]);
      expect((await records())[`${C}/us-east-1/prod`]).toMatchObject({ status: 'ONBOARDED', lastRunStatus: 'REFUSED' });
    } finally {
      w.setConfig({ members: { ...MEMBERS, aviatrixAccounts: { [B]: 'prod-b', [C]: 'prod-c' } } });
    }
  });

  it('a cluster of an account that is not a member is refused naming the config keys', async () => {
    const run = await runWorkflow(ONBOARDING, { clusterName: 'prod', account: '555555555555', region: 'us-east-1' });
    expect(run.status).toBe('FAILED');
    expect(run.error!.message).toContain('account 555555555555 Region us-east-1 is not a member of this deployment (onboarding.members.accounts');
  });

  it('drift repair looks into the hub and every member account/Region, repairs each cluster there, and reports the ones it cannot reach', async () => {
    const stack = await deployStackLocally(w);
    try {
      const mark = w.world.log.mark();
      const tick = await driftRepair({ time: '2026-12-02T06:00:00Z' }, { awsRequestId: 'drift-1', functionName: 'eks-aviatrix-drift-repair' });
      expect(tick.runs.map((r) => [r.executionName, r.started]).sort()).toEqual([
        ['drift-202612020600-222222222222-eu-west-1-prod', true],
        ['drift-202612020600-333333333333-us-east-1-prod', true],
        ['drift-202612020600-prod', true],
      ]);
      // Member stacks exist only for B in eu-west-1 and C in us-east-1: every other listed pair is reported, not fatal,
      // and so is the non-member account a record names (the refused run above recorded its failure).
      expect((tick.unreachable ?? []).map((line) => line.split(':')[0]).sort()).toEqual([
        `${B}/us-east-1/*`, `${C}/eu-west-1/*`, `${NO_STACK}/eu-west-1/*`, `${NO_STACK}/us-east-1/*`, '555555555555/us-east-1/*',
      ]);
      expect(tick.unreachable).toContainEqual(expect.stringContaining(`arn:aws:iam::${NO_STACK}:role/eks-aviatrix-member-DriftRepair-us-east-1`));
      await stack.sfn.waitForIdle();
      const inputs = stack.sfn.executions().filter((e) => e.name.startsWith('drift-')).map((e) => [e.status, JSON.parse(e.input)]);
      expect(inputs).toEqual(expect.arrayContaining([
        ['SUCCEEDED', { clusterName: 'prod', dryRun: false, trigger: 'DriftRepair' }],
        ['SUCCEEDED', { clusterName: 'prod', account: B, region: 'eu-west-1', dryRun: false, trigger: 'DriftRepair' }],
        ['SUCCEEDED', { clusterName: 'prod', account: C, region: 'us-east-1', dryRun: false, trigger: 'DriftRepair' }],
      ]));
      // Nothing drifted: the three repairs wrote nothing in any account.
      expect(w.world.log.since(mark).filter((call) => call.write && ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(call.service))).toEqual([]);
    } finally {
      await stack.stop();
    }
  });

  it('offboarding B\'s cluster removes its pod network in B and leaves the same-named clusters of the hub and C alone', async () => {
    const eks = new EKSClient({ endpoint: b.eks.url, region: b.region, credentials: b.credentials });
    await eks.send(new DeleteClusterCommand({ name: 'prod' }));
    eks.destroy();
    const run = await runWorkflow('cluster-offboarding.asl.json', { clusterName: 'prod', account: B, region: 'eu-west-1' }, { waitMs: 0 });
    expect([run.status, run.error?.message]).toEqual(['SUCCEEDED', undefined]);
    expect(await podNetwork(b.ec2Direct, clusters.b)).toEqual({ podCidrs: 0, podSubnets: 0, podGroups: 0 });
    expect(await podNetwork(w.world.ec2Direct, clusters.hub)).toEqual({ podCidrs: 1, podSubnets: 2, podGroups: 1 });
    expect(await podNetwork(c.ec2Direct, clusters.c)).toEqual({ podCidrs: 1, podSubnets: 2, podGroups: 1 });
    const all = await records();
    expect(all[`${B}/eu-west-1/prod`].status).toBe('OFFBOARDED');
    expect(all.prod.status).toBe('ONBOARDED');
    expect(all[`${C}/us-east-1/prod`].status).toBe('ONBOARDED');
    expect(w.controller.k8sClusters().map((k) => String(k.cluster_id))).not.toContain(`arn:aws:eks:eu-west-1:${B}:cluster/prod`);
  });
});
