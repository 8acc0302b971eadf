// The CLI, run in-process against the local world with the stack "deployed" in it: CloudFormation
// (moto) holds the stack's Outputs, the Step Functions emulator runs the real workflow.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { AssociateVpcCidrBlockCommand, CreateSubnetCommand } from '@aws-sdk/client-ec2';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { main, USAGE } from '../../cli/main';
import { DeployedStack, deployStackLocally } from '../local-world/deployed-stack';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';

const NO_CREDENTIALS = 'No AWS credentials found. Configure them (aws configure, AWS_PROFILE or environment variables) and try again.\n';
const WRITES_OF_INTEREST = ['ec2', 'eks', 'kubernetes', 'aviatrix'];
/** The steps of the cluster workflow a person sees progress for. */
const STEPS = ['ResolveCluster', 'Preflight', 'ExcludePodCidr', 'PodNetwork', 'VpcCni', 'ConfigureController', 'OnboardToController', 'ConfigureGatewaySnat', 'ExternalSnat', 'RecordOutcome'];

let w: OnboardingWorld;
let stack: DeployedStack;

beforeAll(async () => {
  w = await startOnboardingWorld();
  stack = await deployStackLocally(w);
});

afterAll(async () => {
  await stack?.stop();
  await w?.stop();
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), pollMs: 20 });
  return { code, stdout, stderr };
}

interface Row {
  action: string;
  resource: string;
  detail: string;
}

/** The rows of the ACTION/RESOURCE/DETAIL table in the output, cut at the header's column offsets. */
function changeTable(stdout: string): Row[] {
  const lines = stdout.split('\n');
  const at = lines.findIndex((line) => /^\s+ACTION\s+RESOURCE\s+DETAIL$/.test(line));
  if (at === -1) throw new Error(`no change table in:\n${stdout}`);
  const header = lines[at];
  const resourceAt = header.indexOf('RESOURCE');
  const detailAt = header.indexOf('DETAIL');
  const rows: Row[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.startsWith('  ')) break;
    rows.push({ action: line.slice(0, resourceAt).trim(), resource: line.slice(resourceAt, detailAt).trim(), detail: line.slice(detailAt) });
  }
  return rows;
}

/** What is stable between a plan and the run: ids of resources the plan would create are not known yet. */
function kindOf(resource: string): string {
  if (/^vpc-/.test(resource)) return 'vpc';
  if (/^subnet-|^pod subnet /.test(resource)) return 'pod subnet';
  if (/^sg-|^eks-aviatrix-pods-/.test(resource)) return 'security group';
  return resource.replace(/\s+\S+$/, ''); // "ENIConfig us-east-1a" -> "ENIConfig", "access entry arn:..." -> "access entry"
}

