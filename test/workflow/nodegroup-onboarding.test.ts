// The real node-group ASL with the real handlers against the local world.
import { createCluster, createNodegroup, createSubnet, CreatedCluster, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';
import { runWorkflow, RunOptions } from '../local-world/workflow-runner';

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});

afterAll(async () => {
  await w?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function runNodegroup(clusterName: string, nodegroupName: string, options: RunOptions & { dryRun?: boolean } = {}) {
  const { dryRun, ...runOptions } = options;
  return runWorkflow('nodegroup-onboarding.asl.json', { clusterName, nodegroupName, ...(dryRun ? { dryRun } : {}) }, {
    ...runOptions,
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForNodegroup' && w.world.eks.nodegroup(clusterName, nodegroupName)?.status === 'CREATING') {
        w.world.eks.activateNodegroup(clusterName, nodegroupName);
      }
    },
  });
}

const WRITES_OF_INTEREST: readonly string[] = ['ec2', 'eks', 'autoscaling', 'kubernetes', 'aviatrix'];
const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES_OF_INTEREST.includes(c.service));
const calls = (mark: number, action: string) => w.world.log.since(mark).filter((c) => c.action === action);

interface Outcome {
  status: string;
  warnings: string[];
  changes: { resource: string; action: string; detail: string }[];
}

describe('a node group created right after the cluster', () => {
  let cluster: CreatedCluster;
  let subnet: { subnetId: string };

  beforeAll(async () => {
    cluster = await createCluster(w, { name: 'ng-fresh' });
    w.activateCluster('ng-fresh');
    const onboarded = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'ng-fresh' });
    expect(onboarded.status).toBe('SUCCEEDED');
    subnet = await createSubnet(w, cluster.vpc.vpcId, 'us-east-1a', '10.0.64.0/20');
    await createNodegroup(w, { cluster: 'ng-fresh', name: 'workers', subnetIds: [subnet.subnetId] });
  });

  it('gets SNAT for its subnet on the spoke and the HA gateway, each with its own IP', async () => {
    const result = await runNodegroup('ng-fresh', 'workers');
    expect(result.error).toBeUndefined();
    expect(result.statesEntered).toContain('WaitForNodegroup');
    for (const name of [cluster.spokeName, `${cluster.spokeName}-hagw`]) {
      const gateway = w.controller.gateway(name)!;
      const policies = w.controller.snatPolicies(name).filter((p) => p.src_ip === '10.0.64.0/20');
      expect(policies).toEqual([expect.objectContaining({ dst_ip: '0.0.0.0/0', interface: 'eth0', new_src_ip: gateway.private_ip })]);
    }
    const outcome = result.output as Outcome;
    expect(outcome.status).toBe('ONBOARDED');
    // Its nodes registered after the ENIConfigs: nothing to replace. t3.medium's AMI max-pods (17) is
    // above the 12 addresses custom networking leaves it: that is reported for every node.
    expect(outcome.warnings.filter((x) => x.includes('registered before'))).toEqual([]);
    expect(outcome.warnings).toEqual([expect.stringMatching(/allows 17 pods but custom networking gives it addresses for 12; set max-pods to 12/)]);
  });
});

