// `npm run bench [-- --json] [-- --sizes 10,50,100] [-- --samples 15] [-- --sweep=large|<clusters>x<vpcs>]`: what a cold start, a run and
// a crowd cost, measured on this machine, never asserted. Ratios carry across machines; raw times
// do not (this one is shared and noisy). One table:
// 1. Each Lambda bundled exactly as `cdk synth` bundles it (lib/bundling.ts): size, and the time a
//    fresh Node process takes to require it (median) as deployed, also as a ratio to the whole of
//    `node -e 0`, and with `--enable-source-maps` (what applying the shipped map would cost).
// 2. Calls per service (reads/writes) for one onboarding and for a no-op re-run.
// 3. State transitions for a cluster that stays CREATING for 10 minutes, at the deployed poll interval.
// 4. N clusters in one VPC sharing spoke, HA and transit, onboarded at once: wall time, its ratio to
//    N x one cluster's serialized section (the lease-held steps, PodNetwork and ConfigureGatewaySnat:
//    the median of 5 lone runs right before the crowd, each the first cluster of its VPC, as one lone
//    run swung several-fold with the machine's load), lease-acquire timeouts, DynamoDB writes per
//    cluster, and convergence.
//    `--sweep=large` adds 500 clusters over 20 VPCs (each with its spoke and HA pair, one transit),
//    with the controller's serialized section per gateway; `--sweep=200x8` another such crowd (a
//    smaller one reproduces what the large one shows, in less time); `--sizes ''` skips the N rows.
// test/bench.test.ts runs a small version so it cannot rot.
import '../test/setup/environment';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { logger } from '../lambdas/shared/logger';
import { buildBundle, FUNCTION_NAMES, RUNTIME_NODE_PATH } from '../test/local-world/bundles';
import { ServiceName } from '../test/local-world/call-log';
import { desiredPolicies } from '../lambdas/aviatrix/snat';
import { policyKey } from '../lambdas/aviatrix/policy-codec';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { BUILT_MARKER } from '../lambdas/aviatrix/claim-index';
import { CLAIM_TABLE, createCluster, OnboardingWorld, startOnboardingWorld, TRANSIT_GATEWAY } from '../test/local-world/onboarding-world';
import { loadDefinition, runWorkflow, StateEvent } from '../test/local-world/workflow-runner';
import { EniConfigLatency, measureEniConfigLatency } from './eniconfig-latency';

const FILE = 'cluster-onboarding.asl.json';
/** The deployed poll interval (lib/onboarding-stack.ts default). */
const DEPLOYED_POLL_SECONDS = 30;
/** The steps that hold a lease shared with other clusters (VPC lease; gateway leases). */
const SERIALIZED_STATES = ['PodNetwork', 'ConfigureGatewaySnat'];
/** `--sweep=large`: the fleet of the issue. */
const LARGE_SWEEP = { clusters: 500, vpcs: 20 };
/** Lone runs whose median serialized time the wall ratio divides by (one lone run swung 379 ms - 3.2 s with load). */
const LONE_RUNS = 5;
/** The secondary CIDR of the local world's config. */
const POD_CIDR = '100.64.0.0/16';

export interface BundleRow {
  name: string;
  bytes: number;
  mapBytes: number;
  /** Median in-process require time, as deployed (no source maps applied). */
  loadMs: number;
  loadMsSourceMaps: number;
  /** loadMs / the median whole run of `node -e 0`. */
  loadRatio: number;
}

export type CallCounts = Partial<Record<ServiceName, { reads: number; writes: number }>>;

