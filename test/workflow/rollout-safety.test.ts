// Never half-wired: the real cluster, node-group and offboarding ASL against the local world, with
// controller-side faults, asserting the stand-ins' end state and the order of their writes.
//   I1  no write anywhere before the read-only preflight passed;
//   I2  the pod CIDR is excluded on the transit before the VPC carries it, and stays excluded while it does;
//   I3  external SNAT only after the SNAT policies were read back on the spoke and its HA peer;
//   I4  a failure after the first write leaves pods able to egress (the CNI still SNATs).
import {
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { normalizeInput } from '../../lambdas/domain/input';
import { NODE_RULE_DESCRIPTION, nodeInstanceTagKey, rulesOf } from '../../lambdas/domain/network';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import {
  createCluster,
  createNodegroup,
  createSubnet,
  CreatedCluster,
  OnboardingWorld,
  SECRET_NAME,
  startOnboardingWorld,
  STATUS_TABLE,
  TRANSIT_GATEWAY,
} from '../local-world/onboarding-world';
import { runWorkflow, RunOptions } from '../local-world/workflow-runner';

const CLUSTER_WORKFLOW = 'cluster-onboarding.asl.json';
const NODEGROUP_WORKFLOW = 'nodegroup-onboarding.asl.json';
const OFFBOARDING = 'cluster-offboarding.asl.json';
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];
const SNAT_WRITE = 'edit_gw_customized_snat_config';
const EXCLUSION_WRITE = 'edit_gateway_advertised_cidr';

let w: OnboardingWorld;
let eks: EKSClient;

beforeAll(async () => {
  w = await startOnboardingWorld({ eks: { deletionDescribes: 1 } });
  eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});

afterAll(async () => {
  eks?.destroy();
  await w?.stop();
});

const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));
const addonEnv = (cluster: string) => JSON.parse((w.world.eks.addon(cluster, 'vpc-cni')?.configurationValues as string | undefined) ?? '{}').env ?? {};
const run = (input: Record<string, unknown>, options: RunOptions = {}) => runWorkflow(CLUSTER_WORKFLOW, input, options);
const record = (cluster: string) => readStatusRecord(STATUS_TABLE, cluster);
/** Makes the record one kept before identities were (no clusterIdentity). */
async function forgetIdentity(cluster: string): Promise<void> {
  const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    await dynamo.send(new UpdateItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: cluster } }, UpdateExpression: 'REMOVE clusterIdentity' }));
  } finally {
    dynamo.destroy();
  }
  expect((await record(cluster))?.clusterIdentity).toBeUndefined();
}

async function activeCluster(name: string, spec: Partial<Parameters<typeof createCluster>[1]> = {}): Promise<CreatedCluster> {
  const created = await createCluster(w, { name, ...spec });
  w.activateCluster(name);
  return created;
}

/** A cluster in a VPC of its own whose spoke is attached to a transit of its own (exclusions start empty). */
async function clusterOnOwnTransit(name: string, transit: string, octet: number): Promise<CreatedCluster> {
  const created = await clusterOnOwnTransitCreating(name, transit, octet);
  w.activateCluster(name);
  return created;
}

/** As clusterOnOwnTransit, the cluster left CREATING. */
async function clusterOnOwnTransitCreating(name: string, transit: string, octet: number): Promise<CreatedCluster> {
  w.controller.addGateway({ name: transit, kind: 'transit', vpcId: `vpc-${transit}`, privateIp: `10.202.${octet}.10`, exclusions: [] });
  const vpc = await w.world.createVpc();
  w.controller.addGateway({ name: `spoke-${vpc.vpcId}`, kind: 'spoke', vpcId: vpc.vpcId, privateIp: `10.0.249.${octet}`, transitName: transit, ha: { privateIp: `10.0.248.${octet}` }, snatMode: 'none' });
  return createCluster(w, { name, vpc });
}

/** A cluster on a transit of its own, onboarded, then deleted; 'without identity': its record made one kept before identities were. */
async function onboardedThenDeleted(name: string, octet: number, kept: string) {
  const created = await clusterOnOwnTransit(name, `transit-${name}`, octet);
  expect((await run({ clusterName: name })).status).toBe('SUCCEEDED');
  const old = await record(name);
  if (kept === 'without identity') await forgetIdentity(name);
  await eks.send(new DeleteClusterCommand({ name }));
  return { created, old };
}

/** A fresh cluster whose run is refused by the preflight: one clear error, no write anywhere, a REFUSED record. */
async function expectRefused(name: string, errorName: string, message: RegExp) {
  const mark = w.world.log.mark();
  const result = await run({ clusterName: name });
  expect(result.status).toBe('FAILED');
  expect(result.error?.name).toBe(errorName);
  expect(result.error?.message).toMatch(message);
  expect(result.statesEntered).not.toContain('ExcludePodCidr');
  expect(writesSince(mark)).toEqual([]);
  expect(await record(name)).toMatchObject({ status: 'REFUSED', lastRunStatus: 'REFUSED', error: expect.stringMatching(message) });
}

describe('I1: the preflight refuses before any write', () => {
  it('no spoke gateway serves the VPC', async () => {
    await activeCluster('no-spoke', { spoke: false });
    await expectRefused('no-spoke', 'GatewayNotFound', /no Aviatrix spoke gateway serves VPC vpc-\w+ of cluster no-spoke; deploy a spoke gateway/);
  });

  it('the spoke is in single-IP SNAT mode', async () => {
    const vpc = await w.world.createVpc();
    w.controller.addGateway({ name: `spoke-${vpc.vpcId}`, kind: 'spoke', vpcId: vpc.vpcId, privateIp: '10.0.252.4', transitName: TRANSIT_GATEWAY, ha: { privateIp: '10.0.252.5' }, snatMode: 'single' });
    await activeCluster('single-ip', { vpc });
    await expectRefused('single-ip', 'GatewayConflict', /gateway spoke-vpc-\w+ uses single-IP SNAT.*allowDisableSingleIpSnat=true/);
  });

  it('the controller refuses the credentials', async () => {
    await activeCluster('bad-password');
    const secrets = new SecretsManagerClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const put = (password: string) => secrets.send(new PutSecretValueCommand({ SecretId: SECRET_NAME, SecretString: JSON.stringify({ username: w.controller.username, password }) }));
    await put('not-the-password');
    resetAviatrixClientState(); // no session left from earlier runs
    try {
      await expectRefused('bad-password', 'ControllerError', /login .*failed.*Invalid username or password/);
    } finally {
      await put(w.controller.password);
      resetAviatrixClientState();
      secrets.destroy();
    }
  });

  it('the controller\'s k8s feature is off', async () => {
    await activeCluster('k8s-off');
    w.controller.setFeature('k8s', false);
    try {
      await expectRefused('k8s-off', 'ControllerError', /Kubernetes feature \("k8s"\) is disabled, so cluster k8s-off cannot be onboarded; enable it/);
    } finally {
      w.controller.setFeature('k8s', true);
    }
  });

  it('the controller cannot be reached (after the retries)', async () => {
    await activeCluster('unreachable');
    const aviatrix = w.config.aviatrix as Record<string, unknown>;
    w.setConfig({ aviatrix: { ...aviatrix, controllerUrl: 'https://127.0.0.1:9' } });
    resetAviatrixClientState();
    try {
      await expectRefused('unreachable', 'TransientError', /Aviatrix controller call .* failed after \d+ attempts/);
    } finally {
      w.setConfig({ aviatrix });
      resetAviatrixClientState();
    }
  });

  it('a pod route table that bypasses the spoke, with the controller down too: both problems named', async () => {
    const created = await activeCluster('igw-route');
    const ec2 = w.world.ec2Direct;
    const { InternetGateway } = await ec2.send(new CreateInternetGatewayCommand({}));
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: InternetGateway!.InternetGatewayId!, VpcId: created.vpc.vpcId }));
    const table = created.vpc.subnets[0].routeTableId;
    await ec2.send(new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: '0.0.0.0/0', GatewayId: InternetGateway!.InternetGatewayId! }));
    w.controller.setFeature('k8s', false);
    try {
      const mark = w.world.log.mark();
      const result = await run({ clusterName: 'igw-route' });
      expect(result.status).toBe('FAILED');
      expect(writesSince(mark)).toEqual([]);
      const saved = await record('igw-route');
      expect(saved?.status).toBe('REFUSED');
      expect(saved?.error).toContain('"k8s") is disabled');
      expect(saved?.error).toContain(`route table ${table} of the pod subnets sends 0.0.0.0/0 -> ${InternetGateway!.InternetGatewayId}, bypassing the Aviatrix spoke`);
    } finally {
      w.controller.setFeature('k8s', true);
    }
    // With onboarding.routeCheck "warn" the same route is reported, and the run goes on.
    w.setConfig({ routeCheck: 'warn' });
    try {
      const result = await run({ clusterName: 'igw-route', dryRun: true });
      expect(result.status).toBe('SUCCEEDED');
      expect((result.output as { warnings: string[] }).warnings).toContainEqual(expect.stringContaining(`route table ${table} of the pod subnets sends 0.0.0.0/0`));
    } finally {
      w.setConfig({ routeCheck: 'refuse' });
    }
  });

  it('a cluster refused on its first look (Auto Mode, already ACTIVE) leaves a REFUSED record', async () => {
    await activeCluster('auto-mode', { autoMode: true });
    await expectRefused('auto-mode', 'ClusterRefused', /EKS cluster "auto-mode" uses EKS Auto Mode/);
    expect((await run({ clusterName: 'auto-mode' })).statesEntered).not.toContain('Preflight');
  });

  it('a node-group run with a misspelled node group writes nothing and keeps the cluster\'s ONBOARDED record', async () => {
    await activeCluster('ng-typo');
    expect((await run({ clusterName: 'ng-typo' })).status).toBe('SUCCEEDED');
    const mark = w.world.log.mark();
    const result = await runWorkflow(NODEGROUP_WORKFLOW, { clusterName: 'ng-typo', nodegroupName: 'wrokers' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.message).toMatch(/node group "wrokers" does not exist on EKS cluster "ng-typo"; check the name/);
    expect(writesSince(mark)).toEqual([]);
    expect(await record('ng-typo')).toMatchObject({ status: 'ONBOARDED', lastRunStatus: 'REFUSED' });
  });
});

