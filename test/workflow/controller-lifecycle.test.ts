// The controller side over a node group's life, with the real ASLs and handlers: the node group's
// subnet gets SNAT on the spoke and the HA; when the node group is deleted, the cluster workflow
// (re-run by DeleteNodegroup) removes exactly those policies, keeps a foreign twin that was there
// before, and a further run writes nothing to the controller.
import { DeleteNodegroupCommand, DescribeNodegroupCommand, EKSClient } from '@aws-sdk/client-eks';
import { desiredPolicies } from '../../lambdas/aviatrix/snat';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { createCluster, createNodegroup, createSubnet, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

let w: OnboardingWorld;
let cluster: CreatedCluster;
const NG_CIDR = '10.0.80.0/20';
const TWIN_CIDR = '10.0.96.0/20';

beforeAll(async () => {
  w = await startOnboardingWorld();
  cluster = await createCluster(w, { name: 'life' });
  w.activateCluster('life');
  expect((await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'life' })).status).toBe('SUCCEEDED');
});
afterAll(async () => {
  await w?.stop();
});

const runNodegroup = (nodegroupName: string) =>
  runWorkflow('nodegroup-onboarding.asl.json', { clusterName: 'life', nodegroupName }, {
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForNodegroup' && w.world.eks.nodegroup('life', nodegroupName)?.status === 'CREATING') {
        w.world.eks.activateNodegroup('life', nodegroupName);
      }
    },
  });
const gateways = () => [
  [cluster.spokeName, w.controller.gateway(cluster.spokeName)!.private_ip],
  [`${cluster.spokeName}-hagw`, w.controller.gateway(`${cluster.spokeName}-hagw`)!.private_ip],
] as const;
const ruleFor = (cidr: string, ip: string) => desiredPolicies('100.64.0.0/16', [cidr], TRANSIT_GATEWAY, ip)[2];
const has = (gateway: string, cidr: string) => w.controller.snatPolicies(gateway).some((p) => p.src_ip === cidr);

test('a deleted node group loses exactly the SNAT policies this project added for it', async () => {
  const a = await createSubnet(w, cluster.vpc.vpcId, 'us-east-1a', NG_CIDR);
  const b = await createSubnet(w, cluster.vpc.vpcId, 'us-east-1b', TWIN_CIDR);
  // Someone already has an identical rule for the second subnet on the spoke: relied on, never ours.
  const [spoke, spokeIp] = gateways()[0];
  const { AviatrixClient } = await import('../../lambdas/aviatrix/client');
  const byHand = new AviatrixClient({ controllerUrl: w.controllerUrl, credentialsSecretName: 'aviatrix/controller/api', caBundlePem: w.controllerCaPem, verifyTls: true });
  await byHand.replaceSnatPolicies(spoke, [...w.controller.snatPolicies(spoke), ruleFor(TWIN_CIDR, spokeIp)], { enableNat: false });

  await createNodegroup(w, { cluster: 'life', name: 'workers', subnetIds: [a.subnetId, b.subnetId] });
  expect((await runNodegroup('workers')).status).toBe('SUCCEEDED');
  for (const [name, ip] of gateways()) {
    expect(w.controller.snatPolicies(name)).toContainEqual(ruleFor(NG_CIDR, ip));
    expect(w.controller.snatPolicies(name)).toContainEqual(ruleFor(TWIN_CIDR, ip));
  }
  const before = Object.fromEntries(gateways().map(([name]) => [name, w.controller.snatPolicies(name)]));
  const exclusions = w.controller.exclusions(TRANSIT_GATEWAY);

  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await eks.send(new DeleteNodegroupCommand({ clusterName: 'life', nodegroupName: 'workers' }));
  eks.destroy();
  const mark = w.world.log.mark();
  const rerun = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'life', nodegroupName: 'workers', trigger: 'DeleteNodegroup' });
  expect(rerun.error).toBeUndefined();
  const controllerWrites = w.world.log.writesSince(mark, 'aviatrix').map((c) => c.action);
  expect(controllerWrites).toEqual(['edit_gw_customized_snat_config', 'edit_gw_customized_snat_config']);

  // Spoke: only our NG rule goes (the twin was there before us). HA: both rules were ours.
  expect(w.controller.snatPolicies(spoke)).toEqual(before[spoke].filter((p) => p.src_ip !== NG_CIDR));
  expect(has(spoke, TWIN_CIDR)).toBe(true);
  const ha = gateways()[1][0];
  expect(w.controller.snatPolicies(ha)).toEqual(before[ha].filter((p) => p.src_ip !== NG_CIDR && p.src_ip !== TWIN_CIDR));
  expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual(exclusions);
  const claims = await new OwnershipRegistry({ tableName: STATUS_TABLE }).read('life');
  for (const [name] of gateways()) expect(claims.snat[name].map((p) => p.src_ip)).not.toContain(NG_CIDR);

  // Converged (the node group has finished deleting): a further run writes nothing to the controller.
  await nodegroupGone();
  const again = w.world.log.mark();
  const last = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'life' });
  expect(last.error).toBeUndefined();
  expect(w.world.log.writesSince(again, 'aviatrix')).toEqual([]);
});

// ListNodegroups can still name a node group that finishes deleting before the DescribeNodegroup that
// follows (a real race in EKS; the emulator does it every time): the run must count it as gone.
test('a run while a node group finishes deleting succeeds', async () => {
  const subnet = await createSubnet(w, cluster.vpc.vpcId, 'us-east-1a', '10.0.112.0/20');
  await createNodegroup(w, { cluster: 'life', name: 'brief', subnetIds: [subnet.subnetId] });
  expect((await runNodegroup('brief')).status).toBe('SUCCEEDED');
  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await eks.send(new DeleteNodegroupCommand({ clusterName: 'life', nodegroupName: 'brief' }));
  eks.destroy();
  expect((await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'life', trigger: 'DeleteNodegroup' })).status).toBe('SUCCEEDED');
  const run = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'life' });
  expect(run.error).toBeUndefined();
});

/** Describes the deleted node group until EKS answers not found (the emulator needs one more look). */
async function nodegroupGone(): Promise<void> {
  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    for (let i = 0; i < 10; i++) {
      const gone = await eks.send(new DescribeNodegroupCommand({ clusterName: 'life', nodegroupName: 'workers' })).then(
        () => false,
        (error: Error) => error.name === 'ResourceNotFoundException',
      );
      if (gone) return;
    }
    throw new Error('node group workers never finished deleting');
  } finally {
    eks.destroy();
  }
}
