// `npm run world` as a user meets it: started as a child process, the environment read from what it
// prints, a cluster created through the printed EKS endpoint with the SDK, and the compiled CLI
// (another process) reporting it ONBOARDED: the CreateCluster went through the rule's pattern to
// start-workflow and the workflow. The world is always killed (its whole process group).
import { ChildProcess, execFile, spawn } from 'child_process';
import * as path from 'path';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { STATUS_TABLE } from '../local-world/onboarding-world';

const REPO = path.join(__dirname, '..', '..');
let world: ChildProcess | undefined;
let output = '';

function stopWorld(): void {
  if (world?.pid && world.exitCode === null) {
    try {
      process.kill(-world.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
afterAll(stopWorld);
process.on('exit', stopWorld);

function startWorld(): Promise<{ env: Record<string, string>; subnets: string[] }> {
  world = spawn(process.execPath, [path.join(REPO, 'node_modules/ts-node/dist/bin.js'), '--transpile-only', 'scripts/world.ts'], {
    cwd: REPO,
    detached: true, // its own process group, so moto and the rest go with it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    world!.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    world!.on('exit', (code) => reject(new Error(`the world exited (${code}) before it was ready:\n${output}`)));
    world!.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('WORLD READY')) return;
      const env = Object.fromEntries([...output.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
      const subnets = [...(/node subnets (.*)$/m.exec(output)?.[1] ?? '').matchAll(/(subnet-\w+)/g)].map((m) => m[1]);
      resolve({ env, subnets });
    });
  });
}

/** The compiled CLI in a process of its own, with only the printed environment. */
function cli(env: Record<string, string>, ...argv: string[]): Promise<unknown> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'bin/eks-aviatrix.js'), ...argv, '--json'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }, (_error, stdout) =>
      resolve(JSON.parse(stdout || '{}')),
    );
  });
}

const cliStatus = (env: Record<string, string>, cluster: string) => cli(env, 'status', cluster) as Promise<{ clusters?: { clusterName: string; status: string }[] }>;

test('npm run world: CreateCluster on the printed EKS endpoint onboards the cluster; eks-aviatrix status --json shows ONBOARDED and logs --json the run\'s lines', async () => {
  const { env, subnets } = await startWorld();
  expect(Object.keys(env)).toEqual(expect.arrayContaining(['AWS_REGION', 'AWS_ENDPOINT_URL_EKS', 'AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL_SFN']));
  expect(subnets).toHaveLength(2);
  expect(output).toMatch(/spoke spoke-vpc-\w+ with HA peer spoke-vpc-\w+-hagw, transit transit-use1/);

  const before = await cliStatus(env, 'world-a');
  expect(before.clusters).toEqual([]);
  const eks = new EKSClient({ endpoint: env.AWS_ENDPOINT_URL_EKS, region: env.AWS_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await eks.send(new CreateClusterCommand({ name: 'world-a', roleArn: 'arn:aws:iam::123456789012:role/eks-cluster', resourcesVpcConfig: { subnetIds: subnets } }));
  eks.destroy();

  // Waits on the status record itself (a GetItem, not a CLI process per look), then asks the CLI.
  const dynamodb = new DynamoDBClient({ endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, region: env.AWS_REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  let recorded: string | undefined;
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline && recorded !== 'ONBOARDED' && recorded !== 'FAILED') {
    await new Promise((r) => setTimeout(r, 200));
    const { Item } = await dynamodb.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'world-a' } }, ConsistentRead: true }));
    recorded = Item?.status?.S;
  }
  dynamodb.destroy();
  expect(output).toMatch(/CloudTrail: CreateCluster world-a -> start-workflow started /);
  expect(recorded).toBe('ONBOARDED');
  expect((await cliStatus(env, 'world-a')).clusters?.[0]?.status).toBe('ONBOARDED');

  // The run's log lines went to the world's CloudWatch Logs (shipped every second); `logs` reads them as in an account.
  let lines: { function: string; executionId: string }[] = [];
  for (let i = 0; i < 20 && !lines.some((l) => l.function === 'record-outcome'); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    lines = ((await cli(env, 'logs', 'world-a')) as { lines?: typeof lines }).lines ?? [];
  }
  expect(lines.map((l) => l.function)).toEqual(expect.arrayContaining(['resolve-cluster', 'pod-network', 'vpc-cni', 'record-outcome']));
  expect(new Set(lines.map((l) => l.executionId)).size).toBe(1);
}, 240_000);
