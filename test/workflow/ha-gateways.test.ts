// Several HA gateways on one spoke (newer controllers allow more than one), with the real ASLs and
// handlers: each HA peer gets the cluster's SNAT policies with its own private IP, external SNAT is
// switched on only once every one of them is confirmed, and offboarding removes the cluster's
// policies from all of them.
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { desiredPolicies } from '../../lambdas/aviatrix/snat';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

let w: OnboardingWorld;
let cluster: CreatedCluster;
const POD_CIDR = '100.64.0.0/16';
const SECOND_HA = 'spoke-ha-second';

beforeAll(async () => {
  w = await startOnboardingWorld();
  cluster = await createCluster(w, { name: 'multi-ha' });
  // The second HA gateway is named freely and listed with primary_gw_name (see the emulator).
  w.controller.addHaGateway(cluster.spokeName, { name: SECOND_HA, privateIp: '10.0.252.7' });
  w.activateCluster('multi-ha');
});
afterAll(async () => {
  await w?.stop();
});

const gateways = () => [cluster.spokeName, `${cluster.spokeName}-hagw`, SECOND_HA];
const wanted = (gateway: string) =>
  desiredPolicies(POD_CIDR, cluster.vpc.subnets.map((s) => s.cidr), TRANSIT_GATEWAY, w.controller.gateway(gateway)!.private_ip);
const sorted = <T>(list: T[]) => list.map((p) => JSON.stringify(p)).sort();
const externalSnat = () =>
  (JSON.parse(String(w.world.eks.addon('multi-ha', 'vpc-cni')?.configurationValues ?? '{}')) as { env?: Record<string, string> }).env?.AWS_VPC_K8S_CNI_EXTERNALSNAT;

test('onboarding writes the policies on the spoke and on both HA peers, each with its own SNAT IP, then turns external SNAT on', async () => {
  const run = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'multi-ha' });
  expect(run.error).toBeUndefined();
  expect(run.status).toBe('SUCCEEDED');
  // Compared as sets (the order of node subnets is the run's).
  for (const gateway of gateways()) expect(sorted(w.controller.snatPolicies(gateway))).toEqual(sorted(wanted(gateway)));
  // Three distinct SNAT addresses: nothing was copied from one gateway to another.
  expect(new Set(gateways().map((g) => w.controller.snatPolicies(g)[0].new_src_ip)).size).toBe(3);
  expect(w.controller.gateway(SECOND_HA)).toMatchObject({ nat_enabled: true, snat_target: 'customized' });
  expect(externalSnat()).toBe('true');
  // The second HA peer is never mistaken for the VPC's spoke (the run found exactly one).
  expect(run.output).toMatchObject({ status: 'ONBOARDED' });
});

test('offboarding removes the cluster\'s policies from the spoke and from every HA peer', async () => {
  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    await eks.send(new DeleteClusterCommand({ name: 'multi-ha' }));
  } finally {
    eks.destroy();
  }
  const run = await runWorkflow('cluster-offboarding.asl.json', { clusterName: 'multi-ha' });
  expect(run.error).toBeUndefined();
  expect(run.output).toMatchObject({ status: 'OFFBOARDED' });
  for (const gateway of gateways()) expect(w.controller.snatPolicies(gateway)).toEqual([]);
});
