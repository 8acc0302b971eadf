// Starts moto's server (EC2, STS, Secrets Manager, DynamoDB) on a free loopback port, behind a
// small recording proxy so tests can count the AWS calls the code under test made.
import { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { CallLog, isReadAction, ServiceName } from './call-log';
import { applyFault, awsErrorCode, dropResponse, ErrorAnswer } from './faults';
import { contains, formatCidr, Ipv4Cidr, overlaps, parseCidr } from '../../lambdas/shared/cidr';
import { closeServer, listenOnLoopback } from './loopback';
import { spawnMoto, takeSharedMoto, untilServing } from './moto-pool';
import type { AccountDirectory } from './accounts';

export interface MotoServer {
  /** The recording proxy's URL: give this to the code under test. */
  endpoint: string;
  /** moto itself, unrecorded: for test set-up and assertions. */
  directEndpoint: string;
  /**
   * After an AssociateVpcCidrBlock through the proxy, the next `reads` DescribeVpcs answers that
   * show the new association report it `associating`, as EC2 does for a while (0 by default: the
   * workflows' call and transition counts elsewhere assume it settles at once).
   */
  settleAssociationsAfter(reads: number): void;
  stop(): Promise<void>;
}

/** Connections the recording proxy keeps open to moto at most (each is a thread of moto's). */
const MOTO_CONNECTIONS = 32;

export async function freePort(): Promise<number> {
  const server = http.createServer();
  const port = await listenOnLoopback(server);
  await closeServer(server);
  return port;
}

export async function startMoto(log: CallLog, accounts?: AccountDirectory): Promise<MotoServer> {
  const shared = await takeSharedMoto();
  if (shared) {
    const proxy = await startRecordingProxy(shared.port, log, accounts);
    return {
      endpoint: proxy.url,
      directEndpoint: `http://127.0.0.1:${shared.port}`,
      settleAssociationsAfter: (reads) => {
        proxy.settling.reads = reads;
      },
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
  const proxy = await startRecordingProxy(port, log, accounts);
  return {
    endpoint: proxy.url,
    directEndpoint,
    settleAssociationsAfter: (reads) => {
      proxy.settling.reads = reads;
    },
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
 * DynamoDB applies each conditional write atomically, per item; moto's threaded server checks and
 * writes without a lock, so two racing conditional puts on one item can both succeed. The proxy
 * therefore passes writes of one item to moto one at a time, which restores the guarantee the
 * lease code relies on; writes of different items go on in parallel, as in DynamoDB (one queue for
 * every write made the crowd's writes wait on each other until the SDK's request timeout, and the
 * timed-out retries queued behind their own abandoned attempts). A write whose item the proxy cannot
 * tell (a batch, a table operation) waits for every write before it, and every later write waits for it.
 */
export function itemSerializer() {
  const tails = new Map<string, Promise<void>>();
  let all: Promise<unknown> = Promise.resolve();
  return <T>(item: string | undefined, work: () => Promise<T>): Promise<T> => {
    const before = item === undefined ? Promise.all([all, ...tails.values()]) : Promise.all([all, tails.get(item)]);
    const next = before.then(work);
    const done = next.then(
      () => undefined,
      () => undefined,
    );
    if (item === undefined) {
      all = done;
      tails.clear();
    } else {
      tails.set(item, done);
      void done.then(() => {
        if (tails.get(item) === done) tails.delete(item);
      });
    }
    return next;
  };
}

/**
 * The item a DynamoDB write is for ("<table> <key>"), or undefined when it is not one item's: the
 * Key of an UpdateItem or DeleteItem, the key attributes (`keyOf(table)`) of a PutItem's Item.
 */
async function writtenItem(action: string, body: string, keyOf: (table: string) => Promise<string[]>): Promise<string | undefined> {
  if (!['PutItem', 'UpdateItem', 'DeleteItem'].includes(action)) return undefined;
  try {
    const request = JSON.parse(body) as { TableName?: string; Key?: Record<string, unknown>; Item?: Record<string, unknown> };
    if (!request.TableName) return undefined;
    const key = request.Key ?? Object.fromEntries((await keyOf(request.TableName)).map((name) => [name, request.Item?.[name]]));
    return `${request.TableName} ${JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)))}`;
  } catch {
    return undefined;
  }
}

/** A table's key attribute names, read once from moto (DescribeTable); [] when it has none (the write is then the table's). */
function tableKeys(motoPort: number): (table: string) => Promise<string[]> {
  const known = new Map<string, Promise<string[]>>();
  return (table) => {
    if (!known.has(table)) {
      const read = fetch(`http://127.0.0.1:${motoPort}/`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'DynamoDB_20120810.DescribeTable',
          authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        },
        body: JSON.stringify({ TableName: table }),
      })
        .then((answer) => answer.json() as Promise<{ Table?: { KeySchema?: { AttributeName: string }[] } }>)
        .then((answer) => (answer.Table?.KeySchema ?? []).map((k) => k.AttributeName));
      // A failed read is not kept: the next write of the table asks again.
      read.catch(() => known.delete(table));
      known.set(table, read);
    }
    return known.get(table)!;
  };
}

/**
 * Associations still settling: association id -> DescribeVpcs answers left that show it
 * `associating` (moto reports `associated` at once).
 */
class Settling {
  reads = 0;
  private readonly pending = new Map<string, number>();
  private readonly blocks = new Map<string, Ipv4Cidr>();

  associated(answer: string): void {
    const id = /<associationId>([^<]+)<\/associationId>/.exec(answer)?.[1];
    const cidr = parseCidr(/<cidrBlock>([^<]+)<\/cidrBlock>/.exec(answer)?.[1] ?? '');
    if (!id || !cidr || this.reads <= 0) return;
    this.pending.set(id, this.reads);
    this.blocks.set(id, cidr);
  }

  /** The settling block a new subnet would be carved from: EC2 refuses it until the block is associated. */
  unsettled(subnetCidr: string): string | undefined {
    const wanted = parseCidr(subnetCidr);
    if (!wanted) return undefined;
    const id = [...this.pending.keys()].find((key) => contains(this.blocks.get(key)!, wanted));
    return id && formatCidr(this.blocks.get(id)!);
  }

  /** Rewrites one DescribeVpcs answer, using up one read of each association it shows settling. */
  describe(answer: string): string {
    let text = answer;
    for (const [id, left] of this.pending) {
      const item = new RegExp(`<item>((?:(?!<item>)[\\s\\S])*?<associationId>${id}</associationId>[\\s\\S]*?)</item>`);
      const match = item.exec(text);
      if (!match || !/<state>associated<\/state>/.test(match[1])) continue;
      text = text.replace(match[0], `<item>${match[1].replace('<state>associated</state>', '<state>associating</state>')}</item>`);
      if (left <= 1) {
        this.pending.delete(id);
        this.blocks.delete(id);
      }
      else this.pending.set(id, left - 1);
    }
    return text;
  }
}

async function startRecordingProxy(targetPort: number, log: CallLog, accounts?: AccountDirectory): Promise<{ url: string; settling: Settling; close(): Promise<void> }> {
  const oneWritePerItem = itemSerializer();
  const keyOf = tableKeys(targetPort);
  // moto's server accepts connections on one thread and spawns a thread for each: a crowd that
  // opened a connection per request overflowed its listen queue, and each dropped connection
  // waited out TCP's SYN retransmission (1, 3, 7, 15 s...) with the machine idle. A bounded pool
  // of kept-alive connections queues the excess here instead (a real endpoint does not drop them).
  const upstreamAgent = new http.Agent({ keepAlive: true, maxSockets: MOTO_CONNECTIONS });
  const settling = new Settling();
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, drop = false, rewrite?: (answer: string) => string) =>
    new Promise<void>((resolve) => {
      const upstream = http.request(
        { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent: upstreamAgent },
        (upstreamRes) => {
          // A client gone before its answer (a killed invocation, a client timeout): the answer is
          // drained, so it ends and the DynamoDB write queue moves on (piped into a closed socket
          // it would pause for ever, and every later write with it).
          if (res.destroyed) {
            upstreamRes.resume();
            upstreamRes.on('end', resolve);
            return;
          }
          if (drop) {
            upstreamRes.resume();
            upstreamRes.on('end', () => {
              dropResponse(res);
              resolve();
            });
            return;
          }
          if (rewrite) {
            const chunks: Buffer[] = [];
            upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
            upstreamRes.on('end', () => {
              const text = rewrite(Buffer.concat(chunks).toString('utf8'));
              res.writeHead(upstreamRes.statusCode ?? 502, { ...endToEnd(upstreamRes.headers), 'content-length': String(Buffer.byteLength(text)) });
              res.end(text);
              resolve();
            });
            upstreamRes.on('error', () => resolve());
            return;
          }
          res.writeHead(upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers));
          upstreamRes.pipe(res);
          // A client gone during its answer: pipe's own clean-up pauses the answer when the client's
          // socket closes, so it is resumed after that (a listener added before pipe ran first and
          // the answer stayed paused, its DynamoDB write queue with it, once moto kept connections).
          res.once('close', () => upstreamRes.resume());
          upstreamRes.on('end', resolve);
          upstreamRes.on('error', () => resolve());
        },
      );
      upstream.on('error', (error) => {
        if (!res.destroyed) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`moto proxy: ${error.message}`);
        }
        resolve();
      });
      // A client that gave up while its request still queued for a connection to moto (its
      // request timeout, a killed invocation) is not served: moto's time goes to those still
      // waiting. Once sent, the request runs to its end, as on a real endpoint.
      const abandon = () => {
        if (upstream.socket) return;
        upstream.destroy();
        resolve();
      };
      res.once('close', abandon);
      upstream.once('socket', () => res.off('close', abandon));
      if (res.destroyed) abandon();
      else upstream.end(body);
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
      void applyFault(log.faults.take(service, action, body.toString()), req, res, (status, code) => awsError(service, status, code)).then((next) => {
        if (next === 'answered') return;
        const drop = next === 'serve-and-drop';
        if (action === 'AssociateVpcCidrBlock') {
          // Checked when the request is served (a delayed one too), as EC2 does and moto does not.
          void refusedAssociation(targetPort, body.toString()).then((refusal) => {
            if (!refusal) {
              return void forward(req, res, body, drop, (answer) => {
                settling.associated(answer);
                return answer;
              });
            }
            refuse(res, refusal.code, refusal.message);
          });
          return;
        }
        if (accounts && action === 'AssumeRole') {
          // moto assumes any role; the member roles' trust is the directory's (accounts.ts).
          const params = new URLSearchParams(body.toString());
          const caller = `arn:aws:sts::${accounts.locate(req.headers.authorization).account ?? '?'}:assumed-role/hub`;
          const refusal = accounts.refusal(params.get('RoleArn') ?? '', params.get('ExternalId') ?? undefined, caller);
          if (refusal) {
            const answer = awsError('sts', 403, 'AccessDenied', refusal);
            res.writeHead(403, { 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers });
            res.end(answer.body);
          } else {
            void forward(req, res, body, drop, (answer) => {
              accounts.learn(answer);
              return answer;
            });
          }
          return;
        }
        const unsettled = action === 'CreateSubnet' ? settling.unsettled(new URLSearchParams(body.toString()).get('CidrBlock') ?? '') : undefined;
        if (unsettled) {
          refuse(res, 'InvalidSubnet.Range', `The CIDR block ${unsettled} of the VPC is still associating`);
        } else if (action === 'DescribeVpcs') void forward(req, res, body, drop, (answer) => settling.describe(answer));
        else if (service === 'dynamodb' && write) {
          void writtenItem(action, body.toString(), keyOf).then((item) => oneWritePerItem(item, () => forward(req, res, body, drop)));
        }
        else void forward(req, res, body, drop);
      });
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    settling,
    close: async () => {
      await closeServer(server);
      upstreamAgent.destroy();
    },
  };
}

