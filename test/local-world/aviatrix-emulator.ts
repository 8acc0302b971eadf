// An in-process HTTPS stand-in for the Aviatrix controller, following the checklist of
// docs/aviatrix-controller-api.md section 10: /v2/api actions as query GET, form POST and JSON POST,
// token-gated login, CID issue and expiry with the exact texts, gateways with HA peers (several: see
// addHaGateway), custom vs single-IP SNAT, whole-list replacement, transit exclusions, v2.5 k8s
// clusters and app-domains.
// Faults on demand (5xx, hangs), latency, and optional echo quirks (duplicates, reordering, "None").
import https from 'node:https';
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { applyFault, dropResponse } from './faults';
import { CallLog } from './call-log';
import { standInCertificate } from './tls';
import { decodePolicyList, SnatPolicy } from '../../lambdas/aviatrix/policy-codec';
import { closeServer, listenOnLoopback } from './loopback';

export interface EmulatorGatewaySpec {
  name: string;
  kind: 'spoke' | 'transit';
  vpcId: string;
  privateIp: string;
  region?: string;
  cloudType?: number;
  /** Spokes: the attached transit. */
  transitName?: string;
  /** Creates an HA peer (default name `<name>-hagw`); its SNAT mode defaults to single-IP when the primary's is, else none. */
  ha?: { name?: string; privateIp: string; snatMode?: 'none' | 'single' | 'custom'; snatPolicies?: SnatPolicy[] };
  snatMode?: 'none' | 'single' | 'custom';
  snatPolicies?: SnatPolicy[];
  exclusions?: string[];
}

export interface EmulatedGateway {
  vpc_name: string;
  kind: 'spoke' | 'transit';
  isHa: boolean;
  cloud_type: number;
  vpc_id: string;
  vpc_region: string;
  private_ip: string;
  public_ip: string;
  vpc_size: string;
  account_name: string;
  transit_gw_name: string;
  enable_nat: string;
  nat_enabled: boolean;
  snat_target: string;
  snat_ip_port_list: SnatPolicy[];
  exclude_cidr_list: string[];
  haName?: string;
  /** An HA gateway created on its own (addHaGateway): its primary's name, listed as `primary_gw_name`. */
  primaryName?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  api: 'v2' | 'v2.5' | 'other';
  /** v2 action, or "METHOD collection" for v2.5. */
  action: string;
  transport: 'query' | 'form' | 'json' | 'rest';
  params: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  body: string;
  status?: number;
}

export interface EmulatorOptions {
  username?: string;
  password?: string;
  /** Delay before every request is processed (ms). */
  latencyMs?: number;
  /** Echo each SNAT rule twice and in reverse order, and `connection: "None"` for interface rules. */
  echoQuirks?: boolean;
  /** Accept a SmartGroup whose name is already taken (a second group of that name), as a controller may. */
  duplicateSmartGroupNames?: boolean;
  log?: CallLog;
  /** Listen on this port (a test's second controller where its first was); default one the system picks. */
  port?: number;
}

interface Fault {
  remaining: number;
  status?: number;
  hang?: boolean;
  /** With hang: the request takes effect, only its answer is lost. */
  afterApply?: boolean;
  action?: string;
}

const WRITE_ACTIONS = new Set(['edit_gw_customized_snat_config', 'edit_gateway_advertised_cidr', 'disable_snat', 'enable_snat']);

export class AviatrixEmulator {
  readonly log: CallLog;
  private server?: https.Server;
  private readonly gateways = new Map<string, EmulatedGateway>();
  private readonly tokens = new Set<string>();
  private readonly sessions = new Set<string>();
  private readonly k8s = new Map<string, Record<string, unknown> & { id: string; cluster_id: string }>();
  private readonly appDomains = new Map<string, { uuid: string; name: string; selector: unknown }>();
  private readonly recorded: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  private readonly features: Record<string, boolean> = { k8s: true };
  private readonly hanging = new Set<http.ServerResponse>();
  username: string;
  password: string;
  latencyMs: number;
  echoQuirks: boolean;
  duplicateSmartGroupNames: boolean;
  private readonly port: number;
  /** Selector keys this controller drops silently on write (an older version that does not know them). */
  droppedSelectorKeys?: RegExp;

  constructor(options: EmulatorOptions = {}) {
    this.log = options.log ?? new CallLog();
    this.username = options.username ?? 'admin';
    this.password = options.password ?? 'Sup3r-Secret-Pa55word!';
    this.latencyMs = options.latencyMs ?? 0;
    this.echoQuirks = options.echoQuirks ?? false;
    this.duplicateSmartGroupNames = options.duplicateSmartGroupNames ?? false;
    this.port = options.port ?? 0;
  }