describe('single-IP SNAT switched off (allowDisableSingleIpSnat)', () => {
  it('the VPC\'s other subnets routed to the spoke keep internet egress through policies of their own, which outlive the cluster', async () => {
    const ec2 = w.world.ec2Direct;
    const vpc = await w.world.createVpc();
    const spoke = `spoke-${vpc.vpcId}`;
    w.controller.addGateway({ name: spoke, kind: 'spoke', vpcId: vpc.vpcId, privateIp: '10.0.247.4', transitName: TRANSIT_GATEWAY, ha: { privateIp: '10.0.247.5' }, snatMode: 'single' });
    // A workload subnet of the VPC whose default route goes to the spoke's network interface.
    const other = await createSubnet(w, vpc.vpcId, 'us-east-1a', '10.0.160.0/20');
    const { NetworkInterface } = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: vpc.subnets[0].subnetId }));
    await ec2.send(new CreateRouteCommand({ RouteTableId: other.routeTableId, DestinationCidrBlock: '0.0.0.0/0', NetworkInterfaceId: NetworkInterface!.NetworkInterfaceId! }));
    await activeCluster('single-off', { vpc });
    const aviatrix = w.config.aviatrix as Record<string, unknown>;
    w.setConfig({ aviatrix: { ...aviatrix, allowDisableSingleIpSnat: true } });
    try {
      const result = await run({ clusterName: 'single-off' });
      expect(result.error).toBeUndefined();
    } finally {
      w.setConfig({ aviatrix });
    }
    const forOther = (gateway: string) => w.controller.snatPolicies(gateway).filter((p) => p.src_ip === '10.0.160.0/20');
    expect(forOther(spoke)).toEqual([expect.objectContaining({ interface: 'eth0', new_src_ip: '10.0.247.4' })]);
    expect(forOther(`${spoke}-hagw`)).toEqual([expect.objectContaining({ interface: 'eth0', new_src_ip: '10.0.247.5' })]);
    expect(w.controller.gateway(spoke)).toMatchObject({ snat_target: 'customized' });

    // Offboarding removes the cluster's policies, not the VPC's.
    await eks.send(new DeleteClusterCommand({ name: 'single-off' }));
    expect((await runWorkflow(OFFBOARDING, { clusterName: 'single-off' })).output).toMatchObject({ status: 'OFFBOARDED' });
    expect(w.controller.snatPolicies(spoke).map((p) => p.src_ip)).toEqual(['10.0.160.0/20']);
  });
});

