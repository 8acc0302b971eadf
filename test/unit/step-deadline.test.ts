// The step deadline on SDK calls (withStepDeadline in lambdas/shared/aws.ts, callBudget and
// asCleanup in lambdas/shared/step.ts), against a local HTTP server standing in for DynamoDB.
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { DescribeLimitsCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { withStepDeadline } from '../../lambdas/shared/aws';
import { asCleanup, beginInvocation, CLEANUP_MS, runStep } from '../../lambdas/shared/step';

let server: Server;
let client: DynamoDBClient;
/** Every request the server got, and whether its connection was closed by the client. */
const seen: { answered: boolean; closed: Promise<void> }[] = [];
let answer = false;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
    seen.push({ answered: answer, closed });
    req.resume();
    // A silent service: no answer unless the test asks for one.
    if (answer) res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{"TableNames":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = withStepDeadline(
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 3,
      requestHandler: { requestTimeout: 60_000 },
    }),
  );
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
  answer = false;
});

/** Runs `work` as a step whose Lambda stops `leftMs` from now. */
function inStep<T>(leftMs: number, work: () => Promise<T>): Promise<T> {
  const stopsAt = Date.now() + leftMs;
  beginInvocation({}, { awsRequestId: 'request-1', functionName: 'test-function', getRemainingTimeInMillis: () => stopsAt - Date.now() });
  return runStep('TestStep', 'deadline-cluster', work);
}

test('a call that outlives its step ends in a TransientError naming it, and the request is aborted, not left to retry', async () => {
  const error = await inStep(CLEANUP_MS + 300, () => client.send(new ListTablesCommand({}))).catch((e: Error) => e);
  expect(error).toMatchObject({ name: 'TransientError' });
  expect((error as Error).message).toMatch(/^TestStep for cluster "deadline-cluster": DynamoDB ListTables got no answer within the 0\.\d s the step had left/);
  expect(seen).toHaveLength(1);
  // The client closed the connection (the abort): the SDK's 60 s request timeout would keep it open.
  await seen[0].closed;
  // And it sent no retry after the abort.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(seen).toHaveLength(1);
}, 10_000);

test('a work call inside the cleanup window is refused unsent; a lease release there is still sent', async () => {
  answer = true;
  const refused = await inStep(CLEANUP_MS - 1_000, () => client.send(new ListTablesCommand({}))).catch((e: Error) => e);
  expect(refused).toMatchObject({ name: 'TransientError' });
  expect(seen).toHaveLength(0);
  const released = await inStep(CLEANUP_MS - 1_000, () => asCleanup(() => client.send(new ListTablesCommand({}))));
  expect(released.TableNames).toEqual([]);
  expect(seen).toHaveLength(1);
});

test('outside a step (no Lambda clock) a call has no deadline', async () => {
  answer = true;
  beginInvocation({});
  const listed = await runStep('TestStep', undefined, () => client.send(new ListTablesCommand({})));
  expect(listed.TableNames).toEqual([]);
});

test("the SDK's own request timeout, well inside the step's time, names the call that timed out", async () => {
  const { port } = server.address() as AddressInfo;
  const impatient = withStepDeadline(
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
      maxAttempts: 1,
      requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true },
    }),
  );
  try {
    const error = await inStep(60_000, () => impatient.send(new ListTablesCommand({}))).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'TransientError' });
    expect((error as Error).message).toMatch(/^TestStep for cluster "deadline-cluster" failed in DynamoDB ListTables: TimeoutError: .*200 ms requestTimeout/);
  } finally {
    impatient.destroy();
  }
});

test('a call that fails inside another (the credentials of a member account from STS) is the one named', async () => {
  const { port } = server.address() as AddressInfo;
  const options = { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', maxAttempts: 1 };
  // Stands in for the hub's STS client of lambdas/shared/aws.ts memberCredentials: its timeout is rethrown as it is.
  const inner = withStepDeadline(
    new DynamoDBClient({ ...options, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, requestHandler: { requestTimeout: 200, throwOnRequestTimeout: true } }),
  );
  const outer = withStepDeadline(
    new DynamoDBClient({
      ...options,
      credentials: async () => {
        await inner.send(new DescribeLimitsCommand({}));
        return { accessKeyId: 'testing', secretAccessKey: 'testing' };
      },
    }),
  );
  try {
    const error = await inStep(60_000, () => outer.send(new ListTablesCommand({}))).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^TestStep for cluster "deadline-cluster" failed in DynamoDB DescribeLimits: TimeoutError: /);
  } finally {
    inner.destroy();
    outer.destroy();
  }
});