export interface SweepRow {
  clusters: number;
  /** VPCs the clusters are spread over (each with its own spoke and HA gateway). */
  vpcs: number;
  /** Runs that succeeded. */
  converged: number;
  /** The spoke's and HA's SNAT policies for the VPC's pod CIDR and node subnets: missing, and duplicated. */
  lostPolicies: number;
  doubledPolicies: number;
  wallMs: number;
  /**
   * One lone cluster's time in the lease-held steps: the median of LONE_RUNS lone runs made right
   * before the crowd, each the first cluster of its VPC (as the first lone run is for the crowd's VPC).
   */
  serializedMs: number;
  /** The lone runs' serialized times, fastest and slowest (how much the machine's load moved them). */
  serializedRangeMs: [number, number];
  /** wallMs / (clusters per VPC x serializedMs). */
  ratio: number;
  /** The controller's serialized section per gateway: its clusters x one lone cluster's ConfigureGatewaySnat. */
  gatewaySerializedMs: number;
  leaseTimeouts: number;
  /** Failed and retried states of the crowd, "<state>: <error>" -> how many times (why a run did not converge). */
  stateErrors: Record<string, number>;
  /** For each of those, the first error's cause (JSON only): what to look at first. */
  stateErrorCauses: Record<string, string>;
  dynamoWritesPerCluster: number;
  /**
   * CPU seconds the crowd used (this process, where every "Lambda" and stand-in but moto runs, and
   * the moto server), and that over the machine's cores: the shortest wall time the machine allows
   * whatever the leases do. wallMs / (that floor) near 1 says the crowd waited for CPU, not for a lease.
   * Undefined where /proc is not there.
   */
  crowdCpuSeconds?: number;
  cpuFloorMs?: number;
  /** The machine's 1-minute load average when the crowd finished (the machine is shared). */
  loadAverage: number;
}

export interface BenchResult {
  date: string;
  machine: string;
  node: string;
  nodeBaselineMs: number;
  bundles: BundleRow[];
  calls: { onboarding: CallCounts; noOpRerun: CallCounts };
  transitions: { creatingSeconds: number; pollSeconds: number; stateTransitions: number };
  eniConfig: EniConfigLatency;
  sweep: SweepRow[];
}

export interface BenchOptions {

  sizes?: number[];
  /** Also the large sweep: 500 clusters over 20 VPCs (`--sweep=large`), or another crowd over VPCs (`--sweep=200x8`). */
  large?: boolean | { clusters: number; vpcs: number };
  /** Clusters whose ACTIVE -> ENIConfig time is measured (median). */
  latencyClusters?: number;
  loadSamples?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const elapsed = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

function bundles(samples: number): { baselineMs: number; rows: BundleRow[] } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-aviatrix-bench-'));
  try {
    const baselineMs = median(
      Array.from({ length: samples }, () => {
        const started = process.hrtime.bigint();
        execFileSync(process.execPath, ['-e', '0']);
        return elapsed(started);
      }),
    );
    const rows = FUNCTION_NAMES.map((name) => {
      const bundle = buildBundle(name, out);
      const script = `const t=process.hrtime.bigint();require(${JSON.stringify(bundle.file)});process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))`;
      // The runtime provides @aws-sdk/*: resolved from this project's node_modules, as it would be there.
      const load = (nodeOptions: string) =>
        median(
          Array.from({ length: samples }, () =>
            Number(execFileSync(process.execPath, ['-e', script], { env: { ...process.env, NODE_PATH: RUNTIME_NODE_PATH, NODE_OPTIONS: nodeOptions }, encoding: 'utf8' })),
          ),
        );
      const loadMs = load('');
      return { name, bytes: bundle.bytes, mapBytes: bundle.mapBytes, loadMs, loadMsSourceMaps: load('--enable-source-maps'), loadRatio: loadMs / baselineMs };
    });
    return { baselineMs, rows };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function countCalls(w: OnboardingWorld, mark: number): CallCounts {
  const counts: CallCounts = {};
  for (const call of w.world.log.since(mark)) {
    const entry = (counts[call.service] ??= { reads: 0, writes: 0 });
    if (call.write) entry.writes++;
    else entry.reads++;
  }
  return counts;
}

async function mustSucceed(run: ReturnType<typeof runWorkflow>, what: string) {
  const result = await run;
  if (result.status !== 'SUCCEEDED') throw new Error(`${what} failed: ${result.error?.message}`);
  return result;
}

async function calls(w: OnboardingWorld): Promise<BenchResult['calls']> {
  await createCluster(w, { name: 'bench-calls' });
  w.activateCluster('bench-calls');
  let mark = w.world.log.mark();
  await mustSucceed(runWorkflow(FILE, { clusterName: 'bench-calls' }, { waitMs: 0 }), 'onboarding');
  const onboarding = countCalls(w, mark);
  mark = w.world.log.mark();
  await mustSucceed(runWorkflow(FILE, { clusterName: 'bench-calls' }, { waitMs: 0 }), 'no-op re-run');
  return { onboarding, noOpRerun: countCalls(w, mark) };
}

/** A Wait state's deployed seconds: its Seconds, or its SecondsPath (`$.a.b`) read from its input. */
export function waitSeconds(state: { Seconds?: number; SecondsPath?: string }, input: unknown): number {
  if (state.Seconds !== undefined) return state.Seconds;
  const value = (state.SecondsPath ?? '$').split('.').slice(1).reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], input);
  if (typeof value !== 'number') throw new Error(`Wait state's ${state.SecondsPath} is not a number in its input`);
  return value;
}

