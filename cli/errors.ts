// An error the CLI reports as one line, with the exit status it calls for. The exit statuses are
// documented in README.md ("The CLI"); plan's follow `terraform plan -detailed-exitcode`.
export const EXIT_OK = 0;
/** The workflow ran and failed, or refused the cluster. */
export const EXIT_FAILED = 1;
/** A dry run (plan, offboard --dry-run) found changes to make. */
export const EXIT_CHANGES = 2;
/** Credentials, Region, stack or permission problems: nothing ran. */
export const EXIT_ENVIRONMENT = 3;
/** A bad command line (sysexits' EX_USAGE): nothing ran. */
export const EXIT_USAGE = 64;
/** The CLI is not built, or crashed (sysexits' EX_SOFTWARE). */
export const EXIT_INTERNAL = 70;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ENVIRONMENT,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
