// A small argv parser: a command, positional arguments and --long options (with a value as the
// next argument or after "="). Global options may appear anywhere.
import { CliError } from './errors';

export type Command = 'plan' | 'run' | 'status';

export interface ParsedArgs {
  command?: Command;
  /** The cluster name, for plan and run (required) and status (optional). */
  cluster?: string;
  nodegroup?: string;
  stack?: string;
  region?: string;
  help: boolean;
}

const COMMANDS: Record<Command, { min: number; max: number; options: string[]; usage: string }> = {
  plan: { min: 1, max: 1, options: [], usage: 'eks-aviatrix plan <cluster>' },
  run: { min: 1, max: 1, options: ['nodegroup'], usage: 'eks-aviatrix run <cluster> [--nodegroup NAME]' },
  status: { min: 0, max: 1, options: [], usage: 'eks-aviatrix status [<cluster>]' },
};
const GLOBAL_OPTIONS = ['stack', 'region'];
const EKS_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
const HELP_HINT = 'Run `eks-aviatrix --help` for usage.';

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const options: Record<string, string> = {};
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
      if (![...GLOBAL_OPTIONS, 'nodegroup'].includes(name)) throw new CliError(`Unknown option --${name}. ${HELP_HINT}`);
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '' || (eq === -1 && value.startsWith('--'))) throw new CliError(`Option --${name} needs a value. ${HELP_HINT}`);
      options[name] = value;
    } else if (arg.startsWith('-') && arg.length > 1) {
      throw new CliError(`Unknown option ${arg}. ${HELP_HINT}`);
    } else {
      positional.push(arg);
    }
  }
  const parsed: ParsedArgs = { help, ...(options.stack ? { stack: options.stack } : {}), ...(options.region ? { region: options.region } : {}) };
  if (help) return { ...parsed, ...(isCommand(positional[0]) ? { command: positional[0] } : {}) };
  const [name, ...rest] = positional;
  if (name === undefined) throw new CliError(`Missing command: plan, run or status. ${HELP_HINT}`);
  if (!isCommand(name)) throw new CliError(`Unknown command "${name}": use plan, run or status. ${HELP_HINT}`);
  const spec = COMMANDS[name];
  if (rest.length < spec.min) throw new CliError(`${name} needs a cluster name: ${spec.usage}`);
  if (rest.length > spec.max) throw new CliError(`Too many arguments for ${name} (${rest.slice(spec.max).join(' ')}): ${spec.usage}`);
  for (const option of Object.keys(options)) {
    if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) throw new CliError(`Option --${option} does not apply to ${name}: ${spec.usage}`);
  }
  const [cluster] = rest;
  if (cluster !== undefined) checkName(cluster, 'cluster');
  if (options.nodegroup !== undefined) checkName(options.nodegroup, 'node group');
  return { ...parsed, command: name, ...(cluster !== undefined ? { cluster } : {}), ...(options.nodegroup ? { nodegroup: options.nodegroup } : {}) };
}

function isCommand(value: string | undefined): value is Command {
  return value !== undefined && Object.prototype.hasOwnProperty.call(COMMANDS, value);
}

function checkName(value: string, what: string): void {
  if (!EKS_NAME.test(value)) {
    throw new CliError(`"${value}" is not a valid EKS ${what} name (letters, digits, - and _, starting with a letter or digit, at most 100).`);
  }
}

export const USAGE = `Usage: eks-aviatrix <command> [options]

Onboards EKS clusters to the Aviatrix fabric through the deployed onboarding stack.

Commands:
  plan <cluster>                    Show what onboarding would change, changing nothing
  run <cluster> [--nodegroup NAME]  Onboard or repair a cluster (or one of its node groups)
                                    and follow the run to its end
  status [<cluster>]                Show the recorded onboarding status of every cluster, or of one

Options:
  --stack NAME      The deployed stack (default: $EKS_AVIATRIX_STACK, else EksAviatrixOnboarding)
  --region REGION   The stack's Region (default: the AWS SDK's, from AWS_REGION or your profile)
  -h, --help        Show this help

Credentials come from the standard AWS chain (environment, AWS_PROFILE, SSO, instance role).
Exit status: 0 done, 1 the workflow failed, 2 usage, credentials, Region or stack problem.
`;