describe('I2 and I3: the order of the writes', () => {
  it('excludes the pod CIDR before the VPC carries it, and switches external SNAT on only after both gateways\' SNAT', async () => {
    const created = await clusterOnOwnTransit('ordered', 'transit-ordered', 1);
    const mark = w.world.log.mark();
    const result = await run({ clusterName: 'ordered' });
    expect(result.status).toBe('SUCCEEDED');
    const writes = writesSince(mark).map((c) => c.action);
    const first = (action: string) => writes.indexOf(action);
    const last = (action: string) => writes.lastIndexOf(action);
    // I1: nothing before the exclusion (the first write of the run).
    expect(first(EXCLUSION_WRITE)).toBe(0);
    expect(first('AssociateVpcCidrBlock')).toBeGreaterThan(first(EXCLUSION_WRITE));
    expect(writes.filter((a) => a === SNAT_WRITE)).toHaveLength(2); // spoke and HA
    expect(writes.filter((a) => a === 'UpdateAddon')).toHaveLength(2); // custom networking, then external SNAT
    expect(last('UpdateAddon')).toBeGreaterThan(last(SNAT_WRITE));
    // The first add-on update came before the SNAT writes and held no external SNAT.
    expect(first('UpdateAddon')).toBeLessThan(first(SNAT_WRITE));
    expect(addonEnv('ordered')).toMatchObject({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' });
    expect(w.controller.exclusions('transit-ordered')).toEqual(['100.64.0.0/16']);
    expect(w.controller.snatPolicies(created.spokeName)).toHaveLength(4);
    expect(w.controller.snatPolicies(`${created.spokeName}-hagw`)).toHaveLength(4);
  });
});

describe('I4: a controller failure after the first write', () => {
  it('a 5xx on every SNAT write: the run fails after its retries, the CNI still SNATs, and the record lists what was applied', async () => {
    const created = await clusterOnOwnTransit('snat-5xx', 'transit-5xx', 2);
    w.controller.failNext(1000, { status: 503, action: SNAT_WRITE });
    try {
      const result = await run({ clusterName: 'snat-5xx' });
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('TransientError');
      expect(result.error?.message).toContain(created.spokeName);
      expect(result.statesEntered).not.toContain('ExternalSnat');
    } finally {
      w.controller.clearFaults();
    }
    // Custom networking is on, external SNAT is not: pods egress through their node's address.
    const env = addonEnv('snat-5xx');
    expect(env.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG).toBe('true');
    expect(env.AWS_VPC_K8S_CNI_EXTERNALSNAT).toBeUndefined();
    expect(w.controller.snatPolicies(created.spokeName)).toEqual([]);
    const saved = await record('snat-5xx');
    expect(saved?.status).toBe('FAILED');
    const applied = JSON.parse(saved?.changes ?? '[]') as { resource: string; detail: string }[];
    expect(applied).toContainEqual(expect.objectContaining({ resource: 'aviatrix transit transit-5xx' }));
    expect(w.controller.exclusions('transit-5xx')).toEqual(['100.64.0.0/16']);
    expect(applied).toContainEqual(expect.objectContaining({ resource: created.vpc.vpcId, detail: 'secondary CIDR 100.64.0.0/16' }));
    expect(applied.filter((c) => c.resource.startsWith('ENIConfig'))).toHaveLength(2);

    // Once the controller recovers, the next run finishes the rest, external SNAT last.
    const mark = w.world.log.mark();
    expect((await run({ clusterName: 'snat-5xx' })).status).toBe('SUCCEEDED');
    const writes = writesSince(mark).map((c) => c.action);
    expect(writes.lastIndexOf('UpdateAddon')).toBeGreaterThan(writes.lastIndexOf(SNAT_WRITE));
    expect(addonEnv('snat-5xx').AWS_VPC_K8S_CNI_EXTERNALSNAT).toBe('true');
  });
});

describe('a failure after the preflight passed', () => {
  it('is recorded FAILED, not as a refusal, even when it comes at the run\'s first write', async () => {
    await clusterOnOwnTransit('exclusion-refused', 'transit-refusing', 3);
    w.world.log.faults.inject('aviatrix', EXCLUSION_WRITE, { kind: 'status', status: 400 }, 1);
    try {
      const result = await run({ clusterName: 'exclusion-refused' });
      expect(result.status).toBe('FAILED');
      expect(result.statesEntered).toContain('ExcludePodCidr');
      expect(result.error?.message).toContain(EXCLUSION_WRITE);
    } finally {
      w.world.log.faults.clear();
    }
    expect(await record('exclusion-refused')).toMatchObject({ status: 'FAILED', lastRunStatus: 'FAILED' });
  });
});

describe('nodes, whatever launched them', () => {
  let created: CreatedCluster;
  let nodeGroupId: string;
  let karpenterSubnet: { subnetId: string; routeTableId: string };
  let instanceId: string;
  const KARPENTER_CIDR = '10.0.96.0/20';

  beforeAll(async () => {
    created = await activeCluster('karpenter');
    const ec2 = w.world.ec2Direct;
    karpenterSubnet = await createSubnet(w, created.vpc.vpcId, 'us-east-1a', KARPENTER_CIDR);
    nodeGroupId = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'karpenter-nodes', Description: 'nodes only', VpcId: created.vpc.vpcId }))).GroupId!;
    // A Karpenter node: an instance tagged for the cluster, its own security group only, no node group.
    const launched = await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.large', SubnetId: karpenterSubnet.subnetId, SecurityGroupIds: [nodeGroupId],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: nodeInstanceTagKey('karpenter'), Value: 'owned' }, { Key: 'karpenter.sh/nodepool', Value: 'default' }] }],
      }),
    );
    instanceId = launched.Instances![0].InstanceId!;
    // It registered before onboarding: its pods got node-subnet addresses.
    w.world.kube.addNode('karpenter', { name: 'ip-10-0-96-10.ec2.internal', zone: 'us-east-1a', instanceId, createdAt: new Date(Date.now() - 60_000) });
  });

  it('the pod security group admits the node\'s own group, its subnet gets internet SNAT on both gateways, and it is reported', async () => {
    const result = await run({ clusterName: 'karpenter' });
    expect(result.status).toBe('SUCCEEDED');
    const { SecurityGroups = [] } = await w.world.ec2Direct.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:eks-aviatrix:cluster', Values: ['karpenter'] }] }),
    );
    const fromNodes = (SecurityGroups[0]?.IpPermissions ?? []).filter((p) => p.IpProtocol === '-1').flatMap((p) => p.UserIdGroupPairs ?? []);
    expect(fromNodes).toContainEqual(expect.objectContaining({ GroupId: nodeGroupId, Description: NODE_RULE_DESCRIPTION }));
    for (const gateway of [created.spokeName, `${created.spokeName}-hagw`]) {
      expect(w.controller.snatPolicies(gateway)).toContainEqual(expect.objectContaining({ src_ip: KARPENTER_CIDR, interface: 'eth0', new_src_ip: w.controller.gateway(gateway)?.private_ip }));
    }
    expect((result.output as { warnings: string[] }).warnings).toContainEqual(
      expect.stringContaining('nodes ip-10-0-96-10.ec2.internal of EKS cluster "karpenter" registered before custom networking took effect'),
    );
  });

  it('once no node carries the group or uses the subnet, its rule and SNAT policies go', async () => {
    await w.world.ec2Direct.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    w.world.kube.removeNode('karpenter', 'ip-10-0-96-10.ec2.internal');
    const result = await run({ clusterName: 'karpenter' });
    expect(result.status).toBe('SUCCEEDED');
    const { SecurityGroups = [] } = await w.world.ec2Direct.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:eks-aviatrix:cluster', Values: ['karpenter'] }] }),
    );
    const sources = (SecurityGroups[0]?.IpPermissions ?? []).flatMap((p) => (p.UserIdGroupPairs ?? []).map((g) => g.GroupId));
    expect(sources).not.toContain(nodeGroupId);
    for (const gateway of [created.spokeName, `${created.spokeName}-hagw`]) {
      expect(w.controller.snatPolicies(gateway).map((p) => p.src_ip)).not.toContain(KARPENTER_CIDR);
    }
  });
});

describe('offboarding while another cluster of the VPC is still onboarding', () => {
  it('keeps the CIDR and pod subnets that the onboarding run already relies on', async () => {
    const first = await activeCluster('leaving');
    expect((await run({ clusterName: 'leaving' })).status).toBe('SUCCEEDED');
    await createCluster(w, { name: 'arriving', vpc: first.vpc });
    w.activateCluster('arriving');
    await eks.send(new DeleteClusterCommand({ name: 'leaving' }));

    // "arriving" waits in WaitForCni (its add-on update) after PodNetwork, well before its record:
    // the offboarding of "leaving" runs to its end right then. The VpcCni invocation that ends that
    // wait (its input still "pending") is held until the offboarding is done, so the overlap does
    // not depend on how long a Wait state lasts or how fast the machine is.
    let offboarding: Promise<Awaited<ReturnType<typeof runWorkflow>>> | undefined;
    let offboarded = false;
    let offboardedBeforeRecord = false;
    const arriving = run({ clusterName: 'arriving' }, {
      onInvoke: async (state, input) => {
        const cni = (input as { cni?: { phase?: string; shortWait?: unknown } }).cni;
        if (state === 'VpcCni' && cni?.phase === 'pending' && cni.shortWait === undefined && !offboarding) {
          offboarding = runWorkflow(OFFBOARDING, { clusterName: 'leaving' });
          void offboarding.then(() => (offboarded = true));
          await offboarding;
        }
        if (state === 'RecordOutcome') offboardedBeforeRecord = offboarded;
      },
    });
    const arrived = await arriving;
    expect(offboarding).toBeDefined();
    const left = await offboarding!;
    expect(arrived.statesEntered.slice(arrived.statesEntered.indexOf('PodNetwork'))).toContain('WaitForCni');
    expect(offboardedBeforeRecord).toBe(true);
    expect(left.status).toBe('SUCCEEDED');
    expect(left.output).toMatchObject({ status: 'OFFBOARDED' });
    expect((left.output as { warnings: string[] }).warnings).toContainEqual(expect.stringContaining('clusters arriving still use them'));
    expect(arrived.status).toBe('SUCCEEDED');

    const { Subnets = [] } = await w.world.ec2Direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [first.vpc.vpcId] }] }));
    const podSubnets = Subnets.filter((s) => s.CidrBlock?.startsWith('100.64.'));
    expect(podSubnets).toHaveLength(2);
    expect(w.world.kube.eniConfigs('arriving').map((e) => e.spec.subnet).sort()).toEqual(podSubnets.map((s) => s.SubnetId).sort());
    const { Vpcs = [] } = await w.world.ec2Direct.send(new DescribeVpcsCommand({ VpcIds: [first.vpc.vpcId] }));
    expect(Vpcs[0].CidrBlockAssociationSet?.filter((a) => a.CidrBlock === '100.64.0.0/16' && a.CidrBlockState?.State === 'associated')).toHaveLength(1);
    expect(w.controller.exclusions(TRANSIT_GATEWAY)).toContain('100.64.0.0/16');
  });
});