/** The Wait states of the onboarding workflow as deployed. */
function deployedWaits(): Record<string, { Seconds?: number; SecondsPath?: string }> {
  const definition = loadDefinition(FILE, DEPLOYED_POLL_SECONDS);
  return Object.fromEntries(
    Object.entries(definition.States as Record<string, { Type: string; Seconds?: number; SecondsPath?: string }>).filter(([, s]) => s.Type === 'Wait'),
  );
}

/**
 * A cluster CREATING for `creatingSeconds` of simulated time, run on the real ASL: each Wait state
 * counts the seconds it would wait deployed (its Seconds, or its SecondsPath read from its input,
 * as ResolveCluster answers from the cluster's age), and the cluster ages by as much.
 */
async function transitions(w: OnboardingWorld, creatingSeconds: number): Promise<BenchResult['transitions']> {
  const name = 'bench-creating';
  await createCluster(w, { name });
  const waits = deployedWaits();
  let simulated = 0;
  let input: unknown;
  const onEvent = (event: StateEvent) => {
    if (event.output !== undefined) input = event.output;
    if (event.type !== 'StateEntered' || !event.state || !(event.state in waits)) return;
    const seconds = waitSeconds(waits[event.state], input);
    simulated += seconds;
    const cluster = w.world.eks.cluster(name);
    if (!cluster || cluster.status === 'ACTIVE') return;
    cluster.createdAt = new Date(cluster.createdAt.getTime() - seconds * 1000);
    if (simulated >= creatingSeconds) w.activateCluster(name);
  };
  // Ageing moves the cluster's createdAt back, so the snapshot AwaitActive compares it with (to
  // tell a re-created cluster) moves with it: in simulated time both are the same moment. The state
  // events arrive a turn or two after the states run: let the Wait's event age the cluster first.
  const onInvoke = async (_fn: string, event: unknown) => {
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    const expected = (event as { expected?: { createdAt?: string } }).expected;
    const cluster = w.world.eks.cluster(name);
    if (expected && cluster) expected.createdAt = cluster.createdAt.toISOString();
  };
  const run = await mustSucceed(runWorkflow(FILE, { clusterName: name }, { waitMs: 0, pollIntervalSeconds: DEPLOYED_POLL_SECONDS, onEvent, onInvoke }), 'the CREATING run');
  return { creatingSeconds, pollSeconds: DEPLOYED_POLL_SECONDS, stateTransitions: run.statesEntered.length };
}

/** CPU seconds so far of this process and of the moto server listening on `motoPort` (Linux /proc). */
function cpuSeconds(motoPort: string): number | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const own = process.cpuUsage();
  const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let moto = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline: string[];
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (!cmdline.some((a) => a.endsWith('moto-server.py')) || cmdline[cmdline.indexOf('-p') + 1] !== motoPort) continue;
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    moto += (Number(fields[11]) + Number(fields[12])) / ticks;
  }
  return (own.user + own.system) / 1e6 + moto;
}

