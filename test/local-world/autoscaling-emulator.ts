// An in-process stand-in for the part of the Auto Scaling Query API (awsQuery, 2011-01-01) that the
// node-group step calls, reached by the real @aws-sdk/client-auto-scaling through
// AWS_ENDPOINT_URL_AUTO_SCALING. moto 5.2.1 has no instance refresh, hence this emulator.
//
//   StartInstanceRefresh       on the Auto Scaling group of an EKS emulator node group
//                              (NodegroupState.autoScalingGroupName); InstanceRefreshInProgress (400)
//                              while another refresh of the group is running
//   DescribeInstanceRefreshes  newest first, optionally filtered by InstanceRefreshIds
//
// Lifecycle, driven by polls, never by timers: a refresh starts Pending; each DescribeInstanceRefreshes
// that lists it while `refreshDescribes` polls remain answers InProgress; the next one finishes it:
// Successful (the node group's Kubernetes nodes are replaced by new ones, as the relaunched
// instances register) or, after failNextRefresh(), the injected final status (nodes untouched).
// Wire format checked against @aws-sdk/client-auto-scaling 3.1169: form-encoded POST
// (Action=StartInstanceRefresh&Version=2011-01-01&AutoScalingGroupName=..&Strategy=Rolling&
// Preferences.MinHealthyPercentage=90&..., InstanceRefreshIds.member.1=...), XML answers in the
// 2011-01-01 namespace, errors as <ErrorResponse><Error><Type/><Code/><Message/></Error> with 400.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { CallLog, isReadAction } from './call-log';
import { EksEmulator } from './eks-emulator';
import { closeServer, listenOnLoopback } from './loopback';

export const AUTOSCALING_XMLNS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

export interface AutoScalingEmulatorOptions {
  /** DescribeInstanceRefreshes polls of a refresh that still answer InProgress; the next one finishes it. Default 1. */
  refreshDescribes?: number;
}

export interface AutoScalingEmulatorDeps {
  log: CallLog;
  eks: EksEmulator;
}

export type InstanceRefreshStatus =
  | 'Pending'
  | 'InProgress'
  | 'Successful'
  | 'Failed'
  | 'Cancelling'
  | 'Cancelled'
  | 'RollbackInProgress'
  | 'RollbackFailed'
  | 'RollbackSuccessful'
  | 'Baking';

export interface InstanceRefreshState {
  id: string;
  groupName: string;
  status: InstanceRefreshStatus;
  statusReason?: string;
  strategy: string;
  preferences: Record<string, string>;
  startTime: Date;
  endTime?: Date;
  instancesToUpdate: number;
  pollsLeft: number;
  /** The final status this refresh ends with instead of Successful (failNextRefresh). */
  outcome?: { status: InstanceRefreshStatus; reason: string };
}

const RUNNING: ReadonlySet<InstanceRefreshStatus> = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);
const FINAL: ReadonlySet<string> = new Set(['Successful', 'Failed', 'Cancelled', 'RollbackFailed', 'RollbackSuccessful']);

class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: 'Sender' | 'Receiver' = status >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
  }
}

