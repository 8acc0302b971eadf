// The CDK app (bin/app.ts) run in-process: its `main` on an App holding `context`, as the CLI's
// `cdk synth` runs it (CDK_CONTEXT_JSON, CDK_OUTDIR), without a process of its own (each would load
// aws-cdk-lib and cdk-nag again). What reaches stderr is collected: main's refusal and any warning
// the CDK libraries print while building and synthesizing. test/cdk/app-config.test.ts keeps one
// real process, for the exit code and the stderr of the entry point itself.
import { App } from 'aws-cdk-lib';
import { main } from '../../bin/app';

export interface AppRun {
  /** The exit code main returns (the entry point exits with it). */
  status: number;
  stderr: string;
  app: App;
}

/** With `outdir`, the assembly is synthesized into it, as the CLI's CDK_OUTDIR makes the app do on exit. */
export function runAppInProcess(context: Record<string, unknown>, outdir?: string): AppRun {
  let stderr = '';
  const collect = (text: unknown) => {
    stderr += String(text);
    return true;
  };
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(collect);
  const print = (...args: unknown[]) => collect(`${args.map(String).join(' ')}\n`);
  const warn = jest.spyOn(console, 'warn').mockImplementation(print);
  const error = jest.spyOn(console, 'error').mockImplementation(print);
  try {
    const app = new App({ context, ...(outdir ? { outdir } : {}) });
    const status = main(app, collect);
    if (status === 0 && outdir) app.synth();
    return { status, stderr, app };
  } finally {
    write.mockRestore();
    warn.mockRestore();
    error.mockRestore();
  }
}
