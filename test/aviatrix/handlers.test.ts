// The two Aviatrix handlers, called as the workflow calls them, in the whole local world (EKS
// emulator for the controller's access entry, moto for the tables and the secret, the controller).
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { handler as onboard } from '../../lambdas/aviatrix-onboard/handler';
import { handler as snat } from '../../lambdas/aviatrix-snat/handler';
import { clusterKey, GatewayLeases, Leases } from '../../lambdas/shared/lease';
import { VIEW_POLICY } from '../../lambdas/domain/access-entries';
import { logger } from '../../lambdas/shared/logger';
import { Change } from '../../lambdas/shared/workflow';
import { CONTROLLER_ROLE_ARN, controllerStepState, createCluster, CreatedCluster, LEASE_TABLE, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';
import { captureOutput, issuedSessionSecrets } from './world';

let w: OnboardingWorld;
let h1: CreatedCluster;
beforeAll(async () => {
  w = await startOnboardingWorld();
  w.setConfig({ aviatrix: { ...(w.config.aviatrix as object), kubernetesSmartGroups: [{ name: 'web', namespace: 'web' }] } });
  h1 = await createCluster(w, { name: 'h1', authenticationMode: 'API' });
  w.activateCluster('h1');
  logger.setLogLevel('DEBUG');
});
afterAll(async () => {
  logger.setLogLevel('SILENT');
  await w?.stop();
});

const state = (dryRun: boolean) => controllerStepState(w, h1, dryRun, 'arn:aws:states:us-east-1:123456789012:execution:onboard:run-1');
/** The changes of any handler answer (release-leases has none). */
const changes = (result: unknown) => (result as { changes: Change[] }).changes;
const writes = (mark: number) => w.world.log.writesSince(mark).filter((c) => ['aviatrix', 'dynamodb', 'eks'].includes(c.service));
const controllerEntry = () => w.world.eks.accessEntries('h1').find((e) => e.principalArn === CONTROLLER_ROLE_ARN);

test('the handlers run the workflow state end to end, and their results and logs hold no secrets', async () => {
  const output = captureOutput();
  let results: unknown[] = [];
  const mark = w.world.log.mark();
  try {
    // The workflow's order: preflight (reads), the transit exclusion, then SNAT and onboarding.
    const preflight = await snat({ action: 'preflight', state: state(true) });
    const withPreflight = (dryRun: boolean) => ({ ...state(dryRun), preflight: { controller: preflight } });
    const plannedExclusion = await snat({ action: 'exclude', state: withPreflight(true) });
    const plannedSnat = await snat(withPreflight(true));
    const plannedOnboard = await onboard(state(true));
    expect(writes(mark)).toEqual([]);
    const excluded = await snat({ action: 'exclude', state: withPreflight(false) });
    const onboarded = await onboard(state(false));
    const applied = await snat(withPreflight(false));
    results = [plannedSnat, plannedOnboard, onboarded, applied, preflight, plannedExclusion, excluded];
  } finally {
    output.restore();
  }
  expect((results[1] as { changes: { resource: string; action: string }[] }).changes.slice(0, 2)).toEqual([
    { resource: `access entry ${CONTROLLER_ROLE_ARN}`, action: 'create', detail: 'on cluster h1, Kubernetes group eks-aviatrix-view-nodes' },
    { resource: `access entry ${CONTROLLER_ROLE_ARN}`, action: 'associate', detail: 'AmazonEKSViewPolicy (cluster scope)' },
  ]);
  expect(results[2]).toMatchObject({ dryRun: false, k8sClusterAction: 'create', smartGroups: [{ name: 'h1-vpc' }, { name: 'h1-web' }] });
  expect(controllerEntry()).toMatchObject({ tags: { 'eks-aviatrix:managed': 'true' }, policies: [{ policyArn: VIEW_POLICY, accessScope: { type: 'cluster' } }] });
  const spoke = w.controller.gateway(h1.spokeName)!;
  const ha = w.controller.gateway(`${h1.spokeName}-hagw`)!;
  expect(results[4]).toEqual({ spokeGateway: h1.spokeName, spokeSnatIp: spoke.private_ip, spokePublicIp: spoke.public_ip, haGateway: ha.vpc_name,
    haSnatIp: ha.private_ip, haPeers: [{ gateway: ha.vpc_name, snatIp: ha.private_ip, publicIp: ha.public_ip }], transitGateway: TRANSIT_GATEWAY, singleIpSnat: [] });
  expect(results[5]).toMatchObject({ dryRun: true, added: true, transitGateway: TRANSIT_GATEWAY, cidr: '100.64.0.0/16' });
  expect(results[6]).toMatchObject({ dryRun: false, added: true, transitGateway: TRANSIT_GATEWAY, cidr: '100.64.0.0/16' });
  expect(results[3]).toMatchObject({ spokeGateway: h1.spokeName, haGateway: `${h1.spokeName}-hagw`, transitGateway: TRANSIT_GATEWAY });
  expect(w.controller.snatPolicies(h1.spokeName)).toHaveLength(4);
  expect(w.controller.snatPolicies(`${h1.spokeName}-hagw`).every((p) => p.new_src_ip === w.controller.gateway(`${h1.spokeName}-hagw`)?.private_ip)).toBe(true);
  expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual(['100.64.0.0/16']);

  // A second pass writes nothing: not the controller, not EKS, not DynamoDB (no lease, no claim).
  const again = w.world.log.mark();
  expect((await onboard(state(false))).changes).toEqual([]);
  expect(changes(await snat(state(false)))).toEqual([]);
  expect(changes(await snat({ action: 'exclude', state: { ...state(false), preflight: { controller: results[4] } } }))).toEqual([]);
  expect(writes(again)).toEqual([]);

  const text = JSON.stringify(results) + output.text();
  expect(JSON.stringify(results).length).toBeLessThan(6000);
  const secrets = [w.controller.password, ...issuedSessionSecrets(w.controller)];
  expect(secrets.length).toBeGreaterThanOrEqual(3);
  for (const secret of secrets) expect(text).not.toContain(secret);
});

test('offboard: dry run plans, then both handlers remove what was added, and a second offboard writes nothing', async () => {
  const dry = w.world.log.mark();
  const planSnat = await snat({ action: 'offboard', clusterName: 'h1', executionId: 'exec-off', dryRun: true });
  const planOnboard = await onboard({ action: 'offboard', clusterName: 'h1', dryRun: true });
  expect(writes(dry)).toEqual([]);
  const planExclusions = await snat({ action: 'offboard-exclusions', clusterName: 'h1', executionId: 'exec-off', dryRun: true });
  expect(writes(dry)).toEqual([]);
  expect(changes(planSnat).map((c) => `${c.action} ${c.resource}`)).toEqual([
    `delete aviatrix gateway ${h1.spokeName}`,
    `delete aviatrix gateway ${h1.spokeName}-hagw`,
  ]);
  expect(changes(planExclusions).map((c) => `${c.action} ${c.resource}`)).toEqual([`delete aviatrix transit ${TRANSIT_GATEWAY}`]);
  expect(planOnboard.changes.map((c) => `${c.action} ${c.resource}`)).toEqual([
    'delete aviatrix SmartGroup h1-vpc',
    'delete aviatrix SmartGroup h1-web',
    `delete aviatrix k8s cluster ${w.world.eks.cluster('h1')!.arn as string}`,
    `delete access entry ${CONTROLLER_ROLE_ARN}`,
  ]);

  await snat({ action: 'offboard', clusterName: 'h1', executionId: 'exec-off' });
  await onboard({ action: 'offboard', clusterName: 'h1', executionId: 'exec-off' });
  // SNAT goes first; the exclusion stays until the AWS cleanup says the CIDR left the VPC.
  expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual(['100.64.0.0/16']);
  const kept = await snat({ action: 'offboard-exclusions', clusterName: 'h1', executionId: 'exec-off', cleanup: { cidrKept: { reason: 'subnet-1 is in it', retry: true } } });
  expect(kept).toMatchObject({ changes: [], warnings: [expect.stringContaining('subnet-1 is in it')] });
  expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual(['100.64.0.0/16']);
  await snat({ action: 'offboard-exclusions', clusterName: 'h1', executionId: 'exec-off', cleanup: {} });
  expect(w.controller.snatPolicies(h1.spokeName)).toEqual([]);
  expect(w.controller.gateway(h1.spokeName)).toMatchObject({ nat_enabled: false });
  expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual([]);
  expect(w.controller.smartGroups()).toEqual([]);
  expect(w.controller.k8sClusters()).toEqual([]);
  expect(controllerEntry()).toBeUndefined();

  const again = w.world.log.mark();
  expect(changes(await snat({ action: 'offboard', clusterName: 'h1', executionId: 'exec-off-2' }))).toEqual([]);
  expect(changes(await snat({ action: 'offboard-exclusions', clusterName: 'h1', executionId: 'exec-off-2' }))).toEqual([]);
  expect((await onboard({ action: 'offboard', clusterName: 'h1' })).changes).toEqual([]);
  expect((await onboard({ action: 'offboard', clusterName: 'no-such-cluster' })).changes).toEqual([]);
  expect(writes(again)).toEqual([]);
});

test('release-leases frees every lease the failed execution still holds, gateway and cluster alike', async () => {
  const leases = new Leases({ tableName: LEASE_TABLE });
  const gateways = new GatewayLeases(leases);
  await gateways.acquire('spoke-x', 'exec-failed');
  await gateways.acquire('transit-x', 'exec-failed');
  await leases.acquire(clusterKey('h1'), 'exec-failed');
  await gateways.acquire('spoke-x-hagw', 'exec-other');
  const result = await snat({ action: 'release-leases', executionId: 'exec-failed' });
  expect((result as { released: string[] }).released.sort()).toEqual(['cluster#h1', 'gateway#spoke-x', 'gateway#transit-x']);
  expect(await gateways.tryAcquire('spoke-x', 'someone')).toBe(true);
  expect(await gateways.tryAcquire('spoke-x-hagw', 'someone')).toBe(false);
});

test('missing workflow parts fail as InvalidInput', async () => {
  await expect(snat({ ...state(false), network: undefined })).rejects.toMatchObject({ name: 'InvalidInput' });
  await expect(onboard({ ...state(false), resolve: { phase: 'pending' } })).rejects.toMatchObject({ name: 'InvalidInput' });
  await expect(snat({ action: 'offboard', clusterName: 'h1', executionId: '' })).rejects.toMatchObject({ name: 'InvalidInput' });
});

describe('every action runs inside runStep', () => {
  test('EKS throttling in aviatrix-onboard (onboard and offboard) surfaces as TransientError naming the step and cluster', async () => {
    w.world.eks.failNext('DescribeAccessEntry', { code: 'ThrottlingException', message: 'Rate exceeded' }, 20);
    try {
      const error = await onboard(state(false)).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.name).toBe('TransientError');
      expect(error?.message).toBe('aviatrix-onboard for cluster "h1" failed in EKS DescribeAccessEntry: ThrottlingException: Rate exceeded');
    } finally {
      w.world.eks.failNext('DescribeAccessEntry', { code: 'ThrottlingException' }, 0);
    }
    w.world.eks.failNext('DescribeCluster', { code: 'ThrottlingException', message: 'Rate exceeded' }, 20);
    try {
      const error = await onboard({ action: 'offboard', clusterName: 'h1', dryRun: true }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.name).toBe('TransientError');
      expect(error?.message).toBe('aviatrix-offboard for cluster "h1" failed in EKS DescribeCluster: ThrottlingException: Rate exceeded');
    } finally {
      w.world.eks.failNext('DescribeCluster', { code: 'ThrottlingException' }, 0);
    }
  });

  test('DynamoDB throttling in aviatrix-snat (every action) surfaces as TransientError naming the step and cluster', async () => {
    // A DynamoDB endpoint that throttles every request.
    const throttling = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput.' }));
      });
    });
    await new Promise<void>((resolve) => throttling.listen(0, '127.0.0.1', resolve));
    const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = `http://127.0.0.1:${(throttling.address() as AddressInfo).port}`;
    try {
      // Each message names the step, the cluster and the call that failed.
      const cases: [unknown, string][] = [
        [state(false), 'aviatrix-snat for cluster "h1" failed in DynamoDB GetItem'],
        [{ action: 'offboard', clusterName: 'h1', executionId: 'exec-t' }, 'aviatrix-snat-offboard for cluster "h1" failed in DynamoDB GetItem'],
        [{ action: 'release-leases', executionId: 'exec-t' }, 'release-leases for cluster "unknown" failed in DynamoDB Scan'],
      ];
      for (const [event, prefix] of cases) {
        const error = await snat(event as Parameters<typeof snat>[0]).then(() => undefined, (e: unknown) => e as Error);
        expect(error?.name).toBe('TransientError');
        expect(error?.message).toBe(`${prefix}: ThrottlingException: Rate of requests exceeds the allowed throughput.`);
      }
    } finally {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = saved;
      throttling.closeAllConnections();
      await new Promise<void>((resolve) => throttling.close(() => resolve()));
    }
  });
});
