// Egress IPs for allow-lists, with the real ASL on the Step Functions emulator, the real handlers,
// the status table in moto and the notification delivered through SNS: the record, the cluster's
// tags and the notification follow the gateways' addresses when one is replaced.
import { handler as notify } from '../../lambdas/notify/handler';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { TAG_EGRESS_FABRIC, TAG_EGRESS_INTERNET } from '../../lambdas/domain/egress';
import { createCluster, CreatedCluster, OnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { DeployedStack } from '../local-world/deployed-stack';
import { Inbox } from '../local-world/notification-inbox';
import { executeToEnd, NotifyingWorld, startNotifyingWorld, statusChange } from '../local-world/execute';

let w: OnboardingWorld;
let stack: DeployedStack;
let mailbox: Inbox;
let cluster: CreatedCluster;
let world: NotifyingWorld;

beforeAll(async () => {
  world = await startNotifyingWorld();
  ({ w, stack, mailbox } = world);
  cluster = await createCluster(w, { name: 'egress' });
  w.activateCluster('egress');
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const execute = (input: Record<string, unknown>) => executeToEnd(w, stack, input);
const event = statusChange;
const ha = () => `${cluster.spokeName}-hagw`;
const address = (name: string) => ({ fabricIp: w.controller.gateway(name)!.private_ip, internetIp: w.controller.gateway(name)!.public_ip });
const egressOf = async () => JSON.parse((await readStatusRecord(STATUS_TABLE, 'egress'))?.egressIps ?? 'null') as unknown;
const tags = () => w.world.eks.cluster('egress')!.tags as Record<string, string>;

test('an onboarding records the egress IPs on the record and the tags, and tells nobody (nothing changed)', async () => {
  const first = await execute({ clusterName: 'egress' });
  expect(first.status).toBe('SUCCEEDED');
  expect(await egressOf()).toEqual([
    { gateway: cluster.spokeName, role: 'primary', ...address(cluster.spokeName) },
    { gateway: ha(), role: 'ha', ...address(ha()) },
  ]);
  const spoke = address(cluster.spokeName);
  const peer = address(ha());
  expect(tags()).toMatchObject({
    [TAG_EGRESS_FABRIC]: [spoke.fabricIp, peer.fabricIp].sort().join(' '),
    [TAG_EGRESS_INTERNET]: [spoke.internetIp, peer.internetIp].sort().join(' '),
  });
  expect(await notify(event(first))).toEqual({ published: false });
});

test('the HA gateway replaced: drift repair moves its SNAT policies to the new IP, updates record and tags, and sends one notification naming old and new IPs', async () => {
  const old = address(ha());
  const spoke = address(cluster.spokeName);
  w.controller.replaceGatewayAddresses(ha(), { privateIp: '10.0.253.77', publicIp: '54.9.9.9' });

  const repair = await execute({ clusterName: 'egress', trigger: 'DriftRepair' });
  expect(repair.status).toBe('SUCCEEDED');
  // The HA's policies SNAT to its new address; none to the old one is left.
  expect(w.controller.snatPolicies(ha()).map((p) => p.new_src_ip)).toEqual(expect.arrayContaining(['10.0.253.77']));
  expect(w.controller.snatPolicies(ha()).some((p) => p.new_src_ip === old.fabricIp)).toBe(false);
  expect(await egressOf()).toEqual([
    { gateway: cluster.spokeName, role: 'primary', ...spoke },
    { gateway: ha(), role: 'ha', fabricIp: '10.0.253.77', internetIp: '54.9.9.9' },
  ]);
  expect(tags()).toMatchObject({
    [TAG_EGRESS_FABRIC]: ['10.0.253.77', spoke.fabricIp].sort().join(' '),
    [TAG_EGRESS_INTERNET]: ['54.9.9.9', spoke.internetIp].sort().join(' '),
  });

  expect(await notify(event(repair))).toMatchObject({ published: true });
  const messages = await mailbox.receive();
  expect(messages).toHaveLength(1);
  const [message] = messages;
  expect(message.Subject).toMatch(/^\[eks-aviatrix\] egress: drift repaired \(\d+\), egress IPs changed$/);
  const fabricFrom = [old.fabricIp, spoke.fabricIp].sort().join(' ');
  const internetFrom = [old.internetIp, spoke.internetIp].sort().join(' ');
  expect(message.Message).toContain(
    'Egress IPs changed (update firewalls and allow-lists that name them):\n' +
      `  to the fabric:   ${fabricFrom} -> ${['10.0.253.77', spoke.fabricIp].sort().join(' ')}\n` +
      `  to the internet: ${internetFrom} -> ${['54.9.9.9', spoke.internetIp].sort().join(' ')}`,
  );

  // The next run finds nothing changed: the record no longer says so, and nothing is published.
  const quiet = await execute({ clusterName: 'egress', trigger: 'DriftRepair' });
  expect((await readStatusRecord(STATUS_TABLE, 'egress'))?.egressIpsChanged).toBeUndefined();
  expect(await notify(event(quiet))).toEqual({ published: false });
});