  async start(certificate = standInCertificate('controller')): Promise<{ url: string; caPem: string }> {
    this.server = https.createServer({ key: certificate.keyPem, cert: certificate.certPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error: unknown) => {
          if (!res.headersSent) this.send(res, 500, { return: false, reason: `emulator bug: ${String(error)}` });
        });
      });
    });
    const port = await listenOnLoopback(this.server, this.port);
    return { url: `https://127.0.0.1:${port}`, caPem: certificate.caPem };
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    await closeServer(this.server);
  }

  // ---- admin ---------------------------------------------------------------------------------

  addGateway(spec: EmulatorGatewaySpec): EmulatedGateway {
    const make = (
      name: string,
      ip: string,
      isHa: boolean,
      mode = spec.snatMode,
      policies = spec.snatPolicies,
    ): EmulatedGateway => ({
      vpc_name: name,
      kind: spec.kind,
      isHa,
      cloud_type: spec.cloudType ?? 1,
      vpc_id: `${spec.vpcId}~~${spec.name}-vpc`,
      vpc_region: spec.region ?? 'us-east-1',
      private_ip: ip,
      public_ip: `54.0.${this.gateways.size}.${isHa ? 2 : 1}`,
      vpc_size: 't3.small',
      account_name: 'aws-account',
      transit_gw_name: spec.transitName ?? '',
      enable_nat: mode === 'single' ? 'yes' : 'no',
      nat_enabled: mode === 'single' || mode === 'custom',
      snat_target: mode === 'single' ? 'primary' : mode === 'custom' ? 'customized' : '',
      snat_ip_port_list: mode === 'custom' ? structuredClone(policies ?? []) : [],
      exclude_cidr_list: [...(spec.exclusions ?? [])],
    });
    const primary = make(spec.name, spec.privateIp, false);
    this.gateways.set(spec.name, primary);
    if (spec.ha) {
      const haName = spec.ha.name ?? `${spec.name}-hagw`;
      primary.haName = haName;
      const haMode = spec.ha.snatMode ?? (spec.snatMode === 'single' ? 'single' : 'none');
      this.gateways.set(haName, make(haName, spec.ha.privateIp, true, haMode, spec.ha.snatPolicies));
    }
    return primary;
  }

  /**
   * Another HA gateway on a spoke, as newer controllers allow (`create_multicloud_ha_gateway`, any
   * name). The contract shows only one HA peer, in the primary's `hagw_details`; this stand-in lists
   * each further one as a gateway of its own, in the primary's VPC, carrying `primary_gw_name` (the
   * field that creates it). The primary's `hagw_details` keeps naming its first HA peer.
   */
  addHaGateway(primary: string, ha: { name: string; privateIp: string }): EmulatedGateway {
    const p = this.gateways.get(primary);
    if (!p) throw new Error(`no gateway ${primary}`);
    const peer: EmulatedGateway = {
      ...structuredClone(p),
      vpc_name: ha.name,
      isHa: true,
      private_ip: ha.privateIp,
      public_ip: `54.1.${this.gateways.size}.3`,
      enable_nat: 'no',
      nat_enabled: false,
      snat_target: '',
      snat_ip_port_list: [],
      exclude_cidr_list: [],
      haName: undefined,
      primaryName: primary,
    };
    this.gateways.set(ha.name, peer);
    return peer;
  }

  /** The gateway replaced (new instance): new private and public IPs; its SNAT list is kept as it was. */
  replaceGatewayAddresses(name: string, addresses: { privateIp: string; publicIp: string }): void {
    const g = this.gateways.get(name);
    if (!g) throw new Error(`no gateway ${name}`);
    g.private_ip = addresses.privateIp;
    g.public_ip = addresses.publicIp;
  }

  gateway(name: string): EmulatedGateway | undefined {
    return this.gateways.get(name);
  }

  snatPolicies(name: string): SnatPolicy[] {
    return structuredClone(this.gateways.get(name)?.snat_ip_port_list ?? []);
  }

  exclusions(name: string): string[] {
    return [...(this.gateways.get(name)?.exclude_cidr_list ?? [])];
  }

  k8sClusters(): Record<string, unknown>[] {
    return [...this.k8s.values()].map((c) => structuredClone(c));
  }

  /** The selector as this controller keeps it (droppedSelectorKeys removed). */
  private stored(selector: { any?: unknown }): unknown {
    const dropped = this.droppedSelectorKeys;
    if (!dropped) return selector;
    const blocks = selector.any as { all: Record<string, string> }[];
    return { any: blocks.map((b) => ({ all: Object.fromEntries(Object.entries(b.all).filter(([k]) => !dropped.test(k))) })) };
  }

  /** Replaces a group's selector as a person on the controller's UI would (not recorded). */
  editSmartGroup(uuid: string, selector: unknown): void {
    const group = this.appDomains.get(uuid);
    if (!group) throw new Error(`no SmartGroup ${uuid}`);
    group.selector = selector;
  }

  /** Deletes a group as a person would (not recorded). */
  removeSmartGroup(uuid: string): void {
    this.appDomains.delete(uuid);
  }

  /** Adds a group as a person would (not recorded). */
  addSmartGroup(name: string, selector: unknown): string {
    const uuid = randomUUID();
    this.appDomains.set(uuid, { uuid, name, selector });
    return uuid;
  }

  smartGroups(): { uuid: string; name: string; selector: unknown }[] {
    return [...this.appDomains.values()].map((g) => structuredClone(g));
  }

  setFeature(name: string, enabled: boolean): void {
    this.features[name] = enabled;
  }

  requests(): RecordedRequest[] {
    return [...this.recorded];
  }

  /** v2 actions (or v2.5 "METHOD collection") served so far, in order. */
  actions(): string[] {
    return this.recorded.map((r) => r.action);
  }

  /** Invalidates every CID issued so far. */
  expireSessions(): void {
    this.sessions.clear();
  }

  /** The next `n` matching requests answer `status` (HTML for 502, JSON envelope otherwise). */
  failNext(n: number, options: { status: 500 | 502 | 503; action?: string }): void {
    this.faults.push({ remaining: n, status: options.status, action: options.action });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Requests held by hangNext whose client has not closed them yet. */
  hangingRequests(): number {
    return this.hanging.size;
  }

  /**
   * The next `n` matching requests never get an answer (until stop). With `afterApply` they take
   * effect first (a create that happened, whose answer was lost), else they are not processed.
   */
  hangNext(n: number, options: { action?: string; afterApply?: boolean } = {}): void {
    this.faults.push({ remaining: n, hang: true, afterApply: options.afterApply, action: options.action });
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://emulator');
    const method = req.method ?? 'GET';
    const record: RecordedRequest = {
      method,
      path: url.pathname,
      api: url.pathname === '/v2/api' ? 'v2' : url.pathname.startsWith('/v2.5/api/') ? 'v2.5' : 'other',
      action: '',
      transport: 'rest',
      params: {},
      headers: req.headers,
      body,
    };
    if (record.api === 'v2') {
      const contentType = String(req.headers['content-type'] ?? '');
      const params: Record<string, string> = Object.fromEntries(url.searchParams);
      record.transport = method === 'GET' ? 'query' : 'form';
      if (body) {
        if (contentType.includes('json')) {
          record.transport = 'json';
          const parsed = safeJson(body);
          if (parsed && typeof parsed === 'object') {
            for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) params[k] = typeof v === 'string' ? v : JSON.stringify(v);
          }
        } else {
          for (const [k, v] of new URLSearchParams(body)) params[k] = v;
        }
      }
      record.params = params;
      record.action = params.action ?? '';
    } else if (record.api === 'v2.5') {
      const rest = url.pathname.slice('/v2.5/api/'.length).split('/');
      const collection = rest[0] === 'k8s' ? rest.slice(0, 2).join('/') : rest[0];
      record.action = `${method} ${collection}`;
    }
    this.recorded.push(record);
    const write = record.api === 'v2' ? WRITE_ACTIONS.has(record.action) : method !== 'GET';
    const logged = record.action || `${method} ${url.pathname}`;
    this.log.record('aviatrix', logged, write);
    const planned = await applyFault(this.log.faults.take('aviatrix', logged), req, res, (status) => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ return: false, reason: `injected fault ${status}` }),
    }));
    if (planned === 'answered') return;
    if (planned === 'serve-and-drop') {
      if (record.api === 'v2') record.status = this.v2(record, req)[0];
      else if (record.api === 'v2.5') record.status = this.v25(method, url.pathname.slice('/v2.5/api/'.length), body, req)[0];
      dropResponse(res);
      return;
    }

    const fault = this.faults.find((f) => f.remaining > 0 && (!f.action || f.action === record.action));
    if (fault) {
      fault.remaining--;
      if (fault.hang) {
        this.hanging.add(res);
        // A client that gives up on it (an aborted request) closes it.
        res.on('close', () => this.hanging.delete(res));
        if (fault.afterApply) {
          if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
          if (record.api === 'v2') record.status = this.v2(record, req)[0];
          else if (record.api === 'v2.5') record.status = this.v25(method, url.pathname.slice('/v2.5/api/'.length), body, req)[0];
        }
        return;
      }
      record.status = fault.status;
      if (fault.status === 502) {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      } else {
        this.send(res, fault.status ?? 500, { return: false, reason: 'Internal Server Error' });
      }
      return;
    }
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));

    if (record.api === 'v2') {
      const [status, answer] = this.v2(record, req);
      record.status = status;
      this.send(res, status, answer);
    } else if (record.api === 'v2.5') {
      const [status, answer] = this.v25(method, url.pathname.slice('/v2.5/api/'.length), body, req);
      record.status = status;
      this.send(res, status, answer);
    } else {
      record.status = 404;
      this.send(res, 404, { message: 'not found' });
    }
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  // ---- /v2/api -------------------------------------------------------------------------------

  private v2(record: RecordedRequest, req: http.IncomingMessage): [number, unknown] {
    const p = record.params;
    const fail = (reason: string): [number, unknown] => [200, { return: false, reason }];
    const ok = (results: unknown): [number, unknown] => [200, { return: true, results }];
    if (p.action === 'get_api_token') {
      const token = randomBytes(16).toString('hex');
      this.tokens.add(token);
      return ok({ api_token: token, legal_terms: 'accepted' });
    }
    if (p.action === 'login') {
      const key = req.headers['x-access-key'];
      if (typeof key !== 'string' || !this.tokens.has(key)) return fail('Invalid or missing API token (X-Access-Key).');
      this.tokens.delete(key);
      if (p.username !== this.username || p.password !== this.password) return fail('Invalid username or password.');
      const cid = randomBytes(10).toString('hex');
      this.sessions.add(cid);
      return [200, { return: true, results: `User login:${p.username} in account:admin has been authorized successfully`, CID: cid }];
    }
    if (!p.CID || !this.sessions.has(p.CID)) {
      return fail(record.transport === 'json' ? `Session ${p.CID ?? ''} expired` : 'CID is invalid or expired.');
    }
    switch (p.action) {
      case 'list_vpcs_summary': {
        let list = [...this.gateways.values()];
        if (p.gateway_name) list = list.filter((g) => g.vpc_name === p.gateway_name);
        else if (p.spoke_only === 'true') list = list.filter((g) => g.kind === 'spoke');
        else if (p.transit_only === 'true') list = list.filter((g) => g.kind === 'transit');
        return ok(list.map((g) => this.summary(g)));
      }
      case 'get_gateway_info': {
        const g = this.gateways.get(p.gateway_name ?? '');
        if (!g) return fail(`Gateway ${p.gateway_name} does not exist.`);
        let policies = structuredClone(g.snat_ip_port_list);
        if (this.echoQuirks) {
          policies = policies.map((x) => (x.connection === undefined && x.interface ? { ...x, connection: 'None' } : x));
          policies = [...policies, ...policies].reverse();
        }
        return ok({ vpc_name: g.vpc_name, gw_zone: 'us-east-1a', transit_gw_name: g.transit_gw_name, snat_ip_port_list: policies });
      }
      case 'edit_gw_customized_snat_config': {
        const g = this.gateways.get(p.gateway_name ?? '');
        if (!g) return fail(`Gateway ${p.gateway_name} does not exist.`);
        if (p.mode !== 'custom') return fail(`mode must be custom, got ${p.mode}`);
        if (g.enable_nat === 'yes' && g.snat_target === 'primary') {
          return fail(`[AVXERR-NAT-0010] Single IP SNAT is enabled on gateway ${g.vpc_name}; disable it first.`);
        }
        let policies: SnatPolicy[] | null;
        try {
          policies = decodePolicyList(p.policy_list ?? '');
        } catch (error) {
          return fail(`Invalid policy_list: ${(error as Error).message}`);
        }
        if (!policies || policies.length === 0) {
          g.snat_ip_port_list = [];
          g.nat_enabled = false;
          g.snat_target = '';
          return ok('Customized SNAT disabled');
        }
        if (!(g.nat_enabled && g.snat_target === 'customized') && p.enable_nat !== 'yes') {
          return fail(`Customized SNAT is not enabled on gateway ${g.vpc_name}; send enable_nat=yes to enable it.`);
        }
        for (const policy of policies) {
          if (typeof policy.apply_route_entry !== 'boolean') return fail('apply_route_entry is required on every policy');
        }
        g.snat_ip_port_list = policies;
        g.nat_enabled = true;
        g.snat_target = 'customized';
        return ok(`Customized SNAT configured on ${g.vpc_name}`);
      }
      case 'disable_snat': {
        const g = this.gateways.get(p.gateway_name ?? '');
        if (!g) return fail(`Gateway ${p.gateway_name} does not exist.`);
        g.enable_nat = 'no';
        g.nat_enabled = false;
        g.snat_target = '';
        return ok(`SNAT disabled on ${g.vpc_name}`);
      }
      case 'edit_gateway_advertised_cidr': {
        const g = this.gateways.get(p.gateway_name ?? '');
        if (!g) return fail(`Gateway ${p.gateway_name} does not exist.`);
        if (g.kind !== 'transit') return fail(`${g.vpc_name} is not a transit gateway`);
        g.exclude_cidr_list = (p.cidr ?? '').split(',').filter((c) => c !== '');
        return ok(`Excluded advertised spoke routes updated on ${g.vpc_name}`);
      }
      case 'get_controller_feature':
        return ok({ feature: p.feature, enabled: this.features[p.feature ?? ''] === true });
      default:
        return fail(`Unknown action ${p.action}`);
    }
  }

  private summary(g: EmulatedGateway): Record<string, unknown> {
    const ha = g.haName ? this.gateways.get(g.haName) : undefined;
    return {
      vpc_name: g.vpc_name,
      cloud_type: g.cloud_type,
      vpc_id: g.vpc_id,
      vpc_region: g.vpc_region,
      private_ip: g.private_ip,
      public_ip: g.public_ip,
      vpc_size: g.vpc_size,
      account_name: g.account_name,
      transit_gw_name: g.transit_gw_name,
      enable_nat: g.enable_nat,
      nat_enabled: g.nat_enabled,
      snat_target: g.snat_target,
      hagw_details: ha
        ? { vpc_name: ha.vpc_name, private_ip: ha.private_ip, public_ip: ha.public_ip, vpc_size: ha.vpc_size, cloud_type: ha.cloud_type }
        : { vpc_name: '', private_ip: '', vpc_size: '' },
      ...(g.primaryName ? { primary_gw_name: g.primaryName } : {}),
      exclude_cidr_list: g.kind === 'transit' ? [...g.exclude_cidr_list] : [],
    };
  }

  // ---- /v2.5/api -----------------------------------------------------------------------------

  private v25(method: string, path: string, body: string, req: http.IncomingMessage): [number, unknown] {
    const auth = String(req.headers.authorization ?? '');
    const match = /^cid (.+)$/.exec(auth);
    if (!match || !this.sessions.has(match[1])) return [403, { message: 'Invalid CID' }];
    const parts = path.split('/').map(decodeURIComponent);
    const data = body ? safeJson(body) : undefined;
    if (parts[0] === 'k8s' && parts[1] === 'clusters') {
      if (!this.features.k8s) return [400, { message: 'Kubernetes feature is not enabled' }];
      const id = parts[2];
      if (!id && method === 'GET') return [200, { k8s_clusters: [...this.k8s.values()] }];
      if (!id && method === 'POST') {
        const c = data as { cluster_id?: unknown; credential?: { use_csp_credentials?: unknown } } | undefined;
        if (!c || typeof c.cluster_id !== 'string' || !c.credential || typeof c.credential.use_csp_credentials !== 'boolean') {
          return [400, { message: 'cluster_id and credential.use_csp_credentials are required' }];
        }
        if ([...this.k8s.values()].some((k) => k.cluster_id === c.cluster_id)) {
          return [409, { message: `cluster ${c.cluster_id} already exists` }];
        }
        const newId = randomUUID();
        this.k8s.set(newId, { ...(data as Record<string, unknown>), id: newId, cluster_id: c.cluster_id });
        return [201, { id: newId }];
      }
      const existing = id ? this.k8s.get(id) : undefined;
      if (!existing) return [404, { message: `k8s cluster ${id} not found` }];
      if (method === 'GET') return [200, existing];
      if (method === 'PUT') {
        this.k8s.set(id, { ...(data as Record<string, unknown>), id, cluster_id: existing.cluster_id });
        return [200, {}];
      }
      if (method === 'DELETE') {
        this.k8s.delete(id);
        return [204, undefined];
      }
    }
    if (parts[0] === 'app-domains') {
      const uuid = parts[1];
      if (!uuid && method === 'GET') return [200, { app_domains: [...this.appDomains.values()] }];
      if (!uuid && method === 'POST') {
        const g = data as { name?: unknown; selector?: { any?: unknown } } | undefined;
        if (!g || typeof g.name !== 'string' || !g.selector || !Array.isArray(g.selector.any)) {
          return [400, { message: 'name and selector.any are required' }];
        }
        const invalid = selectorProblem(g.selector.any);
        if (invalid) return [400, { message: invalid }];
        if (!this.duplicateSmartGroupNames && [...this.appDomains.values()].some((x) => x.name === g.name)) return [409, { message: `App domain ${g.name} already exists` }];
        const newUuid = randomUUID();
        this.appDomains.set(newUuid, { uuid: newUuid, name: g.name, selector: this.stored(g.selector) });
        return [200, { uuid: newUuid }];
      }
      const existing = uuid ? this.appDomains.get(uuid) : undefined;
      if (!existing) return [404, { message: 'App domain not found' }];
      if (method === 'GET') return [200, existing];
      if (method === 'PUT') {
        const g = data as { name: string; selector: { any?: unknown } };
        const invalid = typeof g?.name === 'string' && Array.isArray(g.selector?.any) ? selectorProblem(g.selector.any) : 'name and selector.any are required';
        if (invalid) return [400, { message: invalid }];
        this.appDomains.set(uuid, { uuid, name: g.name, selector: this.stored(g.selector) });
        return [200, {}];
      }
      if (method === 'DELETE') {
        this.appDomains.delete(uuid);
        return [200, {}];
      }
    }
    return [404, { message: `${path} not found` }];
  }
}

