// The real cluster-onboarding ASL, run with the real handlers against the local world.
import { AssociateRouteTableCommand, AssociateVpcCidrBlockCommand, CreateRouteTableCommand, CreateSubnetCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, DescribeRouteTablesCommand } from '@aws-sdk/client-ec2';
import { GetItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { rulesOf } from '../../lambdas/domain/network';
import { aviatrixClient } from '../../lambdas/aviatrix/client';
import { createCluster, CreatedCluster, LEASE_TABLE, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow, RunOptions, StateEvent } from '../local-world/workflow-runner';

const WORKFLOW = 'cluster-onboarding.asl.json';
const WRITES_OF_INTEREST = ['ec2', 'eks', 'kubernetes', 'aviatrix'] as const;

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});

afterAll(async () => {
  await w?.stop();
});

/** Runs the workflow; the first time it waits for the cluster (its network wired), the cluster becomes ACTIVE. */
function run(input: unknown, options: RunOptions = {}) {
  const clusterName = (input as { clusterName?: string }).clusterName;
  return runWorkflow(WORKFLOW, input, {
    ...options,
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForActive' && clusterName && options.onEvent === undefined) {
        w.activateCluster(clusterName);
      }
      options.onEvent?.(event);
    },
  });
}

function writesSince(mark: number) {
  return w.world.log.since(mark).filter((c) => c.write && (WRITES_OF_INTEREST as readonly string[]).includes(c.service));
}

async function vpcState(cluster: CreatedCluster) {
  const ec2 = w.world.ec2Direct;
  const vpcId = cluster.vpc.vpcId;
  const [vpcs, subnets, tables, groups] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
    ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
  ]);
  return { vpc: vpcs.Vpcs![0], subnets: subnets.Subnets ?? [], tables: tables.RouteTables ?? [], groups: groups.SecurityGroups ?? [] };
}

const tableOf = (tables: Awaited<ReturnType<typeof vpcState>>['tables'], subnetId: string) =>
  tables.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId))?.RouteTableId;

