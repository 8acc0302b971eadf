// A small argv parser: a command, positional arguments, --long options (with a value as the next
// argument or after "=") and --flags. Global options may appear anywhere.
import { ClusterRef, parseClusterRef } from './cluster-ref';
import { CliError, EXIT_USAGE } from './errors';

export type Command = 'plan' | 'run' | 'status' | 'offboard' | 'logs';

export interface ParsedArgs {
  command?: Command;
  /** The cluster, for plan, run, offboard and logs (required) and status (optional). */
  cluster?: ClusterRef;
  nodegroup?: string;
  stack?: string;
  prefix?: string;
  region?: string;
  help: boolean;
  version: boolean;
  json: boolean;
  wide: boolean;
  dryRun: boolean;
}

/** Options that take a value, and flags that do not, by name. */
const VALUE_OPTIONS = ['stack', 'prefix', 'region', 'nodegroup', 'account', 'cluster-region'];
const FLAGS = ['json', 'wide', 'dry-run', 'version'];
const GLOBAL_OPTIONS = ['stack', 'prefix', 'region', 'json', 'account', 'cluster-region'];

interface CommandSpec {
  min: number;
  max: number;
  options: string[];
  usage: string;
  summary: string;
  /** The command's own options and what its exit status means, for `<command> --help`. */
  details: string;
}

const COMMANDS: Record<Command, CommandSpec> = {
  plan: {
    min: 1,
    max: 1,
    options: [],
    usage: 'eks-aviatrix plan <cluster>',
    summary: 'Show what onboarding would change, changing nothing',
    details: `Runs the cluster workflow as a dry run and lists the changes a run would make.

Exit status: 0 no changes (or the cluster is not selected), 2 changes pending, 1 the dry run failed
(the cluster is refused or a step failed), 3 environment, 64 usage.`,
  },
  run: {
    min: 1,
    max: 1,
    options: ['nodegroup'],
    usage: 'eks-aviatrix run <cluster> [--nodegroup NAME]',
    summary: 'Onboard or repair a cluster (or one of its node groups) and follow the run to its end',
    details: `Starts the cluster workflow (or, with --nodegroup, the node-group workflow), prints each step as
it is entered and the changes it made.

  --nodegroup NAME  Onboard that node group of the cluster only

Exit status: 0 succeeded, 1 the workflow failed, 3 environment, 64 usage.`,
  },
  status: {
    min: 0,
    max: 1,
    options: ['wide'],
    usage: 'eks-aviatrix status [<cluster>] [--wide]',
    summary: 'Show the recorded onboarding status of every cluster, or of one',
    details: `Reads the status table: each cluster's status, last run, number of changes, trigger and error.

  --wide            Show errors in full (otherwise cut at 60 characters)

Exit status: 0 read (also when nothing is recorded), 3 environment, 64 usage.`,
  },
  offboard: {
    min: 1,
    max: 1,
    options: ['dry-run'],
    usage: 'eks-aviatrix offboard <cluster> [--dry-run]',
    summary: 'Remove what onboarding created for a deleted cluster, and follow the run',
    details: `Starts the offboarding workflow for a cluster that is deleted or being deleted (it refuses one
that still runs): the pod subnets and security group, the secondary CIDR when no other cluster uses
it, the transit exclusion and SNAT rules, the controller's record.

  --dry-run         List what offboarding would remove, removing nothing

Exit status: 0 done (or nothing to offboard), 2 with --dry-run: changes pending, 1 the workflow
failed or refused, 3 environment, 64 usage.`,
  },
  logs: {
    min: 1,
    max: 1,
    options: [],
    usage: 'eks-aviatrix logs <cluster>',
    summary: "Print the log lines of the cluster's last recorded run",
    details: `Finds the cluster's last run in the status table and prints its functions' log lines (CloudWatch
Logs, the groups /aws/lambda/<prefix>-<step>), oldest first. Needs logs:FilterLogEvents on them.

Exit status: 0 printed (also when no run is recorded), 3 environment, 64 usage.`,
  },
};
const COMMAND_NAMES = Object.keys(COMMANDS).join(', ');
const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const HELP_HINT = 'Run `eks-aviatrix --help` for usage.';