const SELECTOR_KEYS = new Set(['type', 'cidr', 'fqdn', 'site', 'res_id', 'account_id', 'account_name', 'name', 'region', 'zone', 'k8s_cluster_id', 'k8s_namespace', 'k8s_service', 'k8s_pod', 's2c', 'external']);
const SELECTOR_TYPES = new Set(['vm', 'vpc', 'subnet', 'k8s', 'k8s_node', 'serverless']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * What the controller (and the provider's client-side checks) refuse in an app-domain selector:
 * unknown keys and types, non-string values, Kubernetes names that are not DNS-1123, a pod without
 * cluster and namespace or with a service, namespace labels with a service or pod or outside k8s.
 */
function selectorProblem(blocks: unknown[]): string | undefined {
  for (const block of blocks) {
    const all = (block as { all?: unknown } | null)?.all;
    if (!all || typeof all !== 'object' || Array.isArray(all)) return 'each selector.any entry needs an "all" map';
    const expr = all as Record<string, unknown>;
    for (const [key, value] of Object.entries(expr)) {
      if (typeof value !== 'string') return `match expression value of ${key} must be a string`;
      if (!SELECTOR_KEYS.has(key) && !/^(tags|namespacetags)\.[^.]/.test(key)) return `unknown match expression key "${key}"`;
    }
    const type = expr.type as string | undefined;
    if (type !== undefined && !SELECTOR_TYPES.has(type)) return `invalid type "${type}"`;
    const has = (k: string) => expr[k] !== undefined && expr[k] !== '';
    const namespaceTags = Object.keys(expr).some((k) => k.startsWith('namespacetags.'));
    if (namespaceTags && type !== 'k8s') return 'namespacetags is only valid with type "k8s"';
    if (namespaceTags && (has('k8s_service') || has('k8s_pod'))) return 'namespacetags cannot be combined with k8s_service or k8s_pod';
    if (has('k8s_pod') && !(has('k8s_cluster_id') && has('k8s_namespace'))) return 'k8s_pod requires k8s_cluster_id and k8s_namespace';
    if (has('k8s_pod') && has('k8s_service')) return 'k8s_pod and k8s_service cannot be combined';
    for (const k of ['k8s_namespace', 'k8s_service']) if (has(k) && !DNS_LABEL.test(expr[k] as string)) return `${k} "${expr[k]}" is not a valid DNS-1123 label`;
    if (has('k8s_pod') && !DNS_SUBDOMAIN.test(expr.k8s_pod as string)) return `k8s_pod "${expr.k8s_pod}" is not a valid DNS-1123 subdomain`;
  }
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
