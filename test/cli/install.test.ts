// A fresh clone installed for running only (`npm ci --omit=dev`): the CLI works from its build,
// without TypeScript or ts-node, and reaches the AWS SDK. The clone is the repository's files
// (tracked and new, as git lists them) copied into a temp dir, so it tests this working tree.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

let clone: string;
let install: ReturnType<typeof spawnSync>;

beforeAll(() => {
  clone = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-clone-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const from = path.join(ROOT, file);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    fs.copyFileSync(from, path.join(clone, file));
  }
  install = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, encoding: 'utf8' });
}, 600_000);

afterAll(() => {
  if (clone) fs.rmSync(clone, { recursive: true, force: true });
});

/** `npx eks-aviatrix ...` in the clone, with `env` replacing the AWS settings of this process. */
function eksAviatrix(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_')));
  return spawnSync('npx', ['--no-install', 'eks-aviatrix', ...argv], { cwd: clone, encoding: 'utf8', env: { ...base, ...env } });
}

it('npm ci --omit=dev installs without the compilers and builds the CLI', () => {
  expect(install.stderr).not.toMatch(/npm (ERR|error|warn)/i); // no warning a user would have to wonder about
  expect(install.status).toBe(0);
  expect(fs.existsSync(path.join(clone, 'dist', 'cli', 'main.js'))).toBe(true);
  for (const devOnly of ['typescript', 'ts-node', 'jest']) expect(fs.existsSync(path.join(clone, 'node_modules', devOnly))).toBe(false);
});

it('npx eks-aviatrix --version prints the version', () => {
  const result = eksAviatrix(['--version']);
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: `eks-aviatrix ${version}\n`, stderr: '' });
});

it('a command reaches the AWS SDK: without credentials it says so and exits 3', () => {
  const empty = path.join(clone, 'empty-aws-file');
  fs.writeFileSync(empty, '');
  const result = eksAviatrix(['status'], { AWS_REGION: 'us-east-1', AWS_SHARED_CREDENTIALS_FILE: empty, AWS_CONFIG_FILE: empty, AWS_EC2_METADATA_DISABLED: 'true' });
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
    status: 3,
    stdout: '',
    stderr: 'No AWS credentials found. Configure them (aws configure, AWS_PROFILE or environment variables) and try again.\n',
  });
});

it('without its build, the CLI says how to build it and exits 70', () => {
  fs.rmSync(path.join(clone, 'dist'), { recursive: true });
  const result = eksAviatrix(['--version']);
  expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
    status: 70,
    stdout: '',
    stderr: `eks-aviatrix is not built (${path.join(fs.realpathSync(clone), 'dist', 'cli', 'main.js')} is missing): run \`npm run build:cli\` in ${fs.realpathSync(clone)}.\n`,
  });
});