function tally(rows: Row[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const row of rows) {
    const key = `${row.action} ${kindOf(row.resource)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** What a workflow command prints with --json about the last execution: the command's keys and `fields`. */
function workflowDoc(command: string, cluster: string, fields: Record<string, unknown>) {
  const execution = stack.sfn.executions().at(-1)!;
  return { command, cluster, executionArn: execution.executionArn, ...fields };
}

function writesSince(mark: number) {
  return w.world.log.since(mark).filter((c) => c.write && WRITES_OF_INTEREST.includes(c.service));
}

describe('plan, run, status on a fresh cluster', () => {
  const cluster = 'cli-fresh';
  let planned: Row[];
  let run: CliResult;

  let spokeName: string;

  beforeAll(async () => {
    ({ spokeName } = await createCluster(w, { name: cluster }));
    w.activateCluster(cluster);
  });

  it('plan lists the changes, writes nothing and exits 2 (changes pending)', async () => {
    const mark = w.world.log.mark();
    const result = await cli('plan', cluster);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(2);
    expect(writesSince(mark)).toEqual([]);
    planned = changeTable(result.stdout);
    expect(result.stdout).toContain(`Planned changes for ${cluster} (${planned.length}):`);
    expect(planned.length).toBeGreaterThan(10);
    expect(planned).toContainEqual(expect.objectContaining({ action: 'associate', detail: 'secondary CIDR 100.64.0.0/16' }));
    expect(planned.filter((r) => r.resource.startsWith('ENIConfig '))).toHaveLength(2);
    // The plan started the workflow as the CLI says it does.
    const execution = stack.sfn.executions().at(-1)!;
    expect(JSON.parse(execution.input)).toEqual({ clusterName: cluster, dryRun: true, trigger: 'CLI' });
  });

  it('plan --json gives the same changes as one JSON document, with the same exit status', async () => {
    const result = await cli('plan', cluster, '--json');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toHaveLength(2); // one line and its newline
    const doc = JSON.parse(result.stdout);
    expect(doc).toEqual(
      workflowDoc('plan', cluster, {
        dryRun: true,
        executionStatus: 'SUCCEEDED',
        status: JSON.parse(stack.sfn.executions().at(-1)!.output!).status,
        changes: planned.map((row) => ({ action: row.action, resource: row.resource, detail: row.detail })),
      }),
    );
  });

  it('run prints each step once as it is entered, makes every planned change, and exits 0', async () => {
    run = await cli('run', cluster);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^Onboarding ${cluster}: execution [0-9a-f-]{36}$`));
    expect(lines[1]).toMatch(/^  https:\/\/us-east-1\.console\.aws\.amazon\.com\/states\/home\?region=us-east-1#\/v2\/executions\/details\/arn:aws:states:/);
    for (const step of STEPS) {
      expect(lines.filter((line) => new RegExp(`^ +\\d+\\.\\ds  ${step}$`).test(line))).toHaveLength(1);
    }
    const progress = lines.filter((line) => /^ +\d+\.\ds  \w+$/.test(line)).map((line) => line.trim().split(/\s+/)[1]);
    expect(progress.indexOf('ResolveCluster')).toBeLessThan(progress.indexOf('Preflight'));
    expect(progress.indexOf('Preflight')).toBeLessThan(progress.indexOf('ExcludePodCidr'));
    expect(progress.indexOf('ExcludePodCidr')).toBeLessThan(progress.indexOf('PodNetwork'));
    expect(progress.indexOf('VpcCni')).toBeLessThan(progress.indexOf('ConfigureController'));
    expect(progress.indexOf('ConfigureController')).toBeLessThan(progress.indexOf('ExternalSnat'));
    expect(progress.at(-1)).toBe('RecordOutcome');

    const made = changeTable(run.stdout);
    expect(run.stdout).toMatch(new RegExp(`^Succeeded in \\d+\\.\\ds: ${cluster} is ONBOARDED, ${made.length} changes:$`, 'm'));
    expect(made).toHaveLength(planned.length);
    expect(tally(made)).toEqual(tally(planned));
    // And the run's own report matches what the state machine returned.
    const output = JSON.parse(stack.sfn.executions().at(-1)!.output!) as { changes: Row[] };
    expect(made).toEqual(output.changes.map((c) => ({ action: c.action, resource: c.resource, detail: c.detail })));
  });

  it('plan after run prints exactly that nothing would change', async () => {
    const result = await cli('plan', cluster);
    expect(result).toEqual({ code: 0, stdout: `No changes: ${cluster} is onboarded as configured.\n`, stderr: '' });
  });

  it('status lists the cluster as ONBOARDED', async () => {
    for (const argv of [['status'], ['status', cluster]]) {
      const result = await cli(...argv);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      const [header, ...rows] = result.stdout.trimEnd().split('\n');
      expect(header).toMatch(/^CLUSTER\s+STATUS\s+LAST RUN\s+CHANGES\s+TRIGGER\s+ERROR$/);
      const row = rows.find((line) => line.startsWith(`${cluster} `));
      expect(row?.split(/\s{2,}/)).toEqual([cluster, 'ONBOARDED', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/), String(changeTable(run.stdout).length), 'CLI', '-']);
    }
  });

  it('status --json lists the cluster with its recorded fields', async () => {
    const result = await cli('status', '--json');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const doc = JSON.parse(result.stdout) as { command: string; clusters: { clusterName: string }[] };
    expect(doc.command).toBe('status');
    expect(doc.clusters.find((c) => c.clusterName === cluster)).toEqual({
      clusterName: cluster,
      status: 'ONBOARDED',
      finishedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      changeCount: changeTable(run.stdout).length,
      trigger: 'CLI',
      // What allow-lists need: each gateway's SNAT IP toward the fabric and toward the internet.
      egressIps: [spokeName, `${spokeName}-hagw`].map((name, i) => ({
        gateway: name,
        role: i === 0 ? 'primary' : 'ha',
        fabricIp: w.controller.gateway(name)!.private_ip,
        internetIp: w.controller.gateway(name)!.public_ip,
      })),
    });
    expect(JSON.parse((await cli('status', 'never-seen', '--json')).stdout)).toEqual({ command: 'status', clusters: [] });
  });

  it('status of a cluster never onboarded says so', async () => {
    expect(await cli('status', 'never-seen')).toEqual({ code: 0, stdout: 'No status recorded for never-seen: no onboarding run has finished for it.\n', stderr: '' });
  });
});