/** Time spent in the lease-held steps, from StateEntered to StateExited. */
function serializedTime(events: StateEvent[]): number {
  let total = 0;
  const entered = new Map<string, number>();
  for (const e of events) {
    if (!e.state || !SERIALIZED_STATES.includes(e.state)) continue;
    if (e.type === 'StateEntered') entered.set(e.state, e.at);
    if (e.type === 'StateExited' && entered.has(e.state)) total += e.at - entered.get(e.state)!;
  }
  return total;
}

/** Time one state spent, from StateEntered to StateExited. */
const stateTime = (events: StateEvent[], state: string) => serializedTime(events.filter((e) => e.state === state));

/**
 * `clusters` clusters spread over `vpcCount` VPCs (each with its spoke and HA pair, all on one
 * transit), onboarded at once after LONE_RUNS lone clusters.
 */
async function sweep(w: OnboardingWorld, clusters: number, vpcCount = 1): Promise<SweepRow> {
  const vpcs = [];
  for (let v = 0; v < vpcCount; v++) vpcs.push(await w.world.createVpc());
  const names = Array.from({ length: clusters }, (_, i) => `n${clusters}v${vpcCount}-c${i}`);
  const spokes = new Map<string, (typeof vpcs)[number]>();
  for (const [i, name] of names.entries()) {
    const vpc = vpcs[i % vpcCount];
    const { spokeName } = await createCluster(w, { name, vpc });
    spokes.set(spokeName, vpc);
    w.activateCluster(name);
  }
  // Lone clusters first, one after another, each the first of its VPC (the first also creates what
  // the crowd's VPC shares): the median of their lease-held times, measured right before the crowd.
  const loneRuns: StateEvent[][] = [];
  for (let i = 0; i < LONE_RUNS; i++) {
    const lone = `n${clusters}v${vpcCount}-lone${i}`;
    const vpc = i === 0 ? vpcs[0] : await w.world.createVpc();
    await createCluster(w, { name: lone, vpc });
    w.activateCluster(lone);
    const events: StateEvent[] = [];
    await mustSucceed(runWorkflow(FILE, { clusterName: lone }, { waitMs: 0, onEvent: (e) => events.push(e) }), `the lone run in ${vpc.vpcId}`);
    loneRuns.push(events);
  }
  const loneTimes = loneRuns.map(serializedTime).sort((a, b) => a - b);
  const serializedMs = median(loneTimes);
  const loneGatewayMs = median(loneRuns.map((events) => stateTime(events, 'ConfigureGatewaySnat')));

  let leaseTimeouts = 0;
  const stateErrors: Record<string, number> = {};
  const stateErrorCauses: Record<string, string> = {};
  const onEvent = (e: StateEvent) => {
    if (e.type === 'StateFailed' && /stayed leased/.test(e.error?.cause ?? '')) leaseTimeouts++;
    if (e.type === 'StateFailed' && e.state && e.error) {
      const key = `${e.state}: ${e.error.name}`;
      stateErrors[key] = (stateErrors[key] ?? 0) + 1;
      stateErrorCauses[key] ??= e.error.cause.slice(0, 500);
    }
  };
  const mark = w.world.log.mark();
  const motoPort = new URL(w.world.motoDirectEndpoint).port;
  const cpuBefore = cpuSeconds(motoPort);
  const started = process.hrtime.bigint();
  // Retries at the ASL's intervals, with its jitter: 10 ms retries of a crowd hit a busy service together.
  const runs = await Promise.all(names.map((clusterName) => runWorkflow(FILE, { clusterName }, { waitMs: 0, retryMs: 'asl', onEvent })));
  const wallMs = elapsed(started);
  const cpuAfter = cpuSeconds(motoPort);
  const crowdCpuSeconds = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  const dynamoWrites = w.world.log.writesSince(mark, 'dynamodb').length;
  let lostPolicies = 0;
  let doubledPolicies = 0;
  for (const [spokeName, vpc] of spokes) {
    for (const gateway of [spokeName, `${spokeName}-hagw`]) {
      const have = w.controller.snatPolicies(gateway).map(policyKey);
      const snatIp = String(w.controller.gateway(gateway)?.private_ip);
      const wanted = desiredPolicies(POD_CIDR, vpc.subnets.map((s) => s.cidr), TRANSIT_GATEWAY, snatIp).map(policyKey);
      lostPolicies += wanted.filter((k) => !have.includes(k)).length;
      doubledPolicies += have.length - new Set(have).size;
    }
  }
  // A gateway's SNAT list is written by its clusters one at a time (the gateway lease).
  const perGateway = Math.ceil(clusters / vpcCount);
  return {
    clusters,
    vpcs: vpcCount,
    converged: runs.filter((r) => r.status === 'SUCCEEDED').length,
    lostPolicies,
    doubledPolicies,
    wallMs,
    serializedMs,
    serializedRangeMs: [loneTimes[0], loneTimes[loneTimes.length - 1]],
    ratio: wallMs / ((clusters / vpcCount) * serializedMs),
    gatewaySerializedMs: perGateway * loneGatewayMs,
    leaseTimeouts,
    stateErrors,
    stateErrorCauses,
    dynamoWritesPerCluster: dynamoWrites / clusters,
    loadAverage: os.loadavg()[0],
    ...(crowdCpuSeconds !== undefined ? { crowdCpuSeconds, cpuFloorMs: (1000 * crowdCpuSeconds) / os.cpus().length } : {}),
  };
}

