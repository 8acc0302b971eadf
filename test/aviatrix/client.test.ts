import zlib from 'node:zlib';
import { AviatrixClient, ControllerApiError, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { logger } from '../../lambdas/shared/logger';
import { beginInvocation, CLEANUP_MS, runStep } from '../../lambdas/shared/step';
import { makeSelfSignedCertificate } from '../local-world/tls';
import { captureOutput, issuedSessionSecrets, PASSWORD, startWorld, World } from './world';

let world: World;
const fast = { baseDelayMs: 5, timeoutMs: 2000 };

beforeAll(async () => {
  world = await startWorld();
  world.emulator.addGateway({ name: 'spoke-a', kind: 'spoke', vpcId: 'vpc-aaa', privateIp: '10.0.0.4', transitName: 'transit-1' });
  world.emulator.addGateway({ name: 'transit-1', kind: 'transit', vpcId: 'vpc-ttt', privateIp: '10.9.0.4', exclusions: ['10.99.0.0/16'] });
  logger.setLogLevel('DEBUG');
});
afterAll(async () => world.stop());
beforeEach(() => resetAviatrixClientState());

const count = (since: number, action: string) => world.emulator.actions().slice(since).filter((a) => a === action).length;

test('logs in with an API token and X-Access-Key, then reuses the CID in query, form and v2.5 header', async () => {
  const client = new AviatrixClient(world.connection, fast);
  const start = world.emulator.requests().length;
  expect((await client.getGateway('spoke-a'))?.private_ip).toBe('10.0.0.4');
  await client.setExcludedAdvertisedCidrs('transit-1', ['10.99.0.0/16']);
  expect(await client.listSmartGroups()).toEqual([]);
  const requests = world.emulator.requests().slice(start);
  expect(requests.map((r) => r.action)).toEqual([
    'get_api_token', 'login', 'list_vpcs_summary', 'edit_gateway_advertised_cidr', 'GET app-domains',
  ]);
  const [token, login, summary, edit, rest] = requests;
  expect(token.transport).toBe('query');
  expect(login.transport).toBe('form');
  expect(login.headers['x-access-key']).toMatch(/^[0-9a-f]{32}$/);
  const cid = summary.params.CID;
  expect(cid).toMatch(/^[0-9a-f]{20}$/);
  expect(summary.transport).toBe('query');
  expect(edit.transport).toBe('form');
  expect(edit.params).toMatchObject({ CID: cid, gateway_name: 'transit-1', cidr: '10.99.0.0/16' });
  expect(rest.headers.authorization).toBe(`cid ${cid}`);
  // A second client object in the same container reuses the session.
  await new AviatrixClient(world.connection, fast).getGateway('transit-1');
  expect(count(start, 'login')).toBe(1);
});

test('encodes policy_list as base64(zlib(JSON)) with mode=custom, enable_nat only when asked', async () => {
  const client = new AviatrixClient(world.connection, fast);
  const start = world.emulator.requests().length;
  const policies = [{ src_ip: '100.64.0.0/16', dst_ip: '0.0.0.0/0', protocol: 'all', interface: 'eth0', new_src_ip: '10.0.0.4', apply_route_entry: true }];
  await client.replaceSnatPolicies('spoke-a', policies, { enableNat: true });
  await client.replaceSnatPolicies('spoke-a', policies, { enableNat: false });
  const writes = world.emulator.requests().slice(start).filter((r) => r.action === 'edit_gw_customized_snat_config');
  expect(writes).toHaveLength(2);
  const decoded = JSON.parse(zlib.inflateSync(Buffer.from(writes[0].params.policy_list, 'base64')).toString('utf8'));
  expect(decoded).toEqual(policies);
  expect(writes[0].params).toMatchObject({ mode: 'custom', enable_nat: 'yes', compress: 'true', gateway_name: 'spoke-a' });
  expect(writes[1].params.enable_nat).toBeUndefined();
  expect(await client.getSnatPolicies('spoke-a')).toEqual(policies);
});

describe('expired session: exactly one re-login, then the call succeeds', () => {
  const cases: [string, string, (c: AviatrixClient) => Promise<unknown>][] = [
    ['v2 query GET (CID is invalid or expired.)', 'list_vpcs_summary', (c) => c.getGateway('spoke-a')],
    ['v2 form POST (CID is invalid or expired.)', 'edit_gateway_advertised_cidr', (c) => c.setExcludedAdvertisedCidrs('transit-1', ['10.99.0.0/16'])],
    ['v2 JSON POST (Session <cid> expired)', 'get_controller_feature', (c) => c.getControllerFeature('k8s')],
    ['v2.5 (403 Invalid CID)', 'GET app-domains', (c) => c.listSmartGroups()],
  ];
  test.each(cases)('%s', async (_name, action, call) => {
    const client = new AviatrixClient(world.connection, fast);
    await client.getGateway('spoke-a'); // logged in
    world.emulator.expireSessions();
    const start = world.emulator.requests().length;
    await call(client);
    const after = world.emulator.requests().slice(start);
    expect(after.map((r) => r.action)).toEqual([action, 'get_api_token', 'login', action]);
    expect(after[0].status).toBe(action.startsWith('GET ') ? 403 : 200);
  });

  test('a session that stays expired fails after one re-login, naming the action', async () => {
    const client = new AviatrixClient(world.connection, fast);
    await client.getGateway('spoke-a');
    world.emulator.expireSessions();
    const start = world.emulator.requests().length;
    // Expire again right after the re-login: the retried call sees an invalid CID a second time.
    const original = world.emulator.requests.bind(world.emulator);
    let expiredOnce = false;
    const timer = setInterval(() => {
      if (!expiredOnce && original().slice(start).some((r) => r.action === 'login' && r.status === 200)) {
        expiredOnce = true;
        world.emulator.expireSessions();
      }
    }, 0);
    world.emulator.latencyMs = 30;
    try {
      await expect(client.getGateway('spoke-a')).rejects.toThrow(/list_vpcs_summary for spoke-a failed: CID is invalid or expired\./);
    } finally {
      clearInterval(timer);
      world.emulator.latencyMs = 0;
    }
    expect(count(start, 'login')).toBe(1);
  });
});

test('5xx three times, then success: four attempts, one answer', async () => {
  const client = new AviatrixClient(world.connection, fast);
  await client.getGateway('spoke-a');
  world.emulator.failNext(3, { status: 502, action: 'list_vpcs_summary' });
  const start = world.emulator.requests().length;
  expect((await client.getGateway('spoke-a'))?.vpc_name).toBe('spoke-a');
  expect(count(start, 'list_vpcs_summary')).toBe(4);
});

test('persistent 5xx fails after a bounded number of attempts with one message naming action and gateway', async () => {
  const client = new AviatrixClient(world.connection, fast);
  await client.getGateway('spoke-a');
  world.emulator.failNext(100, { status: 500, action: 'edit_gw_customized_snat_config' });
  const start = world.emulator.requests().length;
  try {
    const error = await client.replaceSnatPolicies('spoke-a', [], { enableNat: false }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ControllerApiError);
    const e = error as ControllerApiError;
    expect(e.message).toBe(
      'Aviatrix controller call edit_gw_customized_snat_config for spoke-a failed after 4 attempts (HTTP 500): server error 500 Internal Server Error: Internal Server Error',
    );
    // Named TransientError: the ASL's Retry on TransientError retries a controller outage.
    expect(e).toMatchObject({ action: 'edit_gw_customized_snat_config', target: 'spoke-a', status: 500, attempts: 4, name: 'TransientError' });
    expect(e.toJSON().name).toBe('TransientError');
    expect(Object.keys(e)).not.toEqual(expect.arrayContaining(['config', 'request', 'response']));
    expect(count(start, 'edit_gw_customized_snat_config')).toBe(4);
  } finally {
    world.emulator.clearFaults();
  }
});

test('a request that hangs times out and is retried', async () => {
  const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300 });
  await client.getGateway('spoke-a');
  world.emulator.hangNext(1, { action: 'get_gateway_info' });
  const start = world.emulator.requests().length;
  const info = await client.getGatewayInfo('spoke-a');
  expect(info.vpc_name).toBe('spoke-a');
  expect(count(start, 'get_gateway_info')).toBe(2);
});

