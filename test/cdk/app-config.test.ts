// The CDK app refuses an invalid `onboarding` context: non-zero exit, each bad key named on stderr.
// One real process shows the entry point's exit code and stderr; the other cases run its `main`
// in-process (test/cdk/app-run.ts), which returns that exit code and writes that stderr.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseConfig } from '../../lib/config';
import { runAppInProcess as runApp } from './app-run';
import { REPO_ROOT, TEST_RAW_CONFIG } from './fixtures';
import { MULTI_ACCOUNT_RAW_CONFIG } from './member-fixtures';

function runAppProcess(context: Record<string, unknown>) {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context) };
  delete env.CDK_OUTDIR;
  return spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules/ts-node/dist/bin.js'), '--transpile-only', 'bin/app.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    // A backstop, not a speed check (the refusal comes before any synth).
    timeout: 300_000,
    env,
  });
}

const BAD_KEYS = {
  onboarding: {
    ...TEST_RAW_CONFIG,
    secondaryCidr: '100.64.0.0/33',
    aviatrix: { ...TEST_RAW_CONFIG.aviatrix, controllerUrl: 'http://plain.example' },
  },
};

test('bad keys: the app process exits 1 and names each key on stderr', () => {
  const result = runAppProcess(BAD_KEYS);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('onboarding.secondaryCidr');
  expect(result.stderr).toContain('onboarding.aviatrix.controllerUrl');
  expect(result.stderr).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
  // The in-process run returns the same exit code and writes the same stderr.
  const inProcess = runApp(BAD_KEYS);
  expect({ status: inProcess.status, stderr: inProcess.stderr }).toEqual({ status: result.status, stderr: result.stderr });
});

test('verifyTls false and a wildcard secret name: exit 1, each naming the key and the safer setting', () => {
  const insecure = runApp({ onboarding: { ...TEST_RAW_CONFIG, aviatrix: { ...TEST_RAW_CONFIG.aviatrix, verifyTls: false } } });
  expect(insecure.status).toBe(1);
  expect(insecure.stderr).toMatch(/onboarding\.aviatrix\.verifyTls: false is refused .* set onboarding\.aviatrix\.caBundlePem/);
  const wildcard = runApp({ onboarding: { ...TEST_RAW_CONFIG, aviatrix: { ...TEST_RAW_CONFIG.aviatrix, credentialsSecretName: '*' } } });
  expect(wildcard.status).toBe(1);
  expect(wildcard.stderr).toMatch(/onboarding\.aviatrix\.credentialsSecretName must be a plain Secrets Manager secret name .*got "\*": give the exact name/);
});

test('missing context: exit 1 naming onboarding', () => {
  const result = runApp({});
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('onboarding must be an object');
});

test('context passed as a JSON string (cdk -c onboarding=...) is parsed', () => {
  const result = runApp({ onboarding: JSON.stringify({ ...TEST_RAW_CONFIG, driftSchedule: 'every 6 hours' }) });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('onboarding.driftSchedule');
});

test('the shipped example values (cdk.json) are refused, each key named; allowExampleValues lets them through', () => {
  const shipped = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
  const refused = runApp(shipped);
  expect(refused.status).toBe(1);
  expect(refused.stderr).toContain('onboarding.aviatrix.controllerUrl is "https://controller.example.internal", the example host controller.example.internal');
  expect(refused.stderr).toContain('onboarding.aviatrix.controllerRoleArn is "arn:aws:iam::111122223333:role/aviatrix-role-app", the example account 111122223333');
  // Each example is refused on its own, not only next to the others.
  const oneLeft = runApp({ onboarding: { ...OWN_CONFIG, operations: { notificationEmails: ['ops@example.com'] } } });
  expect(oneLeft.status).toBe(1);
  expect(oneLeft.stderr).toContain('onboarding.operations.notificationEmails[0]');
  expect(oneLeft.stderr).not.toContain('onboarding.aviatrix');
  const acknowledged = runApp({ ...shipped, allowExampleValues: 'true', 'aws:cdk:bundling-stacks': [] });
  expect(acknowledged.stderr).toBe('');
  expect(acknowledged.status).toBe(0);
});

/** A config with the user's own values (none of lib/placeholders.ts's examples). */
const OWN_CONFIG = {
  ...TEST_RAW_CONFIG,
  aviatrix: { ...TEST_RAW_CONFIG.aviatrix, controllerUrl: 'https://controller.corp.acme.net', controllerRoleArn: 'arn:aws:iam::210987654321:role/aviatrix-role-app' },
};

