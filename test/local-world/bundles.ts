// Builds a Lambda exactly as `cdk synth` bundles it (lib/bundling.ts: the same esbuild options),
// for the bundle tests and `npm run bench`, which load and measure what is deployed.
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { BUNDLE_ALIASES, BUNDLING, EXTERNAL_MODULES } from '../../lib/bundling';
import { ALL_FUNCTIONS } from '../../lib/functions';

const ROOT = path.resolve(__dirname, '..', '..');

export const FUNCTION_NAMES = ALL_FUNCTIONS.map((f) => f.name);

export interface BuiltBundle {
  name: string;
  /** index.js, with index.js.map beside it. */
  file: string;
  bytes: number;
  mapBytes: number;
}

export function buildBundle(name: string, outDir: string): BuiltBundle {
  const file = path.join(outDir, name, 'index.js');
  buildSync({
    entryPoints: [path.join(ROOT, 'lambdas', name, 'handler.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    target: BUNDLING.target,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    external: EXTERNAL_MODULES,
    alias: BUNDLE_ALIASES,
    outfile: file,
    logLevel: 'silent',
  });
  return { name, file, bytes: fs.statSync(file).size, mapBytes: fs.statSync(`${file}.map`).size };
}

/** Node's module path for a bundle: @aws-sdk/* from this project, as the runtime provides it. */
export const RUNTIME_NODE_PATH = path.join(ROOT, 'node_modules');
