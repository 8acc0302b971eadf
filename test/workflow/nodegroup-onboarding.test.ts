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

function runNodegroup(clusterName: string, nodegroupName: string, options: RunOptions = {}) {
  return runWorkflow('nodegroup-onboarding.asl.json', { clusterName, nodegroupName }, {
    ...options,
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForNodegroup' && w.world.eks.nodegroup(clusterName, nodegroupName)?.status === 'CREATING') {
        w.world.eks.activateNodegroup(clusterName, nodegroupName);
      }
    },
  });
}

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
  beforeAll(async () => {
    const cluster = await createCluster(w, { name: 'ng-early' });
    w.activateCluster('ng-early');
    // The node group comes up before onboarding has written any ENIConfig.
    await createNodegroup(w, { cluster: 'ng-early', name: 'early', subnetIds: cluster.vpc.subnets.map((s) => s.subnetId), instanceType: 'm5.large' });
    w.world.eks.activateNodegroup('ng-early', 'early');
    await sleep(1100); // creation timestamps have one-second resolution
    const onboarded = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'ng-early' });
    expect(onboarded.status).toBe('SUCCEEDED');
  });

  it('are reported by name when replacement is not allowed', async () => {
    const early = w.world.kube.nodes('ng-early').map((n) => n.metadata.name as string).sort();
    expect(early).toHaveLength(2);
    const mark = w.world.log.mark();
    const result = await runNodegroup('ng-early', 'early');
    const outcome = result.output as Outcome;
    expect(outcome.status).toBe('ONBOARDED');
    expect(outcome.warnings).toContainEqual(expect.stringContaining(`nodes ${early.join(', ')} of node group "early" registered before their AZ's ENIConfig existed`));
    expect(w.world.log.since(mark).filter((c) => c.action === 'UpdateNodegroupVersion')).toEqual([]);
    expect(w.world.kube.nodes('ng-early').map((n) => n.metadata.name).sort()).toEqual(early);
  });

  it('are replaced by a rolling update when config allows it', async () => {
    const early = w.world.kube.nodes('ng-early').map((n) => n.metadata.name as string);
    await sleep(1100);
    w.setConfig({ allowNodeReplacement: true });
    try {
      const result = await runNodegroup('ng-early', 'early');
      expect(result.error).toBeUndefined();
      const outcome = result.output as Outcome;
      expect(outcome.changes).toContainEqual({ resource: 'node group early', action: 'update', detail: expect.stringContaining('replace nodes') });
      expect(result.statesEntered.filter((s) => s === 'WaitForNodegroup').length).toBeGreaterThan(0);
      const now = w.world.kube.nodes('ng-early').map((n) => n.metadata.name as string);
      expect(now).toHaveLength(2);
      expect(now.filter((name) => early.includes(name))).toEqual([]);
      expect(outcome.warnings.filter((x) => x.includes('registered before'))).toEqual([]);
    } finally {
      w.setConfig({ allowNodeReplacement: false });
    }
  });
});