test('a valid config synthesizes, with no cdk-nag error in the assembly', () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'onboarding-app-'));
  try {
    const result = runApp({ onboarding: OWN_CONFIG, 'aws:cdk:bundling-stacks': [] }, outdir);
    expect(result.stderr).not.toContain('Invalid onboarding config');
    expect(result.status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
    const entries = Object.values(manifest.artifacts as Record<string, { metadata?: Record<string, { type: string; data: unknown }[]> }>)
      .flatMap((a) => Object.values(a.metadata ?? {}).flat());
    expect(entries.filter((e) => e.type === 'aws:cdk:error' || e.type === 'aws:cdk:warning').map((e) => String(e.data))).toEqual([]);
    expect(Object.keys(manifest.artifacts)).toContain('EksAviatrixOnboarding');
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});

/** Every optional setting given, each branch of the validator taken (the examples below leave most out). */
const EVERY_SETTING = {
  secondaryCidr: '100.64.0.0/16',
  podSubnetPrefixLength: 24,
  maxVpcCidrBlocks: 10,
  clusterActiveTimeoutSeconds: 1800,
  addonUpdateTimeoutSeconds: 900,
  nodegroupActiveTimeoutSeconds: 2400,
  optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' },
  driftSchedule: 'cron(0 3 * * ? *)',
  allowNodeReplacement: true,
  routeCheck: 'warn',
  networkPolicy: true,
  prefixDelegation: true,
  warmPrefixTarget: 2,
  podSecurityGroups: 'reconcile',
  loadBalancerSubnets: { public: ['subnet-0a1b2c3d'], internal: ['subnet-0e1f2a3b'] },
  aviatrix: {
    controllerUrl: 'https://controller.example.internal',
    credentialsSecretName: 'aviatrix/controller/api',
    credentialsKmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    caBundlePem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    verifyTls: true,
    transitGatewayName: 'transit-euw1',
    spokeGatewayName: 'spoke-euw1',
    controllerRoleArn: 'arn:aws:iam::111122223333:role/aviatrix-role-app',
    allowDisableSingleIpSnat: true,
    kubernetesSmartGroups: [
      { name: 'web', namespace: 'web', labels: { app: 'web' } },
      { name: 'nodes', type: 'k8s_node' },
      { name: 'api', namespace: 'api', service: 'api' },
      { name: 'one-pod', namespace: 'jobs', pod: 'runner-0' },
      { name: 'team', namespaceLabels: { 'example.com/team': 'pay' } },
      { name: 'workloads', type: 'k8s', namespace: 'ops' },
    ],
    smartGroupTemplates: { edge: [{ name: 'ingress', namespace: 'ingress' }], empty: [] },
    smartGroupTemplateTag: 'example.com/smartgroups',
    vpcSmartGroupMatch: 'name',
  },
  operations: {
    notificationEmails: ['platform@example.com'],
    notificationTopicArn: 'arn:aws:sns:eu-west-1:111122223333:platform-alerts',
    chatbot: { slack: { workspaceId: 'T0123', channelId: 'C0123' }, teams: { teamId: 'team', channelId: 'channel', tenantId: 'tenant' } },
    logRetentionDays: 90,
    metricsNamespace: 'Platform/Onboarding',
  },
  hub: { account: '111122223333', region: 'eu-west-1', eventBusName: 'platform', namePrefix: 'eks-aviatrix' },
  members: {
    accounts: ['444455556666', '444455556666', '777788889999'],
    organizationId: 'o-abcdefghij',
    regions: ['eu-west-1', 'us-east-1'],
    externalId: 'eks-aviatrix-hub-7f3a',
    roleNamePrefix: 'platform-member',
    aviatrixAccounts: { '444455556666': 'prod-b' },
  },
  privateEndpointAccess: { vpcId: 'vpc-0a1b2c3d', subnetIds: ['subnet-0a1b2c3d', 'subnet-0e1f2a3b'], securityGroupIds: ['sg-0a1b2c3d4e5f60718'], sourceCidrs: ['10.0.0.0/16'] },
};

// The EksAviatrixOnboarding construct validates the config it is given, which from this app (and
// from an adopter who parsed it first) is parseConfig's own output: parsing that again must change nothing.
test.each([
  ['cdk.json', (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: { onboarding: unknown } }).context.onboarding],
  ['TEST_RAW_CONFIG', TEST_RAW_CONFIG],
  ['MULTI_ACCOUNT_RAW_CONFIG', MULTI_ACCOUNT_RAW_CONFIG],
  ['every setting', EVERY_SETTING],
])('parseConfig is idempotent on its own output: %s', (_name, raw) => {
  const once = parseConfig(raw);
  const twice = parseConfig(once);
  expect(twice).toEqual(once);
  // The same text too: the Lambdas' config and its digest are made from it.
  expect(JSON.stringify(twice)).toBe(JSON.stringify(once));
});
