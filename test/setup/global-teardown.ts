// Stops the moto servers global-setup.ts started, and waits until they have exited.
import type { ChildProcess } from 'node:child_process';
import { removeRunFolder } from './run-folder';
import { sharedServers } from './shared-servers';

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  // globalSetup unref'd it; without this, node could run out of work and exit (with code 0, before
  // jest writes its results) while waiting here for the exit event.
  child.ref();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export default async function globalTeardown(): Promise<void> {
  removeRunFolder();
  await Promise.all(sharedServers().splice(0).map(stop));
}
