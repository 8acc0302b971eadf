// Runs before `npm test` and `npm run demo`: installs the locked dependencies when they are
// missing or older than package-lock.json, and checks the one tool npm cannot install (moto).
'use strict';
const { execSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const installed = path.join(root, 'node_modules', '.package-lock.json');
const lock = path.join(root, 'package-lock.json');

const stale = !fs.existsSync(installed) || fs.statSync(installed).mtimeMs < fs.statSync(lock).mtimeMs;
if (stale) {
  console.log('Installing dependencies (npm ci)...');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

const moto = spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' });
if (moto.status !== 0) {
  console.error("The local world needs moto's server (python3 -m moto.server); install it with: pip install 'moto[server]==5.2.1'");
  process.exit(1);
}
