// An error the CLI reports as one line, with the exit status it calls for.
export const EXIT_OK = 0;
/** The workflow ran and failed. */
export const EXIT_FAILED = 1;
/** Usage, credentials, Region, stack or permission problems: nothing ran. */
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