describe('cluster onboarding, AWS side', () => {
  let cluster: CreatedCluster;

  beforeAll(async () => {
    cluster = await createCluster(w, {
      name: 'prod-a',
      addonConfiguration: { env: { WARM_IP_TARGET: '5' }, resources: { requests: { cpu: '50m' } } },
    });
  });

  it('takes a cluster from CREATING to fully configured', async () => {
    const result = await run({ clusterName: 'prod-a' });
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    // The network was wired while the cluster was CREATING, then the run waited for ACTIVE.
    expect(result.statesEntered.indexOf('PodNetwork')).toBeLessThan(result.statesEntered.indexOf('WaitForActive'));
    expect(result.statesEntered).not.toContain('WaitForCluster');
    // ENIConfigs and the add-on update; the update in progress; done.
    expect(result.statesEntered.filter((s) => s === 'VpcCni')).toHaveLength(3);
    const reported = (result.output as { changes: { resource: string; action: string; detail: string }[] }).changes;
    expect(reported).toContainEqual({ resource: cluster.vpc.vpcId, action: 'associate', detail: 'secondary CIDR 100.64.0.0/16' });
    expect(reported.filter((c) => c.resource.startsWith('ENIConfig'))).toHaveLength(2);

    const { vpc, subnets, tables, groups } = await vpcState(cluster);
    const secondary = (vpc.CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16');
    expect(secondary).toHaveLength(1);
    expect(secondary[0].CidrBlockState?.State).toBe('associated');

    const podSubnets = subnets.filter((s) => s.CidrBlock?.startsWith('100.64.'));
    expect(podSubnets.map((s) => [s.AvailabilityZone, s.CidrBlock]).sort()).toEqual([
      ['us-east-1a', '100.64.0.0/17'],
      ['us-east-1b', '100.64.128.0/17'],
    ]);
    for (const pod of podSubnets) {
      const node = cluster.vpc.subnets.find((s) => s.az === pod.AvailabilityZone)!;
      expect(tableOf(tables, pod.SubnetId!)).toBe(node.routeTableId);
    }

    const eksCluster = w.world.eks.cluster('prod-a')!;
    const clusterGroupId = eksCluster.clusterSecurityGroupId;
    const podGroups = groups.filter((g) => g.Tags?.some((t) => t.Key === 'eks-aviatrix:cluster' && t.Value === 'prod-a'));
    expect(podGroups).toHaveLength(1);
    const podGroup = podGroups[0];
    expect(rulesOf(podGroup.IpPermissions)).toEqual(
      expect.arrayContaining([
        { protocol: '-1', sourceGroupId: clusterGroupId },
        { protocol: '-1', sourceGroupId: podGroup.GroupId },
        { protocol: 'tcp', fromPort: 9443, toPort: 9443, sourceGroupId: clusterGroupId },
      ]),
    );
    expect(rulesOf(podGroup.IpPermissions)).toHaveLength(3);
    expect(rulesOf(podGroup.IpPermissionsEgress)).toEqual([{ protocol: '-1', cidr: '0.0.0.0/0' }]);
    const clusterGroup = groups.find((g) => g.GroupId === clusterGroupId)!;
    expect(rulesOf(clusterGroup.IpPermissions)).toContainEqual({ protocol: '-1', sourceGroupId: podGroup.GroupId });

    const addon = w.world.eks.addon('prod-a', 'vpc-cni')!;
    expect(JSON.parse(addon.configurationValues as string)).toEqual({
      env: {
        WARM_IP_TARGET: '5',
        AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true',
        ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
        AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
      },
      resources: { requests: { cpu: '50m' } },
    });

    const eniConfigs = w.world.kube.eniConfigs('prod-a');
    expect(eniConfigs.map((e) => [e.metadata.name, e.spec.subnet, e.spec.securityGroups]).sort()).toEqual(
      podSubnets
        .map((s) => [s.AvailabilityZone, s.SubnetId, [podGroup.GroupId]])
        .sort(),
    );

    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const record = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'prod-a' } } }));
    dynamo.destroy();
    expect(record.Item?.status?.S).toBe('ONBOARDED');
    expect(Number(record.Item?.changeCount?.N)).toBeGreaterThan(0);
    expect(w.world.eks.cluster('prod-a')!.tags).toMatchObject({ 'eks-aviatrix:status': 'ONBOARDED', 'eks-aviatrix:pod-cidr': '100.64.0.0/16' });
  });

  it('changes nothing the second time: zero writes to EC2, EKS, Kubernetes and the controller', async () => {
    const mark = w.world.log.mark();
    const result = await run({ clusterName: 'prod-a' });
    expect(result.status).toBe('SUCCEEDED');
    expect(writesSince(mark)).toEqual([]);
    expect(result.output).toMatchObject({ status: 'ONBOARDED', changes: [] });
  });

  it('plans without writing in a dry run', async () => {
    await createCluster(w, { name: 'plan-only' });
    w.activateCluster('plan-only');
    const mark = w.world.log.mark();
    const result = await run({ clusterName: 'plan-only', dryRun: true });
    expect(result.status).toBe('SUCCEEDED');
    expect(writesSince(mark)).toEqual([]);
    const output = result.output as { status: string; changes: { resource: string; action: string }[] };
    expect(output.status).toBe('PLANNED');
    expect(output.changes.map((c) => c.action)).toEqual(expect.arrayContaining(['associate', 'create', 'update']));
    expect(output.changes.some((c) => c.resource === 'ENIConfig us-east-1a')).toBe(true);
  });
});

describe('a failure part-way through a step', () => {
  it('names what the step had already changed, records it, and the next run finishes the rest', async () => {
    await createCluster(w, { name: 'half-done' });
    w.activateCluster('half-done');
    w.world.eks.failNext('UpdateAddon', { code: 'InvalidParameterException', status: 400, message: 'Addon configuration is not valid' });
    const failed = await run({ clusterName: 'half-done' });
    expect(failed.status).toBe('FAILED');
    expect(failed.error?.name).toBe('InvalidParameterException');
    expect(failed.error?.message).toMatch(/vpc-cni for cluster "half-done" failed in EKS UpdateAddon: InvalidParameterException: Addon configuration is not valid/);
    expect(failed.error?.message).toMatch(/Already changed before the failure: create access entry .*; create ENIConfig us-east-1a .*; create ENIConfig us-east-1b/);

    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const record = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'half-done' } } }));
    dynamo.destroy();
    expect(record.Item?.status?.S).toBe('FAILED');
    expect(record.Item?.error?.S).toContain('Already changed before the failure');
    expect(w.world.eks.cluster('half-done')!.tags).toMatchObject({ 'eks-aviatrix:status': 'FAILED' });

    const again = await run({ clusterName: 'half-done' });
    expect(again.status).toBe('SUCCEEDED');
    const changes = (again.output as { changes: { resource: string }[] }).changes.map((c) => c.resource);
    expect(changes).toContain('add-on vpc-cni');
    expect(changes.filter((r) => r.startsWith('ENIConfig'))).toEqual([]);
    expect(w.world.eks.cluster('half-done')!.tags).toMatchObject({ 'eks-aviatrix:status': 'ONBOARDED' });
  });
});

