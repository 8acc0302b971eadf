import { handler as onboard } from '../../lambdas/aviatrix-onboard/handler';
import { handler as snat } from '../../lambdas/aviatrix-snat/handler';
import { GatewayLeases } from '../../lambdas/aviatrix/lease';
import { logger } from '../../lambdas/shared/logger';
import { WorkflowState } from '../../lambdas/shared/workflow';
import { captureOutput, issuedSessionSecrets, LEASE_TABLE, PASSWORD, startWorld, World } from './world';

let world: World;
beforeAll(async () => {
  world = await startWorld();
  process.env.ONBOARDING_CONFIG = JSON.stringify({
    aviatrix: {
      controllerUrl: world.url,
      credentialsSecretName: 'aviatrix/controller',
      caBundlePem: world.caPem,
      controllerRoleArn: 'arn:aws:iam::123456789012:role/aviatrix-controller',
      kubernetesSmartGroups: [{ name: 'web', namespace: 'web' }],
    },
  });
  world.emulator.addGateway({ name: 'spoke-h', kind: 'spoke', vpcId: 'vpc-h', privateIp: '10.1.0.4', transitName: 'transit-h', ha: { privateIp: '10.1.1.4' } });
  world.emulator.addGateway({ name: 'transit-h', kind: 'transit', vpcId: 'vpc-t', privateIp: '10.2.0.4' });
  logger.setLogLevel('DEBUG');
});
afterAll(async () => world.stop());

const state = (dryRun: boolean): WorkflowState & { executionId: string } => ({
  input: { clusterName: 'h1', dryRun, trigger: 'manual' },
  startedAt: '2026-01-01T00:00:00Z',
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:onboard:run-1',
  resolve: {
    phase: 'ready',
    cluster: {
      name: 'h1', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/h1', status: 'ACTIVE', region: 'us-east-1', accountId: '123456789012',
      vpcId: 'vpc-h', clusterSecurityGroupId: 'sg-1', controlPlaneSecurityGroupIds: [], subnetIds: ['subnet-a', 'subnet-b'], tags: {},
    },
  },
  network: {
    dryRun, changes: [], vpcId: 'vpc-h', podCidr: '100.64.0.0/16', podSubnets: [],
    nodeSubnets: [
      { subnetId: 'subnet-a', availabilityZone: 'us-east-1a', cidr: '10.1.16.0/20', routeTableId: 'rtb-a' },
      { subnetId: 'subnet-b', availabilityZone: 'us-east-1b', cidr: '10.1.32.0/20', routeTableId: 'rtb-b' },
    ],
  },
});

test('the handlers run the workflow state end to end, and their results and logs hold no secrets', async () => {
  const output = captureOutput();
  let results: unknown[] = [];
  try {
    const plan = await snat(state(true));
    expect(world.log.writesSince(0, 'aviatrix')).toEqual([]);
    const onboarded = await onboard(state(false));
    const applied = await snat(state(false));
    results = [plan, onboarded, applied];
  } finally {
    output.restore();
  }
  expect(results[1]).toMatchObject({ dryRun: false, k8sClusterAction: 'create', smartGroups: [{ name: 'h1-vpc' }, { name: 'h1-web' }] });
  expect(results[2]).toMatchObject({ spokeGateway: 'spoke-h', haGateway: 'spoke-h-hagw', transitGateway: 'transit-h', exclusion: { added: true } });
  expect(world.emulator.snatPolicies('spoke-h')).toHaveLength(4);
  expect(world.emulator.snatPolicies('spoke-h-hagw').every((p) => p.new_src_ip === '10.1.1.4')).toBe(true);
  expect(world.emulator.exclusions('transit-h')).toEqual(['100.64.0.0/16']);
  const text = JSON.stringify(results) + output.text();
  expect(JSON.stringify(results).length).toBeLessThan(4000);
  const secrets = [PASSWORD, ...issuedSessionSecrets(world.emulator)];
  expect(secrets.length).toBeGreaterThanOrEqual(3);
  for (const secret of secrets) expect(text).not.toContain(secret);
});

test('release-leases frees what the failed execution still holds', async () => {
  const leases = new GatewayLeases({ tableName: LEASE_TABLE });
  await leases.acquire('spoke-h', 'exec-failed');
  await leases.acquire('transit-h', 'exec-failed');
  await leases.acquire('spoke-h-hagw', 'exec-other');
  const result = await snat({ action: 'release-leases', executionId: 'exec-failed' });
  expect(result).toEqual({ released: expect.arrayContaining(['spoke-h', 'transit-h']) });
  expect((result as { released: string[] }).released).toHaveLength(2);
  expect(await leases.tryAcquire('spoke-h', 'someone')).toBe(true);
  expect(await leases.tryAcquire('spoke-h-hagw', 'someone')).toBe(false);
});

test('missing workflow parts fail as InvalidInput', async () => {
  await expect(snat({ ...state(false), network: undefined })).rejects.toMatchObject({ name: 'InvalidInput' });
  await expect(onboard({ ...state(false), resolve: { phase: 'pending' } })).rejects.toMatchObject({ name: 'InvalidInput' });
});