describe('two clusters in two VPCs sharing the pod CIDR on one transit', () => {
  it('the exclusion stays while either VPC carries the CIDR, and goes only after the last one left its VPC', async () => {
    const TRANSIT = 'transit-twins';
    w.controller.addGateway({ name: TRANSIT, kind: 'transit', vpcId: 'vpc-transit0002', privateIp: '10.201.0.10', exclusions: ['10.99.0.0/16'] });
    for (const [i, name] of ['twin-a', 'twin-b'].entries()) {
      const vpc = await w.world.createVpc();
      w.controller.addGateway({ name: `spoke-${vpc.vpcId}`, kind: 'spoke', vpcId: vpc.vpcId, privateIp: `10.0.253.${i + 4}`, transitName: TRANSIT, ha: { privateIp: `10.0.254.${i + 4}` }, snatMode: 'none' });
      await activeCluster(name, { vpc });
      expect((await run({ clusterName: name })).status).toBe('SUCCEEDED');
    }
    expect(w.controller.exclusions(TRANSIT)).toEqual(['10.99.0.0/16', '100.64.0.0/16']);

    await eks.send(new DeleteClusterCommand({ name: 'twin-a' }));
    expect((await runWorkflow(OFFBOARDING, { clusterName: 'twin-a' })).output).toMatchObject({ status: 'OFFBOARDED' });
    // twin-b's VPC still carries the CIDR.
    expect(w.controller.exclusions(TRANSIT)).toEqual(['10.99.0.0/16', '100.64.0.0/16']);

    await eks.send(new DeleteClusterCommand({ name: 'twin-b' }));
    const mark = w.world.log.mark();
    expect((await runWorkflow(OFFBOARDING, { clusterName: 'twin-b' })).output).toMatchObject({ status: 'OFFBOARDED' });
    expect(w.controller.exclusions(TRANSIT)).toEqual(['10.99.0.0/16']);
    const writes = writesSince(mark).map((c) => c.action);
    expect(writes.indexOf(EXCLUSION_WRITE)).toBeGreaterThan(writes.indexOf('DisassociateVpcCidrBlock'));
    expect(writes.indexOf('DisassociateVpcCidrBlock')).toBeGreaterThanOrEqual(0);
  });
});

describe('a node group whose own subnet is elsewhere', () => {
  it('its run reconciles the cluster first and switches external SNAT on only after its SNAT', async () => {
    const created = await activeCluster('ng-order');
    expect((await run({ clusterName: 'ng-order' })).status).toBe('SUCCEEDED');
    const subnet = await createSubnet(w, created.vpc.vpcId, 'us-east-1b', '10.0.128.0/20');
    await createNodegroup(w, { cluster: 'ng-order', name: 'extra', subnetIds: [subnet.subnetId] });
    w.world.eks.activateNodegroup('ng-order', 'extra');
    const mark = w.world.log.mark();
    const result = await runWorkflow(NODEGROUP_WORKFLOW, { clusterName: 'ng-order', nodegroupName: 'extra' });
    expect(result.error).toBeUndefined();
    const writes = writesSince(mark).map((c) => c.action);
    expect(writes.filter((a) => a === SNAT_WRITE)).toHaveLength(2);
    // External SNAT was already on: no add-on update, and nothing before the preflight.
    expect(writes).not.toContain('UpdateAddon');
    expect(result.statesEntered.indexOf('Preflight')).toBeLessThan(result.statesEntered.indexOf('ExcludePodCidr'));
    expect(result.statesEntered.indexOf('ConfigureGatewaySnat')).toBeLessThan(result.statesEntered.indexOf('ExternalSnat'));
  });
});

