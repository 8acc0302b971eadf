import '../setup/environment';
import fs from 'node:fs';
import { deployStackLocally } from '../local-world/deployed-stack';
import { createCluster, startOnboardingWorld } from '../local-world/onboarding-world';
(async () => {
  const w = await startOnboardingWorld();
  const s = await deployStackLocally(w);
  await createCluster(w, { name: 'proc-a' }); w.activateCluster('proc-a');
  const keys = Object.keys(process.env).filter((k) => k.startsWith('AWS_'));
  fs.writeFileSync('/tmp/probe/world.env', keys.map((k) => `export ${k}='${process.env[k]}'`).join('\n') + '\n');
  process.on('SIGTERM', async () => { await s.stop(); await w.stop(); process.exit(0); });
  setInterval(() => undefined, 1000);
})();