const usage = (message: string) => new CliError(message, EXIT_USAGE);

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  const flags = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
    } else if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq === -1 ? undefined : eq);
      if (FLAGS.includes(name)) {
        if (eq !== -1) throw usage(`Option --${name} takes no value. ${HELP_HINT}`);
        flags.add(name);
        continue;
      }
      if (!VALUE_OPTIONS.includes(name)) throw usage(`Unknown option --${name}. ${HELP_HINT}`);
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) throw usage(`Option --${name} needs a value. ${HELP_HINT}`);
      values[name] = value;
    } else if (arg.startsWith('-') && arg.length > 1) {
      throw usage(`Unknown option ${arg}. ${HELP_HINT}`);
    } else {
      positional.push(arg);
    }
  }
  const parsed: ParsedArgs = {
    help,
    version: flags.has('version'),
    json: flags.has('json'),
    wide: flags.has('wide'),
    dryRun: flags.has('dry-run'),
    ...(values.stack ? { stack: values.stack } : {}),
    ...(values.prefix ? { prefix: values.prefix } : {}),
    ...(values.region ? { region: values.region } : {}),
  };
  if (help) return { ...parsed, ...(isCommand(positional[0]) ? { command: positional[0] } : {}) };
  if (parsed.version) return parsed;
  const [name, ...rest] = positional;
  if (name === undefined) throw usage(`Missing command: ${COMMAND_NAMES}. ${HELP_HINT}`);
  if (!isCommand(name)) throw usage(`Unknown command "${name}": use ${COMMAND_NAMES}. ${HELP_HINT}`);
  const spec = COMMANDS[name];
  if (rest.length < spec.min) throw usage(`${name} needs a cluster name: ${spec.usage}`);
  if (rest.length > spec.max) throw usage(`Too many arguments for ${name} (${rest.slice(spec.max).join(' ')}): ${spec.usage}`);
  for (const option of [...Object.keys(values), ...flags]) {
    if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) throw usage(`Option --${option} does not apply to ${name}: ${spec.usage}`);
  }
  const [cluster] = rest;
  if (cluster === undefined && (values.account || values['cluster-region'])) throw usage(`--account and --cluster-region need a cluster: ${spec.usage}`);
  const clusterRef = cluster === undefined ? undefined : parseClusterRef(cluster, values.account, values['cluster-region']);
  if (values.nodegroup !== undefined) checkName(values.nodegroup, 'node group');
  return { ...parsed, command: name, ...(clusterRef ? { cluster: clusterRef } : {}), ...(values.nodegroup ? { nodegroup: values.nodegroup } : {}) };
}

function isCommand(value: string | undefined): value is Command {
  return value !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, value);
}

function checkName(value: string, what: string): void {
  if (!EKS_NAME.test(value)) {
    throw usage(`"${value}" is not a valid EKS ${what} name (letters, digits, - and _, starting with a letter or digit, at most 100).`);
  }
}

const GLOBAL_HELP = `Options for every command:
  --prefix PREFIX   The deployment's naming prefix (default: $EKS_AVIATRIX_PREFIX, else eks-aviatrix):
                    state machines <prefix>-cluster-onboarding..., table <prefix>-status
  --stack NAME      Read the names from this stack's Outputs instead (default: $EKS_AVIATRIX_STACK)
  --region REGION   The stack's Region (default: the AWS SDK's, from AWS_REGION or your profile)
  --account ID      The cluster's AWS account, when not the stack's (a member account)
  --cluster-region REGION
                    The cluster's Region, when not the stack's. A cluster is also named by its
                    ARN, or as <account>/<region>/<name> (as status lists a member's cluster)
  --json            Print one JSON document on stdout (also for errors) instead of text
  -h, --help        Show help (for a command: eks-aviatrix <command> --help)`;

export const USAGE = `Usage: eks-aviatrix <command> [options]

Onboards EKS clusters to the Aviatrix fabric through the deployed onboarding stack.

Commands:
${Object.values(COMMANDS)
  .map((spec) => `  ${spec.usage.replace('eks-aviatrix ', '').padEnd(40)}${spec.summary}`)
  .join('\n')}

${GLOBAL_HELP}
  --version         Print the version

Credentials come from the standard AWS chain (environment, AWS_PROFILE, SSO, instance role).
Exit status: 0 done (plan: no changes), 1 the workflow failed, 2 plan or offboard --dry-run: changes
pending, 3 credentials, Region, stack or permission problem (nothing ran), 64 usage.
`;

/** `eks-aviatrix <command> --help`. */
export function commandHelp(command: Command): string {
  const spec = COMMANDS[command];
  return `Usage: ${spec.usage} [options]\n\n${spec.summary}.\n\n${spec.details}\n\n${GLOBAL_HELP}\n`;
}