describe('a CREATING cluster: its network wired while EKS creates it', () => {
  /** The pod security group's and the cluster security group's ingress, as EC2 holds them. */
  async function groups(cluster: string) {
    const clusterGroupId = w.world.eks.cluster(cluster)!.clusterSecurityGroupId;
    const ec2 = w.world.ec2Direct;
    const [pods, own] = await Promise.all([
      ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:eks-aviatrix:cluster', Values: [cluster] }] })),
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [clusterGroupId] })),
    ]);
    const podGroup = pods.SecurityGroups?.[0];
    return { clusterGroupId, podGroupId: podGroup?.GroupId, pod: rulesOf(podGroup?.IpPermissions), cluster: rulesOf(own.SecurityGroups?.[0]?.IpPermissions) };
  }

  /**
   * Runs the cluster workflow on a CREATING cluster; after it first waited for ACTIVE, `atWait` runs
   * before its next look (what it returns is kept), then the cluster becomes `status`. The run's
   * writes are split there.
   */
  async function runCreating<T>(name: string, status: 'ACTIVE' | 'FAILED' | undefined, atWait: () => Promise<T>, atStatus: () => void = () => undefined) {
    const mark = w.world.log.mark();
    let seen: Promise<{ at: number; value: T }> | undefined;
    let looks = 0;
    const result = await run({ clusterName: name }, {
      // The second look follows the first WaitForActive: it waits for atWait.
      onInvoke: async (state) => {
        if (state !== 'AwaitActive' || ++looks !== 2) return;
        seen = atWait().then((value) => {
          const at = w.world.log.mark();
          if (status) w.world.eks.setClusterStatus(name, status);
          atStatus();
          return { at, value };
        });
        await seen;
      },
    });
    if (!seen) throw new Error(`${name}: the run never waited for ACTIVE (${result.statesEntered.join(', ')})`);
    const { at, value } = await seen;
    const before = w.world.log.since(mark).slice(0, at - mark).filter((c) => c.write && WRITES.includes(c.service));
    const after = w.world.log.since(at).filter((c) => c.write && WRITES.includes(c.service));
    return { result, before, after, atWait: value };
  }

  it('writes the exclusion and the pod network before ACTIVE, nothing on EKS or Kubernetes, the cluster group\'s rules and ENIConfigs right after', async () => {
    const created = await clusterOnOwnTransitCreating('early', 'transit-early', 4);
    const { result, before, after, atWait } = await runCreating('early', 'ACTIVE', () => groups('early'));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect(result.statesEntered).not.toContain('WaitForCluster');

    // Before ACTIVE: the exclusion first (I1, I2), then the VPC's CIDR, pod subnets and pod security group; EC2 and the controller only.
    const early = before.map((c) => c.action);
    expect(early[0]).toBe(EXCLUSION_WRITE);
    expect(early.indexOf('AssociateVpcCidrBlock')).toBeGreaterThan(0);
    expect(early.filter((a) => a === 'CreateSubnet')).toHaveLength(2);
    expect(early).toContain('CreateSecurityGroup');
    expect([...new Set(before.map((c) => c.service))].sort()).toEqual(['aviatrix', 'ec2']);
    expect(early).not.toContain(SNAT_WRITE);
    // The pod group then holds only its rule from itself; the cluster group nothing of ours.
    expect(atWait.pod).toEqual([{ protocol: '-1', sourceGroupId: atWait.podGroupId }]);
    expect(atWait.cluster.filter((r) => r.sourceGroupId === atWait.podGroupId)).toEqual([]);

    // After ACTIVE: the look that saw it, then VpcCni at once; its writes before the last ENIConfig
    // are the access (EKS, RBAC) and the cluster group's rules, never the controller.
    const afterActive = result.statesEntered.slice(result.statesEntered.lastIndexOf('AwaitActive'));
    expect(afterActive.slice(0, 3)).toEqual(['AwaitActive', 'IsClusterActive', 'VpcCni']);
    const lastEniConfig = after.map((c) => c.service === 'kubernetes' && /eniconfigs/i.test(c.action)).lastIndexOf(true);
    expect(lastEniConfig).toBeGreaterThan(0);
    const upToEniConfigs = after.slice(0, lastEniConfig + 1);
    expect([...new Set(upToEniConfigs.map((c) => c.service))].sort()).toEqual(['ec2', 'eks', 'kubernetes']);
    expect(upToEniConfigs.filter((c) => c.service === 'ec2').map((c) => c.action)).toEqual(['AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupIngress']);

    const end = await groups('early');
    expect(end.pod).toEqual(
      expect.arrayContaining([
        { protocol: '-1', sourceGroupId: end.podGroupId },
        { protocol: '-1', sourceGroupId: end.clusterGroupId },
        { protocol: 'tcp', fromPort: 9443, toPort: 9443, sourceGroupId: end.clusterGroupId },
      ]),
    );
    expect(end.pod).toHaveLength(3);
    expect(end.cluster).toContainEqual({ protocol: '-1', sourceGroupId: end.podGroupId });
    expect(w.world.kube.eniConfigs('early')).toHaveLength(2);
    expect(addonEnv('early')).toMatchObject({ AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' });
    expect(w.controller.snatPolicies(created.spokeName)).toHaveLength(4);
  });

  it('a cluster that ends FAILED: the run records the network it wired and ends; offboarding after DeleteCluster removes it all', async () => {
    const created = await clusterOnOwnTransitCreating('failed-early', 'transit-failed-early', 5);
    const { result, after } = await runCreating('failed-early', 'FAILED', async () => undefined);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(/EKS cluster "failed-early" is FAILED; onboarding needs an ACTIVE cluster\. The pod network wired while it was CREATING .* stays claimed .* offboarding removes it when the cluster is deleted/);
    expect(result.statesEntered).not.toContain('VpcCni');
    expect(result.statesEntered.slice(-3)).toEqual(['ReleaseLeases', 'RecordFailure', 'Failed']);
    // After FAILED only the outcome's tags on the cluster.
    expect(after.map((c) => c.action)).toEqual(['TagResource']);
    const saved = await record('failed-early');
    expect(saved).toMatchObject({ status: 'FAILED', vpcId: created.vpc.vpcId, podCidr: '100.64.0.0/16' });
    const applied = JSON.parse(saved?.changes ?? '[]') as { resource: string; action: string }[];
    expect(applied).toContainEqual(expect.objectContaining({ resource: created.vpc.vpcId, action: 'associate' }));
    expect(w.controller.exclusions('transit-failed-early')).toEqual(['100.64.0.0/16']);

    await eks.send(new DeleteClusterCommand({ name: 'failed-early' }));
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: 'failed-early' });
    expect(offboarded.output).toMatchObject({ status: 'OFFBOARDED' });
    const ec2 = w.world.ec2Direct;
    const [{ Subnets = [] }, { Vpcs = [] }, { SecurityGroups = [] }] = await Promise.all([
      ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [created.vpc.vpcId] }] })),
      ec2.send(new DescribeVpcsCommand({ VpcIds: [created.vpc.vpcId] })),
      ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:eks-aviatrix:cluster', Values: ['failed-early'] }] })),
    ]);
    expect(Subnets.filter((s) => s.CidrBlock?.startsWith('100.64.'))).toEqual([]);
    expect((Vpcs[0].CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16' && a.CidrBlockState?.State === 'associated')).toEqual([]);
    expect(SecurityGroups).toEqual([]);
    expect(w.controller.exclusions('transit-failed-early')).toEqual([]);
  });

  /** While the run waits for ACTIVE: DeleteCluster, and its offboarding runs to its end. */
  async function deleteAndOffboard(name: string) {
    await eks.send(new DeleteClusterCommand({ name }));
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: name });
    expect(offboarded.output).toMatchObject({ status: 'OFFBOARDED' });
    return record(name);
  }

  it('deleted during the wait after its offboarding ran: the run ends with ClusterGone, the record stays OFFBOARDED with no claim', async () => {
    await clusterOnOwnTransitCreating('gone-early', 'transit-gone-early', 6);
    const { result, after, atWait } = await runCreating('gone-early', undefined, () => deleteAndOffboard('gone-early'));
    expect(atWait).toMatchObject({ status: 'OFFBOARDED', lastRunStatus: 'OFFBOARDED' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterGone');
    expect(result.error?.message).toMatch(/EKS cluster "gone-early" was deleted while the run was under way; the run ends without writing for it.*offboarding \(DeleteCluster\) removes it/);
    expect(result.statesEntered.slice(-4)).toEqual(['AwaitActive', 'ReleaseLeases', 'RecordFailure', 'Failed']);
    expect(after).toEqual([]);
    // As its offboarding left it: no FAILED status, claim or error written over it.
    expect(await record('gone-early')).toEqual(atWait);
    expect(w.controller.exclusions('transit-gone-early')).toEqual([]);
  });

  it('re-created under the same name during the wait: no add-on, access or ENIConfig write for the new cluster, a clear message', async () => {
    const created = await clusterOnOwnTransitCreating('again-early', 'transit-again-early', 7);
    const { result, after, atWait } = await runCreating('again-early', undefined, async () => {
      const offboarded = await deleteAndOffboard('again-early');
      await createCluster(w, { name: 'again-early', vpc: created.vpc });
      w.activateCluster('again-early');
      return offboarded;
    });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterGone');
    expect(result.error?.message).toMatch(new RegExp(`EKS cluster "again-early" was re-created \\(created .* in ${created.vpc.vpcId}, not .*\\) while the run was under way.*the new cluster gets a run of its own`));
    expect(result.statesEntered).not.toContain('VpcCni');
    expect(after).toEqual([]);
    expect(w.world.kube.eniConfigs('again-early')).toEqual([]);
    expect(addonEnv('again-early')).toEqual({});
    expect(await record('again-early')).toEqual(atWait);
  });

  it('deleted while CREATING before PodNetwork\'s first write, its offboarding finding nothing: nothing built for it, its exclusion dropped', async () => {
    await clusterOnOwnTransitCreating('deleted-early', 'transit-deleted-early', 8);
    const mark = w.world.log.mark();
    let offboarded: Awaited<ReturnType<typeof runWorkflow>> | undefined;
    let excludedThen: string[] = [];
    const result = await run({ clusterName: 'deleted-early' }, {
      onInvoke: async (state) => {
        if (state !== 'PodNetwork' || offboarded) return;
        excludedThen = [...w.controller.exclusions('transit-deleted-early')];
        await eks.send(new DeleteClusterCommand({ name: 'deleted-early' }));
        offboarded = await runWorkflow(OFFBOARDING, { clusterName: 'deleted-early' });
      },
    });
    expect(offboarded?.output).toMatchObject({ status: 'NOTHING_TO_DO' });
    expect(excludedThen).toEqual(['100.64.0.0/16']);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterGone');
    expect(result.error?.message).toMatch(/EKS cluster "deleted-early" is being deleted while the run was under way; the run ends without writing for it/);
    expect(result.statesEntered.slice(-5)).toEqual(['PodNetwork', 'DropExclusion', 'ReleaseLeases', 'RecordFailure', 'Failed']);
    // No CIDR, subnet or security group; the exclusion and its claim gone.
    expect(writesSince(mark).filter((c) => c.service === 'ec2')).toEqual([]);
    expect(w.controller.exclusions('transit-deleted-early')).toEqual([]);
    const saved = await record('deleted-early');
    expect(saved).toMatchObject({ status: 'FAILED', lastRunStatus: 'FAILED' });
    expect(saved).not.toHaveProperty('vpcId');
    expect(saved).not.toHaveProperty('podCidr');
  });

  it('deleted and re-created under its name before PodNetwork\'s first write, the new cluster onboarded meanwhile: the old run\'s DropExclusion leaves the new cluster\'s exclusion and claim', async () => {
    const created = await clusterOnOwnTransitCreating('recreated-early', 'transit-recreated-early', 14);
    let renewed: Awaited<ReturnType<typeof runWorkflow>> | undefined;
    const result = await run({ clusterName: 'recreated-early' }, {
      onInvoke: async (state) => {
        if (state !== 'PodNetwork' || renewed) return;
        // As in the case above, the old cluster's offboarding finds nothing to undo.
        await eks.send(new DeleteClusterCommand({ name: 'recreated-early' }));
        expect((await runWorkflow(OFFBOARDING, { clusterName: 'recreated-early' })).output).toMatchObject({ status: 'NOTHING_TO_DO' });
        await w.world.eks.finishDeletion('recreated-early');
        await createCluster(w, { name: 'recreated-early', vpc: created.vpc });
        w.activateCluster('recreated-early');
        renewed = await runWorkflow(CLUSTER_WORKFLOW, { clusterName: 'recreated-early' });
      },
    });
    expect(renewed?.error).toBeUndefined();
    expect(renewed?.output).toMatchObject({ status: 'ONBOARDED' });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterGone');
    expect(result.error?.message).toMatch(/EKS cluster "recreated-early" was re-created .* while the run was under way/);
    expect(result.statesEntered.slice(-5)).toEqual(['PodNetwork', 'DropExclusion', 'ReleaseLeases', 'RecordFailure', 'Failed']);
    // I2 for the new cluster, whose VPC carries the pod CIDR: still excluded, and still claimed for it.
    const newCluster = w.world.eks.cluster('recreated-early')!;
    expect(w.controller.exclusions('transit-recreated-early')).toEqual(['100.64.0.0/16']);
    const saved = await record('recreated-early');
    expect(JSON.parse(saved?.controllerExclusions ?? '{}')).toEqual({ 'transit-recreated-early': ['100.64.0.0/16'] });
    expect(saved?.controllerExclusionsOf).toBe(`${newCluster.arn}@${newCluster.createdAt.toISOString()}`);
    // The old run's RecordFailure leaves the new cluster's record as its run wrote it.
    expect(saved).toMatchObject({ status: 'ONBOARDED', lastRunStatus: 'ONBOARDED', clusterIdentity: saved?.controllerExclusionsOf });
    expect(saved).not.toHaveProperty('error');
  });

  it('deleted, its offboarding waiting for the deletion, re-created under its name meanwhile: the offboarding removes nothing more and ends naming both; the new cluster onboards on what stayed', async () => {
    const created = await clusterOnOwnTransit('reborn', 'transit-reborn', 22);
    expect((await run({ clusterName: 'reborn' })).status).toBe('SUCCEEDED');
    const old = await record('reborn');
    const podNetwork = async () => {
      const ec2 = w.world.ec2Direct;
      const [{ Subnets = [] }, { Vpcs = [] }] = await Promise.all([
        ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [created.vpc.vpcId] }] })),
        ec2.send(new DescribeVpcsCommand({ VpcIds: [created.vpc.vpcId] })),
      ]);
      return {
        subnets: Subnets.filter((s) => s.CidrBlock?.startsWith('100.64.')).map((s) => s.SubnetId).sort(),
        cidr: (Vpcs[0].CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16' && a.CidrBlockState?.State === 'associated').length,
      };
    };
    const built = await podNetwork();
    expect(built.subnets.length).toBeGreaterThan(0);

    await eks.send(new DeleteClusterCommand({ name: 'reborn' }));
    let recreated = false;
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: 'reborn' }, {
      // The old cluster goes and a new one of the name comes between two of the cleanup's looks.
      onInvoke: async (state) => {
        if (state !== 'CleanupAws' || recreated) return;
        recreated = true;
        if (w.world.eks.cluster('reborn')) await w.world.eks.finishDeletion('reborn');
        await createCluster(w, { name: 'reborn', vpc: created.vpc });
        w.activateCluster('reborn');
      },
    });
    const newCluster = w.world.eks.cluster('reborn')!;
    const newIdentity = `${newCluster.arn}@${newCluster.createdAt.toISOString()}`;
    expect(offboarded.status).toBe('FAILED');
    expect(offboarded.error?.name).toBe('ClusterGone');
    expect(offboarded.error?.message).toContain(`EKS cluster "reborn" was re-created (${newIdentity}) after the cluster this offboarding is for (${old?.clusterIdentity})`);
    // What the name finds stays for the new cluster: pod subnets, the VPC's pod CIDR, the transit's exclusion.
    expect(await podNetwork()).toEqual(built);
    expect(w.controller.exclusions('transit-reborn')).toEqual(['100.64.0.0/16']);
    // Started again (by hand) before the new cluster's run: refused at its first look, not told to delete the new cluster.
    const mark = w.world.log.mark();
    const again = await runWorkflow(OFFBOARDING, { clusterName: 'reborn' });
    expect(again.error?.name).toBe('ClusterGone');
    expect(again.statesEntered).not.toContain('DetachSecurityGroups');
    expect(writesSince(mark)).toEqual([]);

    const renewed = await run({ clusterName: 'reborn' });
    expect(renewed.error).toBeUndefined();
    expect(await podNetwork()).toEqual(built);
    expect(await record('reborn')).toMatchObject({ status: 'ONBOARDED', clusterIdentity: newIdentity });
  });

  it('deleted and re-created under its name right after the offboarding\'s first look: DetachSecurityGroups looks again and ends naming both, with no rule revoked and nothing removed on the controller', async () => {
    const created = await clusterOnOwnTransit('reborn-early', 'transit-reborn-early', 23);
    expect((await run({ clusterName: 'reborn-early' })).status).toBe('SUCCEEDED');
    const old = await record('reborn-early');
    await eks.send(new DeleteClusterCommand({ name: 'reborn-early' }));
    let mark: number | undefined;
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: 'reborn-early' }, {
      // Between ResolveOffboarding's look and DetachSecurityGroups: the old cluster goes, a new one of the name comes.
      onInvoke: async (state) => {
        if (state !== 'DetachSecurityGroups' || mark !== undefined) return;
        if (w.world.eks.cluster('reborn-early')) await w.world.eks.finishDeletion('reborn-early');
        await createCluster(w, { name: 'reborn-early', vpc: created.vpc });
        w.activateCluster('reborn-early');
        mark = w.world.log.mark();
      },
    });
    const newCluster = w.world.eks.cluster('reborn-early')!;
    expect(offboarded.status).toBe('FAILED');
    expect(offboarded.error?.name).toBe('ClusterGone');
    expect(offboarded.error?.message).toContain(
      `EKS cluster "reborn-early" was re-created (${newCluster.arn}@${newCluster.createdAt.toISOString()}) after the cluster this offboarding is for (${old?.clusterIdentity})`,
    );
    expect(offboarded.statesEntered).not.toContain('OffboardFromController');
    expect(writesSince(mark!)).toEqual([]);
  });

  const renewedRows = [
    { label: 'its record', name: 'reborn-late', octet: 24, kept: 'with its identity' },
    // An older record: ResolveOffboarding takes the identity from the DELETING cluster it found.
    { label: 'a record kept before identities were', name: 'reborn-legacy', octet: 25, kept: 'without identity' },
  ];
  it.each(renewedRows)('deleted, re-created under its name and onboarded before the offboarding\'s controller steps ($label): they compare the record\'s identity and end naming both; the new cluster\'s SNAT, SmartGroups and controller onboarding stay', async ({ name, octet, kept }) => {
    const { created, old } = await onboardedThenDeleted(name, octet, kept);
    const controllerSide = () => ({
      snat: [created.spokeName, `${created.spokeName}-hagw`].map((gateway) => w.controller.snatPolicies(gateway)),
      smartGroups: w.controller.smartGroups().filter((g) => g.name.includes(name)),
      k8sClusters: w.controller.k8sClusters().filter((c) => String(c.cluster_id).endsWith(`/${name}`)),
    });
    let renewal: Promise<{ run: Awaited<ReturnType<typeof run>>; controller: ReturnType<typeof controllerSide> }> | undefined;
    const activeTimeout = w.config.clusterActiveTimeoutSeconds;
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: name }, {
      // After DetachSecurityGroups (the old cluster still DELETING there): the old cluster goes, a new one
      // of the name comes and its run onboards it, taking the record over, before either controller step.
      onInvoke: async (state) => {
        if (state !== 'OffboardFromController' && state !== 'RemoveGatewaySnat') return;
        renewal ??= (async () => {
          if (w.world.eks.cluster(name)) await w.world.eks.finishDeletion(name);
          await createCluster(w, { name, vpc: created.vpc });
          w.activateCluster(name);
          const renewed = await run({ clusterName: name });
          // An offboarding that went on to CleanupAws would wait there for the new cluster: not for long.
          w.setConfig({ clusterActiveTimeoutSeconds: 1 });
          return { run: renewed, controller: controllerSide() };
        })();
        await renewal;
      },
    }).finally(() => w.setConfig({ clusterActiveTimeoutSeconds: activeTimeout }));
    const renewed = await renewal!;
    expect(renewed.run.output).toMatchObject({ status: 'ONBOARDED' });
    expect(renewed.controller.snat[0]).toHaveLength(4);
    expect(renewed.controller.k8sClusters).toHaveLength(1);
    const newCluster = w.world.eks.cluster(name)!;
    const newIdentity = `${newCluster.arn}@${newCluster.createdAt.toISOString()}`;
    expect(offboarded.status).toBe('FAILED');
    expect(offboarded.error?.name).toBe('ClusterGone');
    expect(offboarded.error?.message).toContain(`EKS cluster "${name}" was re-created (${newIdentity}) after the cluster this offboarding is for (${old?.clusterIdentity})`);
    expect(controllerSide()).toEqual(renewed.controller);
    expect(await record(name)).toMatchObject({ status: 'ONBOARDED', clusterIdentity: newIdentity });
  });

  const lateRows = [
    { label: 'its record', name: 'reborn-exclusion', octet: 26, kept: 'with its identity' },
    // Begun once the cluster was gone from a record without identity: the offboarding knows none.
    { label: 'a record kept before identities were', name: 'reborn-exclusion-legacy', octet: 27, kept: 'without identity' },
  ];
  it.each(lateRows)('deleted, re-created under its name and onboarded after CleanupAws\'s last look, before RemoveExclusion ($label): the old run leaves the new cluster\'s exclusion and claim, and says so', async ({ name, octet, kept }) => {
    const { created, old } = await onboardedThenDeleted(name, octet, kept);
    if (kept === 'without identity') await w.world.eks.finishDeletion(name);
    let renewed: Awaited<ReturnType<typeof run>> | undefined;
    const offboarded = await runWorkflow(OFFBOARDING, { clusterName: name }, {
      // CleanupAws saw the old cluster gone and took the pod CIDR out of the VPC: a new cluster of the
      // name comes, and its run (exclusion first, then the CIDR back in the VPC) ends before RemoveExclusion.
      onInvoke: async (state) => {
        if (state !== 'RemoveExclusion' || renewed) return;
        await createCluster(w, { name, vpc: created.vpc });
        w.activateCluster(name);
        renewed = await run({ clusterName: name });
      },
    });
    expect(renewed?.output).toMatchObject({ status: 'ONBOARDED' });
    const newCluster = w.world.eks.cluster(name)!;
    const newIdentity = `${newCluster.arn}@${newCluster.createdAt.toISOString()}`;
    expect(newIdentity).not.toBe(old?.clusterIdentity);
    // I2 for the new cluster: its VPC carries the pod CIDR, which stays excluded and claimed for it.
    const { Vpcs = [] } = await w.world.ec2Direct.send(new DescribeVpcsCommand({ VpcIds: [created.vpc.vpcId] }));
    expect(Vpcs[0].CidrBlockAssociationSet?.filter((a) => a.CidrBlock === '100.64.0.0/16' && a.CidrBlockState?.State === 'associated')).toHaveLength(1);
    expect(w.controller.exclusions(`transit-${name}`)).toEqual(['100.64.0.0/16']);
    const saved = await record(name);
    expect(JSON.parse(saved?.controllerExclusions ?? '{}')).toEqual({ [`transit-${name}`]: ['100.64.0.0/16'] });
    expect(saved).toMatchObject({ status: 'ONBOARDED', clusterIdentity: newIdentity, controllerExclusionsOf: newIdentity });
    // The old run removed everything else for its cluster; it names what it left and why.
    expect(offboarded.status).toBe('SUCCEEDED');
    expect((offboarded.output as { warnings: string[] }).warnings).toContainEqual(
      `the exclusions on transit transit-${name} are claimed for EKS cluster "${name}" re-created under its name (${newIdentity}), ` +
        `not for the cluster this run is for (${kept === 'without identity' ? 'no identity on record' : old?.clusterIdentity}): they stay for it`,
    );
  });

  it('EKS reports the cluster security group late in CREATING before EC2 shows it: the network is wired, the group judged after ACTIVE', async () => {
    await clusterOnOwnTransitCreating('group-late', 'transit-group-late', 9);
    const cluster = w.world.eks.cluster('group-late')!;
    const realGroupId = cluster.clusterSecurityGroupId;
    cluster.reportsGroupWhileCreating = true;
    cluster.clusterSecurityGroupId = 'sg-0feedc0ffee000001';
    const { result } = await runCreating('group-late', 'ACTIVE', async () => {
      cluster.clusterSecurityGroupId = realGroupId;
    });
    expect(result.error).toBeUndefined();
    expect(result.statesEntered.indexOf('PodNetwork')).toBeLessThan(result.statesEntered.indexOf('AwaitActive'));
    const end = await groups('group-late');
    expect(end.pod).toContainEqual({ protocol: '-1', sourceGroupId: realGroupId });
    expect(w.world.kube.eniConfigs('group-late')).toHaveLength(2);
  });

  it('opted in by tag at the first look, the tag removed during the wait: the opt-in is judged once, the run completes', async () => {
    const saved = w.config.optIn;
    w.setConfig({ optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' } });
    try {
      const created = await clusterOnOwnTransitCreating('untagged-early', 'transit-untagged-early', 10);
      w.world.eks.cluster('untagged-early')!.tags['aviatrix.com/onboard'] = 'true';
      const { result } = await runCreating('untagged-early', 'ACTIVE', async () => {
        delete w.world.eks.cluster('untagged-early')!.tags['aviatrix.com/onboard'];
      });
      expect(result.error).toBeUndefined();
      expect(result.output).toMatchObject({ status: 'ONBOARDED' });
      expect(w.world.kube.eniConfigs('untagged-early')).toHaveLength(2);
      expect(w.controller.snatPolicies(created.spokeName)).toHaveLength(4);
    } finally {
      w.setConfig({ optIn: saved });
    }
  });

  /**
   * A cluster wired while CREATING that EKS reports ACTIVE with `groupId` as its cluster security
   * group: the run fails and writes nothing for the ACTIVE cluster (after ACTIVE only the outcome's
   * tags: no access entry, Kubernetes object, add-on change or rule).
   */
  async function failsAtActiveWithGroup(name: string, octet: number, groupId: () => Promise<string> | string) {
    const created = await clusterOnOwnTransitCreating(name, `transit-${name}`, octet);
    const cluster = w.world.eks.cluster(name)!;
    const { result, after } = await runCreating(name, 'ACTIVE', async () => {
      cluster.clusterSecurityGroupId = await groupId();
    });
    expect(result.status).toBe('FAILED');
    expect(after.map((c) => c.action)).toEqual(['TagResource']);
    expect(w.world.eks.accessEntries(name)).toEqual([]);
    expect(w.world.kube.eniConfigs(name)).toEqual([]);
    expect(addonEnv(name)).not.toHaveProperty('AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG');
    return { result, created, cluster };
  }

  it('the cluster security group EKS reports at ACTIVE is not in the cluster\'s VPC: VpcCni refuses it before its access entry: no rule, access entry, ENIConfig or add-on write', async () => {
    const { result, cluster } = await failsAtActiveWithGroup('group-elsewhere', 11, async () => {
      const other = await w.world.createVpc();
      return (await w.world.ec2Direct.send(new CreateSecurityGroupCommand({ GroupName: 'elsewhere', Description: 'in another VPC', VpcId: other.vpcId }))).GroupId!;
    });
    expect(result.error?.name).toBe('NetworkConflict');
    expect(result.error?.message).toMatch(new RegExp(`cluster security group ${cluster.clusterSecurityGroupId} of EKS cluster "group-elsewhere" is not in VPC ${cluster.vpcId}`));
    expect(result.statesEntered).toContain('VpcCni');
  });

  it('ACTIVE without a cluster security group: AwaitActive refuses, naming the cluster and the fix; nothing that needs ACTIVE is written', async () => {
    const { result, created } = await failsAtActiveWithGroup('group-none', 12, () => '');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(
      /EKS cluster "group-none" is ACTIVE but reports no cluster security group, .*aws eks describe-cluster --name group-none .*run the workflow again once EKS reports one\. The pod network wired while it was CREATING .* stays claimed/,
    );
    expect(result.statesEntered).not.toContain('VpcCni');
    expect(await record('group-none')).toMatchObject({ status: 'FAILED', vpcId: created.vpc.vpcId, podCidr: '100.64.0.0/16' });
  });

  it('ACTIVE with a cluster security group EC2 does not show: VpcCni refuses it before its access entry, naming the cluster and the fix', async () => {
    const { result, cluster } = await failsAtActiveWithGroup('group-unseen', 13, () => 'sg-0feedc0ffee000002');
    expect(result.error?.name).toBe('NetworkConflict');
    expect(result.error?.message).toContain(
      `cluster security group sg-0feedc0ffee000002 of EKS cluster "group-unseen" is not in VPC ${cluster.vpcId}; EKS made it with the cluster and does not make it again: ` +
        'check it (aws ec2 describe-security-groups --group-ids sg-0feedc0ffee000002); if it was deleted, re-create the cluster, then run the workflow again',
    );
    expect(result.error?.message).not.toContain('Already changed');
    expect(result.statesEntered).toContain('VpcCni');
  });

  it('a node-group run on a CREATING cluster waits for ACTIVE at its first look (no early phase), then checks its node group', async () => {
    await createCluster(w, { name: 'ng-creating' });
    const mark = w.world.log.mark();
    let looks = 0;
    const result = await runWorkflow(NODEGROUP_WORKFLOW, { clusterName: 'ng-creating', nodegroupName: 'ng-missing' }, {
      onInvoke: (state) => {
        if (state === 'ResolveCluster' && ++looks === 2) w.activateCluster('ng-creating');
      },
    });
    expect(result.statesEntered.slice(0, 4)).toEqual(['Start', 'ResolveCluster', 'IsClusterReady', 'WaitForCluster']);
    expect(result.error?.name).toBe('InvalidInput');
    expect(result.error?.message).toMatch(/node group "ng-missing" does not exist on EKS cluster "ng-creating"/);
    expect(writesSince(mark)).toEqual([]);
  });

  it('a refusal CreateCluster already fixed (Auto Mode) comes at the first look: no wait, no write, a REFUSED record', async () => {
    await createCluster(w, { name: 'auto-early', autoMode: true });
    await expectRefused('auto-early', 'ClusterRefused', /EKS cluster "auto-early" uses EKS Auto Mode/);
    expect(w.world.eks.cluster('auto-early')!.status).toBe('CREATING');
    expect((await run({ clusterName: 'auto-early' })).statesEntered).not.toContain('WaitForCluster');
  });

  it('a refusal only ACTIVE shows (the vpc-cni add-on EKS installed is too old for prefixDelegation): no EKS, Kubernetes or add-on write', async () => {
    await createCluster(w, { name: 'old-cni-early' });
    w.setConfig({ prefixDelegation: true });
    try {
      // EKS installs the add-on while it creates the cluster; the emulator does at ACTIVE.
      const { result, after } = await runCreating('old-cni-early', 'ACTIVE', async () => undefined, () => {
        w.world.eks.addon('old-cni-early', 'vpc-cni')!.addonVersion = 'v1.8.0-eksbuild.1';
      });
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('ClusterRefused');
      expect(result.error?.message).toMatch(/onboarding\.prefixDelegation needs VPC CNI v1\.9\.0 or later, the cluster runs v1\.8\.0-eksbuild\.1.*stays claimed/);
      expect(result.statesEntered).toContain('PodNetwork');
      expect(result.statesEntered).not.toContain('VpcCni');
      expect(after.map((c) => c.action)).toEqual(['TagResource']);
      expect(await record('old-cni-early')).toMatchObject({ status: 'FAILED', podCidr: '100.64.0.0/16' });
    } finally {
      w.setConfig({ prefixDelegation: false });
    }
  });
});

