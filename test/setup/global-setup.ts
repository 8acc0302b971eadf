// Starts one moto server per jest worker before any test file runs (see test/local-world/moto-pool.ts);
// they load while jest starts its workers, and global-teardown.ts stops them.
import type { Config } from '@jest/types';
import { freePort } from '../local-world/moto';
import { SHARED_MOTO_PORTS, spawnMoto } from '../local-world/moto-pool';
import { makeRunFolder } from './run-folder';
import { sharedServers } from './shared-servers';

export default async function globalSetup(config: Config.GlobalConfig): Promise<void> {
  makeRunFolder();
  // aws-cdk-lib checks every synthesized template against the CloudFormation resource schemas and
  // prints what it finds as warnings (an error only with a feature flag this project does not set):
  // two thirds of a CDK test file's CPU, and no test reads those warnings. `cdk synth` (CI, deploys)
  // still checks. Set here, so the workers and the processes they start (the app process) inherit it.
  process.env.CDK_VALIDATION ??= 'false';
  const ports: number[] = [];
  for (let worker = 0; worker < Math.max(1, config.maxWorkers); worker++) {
    const port = await freePort();
    const child = spawnMoto(port, 'ignore');
    // Not a reason for jest to stay alive: teardown stops it, and it exits with jest regardless.
    child.unref();
    sharedServers().push(child);
    ports.push(port);
  }
  process.env[SHARED_MOTO_PORTS] = ports.join(',');
}
