// The CLI, run in-process against the local world with the stack "deployed" in it: CloudFormation
// (moto) holds the stack's Outputs, the Step Functions emulator runs the real workflow.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { main, USAGE } from '../../cli/main';
import { DeployedStack, deployStackLocally } from '../local-world/deployed-stack';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';

const NO_CREDENTIALS = 'No AWS credentials found. Configure them (aws configure, AWS_PROFILE or environment variables) and try again.\n';
const WRITES_OF_INTEREST = ['ec2', 'eks', 'kubernetes', 'aviatrix'];
/** The steps of the cluster workflow a person sees progress for. */
const STEPS = ['ResolveCluster', 'PodNetwork', 'VpcCni', 'ConfigureController', 'OnboardToController', 'ConfigureGatewaySnat', 'RecordOutcome'];

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

function writesSince(mark: number) {
  return w.world.log.since(mark).filter((c) => c.write && WRITES_OF_INTEREST.includes(c.service));
}

describe('plan, run, status on a fresh cluster', () => {
  const cluster = 'cli-fresh';
  let planned: Row[];
  let run: CliResult;

  beforeAll(async () => {
    await createCluster(w, { name: cluster });
    w.activateCluster(cluster);
  });

  it('plan lists the changes and writes nothing', async () => {
    const mark = w.world.log.mark();
    const result = await cli('plan', cluster);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
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
    expect(progress.indexOf('ResolveCluster')).toBeLessThan(progress.indexOf('PodNetwork'));
    expect(progress.indexOf('VpcCni')).toBeLessThan(progress.indexOf('ConfigureController'));
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

  it('status of a cluster never onboarded says so', async () => {
    expect(await cli('status', 'never-seen')).toEqual({ code: 0, stdout: 'No status recorded for never-seen: no onboarding run has finished for it.\n', stderr: '' });
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

    it.each([['plan', 'cli-fresh'], ['run', 'cli-fresh'], ['status']])('%s says so in one line and exits 2', async (...argv) => {
      const mark = w.world.log.mark();
      expect(await cli(...argv)).toEqual({ code: 2, stdout: '', stderr: NO_CREDENTIALS });
      expect(w.world.log.since(mark)).toEqual([]);
    });

    it('without a Region either, the Region is what it asks for first', async () => {
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      expect(await cli('status')).toEqual({
        code: 2,
        stdout: '',
        stderr: 'No AWS Region configured. Pass --region, set AWS_REGION, or set one in your profile (aws configure).\n',
      });
    });
  });

  it('a stack that is not deployed: exact message, exit 2', async () => {
    expect(await cli('plan', 'cli-fresh', '--stack', 'Nope')).toEqual({
      code: 2,
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

  it('a stack without the output a command needs: names the output, exit 2', async () => {
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
      code: 2,
      stdout: '',
      stderr: 'Stack Partial in us-east-1 has no output ClusterStateMachineArn: it is from an older version or not fully deployed. Deploy it again with `npx cdk deploy`.\n',
    });
    expect((await cli('status', '--stack', 'Partial')).code).toBe(0);
  });
});

describe('usage', () => {
  it('--help prints the usage and exits 0', async () => {
    expect(await cli('--help')).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    expect((await cli('run', '-h')).stdout).toBe(USAGE);
  });

  it.each([
    [[], 'Missing command: plan, run or status. Run `eks-aviatrix --help` for usage.'],
    [['deploy'], 'Unknown command "deploy": use plan, run or status. Run `eks-aviatrix --help` for usage.'],
    [['plan'], 'plan needs a cluster name: eks-aviatrix plan <cluster>'],
    [['plan', 'a', 'b'], 'Too many arguments for plan (b): eks-aviatrix plan <cluster>'],
    [['plan', 'a', '--nodegroup', 'ng'], 'Option --nodegroup does not apply to plan: eks-aviatrix plan <cluster>'],
    [['run', 'a', '--force'], 'Unknown option --force. Run `eks-aviatrix --help` for usage.'],
    [['run', 'a', '--stack'], 'Option --stack needs a value. Run `eks-aviatrix --help` for usage.'],
    [['run', 'bad name!'], '"bad name!" is not a valid EKS cluster name (letters, digits, - and _, starting with a letter or digit, at most 100).'],
  ])('%j: one line, exit 2', async (argv, message) => {
    expect(await cli(...argv)).toEqual({ code: 2, stdout: '', stderr: `${message}\n` });
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