/**
 * An answer's headers without those of moto's connection to the proxy (RFC 9110 7.6.1): a
 * `Connection: close` passed on closed the client's connection to the proxy after every call.
 */
function endToEnd(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const hopByHop = new Set(['connection', 'keep-alive', ...String(headers.connection ?? '').toLowerCase().split(',').map((name) => name.trim())]);
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hopByHop.has(name)));
}

/** EC2's 400 answer refusing a request. */
function refuse(res: http.ServerResponse, code: string, message: string): void {
  const answer = awsError('ec2', 400, code, message);
  res.writeHead(400, { 'content-length': String(Buffer.byteLength(answer.body)), ...answer.headers });
  res.end(answer.body);
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

const block = (text: string): Ipv4Cidr => parseCidr(text)!;
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map(block);
const BENCHMARK = block('198.19.0.0/16');
/** IPv4 CIDR blocks a VPC may have (its primary included): EC2's default quota. */
export const VPC_CIDR_QUOTA = 5;

/**
 * EC2's IPv4 association restrictions by the range the VPC's primary CIDR is in: a block from
 * another RFC 1918 range than the primary's, or from 198.19.0.0/16 (unless the primary is there),
 * is refused; a primary outside RFC 1918 (100.64.0.0/10, 198.19.0.0/16, public) takes no RFC 1918 block.
 */
function restricted(primary: Ipv4Cidr, wanted: Ipv4Cidr): boolean {
  const privateOf = (c: Ipv4Cidr) => PRIVATE_RANGES.find((range) => contains(range, c));
  const wantedPrivate = privateOf(wanted);
  const primaryPrivate = privateOf(primary);
  if (wantedPrivate) return wantedPrivate !== primaryPrivate;
  if (contains(BENCHMARK, wanted)) return !contains(BENCHMARK, primary);
  return false;
}

/**
 * Why EC2 would refuse this AssociateVpcCidrBlock and moto does not: a size outside /16../28,
 * the VPC's CIDR quota reached, a restricted range for its primary CIDR, or a CIDR that overlaps
 * one the VPC already has (a late retry of our own association, too). Undefined when it may go ahead.
 */
async function refusedAssociation(motoPort: number, body: string): Promise<{ code: string; message: string } | undefined> {
  const params = new URLSearchParams(body);
  const vpcId = params.get('VpcId');
  const text = params.get('CidrBlock') ?? '';
  const wanted = parseCidr(text);
  if (!vpcId || !wanted) return undefined;
  if (wanted.prefix < 16 || wanted.prefix > 28) return { code: 'InvalidVpc.Range', message: `The CIDR '${text}' is invalid.` };
  const answer = await fetch(`http://127.0.0.1:${motoPort}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: new URLSearchParams({ Action: 'DescribeVpcs', Version: '2016-11-15', 'VpcId.1': vpcId }).toString(),
  }).then((r) => r.text());
  const blocks = [...answer.matchAll(/<cidrBlock>([^<]+)<\/cidrBlock>\s*<cidrBlockState>\s*<state>(associated|associating)</g)].map((m) => m[1]);
  const clash = blocks.find((existing) => {
    const parsed = parseCidr(existing);
    return parsed !== undefined && overlaps(parsed, wanted);
  });
  if (clash) return { code: 'InvalidVpc.Range', message: `The CIDR '${text}' overlaps the CIDR '${clash}' of ${vpcId}` };
  if (blocks.length >= VPC_CIDR_QUOTA) {
    return { code: 'CidrLimitExceeded', message: `This network '${vpcId}' has met its maximum number of allowed CIDRs: ${VPC_CIDR_QUOTA}` };
  }
  const primary = parseCidr(/<cidrBlock>([^<]+)<\/cidrBlock>/.exec(answer)?.[1] ?? '');
  if (primary && restricted(primary, wanted)) {
    return {
      code: 'InvalidVpc.Range',
      message: `The CIDR '${text}' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, or use a publicly-routable CIDR.`,
    };
  }
  return undefined;
}
