// Several worlds in one jest module registry (test/groups): the handlers stay loaded and warm, so
// starting a world must drop what they keep bound to the previous one (lambdas/shared/warm-state.ts).
// The second world's controller listens where the first one's did and has another password, so a
// kept controller client or session would meet it too.
import { captureOutput } from '../aviatrix/world';
import { createCluster, OnboardingWorld, startOnboardingWorld } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

async function onboard(w: OnboardingWorld, name: string) {
  await createCluster(w, { name });
  w.activateCluster(name);
  return runWorkflow('cluster-onboarding.asl.json', { clusterName: name });
}

test('a world started after another in the same registry is onboarded through its own stand-ins', async () => {
  const first = await startOnboardingWorld();
  try {
    expect((await onboard(first, 'in-first')).status).toBe('SUCCEEDED');
  } finally {
    await first.stop();
  }
  const previous = { disabled: process.env.POWERTOOLS_METRICS_DISABLED, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE };
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_METRICS_NAMESPACE = 'Test/SecondWorld';
  const port = Number(new URL(first.controllerUrl).port);
  const second = await startOnboardingWorld({ controller: { port, password: 'An0ther-Pa55word!' } });
  const output = captureOutput();
  try {
    const run = await onboard(second, 'in-second');
    output.restore();
    expect(run.status).toBe('SUCCEEDED');
    // One login, with this controller's password: no session or credentials kept from the first.
    expect(second.controller.requests().filter((r) => r.action === 'login').map((r) => r.status)).toEqual([200]);
    // The metrics store is made again, with this world's environment.
    const namespaces = output.text().split('\n').filter((l) => l.startsWith('{"_aws"')).flatMap((l) => (JSON.parse(l) as { _aws: { CloudWatchMetrics: { Namespace: string }[] } })._aws.CloudWatchMetrics.map((m) => m.Namespace));
    expect(namespaces.length).toBeGreaterThan(0);
    expect(new Set(namespaces)).toEqual(new Set(['Test/SecondWorld']));
  } finally {
    output.restore();
    await second.stop();
    for (const [key, value] of [['POWERTOOLS_METRICS_DISABLED', previous.disabled], ['POWERTOOLS_METRICS_NAMESPACE', previous.namespace]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});
