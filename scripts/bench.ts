// `npm run bench`: what a cold start costs and how long a run takes, measured, not asserted.
// 1. Each Lambda bundled as CDK bundles it (esbuild, minified, @aws-sdk/* left to the runtime):
//    bundle size, and the time a fresh Node process takes to load it (with the SDK it needs).
// 2. The cluster workflow on the local world: first run (everything created) and a repeat (no-op).
import '../test/setup/environment';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { createCluster, startOnboardingWorld } from '../test/local-world/onboarding-world';
import { runWorkflow } from '../test/local-world/workflow-runner';

const ROOT = path.resolve(__dirname, '..');
const LOAD_SAMPLES = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function bundles(): void {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-bench-'));
  const functions = fs.readdirSync(path.join(ROOT, 'lambdas')).filter((dir) => fs.existsSync(path.join(ROOT, 'lambdas', dir, 'handler.ts')));
  console.log('Lambda bundles (esbuild, minified, @aws-sdk/* external as on the nodejs22.x runtime)');
  console.log(`  ${'function'.padEnd(18)} ${'size'.padStart(9)}  cold load (median of ${LOAD_SAMPLES}, fresh process)`);
  for (const name of functions) {
    const outfile = path.join(out, `${name}.js`);
    buildSync({
      entryPoints: [path.join(ROOT, 'lambdas', name, 'handler.ts')],
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      outfile,
      logLevel: 'silent',
    });
    const size = fs.statSync(outfile).size;
    // The runtime provides @aws-sdk/*: resolve it from this project's node_modules, as it would be there.
    const script = `const t=process.hrtime.bigint();require(${JSON.stringify(outfile)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
    const samples = Array.from({ length: LOAD_SAMPLES }, () =>
      Number(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') }, encoding: 'utf8' })),
    );
    console.log(`  ${name.padEnd(18)} ${`${(size / 1024).toFixed(0)} KiB`.padStart(9)}  ${median(samples).toFixed(0)} ms`);
  }
  fs.rmSync(out, { recursive: true, force: true });
}

async function workflow(): Promise<void> {
  const w = await startOnboardingWorld();
  try {
    await createCluster(w, { name: 'bench' });
    w.activateCluster('bench');
    const times: Record<string, number> = {};
    for (const label of ['first run (creates everything)', 'repeat run (no changes)']) {
      const started = process.hrtime.bigint();
      const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'bench' }, { waitMs: 0 });
      if (result.status !== 'SUCCEEDED') throw new Error(`${label} failed: ${result.error?.message}`);
      times[label] = Number(process.hrtime.bigint() - started) / 1e6;
    }
    console.log('\nCluster workflow on the local world (real ASL and handlers, waits shortened to 0)');
    for (const [label, ms] of Object.entries(times)) console.log(`  ${label.padEnd(32)} ${ms.toFixed(0)} ms`);
  } finally {
    await w.stop();
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${os.cpus().length} CPUs\n`);
  bundles();
  await workflow();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
