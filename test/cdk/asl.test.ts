// Generic checks on every state-machines/*.asl.json, read from the file (not from CDK).
import { STATE_MACHINES, STEP_FUNCTIONS } from '../../lib/onboarding-stack';
import { allStates, aslFiles } from './fixtures';

// asl-validator 4 ships no type declarations: validator(definition, opts?) -> { isValid, errors, errorsText }.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (
  definition: unknown,
  opts?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errors: unknown[]; errorsText: (separator?: string) => string };

const LAMBDA_SERVICE_ERRORS = ['Lambda.ServiceException', 'Lambda.TooManyRequestsException'];
const files = aslFiles();

test('the three workflows the stack deploys are there', () => {
  expect(files.map((f) => f.file)).toEqual(expect.arrayContaining(STATE_MACHINES.map((m) => m.file)));
});

describe.each(files.map((f) => [f.file, f] as const))('%s', (_name, { definition, text }) => {
  test('passes asl-validator (after substituting ${...})', () => {
    const result = aslValidator(JSON.parse(JSON.stringify(definition)));
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  test('the machine has TimeoutSeconds', () => {
    expect(definition.TimeoutSeconds).toEqual(expect.any(Number));
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
  });

  test('uses only the substitutions the stack provides', () => {
    const used = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
    const known: string[] = [...STEP_FUNCTIONS.map((s) => s.substitution), 'PollIntervalSeconds'];
    expect(used.filter((u) => !known.includes(u))).toEqual([]);
  });

  const tasks = allStates(definition)
    .filter((entry) => entry.state.Type === 'Task')
    .map((entry) => [entry.path, entry] as const);

  test('has Task states', () => {
    expect(tasks.length).toBeGreaterThan(0);
  });

  test.each(tasks)('Task %s: Retry on Lambda service errors with backoff and full jitter, Catch, TimeoutSeconds', (_path, { state, enclosingCatch }) => {
    for (const error of LAMBDA_SERVICE_ERRORS) {
      const retrier = (state.Retry ?? []).find((r) => r.ErrorEquals.includes(error));
      expect(retrier).toBeDefined();
      expect(retrier!.BackoffRate).toBeGreaterThan(1);
      expect(retrier!.MaxDelaySeconds).toEqual(expect.any(Number));
      expect(retrier!.JitterStrategy).toBe('FULL');
    }
    // Its own Catch, or (inside a Parallel/Map branch, where a Catch would end only the branch) the enclosing state's.
    expect((state.Catch?.length ?? 0) > 0 || enclosingCatch).toBe(true);
    expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath).toBeDefined();
  });

  // A failed step may hold the cluster, VPC or gateway leases it took: its failure path gives them back
  // (ReleaseLeases) before RecordFailure, or a rerun waits out the lease. Only states that take no
  // lease (resolving, preflight plans, recording, ReleaseLeases itself) may go to RecordFailure directly.
  test('failures of lease-taking states pass ReleaseLeases before RecordFailure', () => {
    const LEASE_FREE = /^(Resolve\w*|Record\w*|ReleaseLeases|Take\w*PreflightError)$/;
    const toRecordFailure = allStates(definition)
      .filter(({ state }) => state.Next === 'RecordFailure' || (state.Catch ?? []).some((c) => c.Next === 'RecordFailure'))
      .map(({ path }) => path.split('/').pop()!);
    expect(toRecordFailure.length).toBeGreaterThan(0);
    expect(toRecordFailure.filter((name) => !LEASE_FREE.test(name))).toEqual([]);
  });

  // The whole policy, so a dropped or weakened retrier fails here: Lambda's own service errors, and
  // TransientError (throttling, 429, 5xx, timeouts, resets from any client: lambdas/shared/classify.ts).
  test.each(tasks)('Task %s: the full Retry policy, Lambda service errors then TransientError', (_path, { state }) => {
    expect(state.Retry).toEqual([
      {
        ErrorEquals: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'],
        IntervalSeconds: 2,
        MaxAttempts: 6,
        BackoffRate: 2,
        MaxDelaySeconds: 60,
        JitterStrategy: 'FULL',
      },
      { ErrorEquals: ['TransientError'], IntervalSeconds: 5, MaxAttempts: 5, BackoffRate: 2, MaxDelaySeconds: 120, JitterStrategy: 'FULL' },
    ]);
  });

  // Step Functions cannot stop a running Lambda: if the task timed out first, the failure path
  // could run (and release leases) while the Lambda still writes. The Lambda must die first.
  test.each(tasks)('Task %s outlives its Lambda: TimeoutSeconds above the function timeout', (_path, { state }) => {
    const step = STEP_FUNCTIONS.find((s) => state.Resource?.endsWith(`:function:${s.substitution.replace(/Arn$/, '')}`));
    expect(step).toBeDefined();
    expect(state.TimeoutSeconds).toBeGreaterThan(step!.timeoutSeconds);
  });
});

// Waiting costs state transitions (each look is a Task, a Choice and a Wait): the cluster's first
// look waits as long as ResolveCluster says (its age), and what AWS settles in seconds (the CIDR
// association, EC2 showing new resources, an access entry taking effect) has a short Wait of its
// own instead of the poll interval.
describe.each(['cluster-onboarding.asl.json', 'nodegroup-onboarding.asl.json'])('%s waits', (file) => {
  const { definition } = files.find((f) => f.file === file)!;
  const states = definition.States as Record<string, { Type: string; Seconds?: number; SecondsPath?: string; Parameters?: Record<string, string>; Choices?: unknown[] }>;

  test('WaitForCluster waits what ResolveCluster answers, and ResolveCluster knows the poll interval', () => {
    expect(states.WaitForCluster.SecondsPath).toBe('$.resolve.waitSeconds');
    expect(states.ResolveCluster.Parameters?.['pollSeconds.$']).toBe('$.pollSeconds');
  });

  test('PodNetwork and an access entry taking effect wait a few seconds, not the poll interval', () => {
    expect(states.WaitForNetwork).toEqual(expect.objectContaining({ Type: 'Wait', Seconds: 2, Next: 'PodNetwork' }));
    expect(states.WaitForAccessEntry).toEqual(expect.objectContaining({ Type: 'Wait', Seconds: 2, Next: 'VpcCni' }));
    expect(states.IsCniReady.Choices?.[0]).toEqual({
      And: [
        { Variable: '$.cni.phase', StringEquals: 'pending' },
        { Variable: '$.cni.shortWait', IsPresent: true },
      ],
      Next: 'WaitForAccessEntry',
    });
    // An add-on update still waits the poll interval.
    expect(states.WaitForCni.SecondsPath).toBe('$.pollSeconds');
  });
});