/** The pod CIDR's first half in us-east-1a, made by hand in the VPC: onboarding uses it as it is, with a warning. */
async function podSubnetMadeByHand(vpcId: string): Promise<string> {
  await w.world.ec2Direct.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '100.64.0.0/16' }));
  const { Subnet } = await w.world.ec2Direct.send(new CreateSubnetCommand({ VpcId: vpcId, AvailabilityZone: 'us-east-1a', CidrBlock: '100.64.0.0/17' }));
  return Subnet!.SubnetId!;
}

describe('warnings', () => {
  it('run prints the outcome\'s warnings after the changes, and --json carries them', async () => {
    const { vpc } = await createCluster(w, { name: 'cli-foreign', vpcCidr: '10.31.0.0/16' });
    const subnet = await podSubnetMadeByHand(vpc.vpcId);
    w.activateCluster('cli-foreign');
    const warning = new RegExp(`pod subnet ${subnet} \\(100\\.64\\.0\\.0/17\\) in us-east-1a was not made by onboarding`);

    const text = await cli('run', 'cli-foreign');
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    const warnings = lines.filter((line) => line.startsWith('Warning: '));
    expect(warnings).toContainEqual(expect.stringMatching(warning));
    expect(lines.slice(-warnings.length)).toEqual(warnings);

    const json = await cli('run', 'cli-foreign', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).warnings).toContainEqual(expect.stringMatching(warning));
  });

  it('plan prints them too: after "No changes", and after the changes', async () => {
    w.world.kube.addObject('cli-foreign', 'services', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop', namespace: 'web' }, spec: { type: 'LoadBalancer' } });
    const classic = /^Warning: Services web\/shop on EKS cluster "cli-foreign" get a classic load balancer/;
    const converged = await cli('plan', 'cli-foreign');
    expect(converged.code).toBe(0);
    const lines = converged.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('No changes: cli-foreign is onboarded as configured.');
    expect(lines.slice(1)).toContainEqual(expect.stringMatching(classic));

    w.world.kube.deleteEniConfig('cli-foreign', 'us-east-1b');
    const pending = await cli('plan', 'cli-foreign');
    expect(pending.code).toBe(2);
    const planned = pending.stdout.trimEnd().split('\n');
    expect(planned).toContainEqual(expect.stringMatching(/ENIConfig us-east-1b/));
    expect(planned.at(-1)).toMatch(classic);
    w.world.kube.removeObject('cli-foreign', 'services', 'web', 'shop');
  });
});

