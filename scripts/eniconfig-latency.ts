// How soon after ACTIVE a new cluster has all its ENIConfigs (nodes that launch before then give
// their pods node-subnet addresses). Measured on the local world with the real ASL and handlers:
//   own work  time from the run's start (cluster already ACTIVE) to the last ENIConfig write, with
//             every Wait state shortened to 0;
//   waits     Wait states entered before that write that wait the poll interval when deployed;
//   short     the deployed seconds of the other Wait states entered before it (short waits of
//             their own: the CIDR association settling, an access entry taking effect);
//   calls     calls to the stand-ins before that write (all services; they run in series).
// Deployed, a cluster is seen ACTIVE at most one poll interval after it becomes so: ACTIVE -> all
// ENIConfigs is at most 1 poll + own work + short + waits x poll.
// `npx ts-node --transpile-only scripts/eniconfig-latency.ts [clusters]`, also a section of `npm run bench`.
import '../test/setup/environment';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../test/local-world/onboarding-world';
import { loadDefinition, runWorkflow } from '../test/local-world/workflow-runner';

export interface EniConfigLatency {
  clusters: number;
  ownWorkMs: number;
  waits: number;
  /** Deployed seconds of the short Wait states before the last ENIConfig write. */
  shortWaitSeconds: number;
  callsBefore: number;
}

/** The Wait states that wait the poll interval when deployed (the others have seconds of their own). */
const POLL_PATH = '$.pollSeconds';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** In `world` when given (it stays up), else in a local world of its own. */
export async function measureEniConfigLatency(clusters = 5, world?: OnboardingWorld): Promise<EniConfigLatency> {
  const w = world ?? (await startOnboardingWorld());
  const samples: { ms: number; waits: number; short: number; calls: number }[] = [];
  const definition = loadDefinition('cluster-onboarding.asl.json');
  const waitStates = definition.States as Record<string, { Type: string; Seconds?: number; SecondsPath?: string }>;
  try {
    for (let i = 0; i < clusters; i++) {
      const name = `latency-${i}`;
      await createCluster(w, { name });
      w.activateCluster(name);
      const mark = w.world.log.mark();
      const waitsAt: { at: number; poll: boolean; seconds: number }[] = [];
      const started = Date.now();
      const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: name }, {
        waitMs: 0,
        onEvent: (event) => {
          const state = event.state ? waitStates[event.state] : undefined;
          if (event.type === 'StateEntered' && state?.Type === 'Wait') {
            waitsAt.push({ at: event.at, poll: state.SecondsPath === POLL_PATH, seconds: state.Seconds ?? 0 });
          }
        },
      });
      if (result.status !== 'SUCCEEDED') throw new Error(`${name}: ${result.error?.message}`);
      const calls = w.world.log.since(mark);
      const eniConfigWrites = calls.map((c, index) => ({ c, index })).filter(({ c }) => c.service === 'kubernetes' && c.write && /eniconfigs/i.test(c.action));
      const last = eniConfigWrites[eniConfigWrites.length - 1];
      if (!last) throw new Error(`${name}: no ENIConfig write seen`);
      const before = waitsAt.filter((wait) => wait.at <= last.c.at);
      samples.push({
        ms: last.c.at - started,
        waits: before.filter((wait) => wait.poll).length,
        short: before.reduce((sum, wait) => sum + wait.seconds, 0),
        calls: last.index + 1,
      });
    }
  } finally {
    if (!world) await w.stop();
  }
  return {
    clusters,
    ownWorkMs: median(samples.map((s) => s.ms)),
    waits: median(samples.map((s) => s.waits)),
    shortWaitSeconds: median(samples.map((s) => s.short)),
    callsBefore: median(samples.map((s) => s.calls)),
  };
}

if (require.main === module) {
  measureEniConfigLatency(Number(process.argv[2] ?? 5))
    .then((r) => {
      console.log(`ACTIVE -> all ENIConfigs (median of ${r.clusters} clusters): own work ${r.ownWorkMs} ms, ${r.shortWaitSeconds} s of short waits, ${r.waits} poll waits, ${r.callsBefore} calls before it`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
