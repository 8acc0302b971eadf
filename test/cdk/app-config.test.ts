// The CDK app refuses an invalid `onboarding` context: non-zero exit, each bad key named on stderr.
// One real process shows the entry point's exit code and stderr; the other cases run its `main`
// in-process (test/cdk/app-run.ts), which returns that exit code and writes that stderr.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runAppInProcess as runApp } from './app-run';
import { REPO_ROOT, TEST_RAW_CONFIG } from './fixtures';

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
