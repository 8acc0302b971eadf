// How soon after ACTIVE a new cluster has all its ENIConfigs (nodes that launch before then give
// their pods node-subnet addresses). Measured on the local world with the real ASL and handlers, on
// a cluster that is CREATING when the run starts (as after a CreateCluster event): the network is
// wired while it is CREATING, and the cluster becomes ACTIVE when the run first waits for it.
// From then on (the look that saw ACTIVE) to the last ENIConfig write:
//   own work  the time, with every Wait state shortened to 0;
//   waits     Wait states entered that wait the poll interval when deployed;
//   short     the deployed seconds of the other Wait states entered (short waits of their own: an
//             access entry taking effect);
//   calls     calls to the stand-ins (all services, whichever step made them);
//   series    of those, the calls in series: within one invocation, the longest chain of calls each
//             sent after the previous one was answered (calls sent together count once); the
//             invocations of a state add up, and a Parallel state counts its longest branch.
// The same count of the work before ACTIVE (preflight, exclusion, pod network) is reported apart.
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
  /** Calls in series from the look that saw ACTIVE to the last ENIConfig write (see `callsInSeries`). */
  callsInSeries: number;
  /** Calls in series of the work done while the cluster was CREATING. */
  preActiveCallsInSeries: number;
}

/** The Wait states that wait the poll interval when deployed (the others have seconds of their own). */
const POLL_PATHS = ['$.pollSeconds', '$.resolve.waitSeconds'];

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
  const samples: { ms: number; waits: number; short: number; calls: number; series: number; preActive: number }[] = [];
  const definition = loadDefinition('cluster-onboarding.asl.json');
  const states = definition.States as States;
  const waitStates = definition.States as Record<string, { Type: string; Seconds?: number; SecondsPath?: string }>;
  const isEniConfigWrite = (r: HandlerRequest) => r.method !== 'GET' && /\/eniconfigs\//i.test(r.path);
  try {
    for (let i = 0; i < clusters; i++) {
      const name = `latency-${i}`;
      await createCluster(w, { name });
      const waitsAt: { at: number; poll: boolean; seconds: number }[] = [];
      let active: { at: number; mark: number } | undefined;
      const requests: HandlerRequest[] = [];
      const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: name }, {
        waitMs: 0,
        onRequest: (r) => requests.push(r),
        onEvent: (event) => {
          const state = event.state ? waitStates[event.state] : undefined;
          if (event.type !== 'StateEntered' || state?.Type !== 'Wait') return;
          if (!active && event.state === 'WaitForActive') {
            // EKS finishes creating the cluster while the run waits: the next look sees it ACTIVE.
            active = { at: Date.now(), mark: w.world.log.mark() };
            w.activateCluster(name);
          } else if (active) {
            waitsAt.push({ at: event.at, poll: POLL_PATHS.includes(state.SecondsPath ?? ''), seconds: state.Seconds ?? 0 });
          }
        },
      });
      if (result.status !== 'SUCCEEDED') throw new Error(`${name}: ${result.error?.message}`);
      if (!active) throw new Error(`${name}: the run never waited for ACTIVE`);
      const calls = w.world.log.since(active.mark);
      const eniConfigWrites = calls.map((c, index) => ({ c, index })).filter(({ c }) => c.service === 'kubernetes' && c.write && /eniconfigs/i.test(c.action));
      const last = eniConfigWrites[eniConfigWrites.length - 1];
      if (!last) throw new Error(`${name}: no ENIConfig write seen`);
      const lastWrite = requests.filter(isEniConfigWrite).sort((a, b) => a.started - b.started).pop();
      if (!lastWrite) throw new Error(`${name}: no ENIConfig write request seen`);
      const since = active.at;
      samples.push({
        ms: last.c.at - since,
        waits: waitsAt.filter((wait) => wait.at <= last.c.at && wait.poll).length,
        short: waitsAt.filter((wait) => wait.at <= last.c.at).reduce((sum, wait) => sum + wait.seconds, 0),
        calls: last.index + 1,
        series: callsInSeries(requests.filter((r) => r.started >= since && r.started <= lastWrite.started), states),
        preActive: callsInSeries(requests.filter((r) => r.started < since), states),
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
    preActiveCallsInSeries: median(samples.map((s) => s.preActive)),
  };
}

if (require.main === module) {
  measureEniConfigLatency(Number(process.argv[2] ?? 5))
    .then((r) => {
      console.log(
        `ACTIVE -> all ENIConfigs (median of ${r.clusters} clusters): own work ${r.ownWorkMs} ms, ${r.shortWaitSeconds} s of short waits, ${r.waits} poll waits, ` +
          `${r.callsBefore} calls, ${r.callsInSeries} of them in series; while CREATING, ${r.preActiveCallsInSeries} calls in series`,
      );
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