/**
 * The claim index as any deployment has it after its first minutes: settled and built (its marker).
 * A new deployment answers "who else claims this" by scanning every record until then
 * (docs/claim-index.md); a crowd arriving in those minutes is not what the sweeps measure.
 */
async function claimIndexSettled(w: OnboardingWorld): Promise<void> {
  const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    await dynamo.send(new PutItemCommand({ TableName: CLAIM_TABLE, Item: { ...BUILT_MARKER, settledAt: { N: String(Date.now()) }, built: { BOOL: true } } }));
  } finally {
    dynamo.destroy();
  }
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const sizes = options.sizes ?? [10, 50, 100];
  const loadAtStart = os.loadavg()[0].toFixed(1);
  const { baselineMs, rows } = bundles(options.loadSamples ?? 15);
  logger.setLogLevel('SILENT');
  const w = await startOnboardingWorld();
  try {
    await claimIndexSettled(w);
    const callCounts = await calls(w);
    const transitionCount = await transitions(w, 600);
    const eniConfig = await measureEniConfigLatency(options.latencyClusters ?? 5, w);
    const sweepRows: SweepRow[] = [];
    for (const size of sizes) sweepRows.push(await sweep(w, size));
    if (options.large) {
      const { clusters, vpcs } = options.large === true ? LARGE_SWEEP : options.large;
      sweepRows.push(await sweep(w, clusters, vpcs));
    }
    return {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadAtStart} at the start, ${os.loadavg()[0].toFixed(1)} at the end`,
      node: process.version,
      nodeBaselineMs: baselineMs,
      bundles: rows,
      calls: callCounts,
      transitions: transitionCount,
      eniConfig,
      sweep: sweepRows,
    };
  } finally {
    await w.stop();
  }
}

const fmt = (n: number, digits = 0) => n.toFixed(digits);
const callCell = (c: CallCounts, service: ServiceName) => (c[service] ? `${c[service].reads}/${c[service].writes}` : '0/0');

/** The one table, in Markdown (the README shows it). */
export function renderTable(r: BenchResult): string {
  const lines = [`Measured ${r.date} on ${r.machine}, Node ${r.node}.`, ''];
  lines.push('| measure | value |', '|---|---|');
  lines.push(`| \`node -e 0\` (whole process, median) | ${fmt(r.nodeBaselineMs)} ms |`);
  for (const b of r.bundles) {
    lines.push(
      `| ${b.name}: bundle / map / load (ratio to node -e 0) / load with --enable-source-maps | ` +
        `${fmt(b.bytes / 1024)} KiB / ${fmt(b.mapBytes / 1024)} KiB / ${fmt(b.loadMs)} ms (${fmt(b.loadRatio, 2)}) / ${fmt(b.loadMsSourceMaps)} ms |`,
    );
  }
  const services = [...new Set([...Object.keys(r.calls.onboarding), ...Object.keys(r.calls.noOpRerun)])].sort() as ServiceName[];
  for (const s of services) {
    lines.push(`| ${s} calls, reads/writes: onboarding; no-op re-run | ${callCell(r.calls.onboarding, s)}; ${callCell(r.calls.noOpRerun, s)} |`);
  }
  lines.push(
    `| state transitions, cluster CREATING ${r.transitions.creatingSeconds / 60} min at a ${r.transitions.pollSeconds} s poll | ${r.transitions.stateTransitions} |`,
  );
  lines.push(
    `| ACTIVE -> all ENIConfigs (median of ${r.eniConfig.clusters}, from the look that saw ACTIVE): own work / short waits / poll waits / calls / of them in series; ` +
      `calls in series while CREATING | ` +
      `${fmt(r.eniConfig.ownWorkMs)} ms / ${r.eniConfig.shortWaitSeconds} s / ${r.eniConfig.waits} / ${r.eniConfig.callsBefore} / ${r.eniConfig.callsInSeries}; ${r.eniConfig.preActiveCallsInSeries} |`,
  );
  for (const s of r.sweep) {
    const where = s.vpcs === 1 ? 'in one VPC' : `over ${s.vpcs} VPCs and spokes`;
    const serialized = `${fmt(s.serializedMs)} ms, median of ${LONE_RUNS} lone runs ${fmt(s.serializedRangeMs[0])}-${fmt(s.serializedRangeMs[1])} ms`;
    lines.push(
      `| N=${s.clusters} ${where}: converged / lost, doubled SNAT policies / wall / ratio to N per VPC x serialized (${serialized}) / ` +
        `controller's serialized section per gateway / lease timeouts / DynamoDB writes per cluster / load average | ` +
        `${s.converged}/${s.clusters} / ${s.lostPolicies}, ${s.doubledPolicies} / ${fmt(s.wallMs / 1000, 1)} s / ${fmt(s.ratio, 2)} / ` +
        `${fmt(s.gatewaySerializedMs / 1000, 1)} s / ${s.leaseTimeouts} / ${fmt(s.dynamoWritesPerCluster, 1)} / ${fmt(s.loadAverage, 1)} |`,
    );
    if (s.crowdCpuSeconds !== undefined && s.cpuFloorMs !== undefined) {
      lines.push(
        `| N=${s.clusters}: CPU of the crowd (this process + moto) / that over ${os.cpus().length} cores, the shortest wall the machine allows / wall ÷ that | ` +
          `${fmt(s.crowdCpuSeconds, 1)} s / ${fmt(s.cpuFloorMs / 1000, 1)} s / ${fmt(s.wallMs / s.cpuFloorMs, 2)} |`,
      );
    }
    const errors = Object.entries(s.stateErrors).sort(([, a], [, b]) => b - a);
    if (errors.length > 0) lines.push(`| N=${s.clusters}: failed states (retried or not), by error | ${errors.map(([k, n]) => `${k} ${n}`).join('; ')} |`);
  }
  return lines.join('\n');
}

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (require.main === module) {
  const sizes = argument('--sizes')?.split(',').filter(Boolean).map(Number);
  const samples = argument('--samples');
  const sweepArg = process.argv.find((a) => a.startsWith('--sweep='))?.slice('--sweep='.length);
  const crowd = /^(\d+)x(\d+)$/.exec(sweepArg ?? '');
  if (sweepArg && sweepArg !== 'large' && !crowd) throw new Error(`--sweep=${sweepArg}: use --sweep=large or --sweep=<clusters>x<vpcs> (e.g. --sweep=200x8)`);
  const large = crowd ? { clusters: Number(crowd[1]), vpcs: Number(crowd[2]) } : sweepArg === 'large';
  runBench({ ...(sizes ? { sizes } : {}), ...(samples ? { loadSamples: Number(samples) } : {}), large })
    .then((result) => console.log(process.argv.includes('--json') ? JSON.stringify(result, null, 2) : renderTable(result)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
