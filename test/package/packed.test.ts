// The packed package, embedded the way another team would: `npm pack` (which runs prepack), the
// tarball unpacked into a temp app's node_modules, and a TypeScript CDK app outside this repository
// that puts EksAviatrixOnboarding next to its own queue and synthesizes, bundling the Lambdas.
//
// Cost: the package's dependencies are not downloaded again: each of package.json's
// `dependencies` is a symlink into this repository's node_modules (only those: the package's own
// files cannot reach a devDependency). The package itself is the tarball's content, unpacked as npm
// does, so the test proves what ships (files, main/types, prebuilt CLI) and that the Lambdas bundle
// from the package's own sources with no lock file.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.join(__dirname, '..', '..');
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string> };

const APP = `
import { App, Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { EksAviatrixOnboarding, EksAviatrixOnboardingProps, parseConfig } from 'eks-aviatrix-onboarding';

const app = new App();
const stack = new Stack(app, 'PlatformStack', { env: { account: '210987654321', region: 'eu-west-1' } });
new sqs.Queue(stack, 'PlatformQueue', { enforceSSL: true });
const props: EksAviatrixOnboardingProps = {
  config: parseConfig({
    aviatrix: {
      controllerUrl: 'https://controller.corp.acme.net',
      credentialsSecretName: 'aviatrix/controller/api',
      controllerRoleArn: 'arn:aws:iam::210987654321:role/aviatrix-role-app',
    },
  }),
  namePrefix: 'platform-avx',
  pollIntervalSeconds: 20,
  logLevel: 'WARN',
};
new EksAviatrixOnboarding(stack, 'Aviatrix', props);
app.synth();
`;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-pack-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the packed package installs into another app, embeds next to its resources and bundles its Lambdas there', () => {
  const started = Date.now();
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp], { cwd: REPO, encoding: 'utf8', timeout: 240_000 }).trim().split('\n').pop()!;
  const packedMs = Date.now() - started;
  const entries = execFileSync('tar', ['-tzf', path.join(tmp, tarball)], { encoding: 'utf8' }).split('\n');
  expect(entries).toEqual(expect.arrayContaining([
    'package/dist/pkg/index.js', 'package/dist/pkg/index.d.ts', 'package/dist/cli/main.js', 'package/bin/eks-aviatrix.js',
    'package/lambdas/start-workflow/handler.ts', 'package/state-machines/cluster-onboarding.asl.json', 'package/lib/bundle-stubs/form-data.js',
    'package/LICENSE', 'package/README.md',
  ]));
  // No lock file travels: the Lambdas must bundle without one. No tests or local world either.
  expect(entries.filter((e) => /package-lock\.json$|^package\/test\/|^package\/cdk\.json$/.test(e))).toEqual([]);

  const app = path.join(tmp, 'app');
  const modules = path.join(app, 'node_modules');
  const installed = path.join(modules, PKG.name);
  fs.mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(tmp, tarball), '-C', installed, '--strip-components=1']);
  fs.mkdirSync(path.join(modules, '.bin'));
  for (const dep of Object.keys(PKG.dependencies)) {
    fs.mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true });
    fs.symlinkSync(path.join(REPO, 'node_modules', dep), path.join(modules, dep), 'dir');
    // And its commands in node_modules/.bin, as npm links them (CDK runs `npx --no-install esbuild`).
    const { bin } = JSON.parse(fs.readFileSync(path.join(modules, dep, 'package.json'), 'utf8')) as { bin?: string | Record<string, string> };
    const bins = typeof bin === 'string' ? { [path.basename(dep)]: bin } : bin ?? {};
    for (const [name, file] of Object.entries(bins)) fs.symlinkSync(path.join('..', dep, file), path.join(modules, '.bin', name));
  }
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'platform-app', private: true, dependencies: { [PKG.name]: PKG.version } }));
  fs.writeFileSync(path.join(app, 'app.ts'), APP);
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'es2022', types: [], skipLibCheck: true }, files: ['app.ts'] }));

  // The consumer compiles against the package's types (strict), then runs as plain JavaScript.
  execFileSync(process.execPath, [path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', app], { encoding: 'utf8' });
  const outdir = path.join(app, 'cdk.out');
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: outdir };
  delete env.CDK_CONTEXT_JSON;
  execFileSync(process.execPath, ['app.js'], { cwd: app, env, encoding: 'utf8', timeout: 240_000 });

  const template = JSON.parse(fs.readFileSync(path.join(outdir, 'PlatformStack.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
  const resources = Object.entries(template.Resources);
  const ofType = (type: string) => resources.filter(([, r]) => r.Type === type);
  expect(ofType('AWS::SQS::Queue').filter(([id]) => id.startsWith('PlatformQueue'))).toHaveLength(1);
  expect(ofType('AWS::StepFunctions::StateMachine').map(([, r]) => r.Properties!.StateMachineName).sort()).toEqual(
    ['platform-avx-cluster-offboarding', 'platform-avx-cluster-onboarding', 'platform-avx-nodegroup-onboarding'],
  );
  // Every function's code is an asset esbuild built here, from the package's own sources.
  const functions = ofType('AWS::Lambda::Function');
  expect(functions).toHaveLength(11);
  for (const [, fn] of functions) {
    const key = (fn.Properties!.Code as { S3Key: string }).S3Key;
    const assetDir = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const bundle = fs.readFileSync(path.join(assetDir, 'index.js'), 'utf8');
    expect(bundle).toMatch(/exports|module\.exports/);
    expect(bundle).not.toContain('require("axios")'); // axios is bundled, not left for the runtime
  }
  // The prebuilt CLI runs from the installed package without ts-node.
  expect(execFileSync(process.execPath, [path.join(installed, 'bin/eks-aviatrix.js'), '--version'], { encoding: 'utf8' }).trim()).toBe(`eks-aviatrix ${PKG.version}`);
  process.stdout.write(`packed-package test: npm pack ${packedMs} ms, total ${Date.now() - started} ms\n`);
}, 600_000);