describe('failures', () => {
  it('run on an unknown cluster exits 1 with the ClusterNotFound message', async () => {
    const result = await cli('run', 'no-such-cluster');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^ +\d+\.\ds {2}ResolveCluster failed: ClusterNotFound: EKS cluster "no-such-cluster" does not exist in us-east-1/m);
    expect(result.stderr).toMatch(/^Failed after \d+\.\ds: ClusterNotFound: EKS cluster "no-such-cluster" does not exist in us-east-1; check the name/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('run --json on an unknown cluster: the failure as a document, no progress, exit 1', async () => {
    const result = await cli('run', 'no-such-cluster', '--json');
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual(
      workflowDoc('run', 'no-such-cluster', {
        dryRun: false,
        executionStatus: 'FAILED',
        status: 'FAILED',
        changes: [],
        error: expect.stringMatching(/^ClusterNotFound: EKS cluster "no-such-cluster" does not exist in us-east-1; check the name/),
      }),
    );
  });

  it('plan of a cluster the design cannot serve exits 1 with the refusal', async () => {
    await createCluster(w, { name: 'cli-ipv6', ipFamily: 'ipv6' });
    w.activateCluster('cli-ipv6');
    const result = await cli('plan', 'cli-ipv6');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Plan for cli-ipv6 failed: ClusterRefused: .*IPv6 cluster/);
  });

  describe('without credentials', () => {
    let saved: NodeJS.ProcessEnv;
    let dir: string;

    beforeEach(() => {
      saved = { ...process.env };
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-cli-'));
      fs.writeFileSync(path.join(dir, 'credentials'), '');
      fs.writeFileSync(path.join(dir, 'config'), '');
      for (const key of Object.keys(process.env)) {
        if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|DEFAULT_PROFILE|WEB_IDENTITY_TOKEN_FILE|ROLE_ARN|CONTAINER_)/.test(key)) delete process.env[key];
      }
      process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
      process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
    });

    afterEach(() => {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it.each([['plan', 'cli-fresh'], ['run', 'cli-fresh'], ['offboard', 'cli-fresh'], ['status']])('%s says so in one line and exits 3', async (...argv) => {
      const mark = w.world.log.mark();
      expect(await cli(...argv)).toEqual({ code: 3, stdout: '', stderr: NO_CREDENTIALS });
      expect(w.world.log.since(mark)).toEqual([]);
    });

    it('without a Region either, the Region is what it asks for first', async () => {
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      expect(await cli('status')).toEqual({
        code: 3,
        stdout: '',
        stderr: 'No AWS Region configured. Pass --region, set AWS_REGION, or set one in your profile (aws configure).\n',
      });
    });
  });

  it('a stack that is not deployed: exact message, exit 3; with --json as a document on stdout', async () => {
    const message = 'Stack Nope is not deployed in us-east-1. Deploy it with `npx cdk deploy`, or pass --stack NAME.';
    expect(await cli('plan', 'cli-fresh', '--json', '--stack', 'Nope')).toEqual({ code: 3, stdout: `${JSON.stringify({ error: message, exitCode: 3 })}\n`, stderr: '' });
    expect(await cli('plan', 'cli-fresh', '--stack', 'Nope')).toEqual({
      code: 3,
      stdout: '',
      stderr: 'Stack Nope is not deployed in us-east-1. Deploy it with `npx cdk deploy`, or pass --stack NAME.\n',
    });
    const saved = process.env.EKS_AVIATRIX_STACK;
    process.env.EKS_AVIATRIX_STACK = 'FromEnv';
    try {
      expect((await cli('status')).stderr).toBe('Stack FromEnv is not deployed in us-east-1. Deploy it with `npx cdk deploy`, or pass --stack NAME.\n');
      expect((await cli('status', '--stack', 'EksAviatrixOnboarding')).code).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.EKS_AVIATRIX_STACK;
      else process.env.EKS_AVIATRIX_STACK = saved;
    }
  });

  it('a stack without the output a command needs: names the output, exit 3', async () => {
    const cfn = new CloudFormationClient({ endpoint: w.world.motoDirectEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await cfn.send(
      new CreateStackCommand({
        StackName: 'Partial',
        TemplateBody: JSON.stringify({
          Resources: { Marker: { Type: 'AWS::SSM::Parameter', Properties: { Name: '/partial', Type: 'String', Value: 'x' } } },
          Outputs: { StatusTableName: { Value: 'eks-aviatrix-status' } },
        }),
      }),
    );
    cfn.destroy();
    expect(await cli('run', 'cli-fresh', '--stack=Partial')).toEqual({
      code: 3,
      stdout: '',
      stderr: 'Stack Partial in us-east-1 has no output ClusterStateMachineArn: it is from an older version or not fully deployed. Deploy it again with `npx cdk deploy`.\n',
    });
    expect((await cli('status', '--stack', 'Partial')).code).toBe(0);
  });

  it('by default the names come from the naming prefix, without CloudFormation; --prefix picks another deployment', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = 'http://127.0.0.1:9';
    try {
      expect((await cli('status')).code).toBe(0);
      // The fallback through the stack's Outputs does need CloudFormation.
      expect((await cli('status', '--stack', 'EksAviatrixOnboarding')).stderr).toMatch(/^Cannot reach AWS \(ECONNREFUSED\)/);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
      else process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = saved;
    }
    expect(await cli('status', '--prefix', 'other-copy')).toEqual({
      code: 3,
      stdout: '',
      stderr: 'The status table other-copy-status does not exist in us-east-1. Deploy with `npx cdk deploy`, or pass the deployment\'s --prefix (or --stack).\n',
    });
    expect((await cli('status', '--prefix', 'Bad_Prefix')).code).toBe(64);
  });
});

describe('usage', () => {
  it('--help prints the usage and exits 0', async () => {
    expect(await cli('--help')).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    for (const command of ['plan', 'run', 'offboard', 'status']) expect(USAGE).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it.each([
    ['plan', 'Usage: eks-aviatrix plan <cluster>', 'Exit status: 0 no changes (or the cluster is not selected), 2 changes pending'],
    ['run', 'Usage: eks-aviatrix run <cluster> [--nodegroup NAME]', '--nodegroup NAME  Onboard that node group'],
    ['status', 'Usage: eks-aviatrix status [<cluster>] [--wide]', '--wide            Show errors in full'],
    ['offboard', 'Usage: eks-aviatrix offboard <cluster> [--dry-run]', '--dry-run         List what offboarding would remove'],
  ])('%s --help prints that command\'s own help', async (command, first, own) => {
    for (const help of ['--help', '-h']) {
      const result = await cli(command, help);
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout.split('\n')[0]).toBe(`${first} [options]`);
      expect(result.stdout).toContain(own);
      expect(result.stdout).toContain('--json            Print one JSON document');
    }
  });

  it('--version prints the package version, as text or JSON', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(await cli('--version')).toEqual({ code: 0, stdout: `eks-aviatrix ${version}\n`, stderr: '' });
    expect(await cli('--version', '--json')).toEqual({ code: 0, stdout: `${JSON.stringify({ version })}\n`, stderr: '' });
  });

  it.each([
    [[], 'Missing command: plan, run, status, offboard, logs. Run `eks-aviatrix --help` for usage.'],
    [['deploy'], 'Unknown command "deploy": use plan, run, status, offboard, logs. Run `eks-aviatrix --help` for usage.'],
    [['offboard'], 'offboard needs a cluster name: eks-aviatrix offboard <cluster> [--dry-run]'],
    [['run', 'a', '--dry-run'], 'Option --dry-run does not apply to run: eks-aviatrix run <cluster> [--nodegroup NAME]'],
    [['plan', 'a', '--wide'], 'Option --wide does not apply to plan: eks-aviatrix plan <cluster>'],
    [['status', '--json=yes'], 'Option --json takes no value. Run `eks-aviatrix --help` for usage.'],
    [['plan'], 'plan needs a cluster name: eks-aviatrix plan <cluster>'],
    [['plan', 'a', 'b'], 'Too many arguments for plan (b): eks-aviatrix plan <cluster>'],
    [['plan', 'a', '--nodegroup', 'ng'], 'Option --nodegroup does not apply to plan: eks-aviatrix plan <cluster>'],
    [['run', 'a', '--force'], 'Unknown option --force. Run `eks-aviatrix --help` for usage.'],
    [['run', 'a', '--stack'], 'Option --stack needs a value. Run `eks-aviatrix --help` for usage.'],
    [['run', 'bad name!'], '"bad name!" is not a valid EKS cluster name (letters, digits, - and _, starting with a letter or digit, at most 100), nor a cluster ARN.'],
    [['run', 'a', '--account', '2222'], '"2222" is not a 12-digit AWS account id.'],
    [['run', 'a', '--cluster-region', 'Europe'], '"Europe" is not an AWS Region name such as eu-west-1.'],
    [['status', '--account', '222222222222'], '--account and --cluster-region need a cluster: eks-aviatrix status [<cluster>] [--wide]'],
  ])('%j: one line, exit 64 (and as JSON with --json)', async (argv, message) => {
    expect(await cli(...argv)).toEqual({ code: 64, stdout: '', stderr: `${message}\n` });
    if (!argv.some((arg) => arg.startsWith('--json'))) {
      expect(await cli(...argv, '--json')).toEqual({ code: 64, stdout: `${JSON.stringify({ error: message, exitCode: 64 })}\n`, stderr: '' });
    }
  });

  it('run --nodegroup starts the node-group workflow, which fails for a cluster that does not exist: exit 1', async () => {
    // A cluster that does not exist, so the node-group workflow ends at once: this is about wiring.
    expect(stack.registered).toContain('nodegroup');
    const result = await cli('run', 'cli-ng-ghost', '--nodegroup', 'ng-1');
    expect(result.stdout).toMatch(/^Onboarding node group ng-1 of cli-ng-ghost: execution /);
    const execution = stack.sfn.executions().find((e) => e.stateMachineArn === stack.stateMachineArns.nodegroup);
    expect(JSON.parse(execution!.input)).toEqual({ clusterName: 'cli-ng-ghost', nodegroupName: 'ng-1', trigger: 'CLI' });
    expect(execution!.status).toBe('FAILED');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('cli-ng-ghost');
  });
});

describe('offboard', () => {
  const cluster = 'cli-gone';
  let onboarded: { changes: Row[] };

  beforeAll(async () => {
    await createCluster(w, { name: cluster });
    w.activateCluster(cluster);
  });

  it('run --json onboards the cluster and prints only the outcome document', async () => {
    const result = await cli('run', cluster, '--json');
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    onboarded = JSON.parse(result.stdout);
    expect(onboarded).toEqual(
      workflowDoc('run', cluster, { dryRun: false, executionStatus: 'SUCCEEDED', status: 'ONBOARDED', changes: JSON.parse(stack.sfn.executions().at(-1)!.output!).changes }),
    );
    expect(onboarded.changes.length).toBeGreaterThan(10);
  });

  it('refuses a cluster that still runs: exit 1, the refusal, nothing written', async () => {
    const mark = w.world.log.mark();
    const result = await cli('offboard', cluster);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^Failed after \\d+\\.\\ds: ClusterRefused: EKS cluster "${cluster}" is ACTIVE; .*delete the cluster first\\n$`));
    expect(writesSince(mark)).toEqual([]);
    const execution = stack.sfn.executions().at(-1)!;
    expect(execution.stateMachineArn).toBe(stack.stateMachineArns.offboarding);
    expect(JSON.parse(execution.input)).toEqual({ clusterName: cluster, dryRun: false, trigger: 'CLI' });
  });

  it('status cuts the recorded refusal at 60 characters; --wide and --json show it in full', async () => {
    const { clusters } = JSON.parse((await cli('status', cluster, '--json')).stdout) as { clusters: { status: string; error: string }[] };
    const full = clusters[0].error;
    // The refusal wrote nothing: the cluster is still ONBOARDED, and the record keeps that status.
    expect(clusters[0].status).toBe('ONBOARDED');
    expect(full).toMatch(new RegExp(`^ClusterRefused: EKS cluster "${cluster}" is ACTIVE; .*: delete the cluster first$`));
    const errorColumn = async (...argv: string[]) => {
      const result = await cli('status', cluster, ...argv);
      expect(result.code).toBe(0);
      const [header, row] = result.stdout.split('\n');
      return row.slice(header.indexOf('ERROR'));
    };
    expect(await errorColumn()).toBe(`${full.slice(0, 59)}…`);
    expect(await errorColumn('--wide')).toBe(full);
  });

  it('a cluster never onboarded: nothing to offboard, exit 0', async () => {
    const result = await cli('offboard', 'never-seen');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.trimEnd().split('\n').at(-1)).toBe('Nothing to offboard: cluster never-seen was never onboarded.');
    const json = await cli('offboard', 'never-seen', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(
      workflowDoc('offboard', 'never-seen', { dryRun: false, executionStatus: 'SUCCEEDED', status: 'NOTHING_TO_DO', changes: [], reason: 'cluster never-seen was never onboarded' }),
    );
  });

  describe('once the cluster is deleted', () => {
    let dry: Row[];

    beforeAll(async () => {
      const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
      await eks.send(new DeleteClusterCommand({ name: cluster }));
      eks.destroy();
    });

    it('--dry-run lists what would be removed, writes nothing and exits 2', async () => {
      const mark = w.world.log.mark();
      const result = await cli('offboard', cluster, '--dry-run');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(2);
      expect(writesSince(mark)).toEqual([]);
      expect(JSON.parse(stack.sfn.executions().at(-1)!.input)).toEqual({ clusterName: cluster, dryRun: true, trigger: 'CLI' });
      dry = changeTable(result.stdout);
      expect(result.stdout).toContain(`Offboarding ${cluster} would make these changes (${dry.length}):`);
      expect(result.stdout.trimEnd().split('\n').at(-1)).toBe(`Apply them with: eks-aviatrix offboard ${cluster}`);
      // What onboarding created comes back out: its pod subnets and the secondary CIDR.
      // What onboarding created comes back out: the pod subnets, the pod security group, the secondary CIDR.
      const createdSubnets = onboarded.changes.filter((c) => c.action === 'create' && c.resource.startsWith('pod subnet ')).map((c) => `pod subnet ${c.detail}`);
      expect(createdSubnets).toHaveLength(2);
      expect(dry.filter((r) => r.action === 'delete' && /^subnet-/.test(r.resource)).map((r) => r.detail).sort()).toEqual(createdSubnets.sort());
      const vpc = onboarded.changes.find((c) => c.action === 'associate' && c.detail === 'secondary CIDR 100.64.0.0/16')!.resource;
      expect(dry).toContainEqual({ action: 'delete', resource: vpc, detail: 'secondary CIDR 100.64.0.0/16 association' });
      expect(dry).toContainEqual(expect.objectContaining({ action: 'delete', detail: `pod security group eks-aviatrix-pods-${cluster}` }));
    });

    it('offboard removes it, exit 0, and status shows OFFBOARDED', async () => {
      const result = await cli('offboard', cluster, '--json');
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout) as { status: string; changes: Row[]; dryRun: boolean };
      expect(doc).toMatchObject({ command: 'offboard', cluster, dryRun: false, executionStatus: 'SUCCEEDED', status: 'OFFBOARDED' });
      expect(tally(doc.changes)).toEqual(tally(dry));
      const status = await cli('status', cluster);
      expect(status.stdout.split('\n')[1].split(/\s{2,}/).slice(0, 2)).toEqual([cluster, 'OFFBOARDED']);
      expect(await cli('offboard', cluster)).toEqual({ code: 0, stdout: expect.stringMatching(new RegExp(`Nothing to offboard: cluster ${cluster} is already offboarded\\.\\n$`)), stderr: '' });
    });
  });
});
