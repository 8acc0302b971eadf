// Where globalSetup leaves the processes it started for globalTeardown (the two share only globalThis).
import type { ChildProcess } from 'node:child_process';

export const MOTO_SERVERS = Symbol.for('eks-aviatrix.test.moto-servers');

export function sharedServers(): ChildProcess[] {
  const holder = globalThis as { [MOTO_SERVERS]?: ChildProcess[] };
  return (holder[MOTO_SERVERS] ??= []);
}
