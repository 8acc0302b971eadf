// Triggers as the deployed stack has them: the start-workflow and drift-repair Lambdas starting the
// real workflows on the local Step Functions, against the local world.
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateRouteTableCommand,
} from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient, TagResourceCommand } from '@aws-sdk/client-eks';
import { handler as driftRepair } from '../../lambdas/drift-repair/handler';
import { handler as startWorkflow } from '../../lambdas/start-workflow/handler';
import { DeployedStack, deployStackLocally } from '../local-world/deployed-stack';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';

let w: OnboardingWorld;
let stack: DeployedStack;

beforeAll(async () => {
  w = await startOnboardingWorld();
  stack = await deployStackLocally(w);
});

afterAll(async () => {
  await stack?.stop();
  await w?.stop();
});

const createEvent = (clusterName: string, eventId: string) => ({
  version: '0',
  id: `envelope-${eventId}`,
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.eks',
  detail: { eventSource: 'eks.amazonaws.com', eventName: 'CreateCluster', eventID: eventId, requestParameters: { name: clusterName } },
});

async function vpcResources(cluster: CreatedCluster) {
  const ec2 = w.world.ec2Direct;
  const filter = [{ Name: 'vpc-id', Values: [cluster.vpc.vpcId] }];
  const [vpcs, subnets, groups, tables] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [cluster.vpc.vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: filter })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: filter })),
    ec2.send(new DescribeRouteTablesCommand({ Filters: filter })),
  ]);
  const podSubnets = (subnets.Subnets ?? []).filter((s) => s.CidrBlock?.startsWith('100.64.'));
  return {
    associations: (vpcs.Vpcs?.[0]?.CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16'),
    podSubnets,
    podGroups: (groups.SecurityGroups ?? []).filter((g) => g.GroupName === `eks-aviatrix-pods-${cluster.name}`),
    podSubnetAssociations: (tables.RouteTables ?? []).flatMap((t) =>
      (t.Associations ?? []).filter((a) => podSubnets.some((s) => s.SubnetId === a.SubnetId)).map((a) => a.RouteTableAssociationId!),
    ),
  };
}

function expectOneSetOfResources(cluster: CreatedCluster, resources: Awaited<ReturnType<typeof vpcResources>>) {
  expect(resources.associations).toHaveLength(1);
  expect(resources.podSubnets).toHaveLength(2);
  expect(resources.podGroups).toHaveLength(1);
  expect(resources.podSubnetAssociations).toHaveLength(2);
  expect(w.world.kube.eniConfigs(cluster.name)).toHaveLength(2);
  for (const gateway of [cluster.spokeName, `${cluster.spokeName}-hagw`]) {
    const policies = w.controller.snatPolicies(gateway);
    expect(policies).toHaveLength(4);
    expect(new Set(policies.map((p) => JSON.stringify(p))).size).toBe(4);
  }
  expect(w.controller.exclusions(TRANSIT_GATEWAY).filter((c) => c === '100.64.0.0/16')).toHaveLength(1);
}

describe('duplicate and concurrent triggers', () => {
  it('the same CreateCluster event delivered 5 times within a second starts one run and makes one set of resources', async () => {
    const cluster = await createCluster(w, { name: 'dup-events' });
    w.activateCluster('dup-events');
    const event = createEvent('dup-events', '6f1c1a2e-0000-4000-8000-000000000005');
    const starts = await Promise.all(Array.from({ length: 5 }, () => startWorkflow(event)));
    // Step Functions answers a repeated start of a running execution (same name, same input) with
    // that execution; once it has finished, with ExecutionAlreadyExists. Either way: one run.
    expect(new Set(starts.map((s) => s.executionArn ?? s.reason)).size).toBe(1);
    await stack.sfn.waitForIdle();
    const late = await startWorkflow(event);
    expect(late).toMatchObject({ started: false, reason: 'a run for this trigger already exists' });
    const runs = stack.sfn.executions().filter((e) => e.name.includes('6f1c1a2e'));
    expect(runs.map((e) => e.status)).toEqual(['SUCCEEDED']);
    expectOneSetOfResources(cluster, await vpcResources(cluster));
  });

  it('three runs for one cluster at once never write at the same time: still one set of resources', async () => {
    const cluster = await createCluster(w, { name: 'racing-runs' });
    w.activateCluster('racing-runs');
    const mark = w.world.log.mark();
    const starts = await Promise.all(['a', 'b', 'c'].map((id) => startWorkflow(createEvent('racing-runs', `race-${id}`))));
    expect(starts.every((s) => s.started)).toBe(true);
    await stack.sfn.waitForIdle();
    // Each create was made once: the runs after the first found it done (moto would accept a
    // second CIDR association, so the end state alone would not show a race).
    const creates = w.world.log
      .writesSince(mark, 'ec2')
      .map((c) => c.action)
      .filter((a) => a.startsWith('Create') || a.startsWith('Associate'));
    expect(creates.sort()).toEqual(
      ['AssociateVpcCidrBlock', 'CreateTags', 'CreateSubnet', 'CreateSubnet', 'AssociateRouteTable', 'AssociateRouteTable', 'CreateSecurityGroup'].sort(),
    );
    const runs = stack.sfn.executions().filter((e) => e.name.includes('race-'));
    expect(runs.filter((e) => e.status !== 'SUCCEEDED').map((e) => `${e.error}: ${e.cause}`)).toEqual([]);
    expectOneSetOfResources(cluster, await vpcResources(cluster));
  });
});

