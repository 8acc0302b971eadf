// Faults on the real cluster-onboarding ASL: each kind of fault (5xx, throttling, a reset
// connection, an answer later than the client waits) on a writing call of each step. The run
// converges with exactly one of each resource and a bounded number of attempts; a permanent
// refusal fails the run once, unretried, naming the call. The matrix is written to
// docs/fault-matrix.md and must match the README's copy.
import fs from 'node:fs';
import path from 'node:path';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
} from '@aws-sdk/client-ec2';
import { ENICONFIG_PATH } from '../../lambdas/domain/cni';
import { authorizeIngress } from '../../lambdas/domain/network';
import type { ServiceName } from '../local-world/call-log';
import type { Fault } from '../local-world/faults';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { makeSelfSignedCertificate } from '../local-world/tls';
import { runWorkflow, WorkflowRun } from '../local-world/workflow-runner';

const WORKFLOW = 'cluster-onboarding.asl.json';
// "An answer later than the client waits" is modelled as the write done and its answer lost (the
// connection cut after the stand-in wrote): what the client sees after its timeout is the same, a
// transient failure after the write (test/unit/classify.test.ts shows a silent server's timeout
// is classified transient), without client timeouts short enough to fire on a loaded machine.

/**
 * Step -> the writing call a fault is put on (as the stand-in logs it). Data, so a reordered
 * workflow only changes this table. (The transit exclusion is written once for all these clusters,
 * which share the pod CIDR; the credentials secret is read once per warm container.)
 */
interface Target {
  step: string;
  service: ServiceName;
  action: (cluster: string) => string;
  label: string;
}
const TARGETS: Target[] = [
  { step: 'PodNetwork', service: 'dynamodb', action: () => 'PutItem', label: 'DynamoDB PutItem (cluster lease)' },
  { step: 'PodNetwork', service: 'ec2', action: () => 'AssociateVpcCidrBlock', label: 'EC2 AssociateVpcCidrBlock' },
  { step: 'VpcCni', service: 'eks', action: () => 'CreateAccessEntry', label: 'EKS CreateAccessEntry' },
  { step: 'VpcCni', service: 'kubernetes', action: (c) => `PATCH /clusters/${c}${ENICONFIG_PATH}/us-east-1a`, label: 'Kubernetes apply ENIConfig' },
  { step: 'VpcCni', service: 'eks', action: () => 'UpdateAddon', label: 'EKS UpdateAddon' },
  { step: 'OnboardToController', service: 'aviatrix', action: () => 'POST k8s/clusters', label: 'controller POST k8s/clusters' },
  { step: 'ConfigureGatewaySnat', service: 'aviatrix', action: () => 'edit_gw_customized_snat_config', label: 'controller edit_gw_customized_snat_config' },
  { step: 'RecordOutcome', service: 'eks', action: () => 'TagResource', label: 'EKS TagResource' },
];

/** Transient faults, each put twice (once for a delay) on every target in one run. */
/** `written`: the stand-in did the write before the fault, so a re-read may find it done and not repeat the call. */
const TRANSIENT: { kind: string; fault: (t: Target) => Fault; times: number; written?: boolean }[] = [
  { kind: '500', fault: () => ({ kind: 'status', status: 500 }), times: 2 },
  { kind: '503', fault: () => ({ kind: 'status', status: 503 }), times: 2 },
  {
    kind: 'throttled (429 / Throttling)',
    fault: (t) =>
      t.service === 'ec2' || t.service === 'dynamodb'
        ? { kind: 'status', status: 400, code: t.service === 'ec2' ? 'RequestLimitExceeded' : 'ThrottlingException' }
        : { kind: 'status', status: 429 },
    times: 2,
  },
  { kind: 'connection reset', fault: () => ({ kind: 'reset' }), times: 2 },
  { kind: 'write done, answer lost (late or dropped)', fault: () => ({ kind: 'drop' }), times: 1, written: true },
];

let w: OnboardingWorld;
let counter = 0;
const matrix: string[][] = [];

beforeAll(async () => {
  w = await startOnboardingWorld();
});
afterAll(async () => {
  await w?.stop();
});

async function newCluster(): Promise<CreatedCluster> {
  return createCluster(w, { name: `fault-${++counter}` });
}

