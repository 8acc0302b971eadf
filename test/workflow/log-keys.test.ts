// Every log line of a real workflow run names its step, cluster, execution, request and cold start,
// and a warm Lambda does not carry the previous invocation's keys into the next one.
import { logger } from '../../lambdas/shared/logger';
import { handler as releaseLeases } from '../../lambdas/aviatrix-snat/handler';
import { captureOutput } from '../aviatrix/world';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});
afterAll(async () => w?.stop());

type Line = Record<string, unknown>;
const parse = (text: string): Line[] =>
  text.split('\n').filter((l) => l.startsWith('{"level"')).map((l) => JSON.parse(l) as Line);

test('an onboarding\'s lines carry step, cluster, execution id, request id and cold start; a warm invocation starts clean', async () => {
  await createCluster(w, { name: 'logged' });
  w.activateCluster('logged');
  const level = logger.getLevelName();
  logger.setLogLevel('INFO');
  const output = captureOutput();
  let lines: Line[] = [];
  let warm: Line[] = [];
  try {
    const result = await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'logged' }, { executionName: 'logged-run' });
    expect(result.status).toBe('SUCCEEDED');
    lines = parse(output.text());
    // The same (now warm) function, for a step about no cluster: the previous cluster is not named.
    const mark = output.text().length;
    await releaseLeases({ action: 'release-leases', executionId: 'arn:aws:states:us-east-1:123456789012:execution:x:other' }, { awsRequestId: 'req-warm', functionName: 'snat' });
    warm = parse(output.text().slice(mark));
  } finally {
    output.restore();
    logger.setLogLevel(level);
  }
  const steps = lines.filter((l) => l.message === 'step started');
  expect(steps.length).toBeGreaterThanOrEqual(8);
  for (const line of lines.filter((l) => l.step !== undefined)) {
    expect(line).toMatchObject({
      clusterName: 'logged',
      executionId: expect.stringMatching(/:execution:eks-aviatrix-cluster-onboarding:logged-run$/),
      function_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      cold_start: expect.any(Boolean),
    });
  }
  expect(warm.length).toBeGreaterThan(0);
  for (const line of warm) {
    expect(line).toMatchObject({ step: 'release-leases', function_request_id: 'req-warm', executionId: expect.stringMatching(/:other$/) });
    expect(line.clusterName).toBeUndefined();
  }
});
