// Crash and rerun: each writing step of each workflow is killed right after its first write (the
// stand-in does the write and drops the answer; the runner kills the Lambda, so nothing more leaves
// it). Then a rerun (a new execution with the same input) and a redrive (this execution again from
// the state that failed) each converge to the end state of an uninterrupted run, with exactly one
// of each resource. aws-local-stepfunctions has no redrive: it is modelled as running the
// definition from the failed top-level state (the Parallel holding it, for a branch) with the input
// that state had and the same execution id, which is what Step Functions' RedriveExecution does.
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import type { ServiceName } from '../local-world/call-log';
import { createCluster, createNodegroup, createSubnet, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { killTask, runWorkflow, WorkflowRun } from '../local-world/workflow-runner';
import { STEP_FUNCTIONS } from '../../lib/functions';

const ONBOARDING = 'cluster-onboarding.asl.json';
const NODEGROUP = 'nodegroup-onboarding.asl.json';
const OFFBOARDING = 'cluster-offboarding.asl.json';
type Workflow = typeof ONBOARDING | typeof NODEGROUP | typeof OFFBOARDING;

interface Row {
  workflow: Workflow;
  /** The Task state crashed. */
  state: string;
  /** The top-level state a redrive starts from (the Parallel holding a branch's state). */
  redriveFrom: string;
  /** Its first write, as the stand-in logs it. */
  service: ServiceName;
  action: string;
}

const ROWS: Row[] = [
  { workflow: ONBOARDING, state: 'ExcludePodCidr', redriveFrom: 'ExcludePodCidr', service: 'aviatrix', action: 'edit_gateway_advertised_cidr' },
  { workflow: ONBOARDING, state: 'PodNetwork', redriveFrom: 'PodNetwork', service: 'ec2', action: 'AssociateVpcCidrBlock' },
  { workflow: ONBOARDING, state: 'VpcCni', redriveFrom: 'VpcCni', service: 'eks', action: 'CreateAccessEntry' },
  { workflow: ONBOARDING, state: 'OnboardToController', redriveFrom: 'ConfigureController', service: 'aviatrix', action: 'POST k8s/clusters' },
  { workflow: ONBOARDING, state: 'ConfigureGatewaySnat', redriveFrom: 'ConfigureController', service: 'aviatrix', action: 'edit_gw_customized_snat_config' },
  { workflow: ONBOARDING, state: 'ExternalSnat', redriveFrom: 'ExternalSnat', service: 'eks', action: 'UpdateAddon' },
  { workflow: NODEGROUP, state: 'ConfigureGatewaySnat', redriveFrom: 'ConfigureGatewaySnat', service: 'aviatrix', action: 'edit_gw_customized_snat_config' },
  // The node-group step only waits and checks (no resource write): its first write is its cluster lease.
  { workflow: NODEGROUP, state: 'Nodegroup', redriveFrom: 'Nodegroup', service: 'dynamodb', action: 'PutItem' },
  { workflow: OFFBOARDING, state: 'DetachSecurityGroups', redriveFrom: 'DetachSecurityGroups', service: 'ec2', action: 'RevokeSecurityGroupIngress' },
  { workflow: OFFBOARDING, state: 'OffboardFromController', redriveFrom: 'OffboardController', service: 'aviatrix', action: 'DELETE app-domains' },
  { workflow: OFFBOARDING, state: 'RemoveGatewaySnat', redriveFrom: 'OffboardController', service: 'aviatrix', action: 'edit_gw_customized_snat_config' },
  { workflow: OFFBOARDING, state: 'CleanupAws', redriveFrom: 'CleanupAws', service: 'ec2', action: 'DeleteSecurityGroup' },
  { workflow: OFFBOARDING, state: 'RemoveExclusion', redriveFrom: 'RemoveExclusion', service: 'aviatrix', action: 'edit_gateway_advertised_cidr' },
];

// Each row runs two or three whole workflows; on a loaded 2-core machine that can pass jest's default.
const ROW_TIMEOUT_MS = 300_000;

let w: OnboardingWorld;
let eks: EKSClient;
let counter = 0;

beforeAll(async () => {
  // EKS takes a while to delete a cluster: offboarding starts while it is still DELETING.
  w = await startOnboardingWorld({ eks: { deletionDescribes: 2 } });
  eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
});
afterAll(async () => {
  eks?.destroy();
  await w?.stop();
});

/** One cluster (own VPC, own pod CIDR, so its exclusion is its own), made ready for `workflow`. */
interface Scenario {
  cluster: CreatedCluster;
  podCidr: string;
  nodeSubnet?: string;
  input: Record<string, unknown>;
}

async function scenario(workflow: Workflow): Promise<Scenario> {
  const n = ++counter;
  const podCidr = `100.${64 + n}.0.0/16`;
  w.setConfig({ secondaryCidr: podCidr });
  const cluster = await createCluster(w, { name: `crash-${n}` });
  if (workflow === ONBOARDING) return { cluster, podCidr, input: { clusterName: cluster.name } };
  w.activateCluster(cluster.name);
  const onboarded = await run(ONBOARDING, { clusterName: cluster.name });
  expect(onboarded.error).toBeUndefined();
  if (workflow === NODEGROUP) {
    const subnet = await createSubnet(w, cluster.vpc.vpcId, 'us-east-1a', '10.0.64.0/20');
    await createNodegroup(w, { cluster: cluster.name, name: 'workers', subnetIds: [subnet.subnetId] });
    return { cluster, podCidr, nodeSubnet: subnet.subnetId, input: { clusterName: cluster.name, nodegroupName: 'workers' } };
  }
  await eks.send(new DeleteClusterCommand({ name: cluster.name }));
  return { cluster, podCidr, input: { clusterName: cluster.name } };
}

interface Crash {
  row: Row;
  /** The input the state to redrive from was entered with. */
  redriveInput?: unknown;
}

function run(workflow: Workflow, input: unknown, extra: { executionName?: string; startAt?: string; crash?: Crash; clusterName?: string } = {}): Promise<WorkflowRun> {
  const { crash } = extra;
  // A redrive's input is the state's, not the workflow's: the cluster is named separately.
  const clusterName = extra.clusterName ?? (input as { clusterName: string }).clusterName;
  let armed = false;
  return runWorkflow(workflow, input, {
    ...(extra.executionName ? { executionName: extra.executionName } : {}),
    ...(extra.startAt ? { startAt: extra.startAt } : {}),
    onInvoke: (state) => {
      if (!crash || armed || state !== crash.row.state) return;
      armed = true;
      w.world.log.faults.inject(crash.row.service, crash.row.action, { kind: 'drop', afterWrite: () => killTask(crash.row.state) });
    },
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForCluster') w.activateCluster(clusterName);
      if (event.type === 'StateEntered' && event.state === 'WaitForNodegroup') w.world.eks.activateNodegroup(clusterName, 'workers');
      if (crash && crash.redriveInput === undefined && event.type === 'StateEntered' && event.state === crash.row.redriveFrom) crash.redriveInput = event.input;
    },
  });
}

