// The crash-and-rerun harness shared by crash-rerun.test.ts (the onboarding workflow's rows) and
// crash-rerun-later.test.ts (the node-group and offboarding workflows' rows): two files, so that
// neither dominates the end of a two-worker run.
//
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

export const ONBOARDING = 'cluster-onboarding.asl.json';
export const NODEGROUP = 'nodegroup-onboarding.asl.json';
export const OFFBOARDING = 'cluster-offboarding.asl.json';
export type Workflow = typeof ONBOARDING | typeof NODEGROUP | typeof OFFBOARDING;

export interface Row {
  workflow: Workflow;
  /** The Task state crashed. */
  state: string;
  /** The top-level state a redrive starts from (the Parallel holding a branch's state). */
  redriveFrom: string;
  /** Its first write, as the stand-in logs it. */
  service: ServiceName;
  action: string;
}

export const ROWS: Row[] = [
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
export const ROW_TIMEOUT_MS = 300_000;

let w: OnboardingWorld;
let eks: EKSClient;
let counter = 0;

/** One world for the test file that calls this (beforeAll/afterAll), shared by its rows. */
export function useCrashWorld(): void {
  beforeAll(async () => {
    // EKS takes a while to delete a cluster: offboarding starts while it is still DELETING.
    w = await startOnboardingWorld({ eks: { deletionDescribes: 2 } });
    eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  });
  afterAll(async () => {
    eks?.destroy();
    await w?.stop();
  });
}

/** The world of useCrashWorld. */
export const crashWorld = (): OnboardingWorld => w;

/** One cluster (own VPC, own pod CIDR, so its exclusion is its own), made ready for `workflow`. */
export interface Scenario {
  cluster: CreatedCluster;
  podCidr: string;
  nodeSubnet?: string;
  input: Record<string, unknown>;
}

export async function scenario(workflow: Workflow): Promise<Scenario> {
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

export function run(workflow: Workflow, input: unknown, extra: { executionName?: string; startAt?: string; crash?: Crash; clusterName?: string } = {}): Promise<WorkflowRun> {
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
      // The cluster workflow waits for ACTIVE after the network (WaitForActive), the node-group workflow before it.
      if (event.type === 'StateEntered' && (event.state === 'WaitForCluster' || event.state === 'WaitForActive')) w.activateCluster(clusterName);
      if (event.type === 'StateEntered' && event.state === 'WaitForNodegroup') w.world.eks.activateNodegroup(clusterName, 'workers');
      if (crash && crash.redriveInput === undefined && event.type === 'StateEntered' && event.state === crash.row.redriveFrom) crash.redriveInput = event.input;
    },
  });
}

/** Everything the workflows make for one cluster, counted. */
export async function endState(s: Scenario) {
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

export type EndState = Awaited<ReturnType<typeof endState>>;
const uninterrupted = new Map<Workflow, EndState>();

/**
 * The end state of an uninterrupted run of `workflow`, measured once per file. A node-group
 * scenario starts with an uninterrupted onboarding: its end state is the onboarding's reference too.
 */
export async function reference(workflow: Workflow): Promise<EndState> {
  const known = uninterrupted.get(workflow);
  if (known) return known;
  const s = await scenario(workflow);
  if (workflow === NODEGROUP && !uninterrupted.has(ONBOARDING)) uninterrupted.set(ONBOARDING, await endState(s));
  const result = await run(workflow, s.input);
  expect(result.error).toBeUndefined();
  const state = await endState(s);
  uninterrupted.set(workflow, state);
  return state;
}

/** One of each resource after an uninterrupted onboarding (the rule count and app domains vary with the config). */
export const ONBOARDED: EndState = {
  cidrAssociations: 1, podSubnets: 2, podSecurityGroups: 1, podGroupRules: expect.any(Number), eniConfigs: 2,
  snatPolicies: 4, haSnatPolicies: 4, nodeSubnetPolicies: 0, exclusions: 1, k8sClusters: 1, appDomains: expect.any(Number),
};

/** Nothing left after an uninterrupted offboarding. */
export const OFFBOARDED: EndState = {
  cidrAssociations: 0, podSubnets: 0, podSecurityGroups: 0, podGroupRules: 0, eniConfigs: 0,
  snatPolicies: 0, haSnatPolicies: 0, nodeSubnetPolicies: 0, exclusions: 0, k8sClusters: 0, appDomains: 0,
};

/** Each row, crashed, then rerun or redriven: the uninterrupted end state, one of each resource. */
export function describeRows(rows: Row[]): void {
  describe.each(rows)('$workflow: $state crashes right after $service $action', (row) => {
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
}
