// The platform team's CLI over the deployed stack: plan, run, offboard and status.
// `main(argv, io)` is the whole program; bin/eks-aviatrix.js calls runCli() from its build.
import { version } from '../package.json';
import { commandHelp, parseArgs, USAGE } from './args';
import { createClients, explainAwsError } from './aws';
import { CommandContext, CommandResult, offboard, plan, run, status } from './commands';
import { clusterKey } from './cluster-ref';
import { CliError, EXIT_INTERNAL, EXIT_OK } from './errors';
import { logs } from './logs';
import { namedDeployment, namePrefix, readStack, stackName, usesStackOutputs } from './stack';

export { USAGE } from './args';
export { EXIT_CHANGES, EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './errors';
export const VERSION = version;

export interface CliIO {
  /** Receives text as process.stdout.write would (lines end with "\n"). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** How often `run` polls the execution history, in ms. Default: EKS_AVIATRIX_POLL_MS, else 1000. */
  pollMs?: number;
}

const processIO: CliIO = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

function pollInterval(io: CliIO): number {
  if (io.pollMs !== undefined) return io.pollMs;
  const fromEnv = Number(process.env.EKS_AVIATRIX_POLL_MS);
  return Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1000;
}

/** Runs the CLI with `argv` (without node and the script) and returns the exit status. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const out = (line: string) => io.stdout(`${line}\n`);
  // Known before parsing, so that a usage error is JSON too.
  const json = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--json');
  const print = (result: CommandResult) => {
    if (json) {
      out(JSON.stringify(result.json));
    } else {
      result.out.forEach(out);
      result.err.forEach((line) => io.stderr(`${line}\n`));
    }
    return result.code;
  };
  let clients: Awaited<ReturnType<typeof createClients>> | undefined;
  try {
    const args = parseArgs(argv);
    if (args.help) {
      io.stdout(args.command ? commandHelp(args.command) : USAGE);
      return EXIT_OK;
    }
    if (args.version) return print({ code: EXIT_OK, out: [`eks-aviatrix ${VERSION}`], err: [], json: { version: VERSION } });
    clients = await createClients(args.region);
    const stack = usesStackOutputs(args.stack)
      ? await readStack(clients, stackName(args.stack))
      : await namedDeployment(clients, namePrefix(args.prefix));
    const ctx: CommandContext = { clients, stack, pollMs: pollInterval(io), ...(json ? {} : { progress: out }) };
    // One key per cluster: the bare name in the stack's own account and Region (cli/cluster-ref.ts).
    const cluster = args.cluster && clusterKey(args.cluster, stack.require('clusterStateMachineArn'));
    switch (args.command) {
      case 'plan':
        return print(await plan(ctx, cluster!));
      case 'run':
        return print(await run(ctx, cluster!, args.nodegroup));
      case 'offboard':
        return print(await offboard(ctx, cluster!, args.dryRun));
      case 'status':
        return print(await status(ctx, cluster, args.wide));
      case 'logs':
        return print(await logs(ctx, cluster!));
      default:
        throw new CliError('Missing command. Run `eks-aviatrix --help` for usage.', EXIT_INTERNAL);
    }
  } catch (error) {
    const cli = error instanceof CliError ? error : explainAwsError(error);
    return print({ code: cli.exitCode, out: [], err: [cli.message], json: { error: cli.message, exitCode: cli.exitCode } });
  } finally {
    clients?.destroy();
  }
}

/** The process entry point: exits with main's status once output is flushed. */
export function runCli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`, () => process.exit(EXIT_INTERNAL));
    },
  );
}
