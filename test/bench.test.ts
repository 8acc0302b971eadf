// `npm run bench` at a small size (N = 5), so it cannot rot: its table holds every function and
// measure, the crowd converges, and the no-op re-run writes nothing but bookkeeping. Timings are
// reported by the benchmark, never asserted.
import { renderTable, runBench } from '../scripts/bench';
import { FUNCTION_NAMES } from './local-world/bundles';

test('the benchmark measures every function, the calls, the transitions and a crowd of 5 that converges', async () => {
  const result = await runBench({ sizes: [5], loadSamples: 1, latencyClusters: 1 });

  expect(result.bundles.map((b) => b.name)).toEqual(FUNCTION_NAMES);
  for (const b of result.bundles) {
    expect(b).toEqual({
      name: b.name,
      bytes: expect.any(Number),
      mapBytes: expect.any(Number),
      loadMs: expect.any(Number),
      loadMsSourceMaps: expect.any(Number),
      loadRatio: expect.any(Number),
    });
  }
  // An onboarding writes to every service it changes; a no-op re-run writes to none of them.
  for (const service of ['ec2', 'eks', 'kubernetes', 'aviatrix'] as const) {
    expect(result.calls.onboarding[service]?.writes).toBeGreaterThan(0);
    expect({ service, writes: result.calls.noOpRerun[service]?.writes ?? 0 }).toEqual({ service, writes: 0 });
  }
  // Counts, not times: a 10-minute CREATING phase costs at most 60 state transitions (the first
  // wait follows the cluster's age), and nothing before the ENIConfigs waits the poll interval.
  expect(result.transitions).toEqual({ creatingSeconds: 600, pollSeconds: 30, stateTransitions: expect.any(Number) });
  expect(result.transitions.stateTransitions).toBeLessThanOrEqual(60);
  expect(result.eniConfig.waits).toBe(0);
  // A no-op re-run takes no lease: its one DynamoDB write is the status record.
  expect(result.calls.noOpRerun.dynamodb?.writes).toBe(1);
  // EKS reads of a first onboarding (docs/minimal-reads.md: 12 minimal; the 13th is ExternalSnat's
  // look at the add-on once its update ended). Each look at a running add-on update reads the
  // update alone, and ExternalSnat plans nothing apart when the same run switched the CNI.
  expect(result.calls.onboarding.eks?.reads).toBe(13);
  // Calls in series from the look that saw ACTIVE to the last ENIConfig write (the network was
  // wired while the cluster was CREATING): 36 when all of it came after ACTIVE, 9 measured; it varies
  // by a few with timing (two requests sent together count twice when one is answered before the
  // other leaves). The work done while CREATING is reported beside it.
  expect(result.eniConfig.callsInSeries).toBeLessThanOrEqual(15);
  expect(result.eniConfig.preActiveCallsInSeries).toBeGreaterThan(0);
  expect(result.sweep).toEqual([
    // No state of the crowd failed, not even once and retried (the row's tally of failed states).
    expect.objectContaining({ clusters: 5, converged: 5, lostPolicies: 0, doubledPolicies: 0, leaseTimeouts: 0, stateErrors: {}, stateErrorCauses: {} }),
  ]);

  const table = renderTable(result);
  for (const name of FUNCTION_NAMES) expect(table).toContain(`| ${name}: bundle`);
  expect(table).toContain('| N=5 in one VPC');
}, 600_000);
