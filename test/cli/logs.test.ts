// `eks-aviatrix logs <cluster>` against the local world, with CloudWatch Logs in moto: the last
// run is the one the status record names, its lines come from every function's log group (named
// from the prefix), oldest first, and nothing of another run gets in, even a line that mentions it.
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { main } from '../../cli/main';
import { DeployedStack, deployStackLocally } from '../local-world/deployed-stack';
import { OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';

let w: OnboardingWorld;
let stack: DeployedStack;
const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

const RUN = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:eks-aviatrix-cluster-onboarding:${name}`;
const LAST = RUN('CLI-logs-a-2');
const EARLIER = RUN('CLI-logs-a-1');
const T0 = Date.parse('2026-12-01T10:00:00Z');

/** A line as Powertools writes it (lambdas/shared/logger.ts and step.ts keys). */
const line = (executionId: string, step: string, message: string) => JSON.stringify({ level: 'INFO', message, service: 'eks-aviatrix-onboarding', step, cluster: 'logs-a', executionId });

async function putLines(group: string, events: { at: number; message: string }[]): Promise<void> {
  const client = new CloudWatchLogsClient({ endpoint: w.world.motoDirectEndpoint, region: 'us-east-1', credentials });
  await client.send(new CreateLogGroupCommand({ logGroupName: group }));
  await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'stream-1' }));
  await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: 'stream-1', logEvents: events.map((e) => ({ timestamp: e.at, message: e.message })) }));
  client.destroy();
}

beforeAll(async () => {
  w = await startOnboardingWorld();
  stack = await deployStackLocally(w);
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = w.world.motoEndpoint;
  const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: 'us-east-1', credentials });
  // What record-outcome writes: the run's execution id on the cluster's record.
  await dynamo.send(new PutItemCommand({ TableName: STATUS_TABLE, Item: { clusterName: { S: 'logs-a' }, status: { S: 'ONBOARDED' }, executionId: { S: LAST } } }));
  dynamo.destroy();
  await putLines('/aws/lambda/eks-aviatrix-resolve-cluster', [
    { at: T0, message: line(EARLIER, 'resolve-cluster', 'earlier run: resolved') },
    { at: T0 + 60_000, message: 'START RequestId: 1 Version: $LATEST' },
    { at: T0 + 60_001, message: line(LAST, 'resolve-cluster', 'cluster resolved') },
  ]);
  await putLines('/aws/lambda/eks-aviatrix-record-outcome', [
    { at: T0 + 30_000, message: line(EARLIER, 'record-outcome', `mentions ${LAST} but belongs to the earlier run`) },
    { at: T0 + 90_000, message: line(LAST, 'record-outcome', 'outcome recorded') },
  ]);
}, 120_000);

afterAll(async () => {
  delete process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS;
  await stack?.stop();
  await w?.stop();
});

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

test('prints the last run\'s lines from every function, oldest first, and no other run\'s', async () => {
  const result = await cli('logs', 'logs-a');
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.split('\n').filter(Boolean)).toEqual([
    `Last run of logs-a: ${LAST}`,
    '2026-12-01T10:01:00.001Z  resolve-cluster  INFO  cluster resolved',
    '2026-12-01T10:01:30.000Z  record-outcome   INFO  outcome recorded',
  ]);
});

test('--json: the execution and its lines with every key they carry', async () => {
  const result = await cli('logs', 'logs-a', '--json');
  const doc = JSON.parse(result.stdout) as { executionId: string; lines: { function: string; message: string; executionId: string; timestamp: string }[] };
  expect(doc.executionId).toBe(LAST);
  expect(doc.lines.map((l) => [l.function, l.message, l.executionId])).toEqual([
    ['resolve-cluster', 'cluster resolved', LAST],
    ['record-outcome', 'outcome recorded', LAST],
  ]);
});

test('a cluster with no recorded run says so (exit 0); a missing cluster name is a usage error', async () => {
  expect(await cli('logs', 'never-ran')).toEqual({ code: 0, stdout: 'No run recorded for never-ran: its log lines are found once a run has finished.\n', stderr: '' });
  expect((await cli('logs')).code).toBe(64);
});
