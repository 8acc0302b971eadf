// One classification for every client, over REAL error objects: each client (the AWS SDK for EC2,
// EKS, DynamoDB and Secrets Manager, our Kubernetes client, our controller client) is pointed at a
// stand-in that answers with the status, resets the connection, never answers, or serves another
// CA's certificate; what the client throws is classified, and runStep turns it into what the ASL sees.
import http from 'node:http';
import https from 'node:https';
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AviatrixClient, resetAviatrixClientState } from '../../lambdas/aviatrix/client';
import { isTransient, retryAfterMs } from '../../lambdas/shared/classify';
import { KubeClient } from '../../lambdas/shared/kube';
import { runStep } from '../../lambdas/shared/step';
import { closeServer, listenOnLoopback } from '../local-world/loopback';
import { makeSelfSignedCertificate } from '../local-world/tls';

type Answer = { status: number; headers?: Record<string, string>; body?: string } | 'reset' | 'hang';

/** What the stand-in does with the next requests; Secrets Manager always answers the secret unless told. */
let answer: Answer = 'hang';
let secretAnswer: Answer | undefined;

function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  req.on('end', () => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const planned = target.startsWith('secretsmanager.')
      ? (secretAnswer ?? { status: 200, body: JSON.stringify({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) }) })
      : answer;
    if (planned === 'reset') return void req.socket.destroy();
    if (planned === 'hang') return;
    res.writeHead(planned.status, planned.headers ?? {});
    res.end(planned.body ?? '');
  });
}

const ours = makeSelfSignedCertificate();
const theirs = makeSelfSignedCertificate();
const plain = http.createServer(serve);
const tls = https.createServer({ key: ours.keyPem, cert: ours.certPem }, serve);
const otherCa = https.createServer({ key: theirs.keyPem, cert: theirs.certPem }, serve);
let plainUrl = '';
let tlsUrl = '';
let otherCaUrl = '';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
const region = 'us-east-1';
const TIMEOUT_MS = 300;

beforeAll(async () => {
  process.env.AWS_REGION = region;
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  plainUrl = `http://127.0.0.1:${await listenOnLoopback(plain)}`;
  tlsUrl = `https://127.0.0.1:${await listenOnLoopback(tls as unknown as http.Server)}`;
  otherCaUrl = `https://127.0.0.1:${await listenOnLoopback(otherCa as unknown as http.Server)}`;
});
afterAll(async () => {
  for (const server of [plain, tls, otherCa]) await closeServer(server as http.Server);
});
beforeEach(() => {
  secretAnswer = undefined;
  resetAviatrixClientState();
});

const sdk = { region, credentials, maxAttempts: 1, requestHandler: { requestTimeout: TIMEOUT_MS, connectionTimeout: TIMEOUT_MS, throwOnRequestTimeout: true } };
const ec2Xml = (status: number, code: string): Answer => ({
  status,
  headers: { 'content-type': 'text/xml' },
  body: `<Response><Errors><Error><Code>${code}</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>`,
});
const json = (status: number, code: string): Answer => ({
  status,
  headers: { 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify({ __type: `com.amazonaws#${code}`, message: 'm' }),
});
const restJson = (status: number, code: string): Answer => ({
  status,
  headers: { 'content-type': 'application/json', 'x-amzn-errortype': code },
  body: JSON.stringify({ message: 'm' }),
});
const kubeStatus = (status: number): Answer => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ kind: 'Status', status: 'Failure', code: status, message: `answered ${status}` }),
});
const controller = (status: number, body: object): Answer => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const ec2Call = (endpoint = plainUrl) => new EC2Client({ ...sdk, endpoint }).send(new DescribeVpcsCommand({}));
const dynamoCall = () => new DynamoDBClient({ ...sdk, endpoint: plainUrl }).send(new GetItemCommand({ TableName: 't', Key: { k: { S: 'v' } } }));
const eksCall = () => new EKSClient({ ...sdk, endpoint: plainUrl }).send(new DescribeClusterCommand({ name: 'c' }));
const kubeCall = (url = tlsUrl) => new KubeClient('c', url, Buffer.from(ours.caPem).toString('base64'), TIMEOUT_MS).apply('/apis/x/v1/things/a', { a: 1 });
const controllerCall = (url = tlsUrl) =>
  new AviatrixClient(
    { controllerUrl: url, credentialsSecretName: 'avx', caBundlePem: ours.caPem, verifyTls: true },
    { maxAttempts: 1, baseDelayMs: 1, timeoutMs: TIMEOUT_MS, secretsManager: new SecretsManagerClient({ ...sdk, endpoint: plainUrl }) },
  ).getGateway('spoke-1');

