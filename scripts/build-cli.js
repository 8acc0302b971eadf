// Builds the CLI into dist/cli/main.js (run by `npm ci`/`npm install` as `prepare`, and by
// `npm run build:cli`): one CommonJS file for Node 20, its npm dependencies left as imports.
// esbuild is a runtime dependency (the stack's Lambda bundling needs it too), so
// `npm ci --omit=dev` can build the CLI without TypeScript or ts-node.
'use strict';
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
esbuild.buildSync({
  entryPoints: [path.join(root, 'cli', 'main.ts')],
  outfile: path.join(root, 'dist', 'cli', 'main.js'),
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
});
