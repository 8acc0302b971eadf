// The deployed bundles (built as `cdk synth` builds them), not the TypeScript sources: axios with
// its unused parts stubbed out still talks HTTPS to the controller with our CA, and loading a
// function loads no AWS SDK module (each is loaded on first use).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLE, DIGEST_VARIABLE } from '../../lambdas/shared/config-stamp';
import { logger } from '../../lambdas/shared/logger';
import { WorkflowState } from '../../lambdas/shared/workflow';
import { buildBundle, BuiltBundle, FUNCTION_NAMES, RUNTIME_NODE_PATH } from '../local-world/bundles';
import { controllerStepState, createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../local-world/onboarding-world';

// Under node_modules, so that the bundles resolve @aws-sdk/* from it as the runtime provides it.
const cache = path.join(RUNTIME_NODE_PATH, '.cache');
fs.mkdirSync(cache, { recursive: true });
const out = fs.mkdtempSync(path.join(cache, 'eks-aviatrix-bundles-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

test('loading any function bundle loads no @aws-sdk or @smithy module, and no bundle carries one', () => {
  for (const name of FUNCTION_NAMES) {
    const bundle = buildBundle(name, out);
    const loaded = execFileSync(
      process.execPath,
      ['-e', `require(${JSON.stringify(bundle.file)}); console.log(JSON.stringify(Object.keys(require.cache)))`],
      { env: { ...process.env, NODE_PATH: RUNTIME_NODE_PATH }, encoding: 'utf8' },
    );
    expect({ name, loaded: (JSON.parse(loaded) as string[]).filter((m) => /@aws-sdk|@smithy/.test(m)) }).toEqual({ name, loaded: [] });
    const sources = (JSON.parse(fs.readFileSync(`${bundle.file}.map`, 'utf8')) as { sources: string[] }).sources;
    expect({ name, bundled: sources.filter((s) => /node_modules\/(@aws-sdk|@smithy|form-data|mime-db|follow-redirects|proxy-from-env)\//.test(s)) }).toEqual({ name, bundled: [] });
    // Nor the config validator: the Lambdas trust the stamped config (lambdas/shared/config-stamp.ts).
    expect({ name, validator: fs.readFileSync(bundle.file, 'utf8').includes('is not a known setting') }).toEqual({ name, validator: false });
  }
});

describe('the aviatrix-snat bundle against the controller emulator (HTTPS, self-signed CA)', () => {
  let w: OnboardingWorld;
  let c: CreatedCluster;
  let bundle: BuiltBundle;
  beforeAll(async () => {
    bundle = buildBundle('aviatrix-snat', out);
    w = await startOnboardingWorld();
    c = await createCluster(w, { name: 'bundled' });
    w.activateCluster('bundled');
    logger.setLogLevel('SILENT');
  });
  afterAll(async () => w?.stop());

  const state = () => controllerStepState(w, c, false, 'arn:aws:states:us-east-1:123456789012:execution:onboard:bundled-1');

  test('writes the SNAT policies on both gateways and the transit exclusion', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require(bundle.file) as { handler: (event: unknown) => Promise<{ changes: unknown[] }> };
    // The workflow's order: preflight (reads), the transit exclusion, then SNAT.
    const preflight = await handler({ action: 'preflight', state: state() });
    const withPreflight = { ...state(), preflight: { controller: preflight } };
    expect((await handler({ action: 'exclude', state: withPreflight })).changes.length).toBe(1);
    const result = await handler(withPreflight);
    expect(result.changes.length).toBeGreaterThan(0);
    for (const gateway of [c.spokeName, `${c.spokeName}-hagw`]) {
      const fromPods = w.controller.snatPolicies(gateway).filter((p) => p.src_ip === '100.64.0.0/16');
      expect({ gateway, fromPods: fromPods.length }).toEqual({ gateway, fromPods: 2 }); // to the transit and to the internet
    }
    expect(w.controller.exclusions(TRANSIT_GATEWAY)).toEqual(['100.64.0.0/16']);
  });

  test('the world stamps its config as the stack does: one parseConfig refuses fails at setConfig, and the Lambdas keep the one before', () => {
    const before = { text: process.env[CONFIG_VARIABLE], stamp: process.env[DIGEST_VARIABLE] };
    expect(() => w.setConfig({ secondaryCidr: '100.64.0.0/33' })).toThrow(/onboarding\.secondaryCidr must be an IPv4 network in CIDR form, got "100\.64\.0\.0\/33"/);
    expect({ text: process.env[CONFIG_VARIABLE], stamp: process.env[DIGEST_VARIABLE] }).toEqual(before);
    expect(w.config.secondaryCidr).toBe('100.64.0.0/16');
  });

  test('refuses a controller whose certificate our CA did not sign (TLS verified through the bundled axios)', async () => {
    w.setConfig({ aviatrix: { ...(w.config.aviatrix as object), caBundlePem: undefined } });
    try {
      // A fresh copy of the bundle: the client (and its TLS settings) is cached per module.
      const copy = path.join(out, 'aviatrix-snat-untrusted.js');
      fs.copyFileSync(bundle.file, copy);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require(copy) as { handler: (state: WorkflowState) => Promise<unknown> };
      await expect(handler(state())).rejects.toThrow(/certificate|self.signed/i);
    } finally {
      w.setConfig({ aviatrix: { ...(w.config.aviatrix as object), caBundlePem: w.controllerCaPem } });
    }
  });
});