test('exhausted transport errors are TransientError too, naming action, target and reason', async () => {
  const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 200, maxAttempts: 2 });
  await client.getGateway('spoke-a');
  world.emulator.hangNext(2, { action: 'get_gateway_info' });
  const error = await client.getGatewayInfo('spoke-a').then(() => undefined, (e: unknown) => e as ControllerApiError);
  expect(error).toBeInstanceOf(ControllerApiError);
  expect(error?.name).toBe('TransientError');
  expect(error?.message).toMatch(/^Aviatrix controller call get_gateway_info for spoke-a failed after 2 attempts: transport error ECONNABORTED: timeout/);
});

test('refusals stay ControllerError: v2 return:false and v2.5 4xx', async () => {
  const client = new AviatrixClient(world.connection, fast);
  const refused = await client.setExcludedAdvertisedCidrs('spoke-a', ['1.2.3.0/24']).then(() => undefined, (e: unknown) => e as Error);
  expect(refused?.name).toBe('ControllerError');
  const bad = await client.createSmartGroup({ name: 'bad', selector: {} as never }).then(() => undefined, (e: unknown) => e as Error);
  expect(bad?.name).toBe('ControllerError');
  expect(bad?.message).toBe('Aviatrix controller call POST app-domains for bad failed (HTTP 400): name and selector.any are required');
});