describe('a pod subnet that someone else made', () => {
  it('is used as it is: its routing is left alone and named in a warning', async () => {
    const created = await createCluster(w, { name: 'foreign-pods', vpcCidr: '10.30.0.0/16' });
    const ec2 = w.world.ec2Direct;
    await ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: created.vpc.vpcId, CidrBlock: '100.64.0.0/16' }));
    const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: created.vpc.vpcId, AvailabilityZone: 'us-east-1a', CidrBlock: '100.64.0.0/17' }));
    const { RouteTable } = await ec2.send(new CreateRouteTableCommand({ VpcId: created.vpc.vpcId }));
    await ec2.send(new AssociateRouteTableCommand({ SubnetId: Subnet!.SubnetId!, RouteTableId: RouteTable!.RouteTableId! }));
    w.activateCluster('foreign-pods');

    const result = await run({ clusterName: 'foreign-pods' });
    expect(result.error).toBeUndefined();
    const outcome = result.output as { warnings: string[] };
    expect(outcome.warnings).toContainEqual(expect.stringContaining(`pod subnet ${Subnet!.SubnetId} (100.64.0.0/17) in us-east-1a was not made by onboarding`));
    const { tables } = await vpcState(created);
    expect(tableOf(tables, Subnet!.SubnetId!)).toBe(RouteTable!.RouteTableId);
    expect(w.world.kube.eniConfigs('foreign-pods').find((e) => e.metadata.name === 'us-east-1a')?.spec.subnet).toBe(Subnet!.SubnetId);
  });
});