describe('nodes that launched before their ENIConfig', () => {
  const CLUSTER = 'ng-early';
  const nodesOf = (nodegroup: string) =>
    w.world.kube.nodes(CLUSTER).filter((n) => n.metadata.labels?.['eks.amazonaws.com/nodegroup'] === nodegroup).map((n) => n.metadata.name as string).sort();
  const groupOf = (nodegroup: string) => w.world.eks.nodegroup(CLUSTER, nodegroup)!.autoScalingGroupName;
  const earlyWarnings = (outcome: Outcome) => outcome.warnings.filter((x) => x.includes('registered before'));

  beforeAll(async () => {
    const cluster = await createCluster(w, { name: CLUSTER });
    w.activateCluster(CLUSTER);
    // The node groups come up before onboarding has written any ENIConfig: "early" in both AZs,
    // the others (one per failure case) in one.
    const subnets = cluster.vpc.subnets.map((s) => s.subnetId);
    await createNodegroup(w, { cluster: CLUSTER, name: 'early', subnetIds: subnets, instanceType: 'm5.large' });
    await createNodegroup(w, { cluster: CLUSTER, name: 'broken', subnetIds: subnets.slice(0, 1), instanceType: 'm5.large' });
    await createNodegroup(w, { cluster: CLUSTER, name: 'busy', subnetIds: subnets.slice(0, 1), instanceType: 'm5.large' });
    for (const ng of ['early', 'broken', 'busy']) w.world.eks.activateNodegroup(CLUSTER, ng);
    await sleep(1100); // creation timestamps have one-second resolution
    const onboarded = await runWorkflow('cluster-onboarding.asl.json', { clusterName: CLUSTER });
    expect(onboarded.status).toBe('SUCCEEDED');
  });

  it('are reported by name when replacement is not allowed', async () => {
    const early = nodesOf('early');
    expect(early).toHaveLength(2);
    const mark = w.world.log.mark();
    const result = await runNodegroup(CLUSTER, 'early');
    const outcome = result.output as Outcome;
    expect(outcome.status).toBe('ONBOARDED');
    expect(outcome.warnings).toContainEqual(expect.stringContaining(`nodes ${early.join(', ')} of node group "early" registered before their AZ's ENIConfig existed`));
    expect(outcome.warnings).toContainEqual(expect.stringContaining(`aws autoscaling start-instance-refresh --auto-scaling-group-name ${groupOf('early')}`));
    expect(w.world.log.since(mark).filter((c) => c.service === 'autoscaling')).toEqual([]);
    expect(nodesOf('early')).toEqual(early);
  });

  describe('when config allows replacement', () => {
    beforeAll(() => w.setConfig({ allowNodeReplacement: true }));
    afterAll(() => w.setConfig({ allowNodeReplacement: false }));

    it('a dry run plans the instance refresh and writes nothing', async () => {
      const early = nodesOf('early');
      const mark = w.world.log.mark();
      const result = await runNodegroup(CLUSTER, 'early', { dryRun: true });
      expect(result.error).toBeUndefined();
      expect((result.output as Outcome).changes).toContainEqual({
        resource: 'node group early',
        action: 'update',
        detail: expect.stringContaining(`instance refresh of Auto Scaling group ${groupOf('early')}`),
      });
      expect(writesSince(mark)).toEqual([]);
      expect(w.world.autoscaling.refreshes(groupOf('early'))).toEqual([]);
      expect(nodesOf('early')).toEqual(early);
    });

    it('are replaced by an instance refresh of the node group\'s Auto Scaling group, nothing upgraded', async () => {
      const early = nodesOf('early');
      const group = groupOf('early');
      const mark = w.world.log.mark();
      const result = await runNodegroup(CLUSTER, 'early');
      expect(result.error).toBeUndefined();
      const outcome = result.output as Outcome;
      expect(outcome.status).toBe('ONBOARDED');
      expect(outcome.changes).toContainEqual({ resource: 'node group early', action: 'update', detail: expect.stringContaining(`replace nodes ${early.join(', ')}`) });
      expect(result.statesEntered.filter((s) => s === 'WaitForNodegroup').length).toBeGreaterThan(0);
      // One refresh of that group, with the settings the design asks for; no version update.
      expect(calls(mark, 'StartInstanceRefresh')).toHaveLength(1);
      expect(calls(mark, 'UpdateNodegroupVersion')).toEqual([]);
      expect(w.world.autoscaling.refreshes(group)).toEqual([
        expect.objectContaining({
          status: 'Successful',
          strategy: 'Rolling',
          preferences: { MinHealthyPercentage: '90', InstanceWarmup: '60', SkipMatching: 'false' },
        }),
      ]);
      const now = nodesOf('early');
      expect(now).toHaveLength(2);
      expect(now.filter((name) => early.includes(name))).toEqual([]);
      expect(earlyWarnings(outcome)).toEqual([]);

      const again = w.world.log.mark();
      const second = await runNodegroup(CLUSTER, 'early');
      expect(second.error).toBeUndefined();
      expect(earlyWarnings(second.output as Outcome)).toEqual([]);
      expect(writesSince(again)).toEqual([]);
      expect(w.world.autoscaling.refreshes(group)).toHaveLength(1);
    });

    it('a failed refresh ends the run with one clear error naming the Auto Scaling group, its status and reason', async () => {
      const early = nodesOf('broken');
      const group = groupOf('broken');
      w.world.autoscaling.failNextRefresh('Failed', 'Instance i-0abc failed to launch: InsufficientInstanceCapacity');
      const mark = w.world.log.mark();
      const result = await runNodegroup(CLUSTER, 'broken');
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('ClusterRefused');
      const message = result.error!.message;
      expect(message).toContain(`Auto Scaling group "${group}" ended Failed (Instance i-0abc failed to launch: InsufficientInstanceCapacity)`);
      expect(message).toContain(`aws autoscaling describe-scaling-activities --auto-scaling-group-name ${group}`);
      expect(message.split(group).length - 1).toBe(2); // the refresh, and the command that finds the cause
      expect(calls(mark, 'StartInstanceRefresh')).toHaveLength(1);
      expect(nodesOf('broken')).toEqual(early);
    });

    it('a refresh already running is waited for, not duplicated', async () => {
      const early = nodesOf('busy');
      const group = groupOf('busy');
      const theirs = w.world.autoscaling.startRefreshDirect(group, { MinHealthyPercentage: '100' });
      const mark = w.world.log.mark();
      const result = await runNodegroup(CLUSTER, 'busy');
      expect(result.error).toBeUndefined();
      expect((result.output as Outcome).status).toBe('ONBOARDED');
      // Ours was refused (InstanceRefreshInProgress); theirs was followed to the end instead.
      expect(calls(mark, 'StartInstanceRefresh')).toHaveLength(1);
      expect(w.world.autoscaling.refreshes(group)).toEqual([expect.objectContaining({ id: theirs.id, status: 'Successful' })]);
      expect(nodesOf('busy')).toHaveLength(1);
      expect(nodesOf('busy').filter((name) => early.includes(name))).toEqual([]);
      expect(earlyWarnings(result.output as Outcome)).toEqual([]);
    });
  });
});
