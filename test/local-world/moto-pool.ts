// moto's server takes seconds of CPU to start and to load its EC2 backend, which every test file
// used to pay. jest's globalSetup (test/setup/global-setup.ts) starts one moto per jest worker;
// a test file's first world takes its worker's moto, reset to empty, and any further world alive
// at the same time in that file starts a private one. Files run one at a time in a worker, so a
// reset never pulls state from under another file.
import { ChildProcess, spawn } from 'node:child_process';

/** The environment variable globalSetup passes the shared servers' ports in (one per worker, comma-separated). */
export const SHARED_MOTO_PORTS = 'EKS_AVIATRIX_TEST_MOTO_PORTS';

/**
 * moto's server, exiting by itself when the process that started it is gone (a jest run killed
 * before its teardown must not leave servers behind).
 */
export function spawnMoto(port: number, stdio: 'ignore' | 'pipe'): ChildProcess {
  const script = [
    'import os, sys, threading, time',
    'parent = os.getppid()',
    'def watch():',
    '    while os.getppid() == parent: time.sleep(1)',
    '    os._exit(0)',
    'threading.Thread(target=watch, daemon=True).start()',
    // A crowd connects faster than the server thread accepts: a longer listen queue than werkzeug's
    // 128 keeps connections from being dropped into TCP's SYN retransmission (seconds, idle).
    'import werkzeug.serving',
    'werkzeug.serving.BaseWSGIServer.request_queue_size = 4096',
    'from moto.server import main',
    'main(sys.argv[1:])',
  ].join('\n');
  // AWS managed IAM policies (AmazonEKSVPCResourceController on a cluster role), loaded on the first IAM call only.
  const env = { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: 'true' };
  return spawn('python3', ['-c', script, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', stdio], env });
}

let sharedInUse = false;

/** This worker's shared moto, reset to empty, if globalSetup started one and no world of this file holds it. */
export async function takeSharedMoto(): Promise<{ port: number; release(): void } | undefined> {
  const ports = (process.env[SHARED_MOTO_PORTS] ?? '').split(',').filter(Boolean).map(Number);
  const port = ports[(Number(process.env.JEST_WORKER_ID ?? '1') - 1) % Math.max(ports.length, 1)];
  if (!port || sharedInUse) return undefined;
  sharedInUse = true;
  const release = () => {
    sharedInUse = false;
  };
  try {
    await untilServing(`http://127.0.0.1:${port}`);
    const reset = await fetch(`http://127.0.0.1:${port}/moto-api/reset`, { method: 'POST' });
    if (!reset.ok) throw new Error(`resetting the shared moto server on port ${port} answered ${reset.status}`);
    return { port, release };
  } catch (error) {
    release();
    throw error;
  }
}

/** Waits for moto to answer; `exited` says why it never will (its exit code and stderr). */
export async function untilServing(url: string, exited: () => string | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const reason = exited();
    if (reason) throw new Error(reason);
    try {
      const response = await fetch(`${url}/moto-api/`);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `moto server did not answer on ${url} within 60 s. It is started as "python3 -m moto.server"; ` +
      `install it with "pip install 'moto[server]==5.2.1'".`,
  );
}
