// Which account and Region a run's cluster lives in. A cluster of the hub's own account and Region
// has no target (undefined): its clients use the function's own credentials and its keys stay the
// bare cluster name, so records and leases written before multi-account support read as they are.
// Any other cluster carries { account, region } in the workflow input; the step wrapper
// (lambdas/shared/step.ts) makes it ambient, so domain modules call ec2()/eks() and the record and
// lease keys as before and reach that account and Region.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface Target {
  account: string;
  region: string;
}

/** What a step runs with: its cluster's target and the invoked function (whose role picks the member role). */
interface Ambient {
  target?: Target;
  functionName?: string;
}

const ambient = new AsyncLocalStorage<Ambient>();

/** Runs `work` with `target` (undefined: the hub's own account and Region) as the ambient target. */
export function withTarget<T>(target: Target | undefined, work: () => T, functionName = ambient.getStore()?.functionName): T {
  return ambient.run({ ...(target ? { target } : {}), ...(functionName ? { functionName } : {}) }, work);
}

/** The ambient target; undefined in the hub's own account and Region. */
export function currentTarget(): Target | undefined {
  return ambient.getStore()?.target;
}

/** The Lambda function running this step (its context's functionName), when the runtime gave one. */
export function currentFunctionName(): string | undefined {
  return ambient.getStore()?.functionName;
}

/** The running function: the step's (its context's functionName), else the Lambda runtime's variable; undefined outside Lambda. */
export function runningFunctionName(): string | undefined {
  return currentFunctionName() ?? (process.env.AWS_LAMBDA_FUNCTION_NAME || undefined);
}

/** The hub's own account (HUB_ACCOUNT_ID, set by the stack) and Region (the function's). */
export function hubAccountRegion(): { account?: string; region?: string } {
  return { account: process.env.HUB_ACCOUNT_ID || undefined, region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined };
}

/**
 * The target of a cluster in `account`/`region` (either may be absent: the hub's own): undefined
 * when both are the hub's own.
 */
export function targetOf(account: string | undefined, region: string | undefined): Target | undefined {
  const hub = hubAccountRegion();
  const wantedAccount = account ?? hub.account;
  const wantedRegion = region ?? hub.region;
  if (wantedAccount === hub.account && wantedRegion === hub.region) return undefined;
  if (!wantedAccount || !wantedRegion) {
    throw new Error(`HUB_ACCOUNT_ID and AWS_REGION must be set on this function to serve clusters of account ${account ?? '?'} Region ${region ?? '?'}; redeploy the stack with \`cdk deploy\``);
  }
  return { account: wantedAccount, region: wantedRegion };
}

/** An EKS cluster ARN: Region, account and name. */
export const CLUSTER_ARN = /^arn:aws[a-z-]*:eks:([a-z0-9-]+):(\d{12}):cluster\/(.+)$/;

/**
 * The target of a request not normalized yet (lambdas/domain/input.ts validates it): a CloudTrail
 * event's account and Region, a manual {clusterArn} or {account, region}. Undefined when it names none.
 */
export function targetOfRequest(request: unknown): Target | undefined {
  if (request === null || typeof request !== 'object') return undefined;
  const r = request as Record<string, unknown>;
  const arn = typeof r.clusterArn === 'string' ? CLUSTER_ARN.exec(r.clusterArn) : null;
  const [account, region] = arn ? [arn[2], arn[1]] : [r.account, r.region];
  if ((account !== undefined && typeof account !== 'string') || (region !== undefined && typeof region !== 'string')) return undefined;
  try {
    return targetOf(account, region);
  } catch {
    return undefined; // the step's own normalization names the problem
  }
}

/** The target a workflow input names (`account`/`region` travel in it only outside the hub). */
export function targetOfInput(input: { account?: unknown; region?: unknown } | undefined): Target | undefined {
  return typeof input?.account === 'string' && typeof input.region === 'string' ? { account: input.account, region: input.region } : undefined;
}

/** True when both name the same account and Region (both undefined: the hub's own). */
export function sameTarget(a: Target | undefined, b: Target | undefined): boolean {
  return a?.account === b?.account && a?.region === b?.region;
}

/** "<account>/<region>/<name>" outside the hub, the bare name in it: status record and lease keys. */
export function scopedName(name: string, target: Target | undefined = currentTarget()): string {
  return target ? `${target.account}/${target.region}/${name}` : name;
}

/** The inverse of scopedName: a record key's target and bare name. */
export function parseScopedName(key: string): { target?: Target; name: string } {
  const parts = key.split('/');
  return parts.length === 3 ? { target: { account: parts[0], region: parts[1] }, name: parts[2] } : { name: key };
}

/** "cluster prod-a" or "cluster prod-a in account 222222222222 Region eu-west-1": for messages. */
export function describeTarget(target: Target | undefined = currentTarget()): string {
  return target ? ` in account ${target.account} Region ${target.region}` : '';
}
