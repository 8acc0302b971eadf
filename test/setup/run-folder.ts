// The run's folder for what test files share through the disk (test/cdk/synth-cache.ts,
// test/local-world/tls.ts): made by global-setup.ts before the workers start (they inherit its
// environment variable), removed by global-teardown.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The environment variable naming the run's folder for test/cdk/synth-cache.ts. */
export const SYNTH_CACHE_DIR = 'EKS_AVIATRIX_SYNTH_CACHE';

export function makeRunFolder(): void {
  process.env[SYNTH_CACHE_DIR] = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-synth-'));
}

export function removeRunFolder(): void {
  const dir = process.env[SYNTH_CACHE_DIR];
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