describe('a phase a Choice does not expect', () => {
  // The run is started at the Choice with the state it would hold there, the phase replaced.
  it.each([
    // After the preflight's place in the run: FAILED; before it (the input not lifted yet): REFUSED.
    [CLUSTER_WORKFLOW, 'IsClusterActive', 'cluster', 'odd-phase-cluster', 'FAILED', { input: normalizeInput({ clusterName: 'odd-phase-cluster' }) }],
    [NODEGROUP_WORKFLOW, 'IsClusterReady', 'node-group', 'odd-phase-nodegroup', 'REFUSED', { resolve: { input: normalizeInput({ clusterName: 'odd-phase-nodegroup', nodegroupName: 'ng' }) } }],
  ])('%s %s: "early" ends the run through ReleaseLeases and RecordFailure, writing nothing', async (file, choice, workflow, clusterName, status, state) => {
    const mark = w.world.log.mark();
    const result = await runWorkflow(file, { ...state, resolve: { ...(state as { resolve?: object }).resolve, phase: 'early' }, startedAt: new Date().toISOString(), pollSeconds: 30 }, { startAt: choice });
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('UnexpectedPhase');
    expect(result.error?.message).toBe(`the ${workflow} workflow got phase "early" from its resolve step where it does not expect it, and stopped; this is a defect of the workflow, not of the cluster: report it with the execution`);
    expect(result.statesEntered).toEqual([choice, 'UnexpectedPhase', 'ReleaseLeases', 'RecordFailure', 'Failed']);
    expect(writesSince(mark)).toEqual([]);
    expect(await record(clusterName)).toMatchObject({ lastRunStatus: status, error: expect.stringContaining('UnexpectedPhase: the') });
  });
});
