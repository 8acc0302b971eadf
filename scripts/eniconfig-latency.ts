// How soon after ACTIVE a new cluster has all its ENIConfigs (nodes that launch before then give
// their pods node-subnet addresses). Measured on the local world with the real ASL and handlers:
//   own work  time from the run's start (cluster already ACTIVE) to the last ENIConfig write, with
//             every Wait state shortened to 0;
//   waits     Wait states entered before that write that wait the poll interval when deployed;
//   short     the deployed seconds of the other Wait states entered before it (short waits of
//             their own: the CIDR association settling, an access entry taking effect);
//   calls     calls to the stand-ins before that write (all services, whichever step made them);
//   series    of those, the calls in series: within one invocation, the longest chain of calls each
//             sent after the previous one was answered (calls sent together count once); the
//             invocations of a state add up, and a Parallel state counts its longest branch.
// Deployed, a cluster is seen ACTIVE at most one poll interval after it becomes so: ACTIVE -> all
// ENIConfigs is at most 1 poll + own work + short + waits x poll.
// `npx ts-node --transpile-only scripts/eniconfig-latency.ts [clusters]`, also a section of `npm run bench`.
import '../test/setup/environment';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../test/local-world/onboarding-world';
import { HandlerRequest, loadDefinition, runWorkflow } from '../test/local-world/workflow-runner';

export interface EniConfigLatency {
  clusters: number;
  ownWorkMs: number;
  waits: number;
  /** Deployed seconds of the short Wait states before the last ENIConfig write. */
  shortWaitSeconds: number;
  callsBefore: number;
  /** Calls in series before the last ENIConfig write (see `callsInSeries`). */
  callsInSeries: number;
}

/** The Wait states that wait the poll interval when deployed (the others have seconds of their own). */
const POLL_PATH = '$.pollSeconds';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

type States = Record<string, { Type: string; Branches?: { States: States }[] }>;

/** The longest chain of requests each sent after the previous one was answered (interval scheduling). */
function chain(requests: HandlerRequest[]): number {
  let length = 0;
  let free = -Infinity;
  for (const r of [...requests].sort((a, b) => a.ended - b.ended)) {
    if (r.started < free) continue;
    length++;
    free = r.ended;
  }
  return length;
}

/**
 * Calls in series: the invocations of one top-level state add up (a Task called again after a
 * Wait), each counting its longest chain; a Parallel state counts its longest branch.
 */
export function callsInSeries(requests: HandlerRequest[], states: States): number {
  const byInvocation = new Map<number, HandlerRequest[]>();
  for (const r of requests) byInvocation.set(r.invocation, [...(byInvocation.get(r.invocation) ?? []), r]);
  const stateOf = (invocation: HandlerRequest[]) => invocation[0].state;
  const sum = (names: Set<string>) =>
    [...byInvocation.values()].filter((inv) => names.has(stateOf(inv))).reduce((total, inv) => total + chain(inv), 0);
  let total = 0;
  for (const [name, state] of Object.entries(states)) {
    total += state.Branches ? Math.max(0, ...state.Branches.map((b) => sum(new Set(Object.keys(b.States))))) : sum(new Set([name]));
  }
  return total;
}

/** In `world` when given (it stays up), else in a local world of its own. */
export async function measureEniConfigLatency(clusters = 5, world?: OnboardingWorld): Promise<EniConfigLatency> {
  const w = world ?? (await startOnboardingWorld());
  const samples: { ms: number; waits: number; short: number; calls: number; series: number }[] = [];
  const definition = loadDefinition('cluster-onboarding.asl.json');
  const waitStates = definition.States as Record<string, { Type: string; Seconds?: number; SecondsPath?: string }>;
  const isEniConfigWrite = (r: HandlerRequest) => r.method !== 'GET' && /\/eniconfigs\//i.test(r.path);
  try {
    for (let i = 0; i < clusters; i++) {
      const name = `latency-${i}`;
      await createCluster(w, { name });
      w.activateCluster(name);
      const mark = w.world.log.mark();
      const waitsAt: { at: number; poll: boolean; seconds: number }[] = [];
      const started = Date.now();
      const requests: HandlerRequest[] = [];
      const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: name }, {
        waitMs: 0,
        onRequest: (r) => requests.push(r),
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
      const lastWrite = requests.filter(isEniConfigWrite).sort((a, b) => a.started - b.started).pop();
      if (!lastWrite) throw new Error(`${name}: no ENIConfig write request seen`);
      samples.push({
        ms: last.c.at - started,
        waits: before.filter((wait) => wait.poll).length,
        short: before.reduce((sum, wait) => sum + wait.seconds, 0),
        calls: last.index + 1,
        series: callsInSeries(requests.filter((r) => r.started <= lastWrite.started), definition.States as States),
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
    callsInSeries: median(samples.map((s) => s.series)),
  };
}

if (require.main === module) {
  measureEniConfigLatency(Number(process.argv[2] ?? 5))
    .then((r) => {
      console.log(`ACTIVE -> all ENIConfigs (median of ${r.clusters} clusters): own work ${r.ownWorkMs} ms, ${r.shortWaitSeconds} s of short waits, ${r.waits} poll waits, ${r.callsBefore} calls before it, ${r.callsInSeries} of them in series`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