/** Everything the workflows make for one cluster, counted. */
async function endState(s: Scenario) {
  const ec2 = w.world.ec2Direct;
  const vpcId = s.cluster.vpc.vpcId;
  const [vpcs, subnets, groups] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
  ]);
  const prefix = s.podCidr.split('.').slice(0, 2).join('.') + '.';
  const podGroups = (groups.SecurityGroups ?? []).filter((g) => g.Tags?.some((t) => t.Key === 'eks-aviatrix:cluster' && t.Value === s.cluster.name));
  return {
    cidrAssociations: (vpcs.Vpcs![0].CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === s.podCidr && a.CidrBlockState?.State !== 'disassociated').length,
    podSubnets: (subnets.Subnets ?? []).filter((x) => x.CidrBlock?.startsWith(prefix)).length,
    podSecurityGroups: podGroups.length,
    podGroupRules: podGroups.reduce((sum, g) => sum + (g.IpPermissions ?? []).length + (g.IpPermissionsEgress ?? []).length, 0),
    eniConfigs: w.world.kube.hasCluster(s.cluster.name) ? w.world.kube.eniConfigs(s.cluster.name).length : 0,
    snatPolicies: w.controller.snatPolicies(s.cluster.spokeName).length,
    haSnatPolicies: w.controller.snatPolicies(`${s.cluster.spokeName}-hagw`).length,
    nodeSubnetPolicies: s.nodeSubnet ? w.controller.snatPolicies(s.cluster.spokeName).filter((p) => p.src_ip === '10.0.64.0/20').length : 0,
    exclusions: w.controller.exclusions(TRANSIT_GATEWAY).filter((c) => c === s.podCidr).length,
    k8sClusters: w.controller.k8sClusters().filter((c) => String(c.cluster_id).endsWith(`/${s.cluster.name}`)).length,
    appDomains: w.controller.smartGroups().filter((g) => g.name.startsWith(`${s.cluster.name}-`)).length,
  };
}

type EndState = Awaited<ReturnType<typeof endState>>;
const uninterrupted = new Map<Workflow, EndState>();

/** The end state of an uninterrupted run of `workflow`, measured once. */
async function reference(workflow: Workflow): Promise<EndState> {
  const known = uninterrupted.get(workflow);
  if (known) return known;
  const s = await scenario(workflow);
  const result = await run(workflow, s.input);
  expect(result.error).toBeUndefined();
  const state = await endState(s);
  uninterrupted.set(workflow, state);
  return state;
}

test('uninterrupted runs: one of each resource (the reference every crashed run is held to)', async () => {
  expect(await reference(ONBOARDING)).toEqual({
    cidrAssociations: 1, podSubnets: 2, podSecurityGroups: 1, podGroupRules: expect.any(Number), eniConfigs: 2,
    snatPolicies: 4, haSnatPolicies: 4, nodeSubnetPolicies: 0, exclusions: 1, k8sClusters: 1, appDomains: expect.any(Number),
  });
  const onboarded = uninterrupted.get(ONBOARDING)!;
  expect(onboarded.podGroupRules).toBeGreaterThan(0);
  const nodegroup = await reference(NODEGROUP);
  // The node group's subnet gets one policy on the spoke and one on the HA gateway.
  expect(nodegroup).toEqual({ ...onboarded, snatPolicies: 5, haSnatPolicies: 5, nodeSubnetPolicies: 1 });
  expect(await reference(OFFBOARDING)).toEqual({
    cidrAssociations: 0, podSubnets: 0, podSecurityGroups: 0, podGroupRules: 0, eniConfigs: 0,
    snatPolicies: 0, haSnatPolicies: 0, nodeSubnetPolicies: 0, exclusions: 0, k8sClusters: 0, appDomains: 0,
  });
}, ROW_TIMEOUT_MS);

