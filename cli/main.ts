// The platform team's CLI over the deployed stack: plan, run and status.
// `main(argv, io)` is the whole program; bin/eks-aviatrix.js calls runCli().
import { createClients, explainAwsError } from './aws';
import { parseArgs, USAGE } from './args';
import { CliError, EXIT_OK } from './errors';
import { CommandContext, plan, run, status } from './commands';
import { readStack, stackName } from './stack';

export { USAGE } from './args';
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from './errors';

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
  const err = (line: string) => io.stderr(`${line}\n`);
  let clients: Awaited<ReturnType<typeof createClients>> | undefined;
  try {
    const args = parseArgs(argv);
    if (args.help) {
      io.stdout(USAGE);
      return EXIT_OK;
    }
    clients = await createClients(args.region);
    const stack = await readStack(clients, stackName(args.stack));
    const ctx: CommandContext = { clients, stack, io: { out, err }, pollMs: pollInterval(io) };
    switch (args.command) {
      case 'plan':
        return await plan(ctx, args.cluster!);
      case 'run':
        return await run(ctx, args.cluster!, args.nodegroup);
      case 'status':
        return await status(ctx, args.cluster);
      default:
        throw new CliError('Missing command: plan, run or status. Run `eks-aviatrix --help` for usage.');
    }
  } catch (error) {
    const cli = error instanceof CliError ? error : explainAwsError(error);
    err(cli.message);
    return cli.exitCode;
  } finally {
    clients?.destroy();
  }
}

/** The process entry point: exits with main's status once output is flushed. */
export function runCli(argv: string[] = process.argv.slice(2)): void {
  main(argv).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`, () => process.exit(70));
    },
  );
}