describe('creates are never re-sent blindly', () => {
  const body = (name: string) => ({ name, selector: { any: [{ all: { type: 'vpc', res_id: `vpc-${name}` } }] } });
  afterEach(() => {
    world.emulator.clearFaults();
    world.emulator.duplicateSmartGroupNames = false;
  });

  test('a SmartGroup create that happened but whose answer was lost is found, not sent again', async () => {
    // A controller that accepts duplicate names would otherwise end up with two groups.
    world.emulator.duplicateSmartGroupNames = true;
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300 });
    await client.getGateway('spoke-a');
    world.emulator.hangNext(1, { action: 'POST app-domains', afterApply: true });
    const start = world.emulator.requests().length;
    const uuid = await client.createSmartGroup(body('lost-answer'));
    const groups = world.emulator.smartGroups().filter((g) => g.name === 'lost-answer');
    expect(groups).toHaveLength(1);
    expect(uuid).toBe(groups[0].uuid);
    expect(world.emulator.actions().slice(start)).toEqual(['POST app-domains', 'GET app-domains']);
  });

  test('with the default controller (409 on a taken name) the lost answer does not fail the create', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300 });
    await client.getGateway('spoke-a');
    world.emulator.hangNext(1, { action: 'POST app-domains', afterApply: true });
    const uuid = await client.createSmartGroup(body('lost-answer-409'));
    expect(world.emulator.smartGroups().filter((g) => g.name === 'lost-answer-409').map((g) => g.uuid)).toEqual([uuid]);
  });

  test('a create that did not happen (5xx, nothing found) is sent again and succeeds once', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300 });
    await client.getGateway('spoke-a');
    world.emulator.failNext(1, { status: 503, action: 'POST app-domains' });
    const start = world.emulator.requests().length;
    const uuid = await client.createSmartGroup(body('retried'));
    expect(world.emulator.actions().slice(start)).toEqual(['POST app-domains', 'GET app-domains', 'POST app-domains']);
    expect(world.emulator.smartGroups().filter((g) => g.name === 'retried').map((g) => g.uuid)).toEqual([uuid]);
  });

  test('a k8s cluster create whose answer was lost is found by cluster_id', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300 });
    await client.getGateway('spoke-a');
    world.emulator.hangNext(1, { action: 'POST k8s/clusters', afterApply: true });
    const arn = 'arn:aws:eks:us-east-1:123456789012:cluster/lost-answer';
    const start = world.emulator.requests().length;
    const id = await client.createK8sCluster({ cluster_id: arn, credential: { use_csp_credentials: true } });
    expect(world.emulator.k8sClusters().filter((c) => c.cluster_id === arn).map((c) => c.id)).toEqual([id]);
    expect(world.emulator.actions().slice(start)).toEqual(['POST k8s/clusters', 'GET k8s/clusters']);
  });

  test('a create that keeps failing gives up after maxAttempts as a TransientError', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 300, maxAttempts: 2 });
    await client.getGateway('spoke-a');
    world.emulator.failNext(10, { status: 500, action: 'POST app-domains' });
    const error = await client.createSmartGroup(body('never')).then(() => undefined, (e: unknown) => e as ControllerApiError);
    expect(error?.name).toBe('TransientError');
    expect(error?.message).toBe(
      'Aviatrix controller call POST app-domains for never failed after 2 attempts (HTTP 500): server error 500 Internal Server Error: Internal Server Error',
    );
    expect(world.emulator.smartGroups().some((g) => g.name === 'never')).toBe(false);
  });
});