describe.each(ROWS)('$workflow: $state crashes right after $service $action', (row) => {
  test.each(['rerun', 'redrive'] as const)('a %s converges to the uninterrupted end state, one of each resource', async (mode) => {
    const expected = await reference(row.workflow);
    const s = await scenario(row.workflow);
    const executionName = `crash-${counter}`;
    const crash: Crash = { row };
    const faultMark = w.world.log.faults.mark();
    const crashed = await run(row.workflow, s.input, { executionName, crash });
    w.world.log.faults.clear();
    // The crash happened where planned, and the run failed (the ASL does not retry a dead Lambda).
    expect(w.world.log.faults.firedSince(faultMark)).toEqual([{ service: row.service, action: row.action, fault: 'drop' }]);
    expect(crashed.status).toBe('FAILED');
    expect(crashed.statesEntered).toContain(row.state);
    expect(crashed.statesEntered).not.toContain('RecordOutcome');

    const again =
      mode === 'rerun'
        ? await run(row.workflow, s.input)
        : await run(row.workflow, crash.redriveInput, { executionName, startAt: row.redriveFrom, clusterName: s.cluster.name });
    expect(again.error).toBeUndefined();
    expect(again.status).toBe('SUCCEEDED');
    expect(await endState(s)).toEqual(expected);
  }, ROW_TIMEOUT_MS);
});

describe('a step that outlives its Lambda timeout', () => {
  test('fails with States.Timeout, which the ASL does not retry: leases released, failure recorded; a rerun converges', async () => {
    const expected = await reference(ONBOARDING);
    const s = await scenario(ONBOARDING);
    // The pod-network function's configured timeout, from the stack's function table, run at 1/50 speed.
    const configured = STEP_FUNCTIONS.find((f) => f.name === 'pod-network')!.timeoutSeconds;
    const limitMs = configured * 20;
    let armed = false;
    const retried: string[] = [];
    const result = await runWorkflow(ONBOARDING, s.input, {
      timeoutMs: (fn, seconds) => (fn === 'pod-network' ? seconds * 20 : seconds * 1000),
      // PodNetwork's first read answers long after the function's timeout.
      onInvoke: (state) => {
        if (state !== 'PodNetwork' || armed) return;
        armed = true;
        w.world.log.faults.inject('ec2', 'DescribeVpcs', { kind: 'delay', ms: limitMs * 3 });
      },
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'WaitForCluster') w.activateCluster(s.cluster.name);
        if (event.type === 'StateRetried' && event.state) retried.push(event.state);
      },
    });
    w.world.log.faults.clear();
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('States.Timeout');
    expect(result.error?.message).toContain(`PodNetwork (lambdas/pod-network) ran past its configured timeout (${limitMs} ms here)`);
    expect(result.statesEntered.filter((state) => state === 'PodNetwork')).toHaveLength(1);
    expect(retried).not.toContain('PodNetwork');
    expect(result.statesEntered.slice(result.statesEntered.indexOf('PodNetwork'))).toEqual(['PodNetwork', 'ReleaseLeases', 'RecordFailure', 'Failed']);

    const again = await run(ONBOARDING, s.input);
    expect(again.error).toBeUndefined();
    expect(await endState(s)).toEqual(expected);
  }, ROW_TIMEOUT_MS);
});

describe('a CIDR association that stays associating for a while (as EC2 reports it)', () => {
  test('PodNetwork waits for it (WaitForNetwork) before carving subnets, and converges with one of each', async () => {
    const expected = await reference(ONBOARDING);
    const s = await scenario(ONBOARDING);
    const mark = w.world.log.mark();
    w.world.settleCidrAssociationsAfter(3);
    try {
      const result = await run(ONBOARDING, s.input);
      expect(result.error).toBeUndefined();
      // Each PodNetwork attempt that saw `associating` went back through WaitForNetwork.
      expect(result.statesEntered.filter((state) => state === 'WaitForNetwork').length).toBeGreaterThanOrEqual(2);
    } finally {
      w.world.settleCidrAssociationsAfter(0);
    }
    const writes = w.world.log.writesSince(mark, 'ec2').map((c) => c.action);
    expect(writes.filter((a) => a === 'AssociateVpcCidrBlock')).toHaveLength(1);
    // No subnet was carved while the block was associating (the proxy refuses those, as EC2 does).
    expect(writes.filter((a) => a === 'CreateSubnet')).toHaveLength(2);
    expect(await endState(s)).toEqual(expected);
  }, ROW_TIMEOUT_MS);
});