describe('two clusters in one VPC onboarded at once', () => {
  it('share one secondary CIDR association and one pod subnet per AZ', async () => {
    const first = await createCluster(w, { name: 'vpc-mate-a' });
    await createCluster(w, { name: 'vpc-mate-b', vpc: first.vpc });
    w.activateCluster('vpc-mate-a');
    w.activateCluster('vpc-mate-b');
    await Promise.all([startWorkflow(createEvent('vpc-mate-a', 'mate-a')), startWorkflow(createEvent('vpc-mate-b', 'mate-b'))]);
    await stack.sfn.waitForIdle();
    expect(stack.sfn.executions().filter((e) => e.name.includes('mate-')).map((e) => e.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const resources = await vpcResources(first);
    expect(resources.associations).toHaveLength(1);
    expect(resources.podSubnets).toHaveLength(2);
    for (const name of ['vpc-mate-a', 'vpc-mate-b']) {
      expect(w.world.kube.eniConfigs(name).map((e) => e.spec.subnet).sort()).toEqual(resources.podSubnets.map((s) => s.SubnetId).sort());
    }
  });
});

describe('drift repair', () => {
  let cluster: CreatedCluster;

  beforeAll(async () => {
    cluster = await createCluster(w, { name: 'drifting' });
    w.activateCluster('drifting');
    await startWorkflow(createEvent('drifting', 'drift-setup-1'));
    await stack.sfn.waitForIdle();
  });

  it('restores exactly what was removed by hand and writes nothing else', async () => {
    const before = await vpcResources(cluster);
    const spoke = w.controller.gateway(cluster.spokeName)!;
    const removedPolicy = spoke.snat_ip_port_list.find((p) => p.interface === 'eth0' && p.src_ip === '100.64.0.0/16')!;
    const transit = w.controller.gateway(TRANSIT_GATEWAY)!;

    // By hand: a pod subnet's route table association, an ENIConfig, one SNAT policy, the exclusion.
    await w.world.ec2Direct.send(new DisassociateRouteTableCommand({ AssociationId: before.podSubnetAssociations[0] }));
    w.world.kube.deleteEniConfig('drifting', 'us-east-1b');
    spoke.snat_ip_port_list = spoke.snat_ip_port_list.filter((p) => p !== removedPolicy);
    transit.exclude_cidr_list = transit.exclude_cidr_list.filter((c) => c !== '100.64.0.0/16');

    const mark = w.world.log.mark();
    const tick = await driftRepair({ time: '2026-11-24T18:00:00Z' });
    expect(tick.runs.map((r) => [r.clusterName, r.started])).toContainEqual(['drifting', true]);
    await stack.sfn.waitForIdle();

    const writes = w.world.log
      .since(mark)
      .filter((c) => c.write && ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(c.service))
      .map((c) => `${c.service} ${c.action}`);
    expect(writes.sort()).toEqual(
      [
        'ec2 AssociateRouteTable',
        'kubernetes PATCH /clusters/drifting/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs/us-east-1b',
        'aviatrix edit_gw_customized_snat_config',
        'aviatrix edit_gateway_advertised_cidr',
      ].sort(),
    );
    expectOneSetOfResources(cluster, await vpcResources(cluster));
    expect(w.controller.snatPolicies(cluster.spokeName)).toContainEqual(removedPolicy);
  });

  it('a repeated delivery of the same schedule tick starts nothing new', async () => {
    const again = await driftRepair({ time: '2026-11-24T18:00:00Z' });
    expect(again.runs.every((r) => !r.started)).toBe(true);
  });
});

describe('drift repair of lost CloudTrail events', () => {
  it('with optIn "all", leaves a cluster it has no record of alone and names it', async () => {
    await createCluster(w, { name: 'lost-create' });
    w.activateCluster('lost-create');
    const mark = w.world.log.mark();
    const tick = await driftRepair({ time: '2026-11-24T23:00:00Z' });
    expect(tick.notOnboarded).toEqual(['lost-create']);
    expect(tick.runs.find((r) => r.clusterName === 'lost-create')).toBeUndefined();
    await stack.sfn.waitForIdle();
    expect(w.world.log.writesSince(mark).filter((c) => ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(c.service))).toEqual([]);
  });

  it('with a tag opt-in, onboards an opted-in cluster whose CreateCluster event never arrived', async () => {
    w.setConfig({ optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' } });
    const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await eks.send(new TagResourceCommand({ resourceArn: w.world.eks.cluster('lost-create')!.arn, tags: { 'aviatrix.com/onboard': 'true' } }));
    eks.destroy();
    const tick = await driftRepair({ time: '2026-11-25T00:00:00Z' });
    expect(tick.runs.find((r) => r.clusterName === 'lost-create')).toMatchObject({ started: true });
    await stack.sfn.waitForIdle();
    expect(w.world.kube.eniConfigs('lost-create')).toHaveLength(2);
    expect(w.world.eks.cluster('lost-create')!.tags).toMatchObject({ 'eks-aviatrix:status': 'ONBOARDED' });
  });

  it('offboards an onboarded cluster whose DeleteCluster event never arrived', async () => {
    const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await eks.send(new DeleteClusterCommand({ name: 'lost-create' }));
    eks.destroy();
    await w.world.eks.finishDeletion('lost-create');
    const tick = await driftRepair({ time: '2026-11-25T06:00:00Z' });
    expect(tick.runs.filter((r) => r.clusterName === 'lost-create')).toEqual([
      expect.objectContaining({ started: true, executionName: expect.stringMatching(/^drift-offboard-/) }),
    ]);
    await stack.sfn.waitForIdle();
    const offboarding = stack.sfn.executions().find((e) => e.name.startsWith('drift-offboard-') && e.name.endsWith('lost-create'))!;
    expect(offboarding.status).toBe('SUCCEEDED');
    expect(JSON.parse(offboarding.output ?? '{}')).toMatchObject({ clusterName: 'lost-create', status: 'OFFBOARDED' });
  });
});