describe('one controller branch failing while the other works', () => {
  it('waits for both branches, fails with the failing branch\'s error, leaves no lease behind, and the CNI still SNATs', async () => {
    const created = await createCluster(w, { name: 'sg-taken' });
    w.activateCluster('sg-taken');
    // Someone else's SmartGroup under the name onboarding would give the cluster's VPC group.
    const client = aviatrixClient(w.config.aviatrix as never);
    await client.createSmartGroup({ name: 'sg-taken-vpc', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-someone-else' } }] } });
    const result = await run({ clusterName: 'sg-taken' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('GatewayConflict');
    expect(result.error?.message).toContain('sg-taken-vpc');
    expect(result.statesEntered).toEqual(expect.arrayContaining(['OnboardingFailed', 'DidControllerSucceed', 'TakeOnboardingError', 'ReleaseLeases', 'RecordFailure']));
    expect(result.statesEntered).not.toContain('ExternalSnat');
    // The SNAT branch ran to its end before the failure was handled.
    expect(w.controller.snatPolicies(created.spokeName)).toHaveLength(4);
    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const leases = await dynamo.send(new ScanCommand({ TableName: LEASE_TABLE }));
    dynamo.destroy();
    expect(leases.Items ?? []).toEqual([]);
    // Design step 9 never ran: the CNI keeps SNATing pod traffic itself, so pods still egress.
    const env = JSON.parse(w.world.eks.addon('sg-taken', 'vpc-cni')!.configurationValues as string).env;
    expect(env).toMatchObject({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true' });
    expect(env.AWS_VPC_K8S_CNI_EXTERNALSNAT).toBeUndefined();
  });
});

describe('an access entry that takes a while to take effect', () => {
  it('makes the vpc-cni step wait and try again, not fail', async () => {
    await createCluster(w, { name: 'slow-access' });
    w.activateCluster('slow-access');
    // The entry takes effect only once the workflow waits for it: a window timed in milliseconds
    // could pass before VpcCni's first Kubernetes call on a loaded machine.
    w.world.kube.options.accessEntryPropagationMs = 3_600_000;
    const propagateOnWait = (event: StateEvent) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForAccessEntry') w.world.kube.options.accessEntryPropagationMs = 0;
    };
    try {
      // The cluster is ACTIVE already, so this onEvent need not activate it.
      const result = await run({ clusterName: 'slow-access' }, { waitMs: 250, onEvent: propagateOnWait });
      expect(result.error).toBeUndefined();
      // The first call found the Kubernetes API still refusing the new entry and waited, a short
      // wait of its own (not the poll interval), then called the step again.
      const waits = result.statesEntered.filter((s) => s === 'WaitForAccessEntry').length;
      expect(waits).toBeGreaterThanOrEqual(1);
      expect(result.statesEntered.filter((s) => s === 'VpcCni').length).toBeGreaterThan(waits);
      expect(w.world.kube.eniConfigs('slow-access')).toHaveLength(2);
    } finally {
      w.world.kube.options.accessEntryPropagationMs = 0;
    }
  });
});

describe('an aws-node env value set by hand, outside EKS', () => {
  it('is kept by the add-on update, and the read-back of aws-node says so clearly', async () => {
    await createCluster(w, { name: 'hand-edited' });
    w.activateCluster('hand-edited');
    // Someone once set up custom networking by hand, with the ENIConfig label of the old way.
    w.world.kube.setAwsNodeEnv('hand-edited', { ENI_CONFIG_LABEL_DEF: 'k8s.amazonaws.com/eniConfig' }, 'kubectl-edit', { operation: 'Update', force: true });
    const result = await run({ clusterName: 'hand-edited' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(/aws-node DaemonSet runs with ENI_CONFIG_LABEL_DEF=k8s.amazonaws.com\/eniConfig, set outside EKS .* --resolve-conflicts OVERWRITE/);
    expect(w.world.kube.daemonSetEnv('hand-edited')).toMatchObject({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', ENI_CONFIG_LABEL_DEF: 'k8s.amazonaws.com/eniConfig' });
  });
});

describe('a self-managed VPC CNI (aws-node DaemonSet, no add-on)', () => {
  it('gets the custom-networking env through the Kubernetes API', async () => {
    w.world.eks.presetCluster('self-managed', { withVpcCniAddon: false, selfManagedAwsNode: true });
    await createCluster(w, { name: 'self-managed' });
    w.activateCluster('self-managed');
    const result = await run({ clusterName: 'self-managed' });
    expect(result.error).toBeUndefined();
    expect(w.world.eks.addon('self-managed', 'vpc-cni')).toBeUndefined();
    expect(w.world.kube.daemonSetEnv('self-managed')).toMatchObject({
      AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true',
      ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
    });
    const mark = w.world.log.mark();
    expect((await run({ clusterName: 'self-managed' })).status).toBe('SUCCEEDED');
    expect(writesSince(mark)).toEqual([]);
  });

  // Only the Kubernetes API shows aws-node, and reading it needs the access entry and its RBAC
  // (docs/rollout-order.md): those are the only EKS and Kubernetes writes before the refusal.
  it('a cluster with neither the add-on nor aws-node is refused once its API can be read: the access written for that read is named and left without cluster-admin', async () => {
    w.world.eks.presetCluster('no-cni', { withVpcCniAddon: false, selfManagedAwsNode: false });
    await createCluster(w, { name: 'no-cni' });
    w.activateCluster('no-cni');
    const mark = w.world.log.mark();
    const result = await run({ clusterName: 'no-cni' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(/"no-cni" has neither the vpc-cni add-on nor an aws-node DaemonSet; .*aws eks create-addon --cluster-name no-cni --addon-name vpc-cni\)/);
    const written = /Already changed before the failure: .*create access entry [^ ]+ \(on cluster no-cni, Kubernetes group eks-aviatrix-reconciler, no access policy\); create ClusterRole eks-aviatrix-reconciler .*create ClusterRoleBinding eks-aviatrix-reconciler/;
    expect(result.error?.message).toMatch(written);

    const refusedAt = w.world.log.since(mark).findIndex((c) => c.service === 'kubernetes' && c.action.endsWith('/daemonsets/aws-node'));
    const before = w.world.log.since(mark).slice(0, refusedAt).filter((c) => c.write && (c.service === 'eks' || c.service === 'kubernetes')).map((c) => c.action);
    expect(refusedAt).toBeGreaterThan(0);
    expect([...new Set(before)].sort()).toEqual([
      'AssociateAccessPolicy', 'CreateAccessEntry', 'DisassociateAccessPolicy',
      'PATCH /clusters/no-cni/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/eks-aviatrix-reconciler', 'PATCH /clusters/no-cni/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/eks-aviatrix-view-nodes',
      'PATCH /clusters/no-cni/apis/rbac.authorization.k8s.io/v1/clusterroles/eks-aviatrix-reconciler', 'PATCH /clusters/no-cni/apis/rbac.authorization.k8s.io/v1/clusterroles/eks-aviatrix-view-nodes',
    ]);
    expect(w.world.eks.accessEntries('no-cni').map((e) => ({ groups: e.kubernetesGroups, policies: e.policies }))).toEqual([{ groups: ['eks-aviatrix-reconciler'], policies: [] }]);
    expect(w.world.kube.eniConfigs('no-cni')).toEqual([]);
    expect(w.world.eks.addon('no-cni', 'vpc-cni')).toBeUndefined();
    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const record = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'no-cni' } } }));
    dynamo.destroy();
    expect(record.Item?.status?.S).toBe('FAILED');
    expect(record.Item?.error?.S).toMatch(written);
  });
});

describe('refusals: one clear error, no writes', () => {
  async function expectRefusal(input: unknown, name: string, text: string | RegExp) {
    const mark = w.world.log.mark();
    const result = await run(input);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe(name);
    expect(result.error?.message).toMatch(text);
    expect(writesSince(mark)).toEqual([]);
  }

  it.each([
    ['an Auto Mode cluster', { autoMode: true }, 'ClusterRefused', /EKS Auto Mode/],
    ['an IPv6 cluster', { ipFamily: 'ipv6' as const }, 'ClusterRefused', /IPv6 cluster/],
    ['a CONFIG_MAP-only cluster', { authenticationMode: 'CONFIG_MAP' as const }, 'ClusterRefused', /authenticationMode=API_AND_CONFIG_MAP/],
    ['a cluster with a private-only API endpoint', { endpointPublicAccess: false }, 'ClusterRefused', /private-only API endpoint.*need onboarding\.privateEndpointAccess/],
  ])('%s', async (_, spec, name, text) => {
    const clusterName = `refused-${Math.random().toString(36).slice(2, 8)}`;
    await createCluster(w, { name: clusterName, ...spec });
    w.activateCluster(clusterName);
    await expectRefusal({ clusterName }, name, text);
  });

  it('a malformed event', async () => {
    await expectRefusal({ 'detail-type': 'AWS API Call via CloudTrail', detail: 'oops' }, 'InvalidInput', /is not an "AWS API Call via CloudTrail" event/);
  });

  it('an event that records a failed call', async () => {
    const event = {
      id: 'e-1',
      'detail-type': 'AWS API Call via CloudTrail',
      source: 'aws.eks',
      detail: { eventSource: 'eks.amazonaws.com', eventName: 'CreateCluster', errorCode: 'ResourceLimitExceeded', requestParameters: { name: 'x' } },
    };
    await expectRefusal(event, 'InvalidInput', /failed CreateCluster of cluster "x" \(errorCode ResourceLimitExceeded\)/);
  });

  it('an unknown cluster', async () => {
    await expectRefusal({ clusterName: 'no-such-cluster' }, 'ClusterNotFound', /"no-such-cluster" does not exist in us-east-1/);
  });

  it('a VPC whose CIDRs overlap the secondary CIDR', async () => {
    await createCluster(w, { name: 'overlap', vpcCidr: '100.64.0.0/16', azs: ['us-east-1a', 'us-east-1b'] });
    w.activateCluster('overlap');
    await expectRefusal({ clusterName: 'overlap' }, 'NetworkConflict', /secondary CIDR 100\.64\.0\.0\/16 overlaps CIDR 100\.64\.0\.0\/16 of VPC/);
  });

  it('a VPC already at its CIDR association limit', async () => {
    const created = await createCluster(w, { name: 'full-vpc', vpcCidr: '10.20.0.0/16' });
    for (const extra of ['10.21.0.0/16', '10.22.0.0/16', '10.23.0.0/16', '10.24.0.0/16']) {
      await w.world.ec2Direct.send(new AssociateVpcCidrBlockCommand({ VpcId: created.vpc.vpcId, CidrBlock: extra }));
    }
    w.activateCluster('full-vpc');
    await expectRefusal({ clusterName: 'full-vpc' }, 'NetworkConflict', /already has 5 IPv4 CIDR blocks, its quota \(onboarding\.maxVpcCidrBlocks = 5\)/);
  });

  it('a cluster that never leaves CREATING: its network wired, a bounded wait, then a failure naming cluster, status and what is left', async () => {
    await createCluster(w, { name: 'stuck' });
    w.setConfig({ clusterActiveTimeoutSeconds: 3 });
    try {
      const mark = w.world.log.mark();
      const result = await runWorkflow(WORKFLOW, { clusterName: 'stuck' }, { waitMs: 300 });
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('WaitTimedOut');
      expect(result.error?.message).toMatch(/"stuck" is still CREATING after \d+ s \(limit onboarding\.clusterActiveTimeoutSeconds = 3\).*stays claimed.*offboarding removes it/);
      expect(result.statesEntered).toContain('AwaitActive');
      expect(result.statesEntered).not.toContain('VpcCni');
      // The network was written while CREATING; on the EKS and Kubernetes side only the outcome's tags.
      const writes = writesSince(mark);
      expect(writes.filter((c) => c.service === 'ec2').map((c) => c.action)).toContain('AssociateVpcCidrBlock');
      expect(writes.filter((c) => c.service === 'eks' || c.service === 'kubernetes').map((c) => c.action)).toEqual(['TagResource']);
    } finally {
      w.setConfig({ clusterActiveTimeoutSeconds: 600 });
    }
  });
});
