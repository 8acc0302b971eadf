// The EMF lines (CloudWatch Embedded Metric Format, Powertools Metrics) the real handlers print
// during one onboarding of the local world, its repeat, a lease time-out and a controller outage.
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { AviatrixClient } from '../../lambdas/aviatrix/client';
import { Leases, LeaseTimeoutError } from '../../lambdas/shared/lease';
import { createCluster, LEASE_TABLE, OnboardingWorld, SECRET_NAME, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

interface Emf {
  _aws: { Timestamp: number; CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

let w: OnboardingWorld;
const METRICS_ENV = { POWERTOOLS_METRICS_DISABLED: 'false', POWERTOOLS_METRICS_NAMESPACE: 'Test/Onboarding' };
const previousEnv = Object.fromEntries(Object.keys(METRICS_ENV).map((key) => [key, process.env[key]]));

// Set before the world starts (which drops the handlers' metrics store), so the store is made with them.
beforeAll(async () => {
  Object.assign(process.env, METRICS_ENV);
  w = await startOnboardingWorld();
}, 120_000);

afterAll(async () => {
  await w?.stop();
  for (const [key, value] of Object.entries(previousEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

/** Runs `work`, returning the EMF lines written to stdout meanwhile (and nothing else of stdout). */
async function emfOf(work: () => Promise<unknown>): Promise<Emf[]> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    if (text.startsWith('{"_aws"')) lines.push(...text.trim().split('\n'));
    else return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    return true;
  }) as typeof process.stdout.write;
  try {
    await work();
  } finally {
    process.stdout.write = write;
  }
  return lines.map((l) => JSON.parse(l) as Emf);
}

/** Every (metric, value, dimensions) in the lines. */
function points(lines: Emf[]) {
  return lines.flatMap((line) =>
    line._aws.CloudWatchMetrics.flatMap((directive) =>
      directive.Metrics.map((m) => ({
        namespace: directive.Namespace,
        name: m.Name,
        unit: m.Unit,
        value: line[m.Name] as number,
        dimensions: Object.fromEntries(directive.Dimensions.flat().map((d) => [d, line[d] as string])),
      })),
    ),
  );
}

describe('one onboarding, then its repeat', () => {
  it('emits the outcome, the duration, ACTIVE -> ENIConfig, the changes, lease waits and controller latency, with low-cardinality dimensions', async () => {
    await createCluster(w, { name: 'metrics-a' });
    w.activateCluster('metrics-a');
    let status = '';
    const first = points(await emfOf(async () => {
      status = (await runWorkflow('cluster-onboarding.asl.json', { clusterName: 'metrics-a' }, { waitMs: 0 })).status;
    }));
    expect(status).toBe('SUCCEEDED');

    for (const p of first) {
      expect(p.namespace).toBe('Test/Onboarding');
      expect(p.dimensions.service).toBe('eks-aviatrix-onboarding');
      // The cluster is never a dimension (it is in the log lines).
      expect(Object.values(p.dimensions)).not.toContain('metrics-a');
    }
    const named = (name: string) => first.filter((p) => p.name === name);
    expect(named('Runs')).toEqual([expect.objectContaining({ value: 1, unit: 'Count', dimensions: { service: 'eks-aviatrix-onboarding', Workflow: 'onboarding', Outcome: 'Onboarded' } })]);
    expect(named('Failures')).toEqual([]);
    expect(named('RunSeconds')).toEqual([expect.objectContaining({ unit: 'Seconds', dimensions: { service: 'eks-aviatrix-onboarding', Workflow: 'onboarding' } })]);
    expect(named('RunSeconds')[0].value).toBeGreaterThan(0);
    // The metric reports the run's changes as its status record counts them.
    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const { Item } = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'metrics-a' } } }));
    dynamo.destroy();
    expect(Number(Item!.changeCount.N)).toBeGreaterThan(0);
    expect(named('Changes')).toEqual([expect.objectContaining({ value: Number(Item!.changeCount.N), unit: 'Count' })]);
    expect(named('DriftItemsRepaired')).toEqual([]);
    const eni = named('ActiveToEniConfigSeconds');
    expect(eni).toHaveLength(1);
    expect(eni[0].value).toBeGreaterThanOrEqual(0);
    expect(eni[0].value).toBeLessThan(named('RunSeconds')[0].value);
    expect(new Set(named('LeaseWaitSeconds').map((p) => p.dimensions.LeaseKind))).toEqual(new Set(['cluster', 'vpc', 'gateway', 'controller']));
    const actions = new Set(named('ControllerLatency').map((p) => p.dimensions.Action));
    expect([...actions]).toEqual(expect.arrayContaining(['login', 'edit_gw_customized_snat_config', 'edit_gateway_advertised_cidr']));
    expect(named('ControllerLatency').every((p) => p.unit === 'Milliseconds')).toBe(true);
    expect(named('ControllerErrors')).toEqual([]);

    const repeat = points(await emfOf(() => runWorkflow('cluster-onboarding.asl.json', { clusterName: 'metrics-a' }, { waitMs: 0 })));
    expect(repeat.filter((p) => p.name === 'Changes').map((p) => p.value)).toEqual([0]);
    expect(repeat.filter((p) => p.name === 'ActiveToEniConfigSeconds')).toEqual([]);

    w.world.kube.deleteEniConfig('metrics-a', 'us-east-1b');
    const drift = points(await emfOf(() => runWorkflow('cluster-onboarding.asl.json', { clusterName: 'metrics-a', trigger: 'DriftRepair' }, { waitMs: 0 })));
    expect(drift.filter((p) => p.name === 'DriftItemsRepaired').map((p) => p.value)).toEqual([1]);
  });

  it('a refusal counts as Refused, with its reason', async () => {
    await createCluster(w, { name: 'metrics-v6', ipFamily: 'ipv6' });
    w.activateCluster('metrics-v6');
    const lines = points(await emfOf(() => runWorkflow('cluster-onboarding.asl.json', { clusterName: 'metrics-v6' }, { waitMs: 0 })));
    expect(lines.filter((p) => p.name === 'Runs').map((p) => p.dimensions.Outcome)).toEqual(['Refused']);
    expect(lines.filter((p) => p.name === 'Failures').map((p) => p.dimensions)).toEqual([{ service: 'eks-aviatrix-onboarding', Workflow: 'onboarding', Reason: 'ClusterRefused' }]);
  });
});

