// Several AWS accounts and Regions in one local world. moto keeps every account apart by itself
// (credentials from STS AssumeRole act in the role's account); what it does not do is refuse an
// AssumeRole, so the directory below stands in for the member stacks' roles and their trust: a
// role is assumable only in an account and Region that has "deployed" the member stack, and only
// with the external id. The EKS and Auto Scaling emulators are one per account and Region; a router
// on the endpoint the Lambdas use sends each request to its account's and Region's emulator, found
// from the request's SigV4 credential (access key -> account, scope -> Region).
import http from 'node:http';
import { closeServer, listenOnLoopback } from './loopback';

/** moto's account for the plain test credentials ('testing'): the hub's. */
export const HUB_ACCOUNT = '123456789012';

export interface MemberStack {
  account: string;
  region: string;
  /** Member role names start with it (config members.roleNamePrefix). */
  roleNamePrefix: string;
  /** sts:ExternalId the trust requires (config members.externalId). */
  externalId?: string;
}

export class AccountDirectory {
  private readonly accounts = new Map<string, string>([['testing', HUB_ACCOUNT]]);
  private readonly stacks = new Map<string, MemberStack>();
  /** Every role an admitted AssumeRole assumed, in order (repeats included). */
  readonly assumed: string[] = [];

  /** A member stack deployed in `stack.account`/`stack.region`: its roles become assumable. */
  deployMemberStack(stack: MemberStack): void {
    this.stacks.set(`${stack.account}/${stack.region}`, stack);
  }

  /** Why STS refuses this AssumeRole (as AWS words it), or undefined when the trust admits it. */
  refusal(roleArn: string, externalId: string | undefined, caller: string): string | undefined {
    const m = /^arn:aws:iam::(\d{12}):role\/(.+)-([a-z]{2}(?:-[a-z]+)+-\d)$/.exec(roleArn);
    const stack = m ? this.stacks.get(`${m[1]}/${m[3]}`) : undefined;
    const admitted = stack && m![2].startsWith(`${stack.roleNamePrefix}-`) && stack.externalId === externalId;
    if (admitted) this.assumed.push(roleArn);
    return admitted ? undefined : `User: ${caller} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
  }

  /** Learns the account of the credentials an AssumeRole answer hands out. */
  learn(answer: string): void {
    const key = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(answer)?.[1];
    const account = /<Arn>arn:aws:sts::(\d{12}):assumed-role\//.exec(answer)?.[1];
    if (key && account) this.accounts.set(key, account);
  }

  /** The account and Region a SigV4-signed request acts in. */
  locate(authorization: string | undefined): { account?: string; region?: string } {
    const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(authorization ?? '');
    return m ? { account: this.accounts.get(m[1]), region: m[2] } : {};
  }
}

/** One endpoint in front of per-account/Region emulators ("<account>/<region>" -> base URL). */
export async function startAccountRouter(directory: AccountDirectory, backends: Map<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const { account, region } = directory.locate(req.headers.authorization);
    const backend = backends.get(`${account}/${region}`);
    if (!backend) {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'UnrecognizedClientException' });
      res.end(JSON.stringify({ message: `The security token included in the request is invalid (no account ${account ?? '?'} in Region ${region ?? '?'} in this local world)` }));
      return;
    }
    const target = new URL(backend);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    // An emulator that drops the connection (a fault) drops it here too.
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const port = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}