type Row = [client: string, fault: string, asl: string, answer: Answer, call: () => Promise<unknown>];
const T = 'TransientError';
const rows: Row[] = [
  ['EC2', '500 InternalError', T, ec2Xml(500, 'InternalError'), () => ec2Call()],
  ['EC2', '503 RequestLimitExceeded', T, ec2Xml(503, 'RequestLimitExceeded'), () => ec2Call()],
  ['EC2', '503 Unavailable', T, ec2Xml(503, 'Unavailable'), () => ec2Call()],
  ['EC2', 'connection reset', T, 'reset', () => ec2Call()],
  ['EC2', 'no answer within the timeout', T, 'hang', () => ec2Call()],
  ['EC2', 'DNS failure', T, 'hang', () => ec2Call('http://no-such-host.invalid')],
  ['EC2', '400 InvalidParameterValue', 'InvalidParameterValue', ec2Xml(400, 'InvalidParameterValue'), () => ec2Call()],
  ['EC2', '403 UnauthorizedOperation', 'UnauthorizedOperation', ec2Xml(403, 'UnauthorizedOperation'), () => ec2Call()],
  ['DynamoDB', '400 ThrottlingException', T, json(400, 'ThrottlingException'), dynamoCall],
  ['DynamoDB', '400 ProvisionedThroughputExceededException', T, json(400, 'ProvisionedThroughputExceededException'), dynamoCall],
  ['DynamoDB', '500 InternalServerError', T, json(500, 'InternalServerError'), dynamoCall],
  ['DynamoDB', '400 ConditionalCheckFailedException', 'ConditionalCheckFailedException', json(400, 'ConditionalCheckFailedException'), dynamoCall],
  ['DynamoDB', '400 ResourceNotFoundException', 'ResourceNotFoundException', json(400, 'ResourceNotFoundException'), dynamoCall],
  ['EKS', '429 TooManyRequestsException', T, restJson(429, 'TooManyRequestsException'), eksCall],
  ['EKS', '503 ServiceUnavailableException', T, restJson(503, 'ServiceUnavailableException'), eksCall],
  ['EKS', '500 ServerException', T, restJson(500, 'ServerException'), eksCall],
  ['EKS', '404 ResourceNotFoundException', 'ResourceNotFoundException', restJson(404, 'ResourceNotFoundException'), eksCall],
  ['EKS', '409 ResourceInUseException', 'ResourceInUseException', restJson(409, 'ResourceInUseException'), eksCall],
  ['EKS', '400 InvalidParameterException', 'InvalidParameterException', restJson(400, 'InvalidParameterException'), eksCall],
  ['Kubernetes', '500', T, kubeStatus(500), () => kubeCall()],
  ['Kubernetes', '503', T, kubeStatus(503), () => kubeCall()],
  ['Kubernetes', '429', T, kubeStatus(429), () => kubeCall()],
  ['Kubernetes', 'connection reset', T, 'reset', () => kubeCall()],
  ['Kubernetes', 'no answer within the timeout', T, 'hang', () => kubeCall()],
  ['Kubernetes', '422 Invalid', 'KubeApiError', kubeStatus(422), () => kubeCall()],
  ['Kubernetes', '403 Forbidden', 'KubeApiError', kubeStatus(403), () => kubeCall()],
  ['Kubernetes', '409 Conflict', 'KubeApiError', kubeStatus(409), () => kubeCall()],
  ['Kubernetes', 'certificate from another CA', 'KubeTransportError', kubeStatus(200), () => kubeCall(otherCaUrl)],
  ['controller', '500', T, controller(500, { return: false, reason: 'boom' }), () => controllerCall()],
  ['controller', '503', T, controller(503, { return: false, reason: 'busy' }), () => controllerCall()],
  ['controller', '429', T, controller(429, { message: 'slow down' }), () => controllerCall()],
  ['controller', 'connection reset', T, 'reset', () => controllerCall()],
  ['controller', 'no answer within the timeout', T, 'hang', () => controllerCall()],
  ['controller', '200 return:false', 'ControllerError', controller(200, { return: false, reason: 'no' }), () => controllerCall()],
  ['controller', '400', 'ControllerError', controller(400, { message: 'bad request' }), () => controllerCall()],
  ['controller', 'certificate from another CA', 'ControllerError', controller(200, { return: true }), () => controllerCall(otherCaUrl)],
];

test.each(rows)('%s, %s: the ASL sees %s', async (_client, _fault, asl, planned, call) => {
  answer = planned;
  const raw = await call().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(raw).toBeInstanceOf(Error);
  expect(isTransient(raw)).toBe(asl === T);
  const seen = await runStep('probe', 'c1', () => Promise.reject(raw)).catch((error: Error) => error);
  expect(seen.name).toBe(asl);
  expect(seen.message).toContain((raw as Error).message.slice(0, 40));
});

describe('Secrets Manager (the controller credentials)', () => {
  test.each([
    ['400 ThrottlingException', T, json(400, 'ThrottlingException')],
    ['500 InternalServiceError', T, json(500, 'InternalServiceError')],
    ['connection reset', T, 'reset' as Answer],
    ['400 ResourceNotFoundException', 'ConfigError', json(400, 'ResourceNotFoundException')],
    ['400 AccessDeniedException', 'ConfigError', json(400, 'AccessDeniedException')],
  ])('%s: the ASL sees %s, naming the secret', async (_fault, asl, planned) => {
    secretAnswer = planned;
    answer = controller(200, { return: true, results: { api_token: 't' } });
    const seen = (await runStep('probe', 'c1', () => controllerCall()).then(
      () => undefined,
      (error: Error) => error,
    )) as Error;
    expect(seen.name).toBe(asl);
    expect(seen.message).toContain('secret avx');
  });
});

test('Retry-After: seconds or an HTTP date, capped; absent or unreadable gives none', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  expect(retryAfterMs('2', 10_000, now)).toBe(2000);
  expect(retryAfterMs('120', 10_000, now)).toBe(10_000);
  expect(retryAfterMs('Thu, 01 Jan 2026 00:00:03 GMT', 10_000, now)).toBe(3000);
  expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', 10_000, now)).toBe(0);
  expect(retryAfterMs(undefined, 10_000, now)).toBeUndefined();
  expect(retryAfterMs('soon', 10_000, now)).toBeUndefined();
});
