// jest transform for the TypeScript sources: esbuild strips the types (tsconfig's isolatedModules
// already limits the code to what a per-file transpiler handles). Type-checking is `npm run build`
// (tsc), not the test run's job. ts-jest did the same transpile-only work, with more CPU on a cold
// cache (CI's fresh clone; see docs/test-speed.md).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const tsconfig = fs.readFileSync(path.join(__dirname, '..', '..', 'tsconfig.json'), 'utf8');
const configKey = crypto.createHash('sha256').update(`${esbuild.version}\0${tsconfig}\0${fs.readFileSync(__filename, 'utf8')}`).digest('hex');

module.exports = {
  process(source, filename) {
    const { code, map } = esbuild.transformSync(source, {
      loader: filename.endsWith('.tsx') ? 'tsx' : 'ts',
      format: 'cjs',
      platform: 'node',
      target: 'node20',
      // import() becomes require(), as tsc emits it for CommonJS: jest's sandbox cannot load ES modules.
      supported: { 'dynamic-import': false },
      sourcemap: 'external',
      sourcefile: filename,
      tsconfigRaw: tsconfig,
    });
    return { code, map };
  },
  getCacheKey(source, filename) {
    return crypto.createHash('sha256').update(configKey).update('\0').update(filename).update('\0').update(source).digest('hex');
  },
};