/** The run, and how many times each state was attempted (entered, and retried by its Retry). */
async function run(cluster: string): Promise<WorkflowRun & { attempts: Map<string, number> }> {
  const tries = new Map<string, number>();
  const result = await runWorkflow(WORKFLOW, { clusterName: cluster }, {
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForActive') w.activateCluster(cluster);
      if ((event.type === 'StateEntered' || event.type === 'StateRetried') && event.state) tries.set(event.state, (tries.get(event.state) ?? 0) + 1);
    },
  });
  return { ...result, attempts: tries };
}

/** Everything onboarding makes, counted: one of each, whatever the faults did. */
async function endState(cluster: CreatedCluster) {
  const ec2 = w.world.ec2Direct;
  const vpcId = cluster.vpc.vpcId;
  const [vpcs, subnets, groups] = await Promise.all([
    ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] })),
    ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] })),
  ]);
  return {
    cidrAssociations: (vpcs.Vpcs![0].CidrBlockAssociationSet ?? []).filter((a) => a.CidrBlock === '100.64.0.0/16').length,
    podSubnets: (subnets.Subnets ?? []).filter((s) => s.CidrBlock?.startsWith('100.64.')).length,
    podSecurityGroups: (groups.SecurityGroups ?? []).filter((g) => g.Tags?.some((t) => t.Key === 'eks-aviatrix:cluster' && t.Value === cluster.name)).length,
    eniConfigs: w.world.kube.eniConfigs(cluster.name).length,
    snatPolicies: w.controller.snatPolicies(cluster.spokeName).length,
    haSnatPolicies: w.controller.snatPolicies(`${cluster.spokeName}-hagw`).length,
    exclusions: w.controller.exclusions(TRANSIT_GATEWAY).filter((c) => c === '100.64.0.0/16').length,
    k8sClusters: w.controller.k8sClusters().filter((c) => String(c.cluster_id).endsWith(`/${cluster.name}`)).length,
  };
}

const attempts = (mark: number, service: ServiceName, action: string) => w.world.log.since(mark).filter((c) => c.service === service && c.action === action).length;

let clean: { state: Awaited<ReturnType<typeof endState>>; calls: Map<string, number>; entries: Map<string, number> };

test('an uninterrupted run: the end state and call counts every faulted run is held to', async () => {
  // The first cluster behind the transit adds the pod CIDR's exclusion under the transit lease;
  // every later one joins it without (no lease put): the reference is such a later cluster.
  expect((await run((await newCluster()).name)).status).toBe('SUCCEEDED');
  const cluster = await newCluster();
  const mark = w.world.log.mark();
  const result = await run(cluster.name);
  expect(result.error).toBeUndefined();
  expect(result.status).toBe('SUCCEEDED');
  const state = await endState(cluster);
  expect(state).toEqual({ cidrAssociations: 1, podSubnets: 2, podSecurityGroups: 1, eniConfigs: 2, snatPolicies: 4, haSnatPolicies: 4, exclusions: 1, k8sClusters: 1 });
  clean = { state, calls: new Map(TARGETS.map((t) => [t.label, attempts(mark, t.service, t.action(cluster.name))])), entries: result.attempts };
  for (const t of TARGETS) expect(clean.calls.get(t.label)).toBeGreaterThan(0);
});

describe.each(TRANSIENT)('$kind on a writing call of every step', ({ kind, fault, times, written }) => {
  test('converges to the same end state, with one of each resource and bounded attempts', async () => {
    const cluster = await newCluster();
    const mark = w.world.log.mark();
    const faultMark = w.world.log.faults.mark();
    for (const t of TARGETS) w.world.log.faults.inject(t.service, t.action(cluster.name), fault(t), times);
    const result = await run(cluster.name);
    w.world.log.faults.clear();
    if (result.status === 'FAILED') throw new Error(`${kind}: ${result.error?.name}: ${result.error?.message}`);
    expect(await endState(cluster)).toEqual(clean.state);
    const fired = w.world.log.faults.firedSince(faultMark);
    const hits = (t: Target) => fired.filter((f) => f.service === t.service && f.action === t.action(cluster.name)).length;
    // Bounded: a fault the client's own retries do not absorb costs its step one more ASL attempt, no more.
    const entries = result.attempts;
    let extraEntries = 0;
    for (const step of new Set(TARGETS.map((t) => t.step))) {
      const faults = TARGETS.filter((t) => t.step === step).reduce((sum, t) => sum + hits(t), 0);
      expect(entries.get(step) ?? 0).toBeLessThanOrEqual(clean.entries.get(step)! + faults);
      extraEntries += (entries.get(step) ?? 0) - clean.entries.get(step)!;
    }
    for (const t of TARGETS) {
      expect({ call: t.label, faults: hits(t) }).toEqual({ call: t.label, faults: times });
      const made = attempts(mark, t.service, t.action(cluster.name));
      const before = clean.calls.get(t.label)!;
      if (written) expect(made).toBeGreaterThanOrEqual(before);
      else expect(made).toBeGreaterThan(before);
      // The faulted attempts, plus the call again in each extra step attempt.
      expect(made).toBeLessThanOrEqual(before * (1 + extraEntries) + hits(t));
      matrix.push([t.label, kind, t.step, 'converges: one of each resource, one more attempt per fault at most']);
    }
  });
});

