// How soon after ACTIVE a new cluster has all its ENIConfigs (nodes that launch before then give
// their pods node-subnet addresses). Measured on the local world with the real ASL and handlers:
//   own work  time from the run's start (cluster already ACTIVE) to the last ENIConfig write, with
//             every Wait state shortened to 0;
//   waits     Wait states entered before that write: each costs one poll interval when deployed;
//   calls     calls to the stand-ins before that write (all services; they run in series).
// `npx ts-node --transpile-only scripts/eniconfig-latency.ts [clusters]`, also a section of `npm run bench`.
import '../test/setup/environment';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../test/local-world/onboarding-world';
import { runWorkflow } from '../test/local-world/workflow-runner';

export interface EniConfigLatency {
  clusters: number;
  ownWorkMs: number;
  waits: number;
  callsBefore: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** In `world` when given (it stays up), else in a local world of its own. */
export async function measureEniConfigLatency(clusters = 5, world?: OnboardingWorld): Promise<EniConfigLatency> {
  const w = world ?? (await startOnboardingWorld());
  const samples: { ms: number; waits: number; calls: number }[] = [];
  try {
    for (let i = 0; i < clusters; i++) {
      const name = `latency-${i}`;
      await createCluster(w, { name });
      w.activateCluster(name);
      const mark = w.world.log.mark();
      const waitsAt: number[] = [];
      const started = Date.now();
      const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: name }, {
        waitMs: 0,
        onEvent: (event) => {
          if (event.type === 'StateEntered' && event.state?.startsWith('WaitFor')) waitsAt.push(event.at);
        },
      });
      if (result.status !== 'SUCCEEDED') throw new Error(`${name}: ${result.error?.message}`);
      const calls = w.world.log.since(mark);
      const eniConfigWrites = calls.map((c, index) => ({ c, index })).filter(({ c }) => c.service === 'kubernetes' && c.write && /eniconfigs/i.test(c.action));
      const last = eniConfigWrites[eniConfigWrites.length - 1];
      if (!last) throw new Error(`${name}: no ENIConfig write seen`);
      samples.push({ ms: last.c.at - started, waits: waitsAt.filter((at) => at <= last.c.at).length, calls: last.index + 1 });
    }
  } finally {
    if (!world) await w.stop();
  }
  return {
    clusters,
    ownWorkMs: median(samples.map((s) => s.ms)),
    waits: median(samples.map((s) => s.waits)),
    callsBefore: median(samples.map((s) => s.calls)),
  };
}

if (require.main === module) {
  measureEniConfigLatency(Number(process.argv[2] ?? 5))
    .then((r) => {
      console.log(`ACTIVE -> all ENIConfigs (median of ${r.clusters} clusters): own work ${r.ownWorkMs} ms, ${r.waits} poll waits, ${r.callsBefore} calls before it`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