test('v2 return:false becomes ControllerApiError with the controller reason', async () => {
  const client = new AviatrixClient(world.connection, fast);
  await expect(client.setExcludedAdvertisedCidrs('spoke-a', ['1.2.3.0/24'])).rejects.toThrow(
    'Aviatrix controller call edit_gateway_advertised_cidr for spoke-a failed: spoke-a is not a transit gateway',
  );
  expect(await client.getGateway('no-such-gw')).toBeUndefined();
  expect(await client.getSmartGroup('00000000-0000-0000-0000-000000000000')).toBeUndefined();
});

test('a certificate not matching the configured CA fails clearly, without retries', async () => {
  const otherCa = makeSelfSignedCertificate().caPem;
  const client = new AviatrixClient({ ...world.connection, caBundlePem: otherCa }, fast);
  const start = world.emulator.requests().length;
  await expect(client.getGateway('spoke-a')).rejects.toThrow(
    /get_api_token for 127\.0\.0\.1:\d+ failed: the TLS certificate of 127\.0\.0\.1:\d+ is not trusted \(\w+\); set onboarding\.aviatrix\.caBundlePem/,
  );
  expect(world.emulator.requests().length).toBe(start);
  // Without a CA bundle, the system trust store does not know the emulator's CA either.
  const { caBundlePem: _unused, ...noCa } = world.connection;
  void _unused;
  await expect(new AviatrixClient(noCa, fast).getGateway('spoke-a')).rejects.toThrow(/is not trusted/);
});

test('verifyTls=false is refused before any request: the credentials never go to an unverified peer', async () => {
  const secretReads = world.log.since().filter((c) => c.service === 'secretsmanager').length;
  const start = world.emulator.requests().length;
  expect(() => new AviatrixClient({ ...world.connection, caBundlePem: undefined, verifyTls: false }, fast)).toThrow(
    expect.objectContaining({
      name: 'ConfigError',
      message:
        "onboarding.aviatrix.verifyTls is false in this function's config, which the stack never deploys: the controller's credentials go only to a verified peer; " +
        'set onboarding.aviatrix.caBundlePem in the config the stack is deployed from and run `cdk deploy`',
    }),
  );
  expect(world.emulator.requests().length).toBe(start);
  expect(world.log.since().filter((c) => c.service === 'secretsmanager').length).toBe(secretReads);
});

test('a refused login re-reads the secret once; the password, token and CID never leak', async () => {
  const output = captureOutput();
  const surfaced: string[] = [];
  const newPassword = 'Rotated-Pw-2b8d41c0';
  try {
    const client = new AviatrixClient(world.connection, fast);
    await client.getGateway('spoke-a');
    // Rotate the password on the controller and in the secret; the cached credentials are stale.
    world.emulator.password = newPassword;
    await world.setSecret(newPassword);
    world.emulator.expireSessions();
    const secretReads = world.log.since().filter((c) => c.service === 'secretsmanager').length;
    const start = world.emulator.requests().length;
    const gw = await client.getGateway('spoke-a');
    surfaced.push(JSON.stringify(gw));
    expect(count(start, 'login')).toBe(2);
    expect(world.log.since().filter((c) => c.service === 'secretsmanager').length).toBe(secretReads + 1);

    // A password that stays wrong: one clear error after exactly one re-read.
    world.emulator.password = 'something-else';
    world.emulator.expireSessions();
    const error = await client.getGateway('spoke-a').then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ControllerApiError);
    expect(error!.message).toMatch(/^Aviatrix controller call login for 127\.0\.0\.1:\d+ failed: Invalid username or password\. \(credentials from secret aviatrix\/controller\)$/);
    surfaced.push(error!.message, JSON.stringify(error), String(error!.stack));

    // Persistent 5xx and the expired-session retries also log; collect those too.
    world.emulator.password = newPassword;
    world.emulator.failNext(4, { status: 502, action: 'get_gateway_info' });
    const e2 = await client.getGatewayInfo('spoke-a').then(() => undefined, (e: unknown) => e as Error);
    surfaced.push(String(e2?.message), JSON.stringify(e2));
  } finally {
    output.restore();
    world.emulator.password = PASSWORD;
    await world.setSecret(PASSWORD);
  }
  const text = output.text() + surfaced.join('\n');
  expect(text).toContain('Aviatrix controller call failed; retrying'); // the capture really saw the logger
  expect(text).toContain('Logged in to the Aviatrix controller');
  const secrets = [PASSWORD, newPassword, ...issuedSessionSecrets(world.emulator)];
  expect(secrets.length).toBeGreaterThan(4);
  for (const secret of secrets) expect(text).not.toContain(secret);
});