/** Permanent refusals: the run fails at that call, which is made once, and the failure names it. */
const PERMANENT: { target: string; fault: Fault; expected: RegExp }[] = [
  { target: 'EC2 AssociateVpcCidrBlock', fault: { kind: 'status', status: 400, code: 'InvalidParameterValue' }, expected: /InvalidParameterValue/ },
  { target: 'Kubernetes apply ENIConfig', fault: { kind: 'status', status: 422 }, expected: /Kubernetes API PATCH .*eniconfigs\/us-east-1a answered 422/ },
  { target: 'EKS UpdateAddon', fault: { kind: 'status', status: 400, code: 'InvalidParameterException' }, expected: /InvalidParameterException/ },
  { target: 'controller edit_gw_customized_snat_config', fault: { kind: 'status', status: 400 }, expected: /edit_gw_customized_snat_config/ },
];

describe.each(PERMANENT)('a permanent refusal of $target', ({ target, fault, expected }) => {
  test('fails the run once, not retried, naming the call', async () => {
    const t = TARGETS.find((x) => x.label === target)!;
    const cluster = await newCluster();
    const mark = w.world.log.mark();
    w.world.log.faults.inject(t.service, t.action(cluster.name), fault, 100);
    const result = await run(cluster.name);
    w.world.log.faults.clear();
    expect(result.status).toBe('FAILED');
    expect(result.error?.message).toMatch(expected);
    expect(result.statesEntered.filter((s) => s === t.step)).toHaveLength(1);
    expect(attempts(mark, t.service, t.action(cluster.name))).toBe(1);
    matrix.push([t.label, `permanent ${fault.kind === 'status' ? fault.status : fault.kind}`, t.step, 'fails once, not retried, the error names the call']);
  });
});

/** Routes through an internet gateway in each of the cluster's route tables. */
/** Routes to a network interface in the VPC, as Aviatrix programs them towards its spoke gateway. */
async function addRoutes(cluster: CreatedCluster, destinations: string[]): Promise<void> {
  const ec2 = w.world.ec2Direct;
  const { NetworkInterface } = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: cluster.vpc.subnets[0].subnetId }));
  for (const subnet of cluster.vpc.subnets) {
    for (const destination of destinations) {
      await ec2.send(new CreateRouteCommand({ RouteTableId: subnet.routeTableId, DestinationCidrBlock: destination, NetworkInterfaceId: NetworkInterface!.NetworkInterfaceId! }));
    }
  }
}

const resourceWrites = (mark: number) => w.world.log.writesSince(mark).filter((c) => ['ec2', 'eks', 'kubernetes', 'aviatrix'].includes(c.service));