describe('faults', () => {
  it('a lease that stays taken counts one LeaseTimeouts', async () => {
    const leases = new Leases({ tableName: LEASE_TABLE, durationSeconds: 60, acquireTimeoutMs: 200, baseDelayMs: 20, maxDelayMs: 50 });
    await leases.acquire('cluster#metrics-held', 'holder-1');
    const lines = points(await emfOf(() => leases.acquire('cluster#metrics-held', 'holder-2').catch((e: unknown) => expect(e).toBeInstanceOf(LeaseTimeoutError))));
    expect(lines.map((p) => [p.name, p.value])).toEqual([['LeaseTimeouts', 1]]);
    await leases.release('cluster#metrics-held', 'holder-1');
  });

  it('a wait for a lease without taking it (a join) counts one LeaseWaitSeconds, free or held at first', async () => {
    const leases = new Leases({ tableName: LEASE_TABLE, durationSeconds: 60, acquireTimeoutMs: 5000, baseDelayMs: 20, maxDelayMs: 50 });
    const free = points(await emfOf(() => leases.awaitFree('vpc#metrics-join', 'joiner')));
    expect(free.map((p) => [p.name, p.dimensions.LeaseKind])).toEqual([['LeaseWaitSeconds', 'vpc']]);

    await leases.acquire('vpc#metrics-join', 'holder-1');
    const held = points(await emfOf(async () => {
      const waited = leases.awaitFree('vpc#metrics-join', 'joiner');
      // Released once the joiner has looked at least once (and found it held).
      await new Promise((resolve) => setTimeout(resolve, 150));
      await leases.release('vpc#metrics-join', 'holder-1');
      await waited;
    }));
    expect(held.map((p) => [p.name, p.dimensions.LeaseKind])).toEqual([['LeaseWaitSeconds', 'vpc']]);
  });

  it('a controller call that keeps failing counts one ControllerErrors for its action, after its retries', async () => {
    const aviatrix = w.config.aviatrix as { controllerUrl: string; caBundlePem: string };
    const client = new AviatrixClient(
      { controllerUrl: aviatrix.controllerUrl, credentialsSecretName: SECRET_NAME, caBundlePem: aviatrix.caBundlePem, verifyTls: true },
      { baseDelayMs: 5, timeoutMs: 2000 },
    );
    await client.getGateway('transit-use1');
    w.controller.failNext(100, { status: 503, action: 'list_vpcs_summary' });
    try {
      const lines = points(await emfOf(() => client.getGateway('transit-use1').catch(() => undefined)));
      expect(lines.filter((p) => p.name === 'ControllerErrors').map((p) => [p.dimensions.Action, p.value])).toEqual([['list_vpcs_summary', 1]]);
      expect(lines.filter((p) => p.name === 'ControllerLatency').map((p) => p.dimensions.Action)).toEqual(['list_vpcs_summary']);
    } finally {
      w.controller.clearFaults();
    }
  });
});
