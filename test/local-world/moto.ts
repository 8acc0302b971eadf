// Starts moto's server (EC2, STS, Secrets Manager, DynamoDB) on a free loopback port, behind a
// small recording proxy so tests can count the AWS calls the code under test made.
import { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { CallLog, isReadAction, ServiceName } from './call-log';
import { applyFault, awsErrorCode, dropResponse, ErrorAnswer } from './faults';
import { overlaps, parseCidr } from '../../lambdas/shared/cidr';
import { closeServer, listenOnLoopback } from './loopback';
import { spawnMoto, takeSharedMoto, untilServing } from './moto-pool';

export interface MotoServer {
  /** The recording proxy's URL: give this to the code under test. */
  endpoint: string;
  /** moto itself, unrecorded: for test set-up and assertions. */
  directEndpoint: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = http.createServer();
  const port = await listenOnLoopback(server);
  await closeServer(server);
  return port;
}

export async function startMoto(log: CallLog): Promise<MotoServer> {
  const shared = await takeSharedMoto();
  if (shared) {
    const proxy = await startRecordingProxy(shared.port, log);
    return {
      endpoint: proxy.url,
      directEndpoint: `http://127.0.0.1:${shared.port}`,
      stop: async () => {
        await proxy.close();
        shared.release();
      },
    };
  }
  const port = await freePort();
  const child = spawnMoto(port, 'pipe');
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const directEndpoint = `http://127.0.0.1:${port}`;
  try {
    await untilServing(directEndpoint, () =>
      child.exitCode === null
        ? undefined
        : `moto server exited with code ${child.exitCode} before serving. It is started as ` +
          `"python3 -m moto.server"; install it with "pip install 'moto[server]==5.2.1'".\n${stderr}`,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const proxy = await startRecordingProxy(port, log);
  return {
    endpoint: proxy.url,
    directEndpoint,
    stop: async () => {
      await proxy.close();
      await stopProcess(child);
    },
  };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Which AWS service a request is for, from its SigV4 credential scope. */
function serviceOf(authorization: string | undefined): ServiceName {
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(authorization ?? '');
  const name = scope?.[1];
  if (name === 'ec2' || name === 'sts' || name === 'dynamodb' || name === 'secretsmanager') return name;
  return 'other';
}

/** The API action: X-Amz-Target for JSON protocols, Action= for query protocols. */
function actionOf(target: string | undefined, body: string, url: string): string {
  if (target) return target.split('.').pop() ?? target;
  const fromBody = new URLSearchParams(body).get('Action');
  if (fromBody) return fromBody;
  return new URL(url, 'http://x').searchParams.get('Action') ?? 'Unknown';
}

/**
 * DynamoDB applies each conditional write atomically; moto's threaded server checks and writes
 * without a lock, so two racing conditional puts can both succeed. The proxy therefore passes
 * DynamoDB writes to moto one at a time, which restores the guarantee the lease code relies on.
 */
function serializer() {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const next = tail.then(work, work);
    tail = next.catch(() => undefined);
    return next;
  };
}

async function startRecordingProxy(targetPort: number, log: CallLog): Promise<{ url: string; close(): Promise<void> }> {
  const oneDynamoWriteAtATime = serializer();
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, drop = false) =>
    new Promise<void>((resolve) => {
      const upstream = http.request(
        { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (upstreamRes) => {
          if (drop) {
            upstreamRes.resume();
            upstreamRes.on('end', () => {
              dropResponse(res);
              resolve();
            });
            return;
          }
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
          upstreamRes.on('end', resolve);
          upstreamRes.on('error', () => resolve());
        },
      );
      upstream.on('error', (error) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`moto proxy: ${error.message}`);
        resolve();
      });
      upstream.end(body);
    });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const service = serviceOf(req.headers.authorization);
      const action = actionOf(req.headers['x-amz-target'] as string | undefined, body.toString(), req.url ?? '/');
      const write = !isReadAction(action);
      log.record(service, action, write);
      void applyFault(log.faults.take(service, action), req, res, (status, code) => awsError(service, status, code)).then((next) => {
        if (next === 'answered') return;
        const drop = next === 'serve-and-drop';
        if (action === 'AssociateVpcCidrBlock') {
          // Checked when the request is served (a delayed one too), as EC2 does and moto does not.
          void refusedAssociation(targetPort, body.toString()).then((refusal) => {
            if (!refusal) return void forward(req, res, body, drop);
            const answer = awsError('ec2', 400, 'InvalidVpc.Range', refusal);
            res.writeHead(400, { 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers });
            res.end(answer.body);
          });
          return;
        }
        if (service === 'dynamodb' && write) void oneDynamoWriteAtATime(() => forward(req, res, body, drop));
        else void forward(req, res, body, drop);
      });
    });
  });
  const port = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** An error answer in the service's own protocol: EC2 and STS XML, JSON for DynamoDB and Secrets Manager. */
function awsError(service: ServiceName, status: number, code: string | undefined, message = `injected fault ${status}`): ErrorAnswer {
  if (service === 'ec2') {
    const name = awsErrorCode(status, code, 'RequestLimitExceeded');
    return {
      headers: { 'content-type': 'text/xml' },
      body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${name}</Code><Message>${message}</Message></Error></Errors><RequestID>fault</RequestID></Response>`,
    };
  }
  if (service === 'sts') {
    const name = awsErrorCode(status, code, 'Throttling');
    return {
      headers: { 'content-type': 'text/xml' },
      body: `<ErrorResponse><Error><Type>Sender</Type><Code>${name}</Code><Message>${message}</Message></Error><RequestId>fault</RequestId></ErrorResponse>`,
    };
  }
  const name = awsErrorCode(status, code, 'ThrottlingException');
  return { headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: name, message }) };
}

/**
 * Why EC2 would refuse this AssociateVpcCidrBlock and moto does not: the CIDR overlaps one the VPC
 * already has (a late retry of our own association, too). Undefined when it may go ahead.
 */
async function refusedAssociation(motoPort: number, body: string): Promise<string | undefined> {
  const params = new URLSearchParams(body);
  const vpcId = params.get('VpcId');
  const wanted = parseCidr(params.get('CidrBlock') ?? '');
  if (!vpcId || !wanted) return undefined;
  const answer = await fetch(`http://127.0.0.1:${motoPort}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: new URLSearchParams({ Action: 'DescribeVpcs', Version: '2016-11-15', 'VpcId.1': vpcId }).toString(),
  }).then((r) => r.text());
  const blocks = [...answer.matchAll(/<cidrBlock>([^<]+)<\/cidrBlock>\s*<cidrBlockState>\s*<state>(associated|associating)</g)].map((m) => m[1]);
  const clash = blocks.find((block) => {
    const existing = parseCidr(block);
    return existing !== undefined && overlaps(existing, wanted);
  });
  return clash ? `The CIDR '${params.get('CidrBlock')}' overlaps the CIDR '${clash}' of ${vpcId}` : undefined;
}