describe('guards', () => {
  test('tag opt-in: an untagged cluster is SKIPPED with no write; a tagged one (default route in place) is onboarded', async () => {
    const saved = w.config.optIn;
    w.setConfig({ optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' } });
    try {
      const untagged = await newCluster();
      await addRoutes(untagged, ['0.0.0.0/0']);
      w.activateCluster(untagged.name);
      const mark = w.world.log.mark();
      const skipped = await run(untagged.name);
      expect(skipped.status).toBe('SUCCEEDED');
      expect(skipped.output).toMatchObject({ status: 'SKIPPED' });
      expect(resourceWrites(mark)).toEqual([]);

      const tagged = await createCluster(w, { name: `fault-${++counter}`, tags: { 'aviatrix.com/onboard': 'true' } });
      await addRoutes(tagged, ['0.0.0.0/0']);
      const onboarded = await run(tagged.name);
      expect(onboarded.error).toBeUndefined();
      expect(onboarded.output).toMatchObject({ status: 'ONBOARDED' });
      expect((await endState(tagged)).cidrAssociations).toBe(1);
    } finally {
      w.setConfig({ optIn: saved });
    }
  });

  test('a Kubernetes API served from another CA than the one EKS reports: VpcCni refuses it (KubeTransportError, not retried), no ENIConfig', async () => {
    const cluster = await newCluster();
    w.world.eks.reportCertificateAuthority(cluster.name, makeSelfSignedCertificate('impostor').caPem);
    try {
      const mark = w.world.log.mark();
      const result = await run(cluster.name);
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('KubeTransportError');
      expect(result.statesEntered.filter((s) => s === 'VpcCni')).toHaveLength(1);
      expect(w.world.log.since(mark).filter((c) => c.service === 'kubernetes')).toEqual([]);
      expect(w.world.kube.eniConfigs(cluster.name)).toEqual([]);
    } finally {
      w.world.eks.reportCertificateAuthority(cluster.name, undefined);
    }
  });

  test('a route inside the secondary CIDR: refused as NetworkConflict naming the route, with no write', async () => {
    const cluster = await newCluster();
    await addRoutes(cluster, ['0.0.0.0/0', '100.64.5.0/24']);
    w.activateCluster(cluster.name);
    const mark = w.world.log.mark();
    const result = await run(cluster.name);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('NetworkConflict');
    expect(result.error?.message).toContain('route 100.64.5.0/24');
    expect(resourceWrites(mark)).toEqual([]);
  });
});

describe('lost answers outside the matrix', () => {
  test('the answers to both AuthorizeSecurityGroupIngress calls lost after the rules were added: the SDK\'s retry finds them there, and PodNetwork converges', async () => {
    const cluster = await newCluster();
    const faultMark = w.world.log.faults.mark();
    w.world.log.faults.inject('ec2', 'AuthorizeSecurityGroupIngress', { kind: 'drop' }, 2);
    const result = await run(cluster.name);
    w.world.log.faults.clear();
    expect(w.world.log.faults.firedSince(faultMark).filter((f) => f.action === 'AuthorizeSecurityGroupIngress')).toHaveLength(2);
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');
    expect(await endState(cluster)).toEqual(clean.state);
    expect(result.statesEntered.filter((s) => s === 'PodNetwork')).toHaveLength(clean.entries.get('PodNetwork')!);
  });

  test('a rule someone added between plan and write: EC2 refuses the whole call as a duplicate, and each planned rule is then added on its own', async () => {
    const cluster = await newCluster();
    const ec2 = w.world.ec2Direct;
    const { GroupId } = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `dup-${cluster.name}`, Description: 'duplicate test', VpcId: cluster.vpc.vpcId }));
    const rule = (port: number) => ({ IpProtocol: 'tcp', FromPort: port, ToPort: port, IpRanges: [{ CidrIp: '10.9.0.0/24' }] });
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions: [rule(443)] }));
    await authorizeIngress(GroupId!, [rule(443), rule(9443)]);
    const { SecurityGroups = [] } = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId!] }));
    expect((SecurityGroups[0].IpPermissions ?? []).map((p) => p.FromPort).sort()).toEqual([443, 9443]);
  });
});

const MATRIX_FILE = path.resolve(__dirname, '..', '..', 'docs', 'fault-matrix.md');

/** Written by the test run: the table in the README must be this one. */
function writeMatrix(): void {
  // Only a whole run (not a filtered one) writes the table and holds the README to it.
  if (matrix.length !== TRANSIENT.length * TARGETS.length + PERMANENT.length) return;
  const lines = [
    '| call (service) | fault | step | result |',
    '|---|---|---|---|',
    ...matrix
      .sort((a, b) => TARGETS.findIndex((t) => t.label === a[0]) - TARGETS.findIndex((t) => t.label === b[0]))
      .map((row) => `| ${row.join(' | ')} |`),
  ];
  fs.mkdirSync(path.dirname(MATRIX_FILE), { recursive: true });
  fs.writeFileSync(MATRIX_FILE, `${lines.join('\n')}\n`);
  const readme = fs.readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
  expect(readme).toContain(lines.join('\n'));
}

// Last in the file: by now every row above has run (an expectation in afterAll would not fail the suite).
test('the README carries the fault matrix this run produced', () => {
  writeMatrix();
});