test('a 429 is retried after the Retry-After the controller asked for, then the call succeeds', async () => {
  const client = new AviatrixClient(world.connection, { ...fast, maxAttempts: 2 });
  await client.getGateway('spoke-a'); // logged in
  const mark = world.log.faults.mark();
  world.log.faults.inject('aviatrix', 'list_vpcs_summary', { kind: 'status', status: 429, retryAfterSeconds: 1 });
  const started = Date.now();
  expect((await client.getGateway('spoke-a'))?.private_ip).toBe('10.0.0.4');
  // The client's own back-off is 5 ms here: only the controller's Retry-After makes it wait a second.
  expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  expect(world.log.faults.firedSince(mark)).toEqual([{ service: 'aviatrix', action: 'list_vpcs_summary', fault: 'status' }]);
});

describe("controller calls are bounded by the step's clock (lambdas/shared/step.ts callBudget)", () => {
  /** Runs `work` as a step run of its own whose Lambda stops `leftMs` from now (the fake step clock). */
  function inStep<T>(leftMs: number, work: () => Promise<T>, step = 'TestStep', cluster = 'deadline-cluster'): Promise<T> {
    const stopsAt = Date.now() + leftMs;
    beginInvocation({}, { awsRequestId: `request-${step}`, functionName: 'test-function', getRemainingTimeInMillis: () => stopsAt - Date.now() });
    return runStep(step, cluster, work);
  }
  const failure = (work: Promise<unknown>) => work.then(() => undefined, (e: unknown) => e as Error);
  /** Resolves once the controller has seen `action` since `start`. */
  async function seen(start: number, action: string): Promise<void> {
    while (count(start, action) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const host = () => new URL(world.url).host.replace(/\./g, '\\.');
  afterEach(() => {
    world.emulator.clearFaults();
    world.log.faults.clear();
    jest.restoreAllMocks();
  });

  test('a request that outlives its step ends in the deadline\'s TransientError naming the call, step and cluster, and is not retried', async () => {
    // The client's own 30 s request timeout would let the call run past the Lambda timeout.
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 30_000 });
    await client.getGateway('spoke-a'); // logged in
    world.emulator.hangNext(1, { action: 'get_gateway_info' });
    const start = world.emulator.requests().length;
    const error = await failure(inStep(CLEANUP_MS + 300, () => client.getGatewayInfo('spoke-a')));
    expect(error).toMatchObject({ name: 'TransientError' });
    expect(error?.message).toMatch(
      /^TestStep for cluster "deadline-cluster": Aviatrix controller call get_gateway_info for spoke-a got no answer within the 0\.\d s the step had left before its Lambda timeout \(less 5 s to release its leases and report what it wrote\), so the step stopped there; the workflow retries the step/,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(count(start, 'get_gateway_info')).toBe(1);
    // The request itself was aborted at the deadline (its connection closed), not left to the client's 30 s timeout.
    while (world.emulator.hangingRequests() > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  }, 10_000);

  test('a retry whose delay would pass the deadline is not started: the deadline\'s error names the last failure', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 30_000 });
    await client.getGateway('spoke-a');
    // The controller asks for 20 s; the step has 2 s before its cleanup window.
    world.log.faults.inject('aviatrix', 'list_vpcs_summary', { kind: 'status', status: 429, retryAfterSeconds: 20 });
    const start = world.emulator.requests().length;
    const error = await failure(inStep(CLEANUP_MS + 2_000, () => client.getGateway('spoke-a')));
    expect(error).toMatchObject({ name: 'TransientError' });
    expect(error?.message).toMatch(
      /^TestStep for cluster "deadline-cluster": Aviatrix controller call list_vpcs_summary for spoke-a got no answer within the [12]\.\d s .* \(its last attempt: rate limited 429 Too Many Requests: injected fault 429; a retry would have ended past that\)/,
    );
    expect(count(start, 'list_vpcs_summary')).toBe(1);
  }, 10_000);

  test('a create is not sent again when the delay before its retry would pass the deadline', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 20_000, timeoutMs: 30_000 });
    await client.getGateway('spoke-a');
    jest.spyOn(Math, 'random').mockReturnValue(0.5); // a 10 s back-off
    world.emulator.failNext(1, { status: 503, action: 'POST app-domains' });
    const start = world.emulator.requests().length;
    const body = { name: 'late-retry', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-late' } }] } };
    const error = await failure(inStep(CLEANUP_MS + 2_000, () => client.createSmartGroup(body)));
    expect(error?.message).toMatch(/^TestStep for cluster "deadline-cluster": Aviatrix controller call POST app-domains for late-retry got no answer .* \(its last attempt: server error 503 Service Unavailable: Internal Server Error; a retry would have ended past that\)/);
    // The create failed and its lookup found nothing; the next run of the step reads and creates it.
    expect(world.emulator.actions().slice(start)).toEqual(['POST app-domains', 'GET app-domains']);
    expect(world.emulator.smartGroups().some((g) => g.name === 'late-retry')).toBe(false);
  }, 10_000);

  test('with nothing left of its step, a call and its login are refused unsent', async () => {
    const client = new AviatrixClient(world.connection, fast);
    const start = world.emulator.requests().length;
    const error = await failure(inStep(CLEANUP_MS - 1_000, () => client.getGateway('spoke-a')));
    expect(error?.message).toMatch(new RegExp(`^TestStep for cluster "deadline-cluster": Aviatrix controller login at ${host()} got no answer within the 0\\.0 s`));
    expect(world.emulator.requests().length).toBe(start);
  });

  test('a caller waiting on a login another step run started waits only as long as its own step may, and its error names its own step', async () => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 30_000 });
    world.log.faults.inject('aviatrix', 'get_api_token', { kind: 'delay', ms: 1_000 });
    const start = world.emulator.requests().length;
    const first = inStep(60_000, () => client.getGateway('spoke-a'), 'StepA', 'cluster-a').then((gateway) => gateway?.private_ip, (e: Error) => e.message);
    await seen(start, 'get_api_token');
    const waiter = await failure(inStep(CLEANUP_MS + 300, () => client.getGateway('spoke-a'), 'StepB', 'cluster-b'));
    expect(waiter?.message).toMatch(new RegExp(`^StepB for cluster "cluster-b": Aviatrix controller login at ${host()} got no answer within the 0\\.\\d s`));
    // The run that started the login is not disturbed, and it was the only login.
    expect(await first).toBe('10.0.0.4');
    expect(count(start, 'get_api_token')).toBe(1);
  }, 10_000);

  const abandonedLogins = [
    { where: 'its API token request', plant: () => world.emulator.hangNext(1, { action: 'get_api_token' }), logins: ['get_api_token', 'get_api_token', 'login'] },
    {
      where: 'its credentials secret read',
      plant: () => world.log.faults.inject('secretsmanager', 'GetSecretValue', { kind: 'delay', ms: 3_000 }),
      logins: ['get_api_token', 'login'],
    },
  ];
  test.each(abandonedLogins)('a login given up at another step run\'s deadline (in $where) does not fail the callers waiting on it: they log in afresh under their own clock', async ({ plant, logins }) => {
    const client = new AviatrixClient(world.connection, { baseDelayMs: 5, timeoutMs: 30_000 });
    plant();
    const start = world.emulator.requests().length;
    const callLogStart = world.log.since().length;
    // A run with little time left starts the login (in Lambda: the invocation before a warm container's next).
    const abandoned = failure(inStep(CLEANUP_MS + 300, () => client.getGateway('spoke-a'), 'StepA', 'cluster-a'));
    while (world.log.since().length === callLogStart) await new Promise((resolve) => setTimeout(resolve, 5));
    const next = inStep(60_000, () => client.getGateway('spoke-a'), 'StepB', 'cluster-b').then((gateway) => gateway?.private_ip, (e: Error) => e.message);
    expect((await abandoned)?.message).toMatch(/^StepA for cluster "cluster-a": .* got no answer within the 0\.\d s/);
    expect(await next).toBe('10.0.0.4');
    expect(world.emulator.actions().slice(start).filter((a) => a === 'get_api_token' || a === 'login')).toEqual(logins);
  }, 10_000);
});