const xmlEscape = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
const tag = (name: string, value: string | number | boolean | undefined) => (value === undefined ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`);

export class AutoScalingEmulator {
  private server?: http.Server;
  private port = 0;
  /** Every refresh ever started, oldest first. */
  private readonly refreshList: InstanceRefreshState[] = [];
  private nextOutcome?: { status: InstanceRefreshStatus; reason: string };
  readonly options: Required<AutoScalingEmulatorOptions>;

  constructor(
    private readonly deps: AutoScalingEmulatorDeps,
    options: AutoScalingEmulatorOptions = {},
  ) {
    this.options = { refreshDescribes: 1, ...options };
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  /** http://127.0.0.1:<port>: the value for AWS_ENDPOINT_URL_AUTO_SCALING. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Admin methods (not recorded)

  /** The refreshes of a group (every group when omitted), oldest first. */
  refreshes(groupName?: string): InstanceRefreshState[] {
    return this.refreshList.filter((r) => groupName === undefined || r.groupName === groupName);
  }

  /** The next refresh started (by anyone) ends with this status and reason instead of Successful. */
  failNextRefresh(status: InstanceRefreshStatus = 'Failed', reason = 'An instance failed to launch or did not pass the Auto Scaling health checks within the instance warmup.'): void {
    if (!FINAL.has(status) || status === 'Successful') throw new Error(`autoscaling emulator: ${status} is not a final failure status`);
    this.nextOutcome = { status, reason };
  }

  /** Starts a refresh as StartInstanceRefresh would, without a recorded call (someone else's refresh). */
  startRefreshDirect(groupName: string, preferences: Record<string, string> = {}): InstanceRefreshState {
    return this.startRefresh(groupName, 'Rolling', preferences);
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      for (const [k, v] of url.searchParams) if (!params.has(k)) params.set(k, v);
      const action = params.get('Action') ?? 'Unknown';
      this.deps.log.record('autoscaling', action, !isReadAction(action));
      const requestId = randomUUID();
      let body: string;
      let status = 200;
      try {
        if (req.method !== 'POST' && req.method !== 'GET') throw new QueryError('InvalidAction', `emulator: ${req.method} is not a Query API request`);
        if (params.get('Version') !== '2011-01-01') throw new QueryError('InvalidParameterValue', `emulator: Version must be 2011-01-01, got ${params.get('Version')}`);
        const result = this.dispatch(action, params);
        body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${AUTOSCALING_XMLNS}">` +
          `<${action}Result>${result}</${action}Result>` +
          `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
      } catch (error) {
        const e = error instanceof QueryError ? error : new QueryError('InternalFailure', `emulator: ${(error as Error).stack ?? String(error)}`, 500);
        status = e.status;
        body =
          `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${AUTOSCALING_XMLNS}">` +
          `<Error><Type>${e.type}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error>` +
          `<RequestId>${requestId}</RequestId></ErrorResponse>`;
      }
      res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId });
      res.end(body);
    });
  }

  private dispatch(action: string, params: URLSearchParams): string {
    switch (action) {
      case 'StartInstanceRefresh':
        return this.startInstanceRefresh(params);
      case 'DescribeInstanceRefreshes':
        return this.describeInstanceRefreshes(params);
      default:
        throw new QueryError('InvalidAction', `emulator: unsupported Auto Scaling action ${action}`);
    }
  }

  private startInstanceRefresh(params: URLSearchParams): string {
    const groupName = required(params, 'AutoScalingGroupName');
    const strategy = params.get('Strategy') ?? 'Rolling';
    if (strategy !== 'Rolling' && strategy !== 'ReplaceRootVolume') {
      throw new QueryError('ValidationError', `1 validation error detected: Value '${strategy}' at 'strategy' failed to satisfy constraint: Member must satisfy enum value set: [Rolling, ReplaceRootVolume]`);
    }
    const preferences: Record<string, string> = {};
    for (const [key, value] of params) if (key.startsWith('Preferences.')) preferences[key.slice('Preferences.'.length)] = value;
    const minHealthy = preferences.MinHealthyPercentage;
    if (minHealthy !== undefined && !(Number(minHealthy) >= 0 && Number(minHealthy) <= 100)) {
      throw new QueryError('ValidationError', `MinHealthyPercentage must be between 0 and 100, got ${minHealthy}`);
    }
    const refresh = this.startRefresh(groupName, strategy, preferences);
    return tag('InstanceRefreshId', refresh.id);
  }

  private startRefresh(groupName: string, strategy: string, preferences: Record<string, string>): InstanceRefreshState {
    const owner = this.mustGroup(groupName);
    if (this.refreshList.some((r) => r.groupName === groupName && RUNNING.has(r.status))) {
      throw new QueryError('InstanceRefreshInProgress', 'An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.');
    }
    const refresh: InstanceRefreshState = {
      id: randomUUID(),
      groupName,
      status: 'Pending',
      strategy,
      preferences,
      startTime: new Date(),
      instancesToUpdate: owner.nodegroup.nodeNames.length,
      pollsLeft: this.options.refreshDescribes,
      ...(this.nextOutcome ? { outcome: this.nextOutcome } : {}),
    };
    this.nextOutcome = undefined;
    this.refreshList.push(refresh);
    return refresh;
  }

  private describeInstanceRefreshes(params: URLSearchParams): string {
    const groupName = required(params, 'AutoScalingGroupName');
    this.mustGroup(groupName);
    const ids = [...params].filter(([k]) => /^InstanceRefreshIds\.member\.\d+$/.test(k)).map(([, v]) => v);
    const maxRecords = Number(params.get('MaxRecords') ?? 50);
    const listed = this.refreshList
      .filter((r) => r.groupName === groupName && (ids.length === 0 || ids.includes(r.id)))
      .reverse()
      .slice(0, maxRecords);
    for (const refresh of listed) this.advance(refresh);
    return `<InstanceRefreshes>${listed.map((r) => `<member>${renderRefresh(r)}</member>`).join('')}</InstanceRefreshes>`;
  }

  /** One poll of a running refresh: InProgress while polls remain, then its final status. */
  private advance(refresh: InstanceRefreshState): void {
    if (refresh.status !== 'Pending' && refresh.status !== 'InProgress') return;
    if (refresh.pollsLeft > 0) {
      refresh.pollsLeft -= 1;
      refresh.status = 'InProgress';
      return;
    }
    refresh.endTime = new Date();
    if (refresh.outcome) {
      refresh.status = refresh.outcome.status;
      refresh.statusReason = refresh.outcome.reason;
      return;
    }
    const owner = this.deps.eks.nodegroupByAutoScalingGroup(refresh.groupName);
    if (owner) this.deps.eks.replaceNodegroupNodes(owner.cluster, owner.nodegroup.nodegroupName);
    refresh.status = 'Successful';
  }

  private mustGroup(groupName: string) {
    const owner = this.deps.eks.nodegroupByAutoScalingGroup(groupName);
    if (!owner) throw new QueryError('ValidationError', `AutoScalingGroup name not found - AutoScalingGroup ${groupName} not found`);
    return owner;
  }
}

function required(params: URLSearchParams, name: string): string {
  const value = params.get(name);
  if (!value) throw new QueryError('ValidationError', `1 validation error detected: Value null at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`);
  return value;
}

function renderRefresh(r: InstanceRefreshState): string {
  const percentage = r.status === 'Successful' ? 100 : r.status === 'InProgress' ? 50 : 0;
  // Scalar preferences only (nested ones such as AlarmSpecification are accepted but not echoed).
  const preferences = Object.entries(r.preferences)
    .filter(([k]) => !k.includes('.'))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => tag(k, v))
    .join('');
  return (
    tag('InstanceRefreshId', r.id) +
    tag('AutoScalingGroupName', r.groupName) +
    tag('Status', r.status) +
    tag('StatusReason', r.statusReason) +
    tag('StartTime', iso(r.startTime)) +
    tag('EndTime', r.endTime ? iso(r.endTime) : undefined) +
    tag('PercentageComplete', percentage) +
    tag('InstancesToUpdate', r.status === 'Successful' ? 0 : r.instancesToUpdate) +
    `<Preferences>${preferences}</Preferences>` +
    tag('Strategy', r.strategy)
  );
}
