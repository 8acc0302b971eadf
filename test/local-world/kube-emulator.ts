// An in-process stand-in for the Kubernetes API servers of EKS clusters: one HTTPS server hosts
// every cluster under /clusters/<name>. It authenticates EKS bearer tokens the way EKS does (it
// calls the presigned STS GetCallerIdentity URL inside the token), authorizes from the EKS
// emulator's access entries (their access policies, and RBAC ClusterRoles bound to their Kubernetes
// groups), and serves ENIConfig, the aws-node DaemonSet, Nodes, ClusterRoles and ClusterRoleBindings
// with server-side apply semantics (managedFields, conflicts, resourceVersion bumps only on change).
import http from 'node:http';
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { CallLog } from './call-log';
import { applyFault, dropResponse } from './faults';
import { standInCertificate } from './tls';
import { closeServer, listenOnLoopback } from './loopback';

// ---------------------------------------------------------------------------------------------
// Public types

/** The request never reached the API server (a private endpoint the caller is not admitted to). */
class Unreachable extends Error {}

export interface KubeEmulatorOptions {
  /** An access entry takes effect this long after its creation (EKS needs a few seconds). Default 0. */
  accessEntryPropagationMs?: number;
  /**
   * HTTP status for an authenticated IAM principal that has no (effective) access entry.
   * Real EKS answers 401 Unauthorized (the principal maps to no Kubernetes user); default 401.
   */
  unmappedPrincipalStatus?: 401 | 403;
  /**
   * Rewrites the STS URL found in a token before the emulator calls it. The local world maps the
   * recording proxy to moto's direct endpoint, so token checks are not counted as calls made by the
   * code under test. Default: the URL as is.
   */
  stsUrlRewrite?: (url: URL) => URL;
}

export interface KubeAccessPolicy {
  policyArn: string;
  accessScope: { type: string; namespaces?: string[] };
  /** When it was associated (ms since epoch); like the entry, it takes effect after the propagation delay. */
  associatedAt?: number;
}

/** What the cluster's access entries grant a principal (from the EKS emulator). */
export interface KubeAccessGrant {
  /** When the access entry was created (ms since epoch); it takes effect after the propagation delay. */
  createdAt: number;
  policies: KubeAccessPolicy[];
  /** The entry's Kubernetes groups: what ClusterRoleBindings to those groups allow is allowed too. */
  groups?: string[];
  /** When the groups were last set (ms since epoch); they take effect after the propagation delay. */
  groupsSetAt?: number;
}

export type KubeAccessResolver = (cluster: string, principalArn: string) => KubeAccessGrant | undefined;

export interface KubeClusterOptions {
  /** "1.31" */
  kubernetesVersion?: string;
  /** Whether the ENIConfig CRD is installed (the VPC CNI installs it). Default true. */
  eniConfigCrd?: boolean;
  /**
   * A private-only endpoint: while this answers false the caller's packets do not reach the API
   * server (the cluster security group does not admit it) and the connection gets no answer.
   */
  reachable?: () => Promise<boolean>;
}

export interface KubeNodeInput {
  name: string;
  zone: string;
  nodegroup?: string;
  /** Default now. */
  createdAt?: Date;
  labels?: Record<string, string>;
  instanceId?: string;
  internalIp?: string;
  /** status.capacity.pods, as the kubelet reports its max-pods. */
  maxPods?: number;
  /** status.nodeInfo.kernelVersion. Default a 6.1 Amazon Linux 2023 kernel. */
  kernelVersion?: string;
}

export interface ApplyOutcome {
  object: KubeObject;
  created: boolean;
  changed: boolean;
  /** Fields another manager owns with a different value (".spec.subnet"), with their manager. */
  conflicts: { manager: string; field: string }[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

export const ENI_CONFIG_GROUP = 'crd.k8s.amazonaws.com';
export const ENI_CONFIG_API_VERSION = 'crd.k8s.amazonaws.com/v1alpha1';
export const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const READ_POLICIES = new Set([
  CLUSTER_ADMIN_POLICY,
  'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy',
  'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
  'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
]);

// ---------------------------------------------------------------------------------------------
// Storage

type ResourceKind = 'eniconfigs' | 'daemonsets' | 'nodes' | 'clusterroles' | 'clusterrolebindings' | NamespacedKind;
/** Namespaced objects the checks list across all namespaces; seeded with addObject. */
type NamespacedKind = 'services' | 'securitygrouppolicies';
export const SECURITY_GROUP_POLICY_API_VERSION = 'vpcresources.k8s.aws/v1beta1';
export const RBAC_GROUP = 'rbac.authorization.k8s.io';

interface ManagerEntry {
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fields: Set<string>;
}

interface Stored {
  obj: KubeObject;
  managed: Map<string, ManagerEntry>;
}

interface ClusterState {
  name: string;
  version: string;
  eniConfigCrd: boolean;
  reachable?: () => Promise<boolean>;
  rv: number;
  stores: Record<ResourceKind, Map<string, Stored>>;
}

interface ResourceInfo {
  kind: ResourceKind;
  group: string; // '' for core
  apiVersion: string;
  objectKind: string;
  namespace?: string;
  name?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly details?: object,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Field paths (fieldsV1 style: "f:spec", "k:{\"name\":\"x\"}") and object helpers

const clone = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isKeyedList = (v: unknown): v is Record<string, unknown>[] =>
  Array.isArray(v) && v.length > 0 && v.every((i) => isPlainObject(i) && typeof i.name === 'string');

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isPlainObject(v)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

const itemSeg = (name: string) => `k:${JSON.stringify({ name })}`;

/** The leaves of an object that a manager can own, keyed by JSON-encoded path segments. */
function leaves(obj: KubeObject): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (value: Record<string, unknown>, prefix: string[]) => {
    for (const [key, v] of Object.entries(value)) {
      const path = [...prefix, `f:${key}`];
      if (isPlainObject(v) && Object.keys(v).length > 0) walk(v, path);
      else if (isKeyedList(v)) for (const item of v) walk(item, [...path, itemSeg(item.name as string)]);
      else out.set(JSON.stringify(path), v);
    }
  };
  const top: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'apiVersion' || key === 'kind' || key === 'status') continue;
    if (key === 'metadata') {
      const meta: Record<string, unknown> = {};
      if (isPlainObject(v) && v.labels !== undefined) meta.labels = v.labels;
      if (isPlainObject(v) && v.annotations !== undefined) meta.annotations = v.annotations;
      if (Object.keys(meta).length) top.metadata = meta;
      continue;
    }
    top[key] = v;
  }
  walk(top, []);
  return out;
}

function childOf(container: unknown, seg: string): unknown {
  if (seg.startsWith('f:')) return isPlainObject(container) ? container[seg.slice(2)] : undefined;
  const name = (JSON.parse(seg.slice(2)) as { name: string }).name;
  return Array.isArray(container) ? container.find((i) => isPlainObject(i) && i.name === name) : undefined;
}

function getAt(obj: KubeObject, key: string): unknown {
  let cur: unknown = obj;
  for (const seg of JSON.parse(key) as string[]) cur = childOf(cur, seg);
  return cur;
}

function setAt(obj: KubeObject, key: string, value: unknown): void {
  const segs = JSON.parse(key) as string[];
  let cur: unknown = obj;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg.startsWith('f:')) {
      const container = cur as Record<string, unknown>;
      const k = seg.slice(2);
      if (last) {
        container[k] = clone(value);
        return;
      }
      const nextIsItem = segs[i + 1].startsWith('k:');
      if (nextIsItem ? !Array.isArray(container[k]) : !isPlainObject(container[k])) container[k] = nextIsItem ? [] : {};
      cur = container[k];
    } else {
      const list = cur as Record<string, unknown>[];
      const name = (JSON.parse(seg.slice(2)) as { name: string }).name;
      let item = list.find((x) => x.name === name);
      if (!item) {
        item = { name };
        list.push(item);
      }
      cur = item;
    }
  }
}

/** Removes a leaf and prunes the objects and list items it leaves empty. */
function deleteAt(obj: KubeObject, key: string): void {
  let segs = JSON.parse(key) as string[];
  // The "name" of a keyed list item is its key: dropping it means dropping the item once nothing else is left.
  if (segs.length >= 2 && segs[segs.length - 1] === 'f:name' && segs[segs.length - 2].startsWith('k:')) {
    const item = getAt(obj, JSON.stringify(segs.slice(0, -1)));
    if (!isPlainObject(item) || Object.keys(item).some((k) => k !== 'name')) return;
    segs = segs.slice(0, -1);
  }
  const chain: unknown[] = [obj];
  for (const seg of segs.slice(0, -1)) {
    const next = childOf(chain[chain.length - 1], seg);
    if (next === undefined) return;
    chain.push(next);
  }
  const remove = (container: unknown, seg: string) => {
    if (seg.startsWith('f:') && isPlainObject(container)) delete container[seg.slice(2)];
    else if (Array.isArray(container)) {
      const name = (JSON.parse(seg.slice(2)) as { name: string }).name;
      const idx = container.findIndex((x) => isPlainObject(x) && x.name === name);
      if (idx >= 0) container.splice(idx, 1);
    }
  };
  remove(chain[chain.length - 1], segs[segs.length - 1]);
  for (let i = chain.length - 1; i > 0; i--) {
    const node = chain[i];
    const emptyObject = isPlainObject(node) && (Object.keys(node).length === 0 || (segs[i - 1].startsWith('k:') && Object.keys(node).length === 1 && 'name' in node));
    const emptyList = Array.isArray(node) && node.length === 0;
    if (!emptyObject && !emptyList) break;
    remove(chain[i - 1], segs[i - 1]);
  }
}

/** ".spec.template.spec.containers[name=aws-node].env[name=X].value", as Kubernetes prints conflicts. */
function displayPath(key: string): string {
  return (JSON.parse(key) as string[])
    .map((seg) => (seg.startsWith('f:') ? `.${seg.slice(2)}` : `[name="${(JSON.parse(seg.slice(2)) as { name: string }).name}"]`))
    .join('');
}

function fieldsV1(fields: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const key of fields) {
    let cur = root;
    for (const seg of JSON.parse(key) as string[]) {
      cur[seg] ??= {};
      cur = cur[seg] as Record<string, unknown>;
    }
  }
  return root;
}

/** Strategic merge patch (lists of named objects merge by name; null deletes) or JSON merge patch. */
function mergePatch(target: unknown, patch: unknown, strategic: boolean): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete out[key];
    else if (strategic && Array.isArray(value) && isKeyedList(value) && Array.isArray(out[key])) {
      const list = clone(out[key] as Record<string, unknown>[]);
      for (const item of value) {
        const idx = list.findIndex((x) => isPlainObject(x) && x.name === item.name);
        if (item.$patch === 'delete') {
          if (idx >= 0) list.splice(idx, 1);
        } else if (idx >= 0) list[idx] = mergePatch(list[idx], item, strategic) as Record<string, unknown>;
        else list.push(mergePatch({}, item, strategic) as Record<string, unknown>);
      }
      out[key] = list;
    } else out[key] = mergePatch(out[key], value, strategic);
  }
  return out;
}

const status = (code: number, reason: string, message: string, details?: object) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  ...(details ? { details } : {}),
  code,
});

// ---------------------------------------------------------------------------------------------

export class KubeEmulator {
  private server?: https.Server;
  private port = 0;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly tokenCache = new Map<string, { arn: string; expiresAt: number }>();
  private resolver?: KubeAccessResolver;
  private readonly faults: { method: string; pathIncludes: string; status: number; left: number }[] = [];
  readonly caPem: string;
  private readonly certPem: string;
  private readonly keyPem: string;
  readonly options: Required<Omit<KubeEmulatorOptions, 'stsUrlRewrite'>> & Pick<KubeEmulatorOptions, 'stsUrlRewrite'>;

  constructor(
    private readonly log: CallLog,
    options: KubeEmulatorOptions = {},
  ) {
    this.options = { accessEntryPropagationMs: 0, unmappedPrincipalStatus: 401, ...options };
    const tls = standInCertificate('kube');
    this.caPem = tls.caPem;
    this.certPem = tls.certPem;
    this.keyPem = tls.keyPem;
  }

  async start(): Promise<void> {
    this.server = https.createServer({ key: this.keyPem, cert: this.certPem }, (req, res) => this.handle(req, res));
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  /** https://127.0.0.1:<port> */
  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** The API server endpoint of a cluster, as DescribeCluster reports it. */
  endpointFor(cluster: string): string {
    return `${this.url}/clusters/${encodeURIComponent(cluster)}`;
  }

  /** Who may do what: normally the EKS emulator's access entries. Without one, every authenticated principal is admin. */
  setAccessResolver(resolver: KubeAccessResolver | undefined): void {
    this.resolver = resolver;
  }

  // ----- admin: clusters -----

  registerCluster(name: string, options: KubeClusterOptions = {}): void {
    if (this.clusters.has(name)) return;
    this.clusters.set(name, {
      name,
      version: options.kubernetesVersion ?? '1.31',
      eniConfigCrd: options.eniConfigCrd ?? true,
      ...(options.reachable ? { reachable: options.reachable } : {}),
      rv: 1000,
      stores: {
        eniconfigs: new Map(), daemonsets: new Map(), nodes: new Map(), clusterroles: new Map(), clusterrolebindings: new Map(),
        services: new Map(), securitygrouppolicies: new Map(),
      },
    });
  }

  removeCluster(name: string): void {
    this.clusters.delete(name);
  }

  hasCluster(name: string): boolean {
    return this.clusters.has(name);
  }

  setEniConfigCrd(cluster: string, installed: boolean): void {
    this.state(cluster).eniConfigCrd = installed;
  }

  // ----- admin: ENIConfig -----

  eniConfigs(cluster: string): KubeObject[] {
    return [...this.state(cluster).stores.eniconfigs.values()].map((s) => this.render(s)).sort(byName);
  }

  eniConfig(cluster: string, name: string): KubeObject | undefined {
    const stored = this.state(cluster).stores.eniconfigs.get(name);
    return stored && this.render(stored);
  }

  deleteEniConfig(cluster: string, name: string): boolean {
    return this.state(cluster).stores.eniconfigs.delete(name);
  }

  /** Seeds or changes an ENIConfig as another field manager would (server-side apply, not recorded). */
  applyEniConfig(cluster: string, object: KubeObject, manager = 'kubectl', force = true): ApplyOutcome {
    const name = object.metadata?.name as string;
    return this.apply(this.state(cluster), this.info('eniconfigs', undefined, name), clone(object), manager, force);
  }

  // ----- admin: aws-node DaemonSet -----

  daemonSet(cluster: string, namespace = 'kube-system', name = 'aws-node'): KubeObject | undefined {
    const stored = this.state(cluster).stores.daemonsets.get(`${namespace}/${name}`);
    return stored && this.render(stored);
  }

  /** The `aws-node` container's env entries that have a literal value. Undefined without the DaemonSet. */
  daemonSetEnv(cluster: string): Record<string, string> | undefined {
    const ds = this.daemonSet(cluster);
    if (!ds) return undefined;
    const container = (ds.spec?.template?.spec?.containers ?? []).find((c: KubeObject) => c.name === 'aws-node');
    const env: Record<string, string> = {};
    for (const entry of container?.env ?? []) if (typeof entry.value === 'string') env[entry.name] = entry.value;
    return env;
  }

  /** Creates the aws-node DaemonSet (as the VPC CNI manifest would) when it is absent. */
  ensureAwsNode(cluster: string, env: Record<string, string>, manager = 'eks', image?: string): void {
    if (this.daemonSet(cluster)) return;
    this.setAwsNodeEnv(cluster, env, manager, { force: true, operation: manager === 'eks' ? 'Apply' : 'Update', image });
  }

  /**
   * Sets the aws-node container env as `manager` would: with 'Apply' the manager's whole env set is
   * `env` (entries it owned and no longer lists are removed); with 'Update' entries are merged by name.
   * `force: false` reports conflicts instead of taking fields over; `skipConflicts` applies the rest.
   */
  setAwsNodeEnv(
    cluster: string,
    env: Record<string, string>,
    manager: string,
    opts: { force?: boolean; skipConflicts?: boolean; operation?: 'Apply' | 'Update'; image?: string } = {},
  ): ApplyOutcome {
    const state = this.state(cluster);
    const info = this.info('daemonsets', 'kube-system', 'aws-node');
    const exists = state.stores.daemonsets.has('kube-system/aws-node');
    const container: KubeObject = { name: 'aws-node', env: Object.entries(env).map(([name, value]) => ({ name, value })) };
    if (!exists) container.image = opts.image ?? '602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1';
    const body: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'aws-node', namespace: 'kube-system', ...(exists ? {} : { labels: { 'k8s-app': 'aws-node' } }) },
      spec: {
        ...(exists ? {} : { selector: { matchLabels: { 'k8s-app': 'aws-node' } } }),
        template: {
          ...(exists ? {} : { metadata: { labels: { 'k8s-app': 'aws-node' } } }),
          spec: { containers: [container] },
        },
      },
    };
    if (opts.operation === 'Update') {
      if (!exists) return this.apply(state, info, body, manager, true, 'Update');
      return this.update(state, info, body, manager, true);
    }
    let outcome = this.apply(state, info, body, manager, opts.force ?? true);
    if (outcome.conflicts.length && !opts.force && opts.skipConflicts) {
      const conflicting = new Set(outcome.conflicts.map((c) => c.field));
      container.env = container.env.filter((e: KubeObject) => ![...conflicting].some((f) => f.includes(`env[name="${e.name}"]`)));
      outcome = this.apply(state, info, body, manager, false);
    }
    return outcome;
  }

  removeDaemonSet(cluster: string): void {
    this.state(cluster).stores.daemonsets.delete('kube-system/aws-node');
  }

  // ----- admin: nodes -----

  addNode(cluster: string, node: KubeNodeInput): KubeObject {
    const state = this.state(cluster);
    const region = node.zone.replace(/[a-z]$/, '');
    const instanceId = node.instanceId ?? `i-${randomUUID().replace(/-/g, '').slice(0, 17)}`;
    const obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node.name,
        uid: randomUUID(),
        resourceVersion: String(++state.rv),
        creationTimestamp: (node.createdAt ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        labels: {
          'kubernetes.io/hostname': node.name,
          'kubernetes.io/os': 'linux',
          'topology.kubernetes.io/region': region,
          'topology.kubernetes.io/zone': node.zone,
          ...(node.nodegroup ? { 'eks.amazonaws.com/nodegroup': node.nodegroup } : {}),
          ...node.labels,
        },
      },
      spec: { providerID: `aws:///${node.zone}/${instanceId}` },
      status: {
        addresses: [
          ...(node.internalIp ? [{ type: 'InternalIP', address: node.internalIp }] : []),
          { type: 'Hostname', address: node.name },
        ],
        conditions: [{ type: 'Ready', status: 'True' }],
        nodeInfo: { kernelVersion: node.kernelVersion ?? '6.1.119-129.201.amzn2023.x86_64', osImage: node.kernelVersion?.includes('amzn2.') ? 'Amazon Linux 2' : 'Amazon Linux 2023' },
        ...(node.maxPods !== undefined
          ? { capacity: { pods: String(node.maxPods) }, allocatable: { pods: String(node.maxPods) } }
          : {}),
      },
    };
    state.stores.nodes.set(node.name, { obj, managed: new Map() });
    return clone(obj);
  }

  /** Seeds a Service or SecurityGroupPolicy as kubectl would (not recorded). */
  addObject(cluster: string, kind: NamespacedKind, object: KubeObject): KubeObject {
    const state = this.state(cluster);
    const namespace = object.metadata?.namespace ?? 'default';
    const info = this.info(kind, namespace, object.metadata?.name);
    return this.apply(state, info, { ...clone(object), metadata: { ...object.metadata, namespace } }, 'kubectl', true).object;
  }

  removeObject(cluster: string, kind: NamespacedKind, namespace: string, name: string): boolean {
    return this.state(cluster).stores[kind].delete(`${namespace}/${name}`);
  }

  removeNode(cluster: string, name: string): boolean {
    return this.state(cluster).stores.nodes.delete(name);
  }

  nodes(cluster: string): KubeObject[] {
    return [...this.state(cluster).stores.nodes.values()].map((s) => this.render(s)).sort(byName);
  }

  /** The next `times` requests with this method whose path contains `pathIncludes` answer `status` (after authentication). */
  failNext(method: string, pathIncludes: string, status: number, times = 1): void {
    this.faults.push({ method, pathIncludes, status, left: times });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const action = `${method} ${url.pathname}`;
      this.log.record('kubernetes', action, method !== 'GET');
      const fault = this.log.faults.take('kubernetes', action);
      void applyFault(fault, req, res, (code) => ({
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(status(code, code === 429 ? 'TooManyRequests' : 'InternalError', `injected fault ${code}`)),
      })).then((next) => {
        if (next === 'answered') return;
        const drop = next === 'serve-and-drop';
        return this.serve(req, method, url, Buffer.concat(chunks).toString('utf8'))
          .then(({ code, body }) => (drop ? dropResponse(res) : send(res, code, body)))
          .catch((error: unknown) => {
            if (drop || error instanceof Unreachable) dropResponse(res);
            else if (error instanceof HttpError) send(res, error.status, status(error.status, error.reason, error.message, error.details));
            else send(res, 500, status(500, 'InternalError', `emulator: ${(error as Error).stack ?? String(error)}`));
          });
      });
    });
  }

  private async serve(req: http.IncomingMessage, method: string, url: URL, body: string): Promise<{ code: number; body: unknown }> {
    const match = /^\/clusters\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!match) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const clusterName = decodeURIComponent(match[1]);
    const state = this.clusters.get(clusterName);
    if (!state) throw new HttpError(404, 'NotFound', `no cluster "${clusterName}" behind this endpoint`);
    if (state.reachable && !(await state.reachable())) throw new Unreachable();
    const path = match[2] ?? '/';

    const stsArn = await this.authenticate(req.headers.authorization, clusterName);
    const principal = principalOf(stsArn);

    if (path === '/version' || path === '/version/') {
      if (method !== 'GET') throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
      const [major, minor] = state.version.split('.');
      return { code: 200, body: { major, minor, gitVersion: `v${state.version}.0-eks-local`, platform: 'linux/amd64' } };
    }

    const fault = this.faults.find((f) => f.left > 0 && f.method === method && path.includes(f.pathIncludes));
    if (fault) {
      fault.left--;
      throw new HttpError(fault.status, 'InternalError', `emulator: injected ${fault.status} for ${method} ${path}`);
    }
    const info = this.route(state, path);
    const verb = method === 'GET' ? (info.name ? 'get' : 'list') : method === 'DELETE' ? 'delete' : method === 'PATCH' ? 'patch' : method === 'POST' ? 'create' : method === 'PUT' ? 'update' : method.toLowerCase();
    this.authorize(clusterName, principal, stsArn, verb, info);

    const store = state.stores[info.kind];
    const key = info.namespace ? `${info.namespace}/${info.name}` : info.name;
    if (method === 'GET' && !info.name) {
      let items = [...store.values()].filter((s) => !info.namespace || s.obj.metadata.namespace === info.namespace);
      const selector = url.searchParams.get('labelSelector');
      if (selector) items = items.filter((s) => matchesSelector(s.obj.metadata.labels ?? {}, selector));
      return {
        code: 200,
        body: {
          apiVersion: info.apiVersion,
          kind: `${info.objectKind}List`,
          metadata: { resourceVersion: String(state.rv) },
          items: items.map((s) => this.render(s)).sort(byName),
        },
      };
    }
    if (method === 'POST' && !info.name && info.kind === 'eniconfigs') {
      const object = parseJson(body);
      const name = object.metadata?.name;
      if (typeof name !== 'string' || !name) throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
      if (store.has(name)) throw new HttpError(409, 'AlreadyExists', `eniconfigs.${ENI_CONFIG_GROUP} "${name}" already exists`);
      validateEniConfig(object);
      const outcome = this.apply(state, { ...info, name }, object, url.searchParams.get('fieldManager') ?? userAgentManager(req), true, 'Update');
      return { code: 201, body: outcome.object };
    }
    if (!info.name || !key) throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

    const notFound = () => new HttpError(404, 'NotFound', `${info.kind}${info.group ? `.${info.group}` : ''} "${info.name}" not found`, { name: info.name, group: info.group, kind: info.kind });
    switch (method) {
      case 'GET': {
        const stored = store.get(key);
        if (!stored) throw notFound();
        return { code: 200, body: this.render(stored) };
      }
      case 'DELETE': {
        const stored = store.get(key);
        if (!stored) throw notFound();
        store.delete(key);
        state.rv++;
        return { code: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: info.name, group: info.group, kind: info.kind, uid: stored.obj.metadata.uid } } };
      }
      case 'PATCH': {
        if (info.kind === 'nodes') throw new HttpError(405, 'MethodNotAllowed', 'the emulator does not patch nodes');
        const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        const manager = url.searchParams.get('fieldManager') ?? undefined;
        if (contentType === 'application/apply-patch+yaml') {
          if (!manager) throw new HttpError(400, 'BadRequest', 'PATCH with apply-patch+yaml requires a fieldManager query parameter');
          const object = parseJson(body);
          this.validateApplied(object, info);
          const outcome = this.apply(state, info, object, manager, url.searchParams.get('force') === 'true');
          if (outcome.conflicts.length && url.searchParams.get('force') !== 'true') throw conflictError(outcome.conflicts);
          return { code: outcome.created ? 201 : 200, body: outcome.object };
        }
        const strategic = contentType === 'application/strategic-merge-patch+json';
        if (strategic && info.kind === 'eniconfigs') {
          throw new HttpError(415, 'UnsupportedMediaType', 'strategic merge patch is not supported for custom resources; use merge or apply patches');
        }
        if (!strategic && contentType !== 'application/merge-patch+json') {
          throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml, application/merge-patch+json${info.kind === 'eniconfigs' ? '' : ', application/strategic-merge-patch+json'}`);
        }
        if (!store.get(key)) throw notFound();
        const patch = parseJson(body);
        const outcome = this.update(state, info, patch, manager ?? userAgentManager(req), strategic);
        return { code: 200, body: outcome.object };
      }
      default:
        throw new HttpError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  private route(state: ClusterState, path: string): ResourceInfo {
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const p = parts.join('/');
    let m: RegExpExecArray | null;
    if ((m = /^apis\/crd\.k8s\.amazonaws\.com\/v1alpha1\/eniconfigs(?:\/([^/]+))?$/.exec(p))) {
      if (!state.eniConfigCrd) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      return this.info('eniconfigs', undefined, m[1]);
    }
    if ((m = /^apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets(?:\/([^/]+))?$/.exec(p))) return this.info('daemonsets', m[1], m[2]);
    if ((m = /^api\/v1\/nodes(?:\/([^/]+))?$/.exec(p))) return this.info('nodes', undefined, m[1]);
    if ((m = /^api\/v1\/(?:namespaces\/([^/]+)\/)?services(?:\/([^/]+))?$/.exec(p))) return this.info('services', m[1], m[2]);
    if ((m = /^apis\/vpcresources\.k8s\.aws\/v1beta1\/(?:namespaces\/([^/]+)\/)?securitygrouppolicies(?:\/([^/]+))?$/.exec(p))) {
      return this.info('securitygrouppolicies', m[1], m[2]);
    }
    if ((m = /^apis\/rbac\.authorization\.k8s\.io\/v1\/(clusterroles|clusterrolebindings)(?:\/([^/]+))?$/.exec(p))) {
      return this.info(m[1] as 'clusterroles' | 'clusterrolebindings', undefined, m[2]);
    }
    throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private info(kind: ResourceKind, namespace?: string, name?: string): ResourceInfo {
    switch (kind) {
      case 'eniconfigs':
        return { kind, group: ENI_CONFIG_GROUP, apiVersion: ENI_CONFIG_API_VERSION, objectKind: 'ENIConfig', name };
      case 'daemonsets':
        return { kind, group: 'apps', apiVersion: 'apps/v1', objectKind: 'DaemonSet', namespace, name };
      case 'nodes':
        return { kind, group: '', apiVersion: 'v1', objectKind: 'Node', name };
      case 'clusterroles':
        return { kind, group: RBAC_GROUP, apiVersion: `${RBAC_GROUP}/v1`, objectKind: 'ClusterRole', name };
      case 'clusterrolebindings':
        return { kind, group: RBAC_GROUP, apiVersion: `${RBAC_GROUP}/v1`, objectKind: 'ClusterRoleBinding', name };
      case 'services':
        return { kind, group: '', apiVersion: 'v1', objectKind: 'Service', namespace, name };
      case 'securitygrouppolicies':
        return { kind, group: 'vpcresources.k8s.aws', apiVersion: SECURITY_GROUP_POLICY_API_VERSION, objectKind: 'SecurityGroupPolicy', namespace, name };
    }
  }

  private validateApplied(object: KubeObject, info: ResourceInfo): void {
    if (object.apiVersion !== info.apiVersion || object.kind !== info.objectKind) {
      throw new HttpError(400, 'BadRequest', `the API version in the data (${object.apiVersion}) and kind (${object.kind}) do not match ${info.apiVersion} ${info.objectKind}`);
    }
    if (object.metadata?.name !== info.name) {
      throw new HttpError(400, 'BadRequest', `the name of the object (${object.metadata?.name}) does not match the name on the URL (${info.name})`);
    }
    if (info.namespace && object.metadata?.namespace !== undefined && object.metadata.namespace !== info.namespace) {
      throw new HttpError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (info.kind === 'eniconfigs') validateEniConfig(object);
  }

  // ----- authentication and authorization -----

  private async authenticate(header: string | undefined, cluster: string): Promise<string> {
    const unauthorized = (why: string) => new HttpError(401, 'Unauthorized', `Unauthorized${why ? ` (emulator: ${why})` : ''}`);
    const match = /^Bearer\s+k8s-aws-v1\.([A-Za-z0-9_-]+)$/.exec(header ?? '');
    if (!match) throw unauthorized('missing or malformed bearer token');
    const token = match[1];
    const cached = this.tokenCache.get(`${cluster} ${token}`);
    if (cached && cached.expiresAt > Date.now()) return cached.arn;
    let url: URL;
    try {
      url = new URL(Buffer.from(token, 'base64url').toString('utf8'));
    } catch {
      throw unauthorized('token is not a base64url URL');
    }
    const q = url.searchParams;
    if (q.get('Action') !== 'GetCallerIdentity') throw unauthorized('token URL is not an STS GetCallerIdentity call');
    const signed = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
    if (!signed.includes('x-k8s-aws-id')) throw unauthorized('x-k8s-aws-id is not a signed header');
    const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '');
    const expires = Number(q.get('X-Amz-Expires'));
    if (!date || !Number.isFinite(expires)) throw unauthorized('token lacks X-Amz-Date or X-Amz-Expires');
    const signedAt = Date.UTC(+date[1], +date[2] - 1, +date[3], +date[4], +date[5], +date[6]);
    // EKS accepts a token for at most 15 minutes whatever its X-Amz-Expires says.
    const expiresAt = signedAt + Math.min(expires, 900) * 1000;
    if (Date.now() > expiresAt) throw unauthorized('token expired');
    const target = this.options.stsUrlRewrite ? this.options.stsUrlRewrite(url) : url;
    // moto reads the caller's access key only from an Authorization header, not from a presigned
    // query: hand it the query's credential that way so assumed-role callers are told apart.
    const headers: Record<string, string> = { 'x-k8s-aws-id': cluster };
    const credential = q.get('X-Amz-Credential');
    if (credential) {
      headers.authorization = `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=${q.get('X-Amz-SignedHeaders')}, Signature=${q.get('X-Amz-Signature') ?? ''}`;
    }
    const answer = await httpGet(target, headers).catch((error: Error) => {
      throw unauthorized(`STS unreachable: ${error.message}`);
    });
    if (answer.status !== 200) throw unauthorized(`STS answered ${answer.status}`);
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(answer.body)?.[1];
    if (!arn) throw unauthorized('STS answer has no Arn');
    this.tokenCache.set(`${cluster} ${token}`, { arn, expiresAt });
    return arn;
  }

  private authorize(cluster: string, principal: string, username: string, verb: string, info: ResourceInfo): void {
    if (!this.resolver) return;
    const grant = this.resolver(cluster, principal);
    if (!grant || Date.now() < grant.createdAt + this.options.accessEntryPropagationMs) {
      const code = this.options.unmappedPrincipalStatus;
      throw code === 401
        ? new HttpError(401, 'Unauthorized', 'Unauthorized')
        : new HttpError(403, 'Forbidden', `${forbiddenText(username, verb, info)} (no access entry for ${principal})`);
    }
    const covers = (p: KubeAccessPolicy) => p.accessScope.type === 'cluster' || (!!info.namespace && (p.accessScope.namespaces ?? []).includes(info.namespace));
    const write = verb !== 'get' && verb !== 'list';
    const effective = (since: number | undefined) => Date.now() >= (since ?? grant.createdAt) + this.options.accessEntryPropagationMs;
    const policies = grant.policies.filter((p) => effective(p.associatedAt));
    const groups = effective(grant.groupsSetAt) ? grant.groups ?? [] : [];
    const allowed = write
      ? policies.some((p) => p.policyArn === CLUSTER_ADMIN_POLICY && p.accessScope.type === 'cluster')
      : policies.some((p) => READ_POLICIES.has(p.policyArn) && covers(p));
    if (!allowed && !this.rbacAllows(this.state(cluster), groups, verb, info)) throw new HttpError(403, 'Forbidden', forbiddenText(username, verb, info), { name: info.name, group: info.group, kind: info.kind });
  }

  /** RBAC as the API server evaluates it: a ClusterRole bound to one of the groups has a rule for the request. */
  private rbacAllows(state: ClusterState, groups: string[], verb: string, info: ResourceInfo): boolean {
    const has = (list: unknown, value: string) => Array.isArray(list) && (list.includes(value) || list.includes('*'));
    for (const { obj: binding } of state.stores.clusterrolebindings.values()) {
      if (binding.roleRef?.kind !== 'ClusterRole') continue;
      if (!(binding.subjects ?? []).some((s: KubeObject) => s.kind === 'Group' && groups.includes(s.name))) continue;
      const role = state.stores.clusterroles.get(binding.roleRef.name)?.obj;
      for (const rule of role?.rules ?? []) {
        const names: string[] = rule.resourceNames ?? [];
        const named = names.length === 0 || (info.name !== undefined && names.includes(info.name));
        if (has(rule.apiGroups, info.group) && has(rule.resources, info.kind) && has(rule.verbs, verb) && named) return true;
      }
    }
    return false;
  }

  // ----- admin: RBAC -----

  clusterRole(cluster: string, name: string): KubeObject | undefined {
    const stored = this.state(cluster).stores.clusterroles.get(name);
    return stored && this.render(stored);
  }

  clusterRoleBinding(cluster: string, name: string): KubeObject | undefined {
    const stored = this.state(cluster).stores.clusterrolebindings.get(name);
    return stored && this.render(stored);
  }

  /** Removes an RBAC object as a person with kubectl would. */
  deleteRbac(cluster: string, kind: 'clusterroles' | 'clusterrolebindings', name: string): boolean {
    return this.state(cluster).stores[kind].delete(name);
  }

  // ----- server-side apply and updates -----

  private apply(state: ClusterState, info: ResourceInfo, applied: KubeObject, manager: string, force: boolean, operation: 'Apply' | 'Update' = 'Apply'): ApplyOutcome {
    const store = state.stores[info.kind];
    const key = info.namespace ? `${info.namespace}/${info.name}` : info.name!;
    const appliedLeaves = leaves(applied);
    const now = nowIso();
    const current = store.get(key);
    if (!current) {
      const obj: KubeObject = {
        apiVersion: info.apiVersion,
        kind: info.objectKind,
        metadata: {
          name: info.name,
          ...(info.namespace ? { namespace: info.namespace } : {}),
          uid: randomUUID(),
          resourceVersion: String(++state.rv),
          generation: 1,
          creationTimestamp: now,
        },
      };
      for (const [path, value] of appliedLeaves) setAt(obj, path, value);
      const stored: Stored = { obj, managed: new Map([[manager, { operation, apiVersion: info.apiVersion, time: now, fields: new Set(appliedLeaves.keys()) }]]) };
      store.set(key, stored);
      return { object: this.render(stored), created: true, changed: true, conflicts: [] };
    }
    const conflicts: { manager: string; field: string }[] = [];
    for (const [path, value] of appliedLeaves) {
      for (const [other, entry] of current.managed) {
        if (other === manager || !entry.fields.has(path)) continue;
        if (!deepEqual(getAt(current.obj, path), value)) conflicts.push({ manager: other, field: displayPath(path) });
      }
    }
    if (conflicts.length && !force) return { object: this.render(current), created: false, changed: false, conflicts };
    const obj = clone(current.obj);
    const managed = new Map([...current.managed].map(([m, e]) => [m, { ...e, fields: new Set(e.fields) }]));
    if (force) {
      for (const [path, value] of appliedLeaves) {
        for (const [other, entry] of managed) {
          if (other !== manager && entry.fields.has(path) && !deepEqual(getAt(obj, path), value)) entry.fields.delete(path);
        }
      }
    }
    const previous = managed.get(manager)?.fields ?? new Set<string>();
    for (const path of previous) {
      if (appliedLeaves.has(path)) continue;
      const ownedElsewhere = [...managed].some(([m, e]) => m !== manager && e.fields.has(path));
      if (!ownedElsewhere) deleteAt(obj, path);
    }
    for (const [path, value] of appliedLeaves) setAt(obj, path, value);
    const prevEntry = managed.get(manager);
    managed.set(manager, { operation, apiVersion: info.apiVersion, time: prevEntry?.time ?? now, fields: new Set(appliedLeaves.keys()) });
    return { ...this.commit(state, store, key, current, obj, managed, manager, now), conflicts };
  }

  private update(state: ClusterState, info: ResourceInfo, patch: KubeObject, manager: string, strategic: boolean): ApplyOutcome {
    const store = state.stores[info.kind];
    const key = info.namespace ? `${info.namespace}/${info.name}` : info.name!;
    const current = store.get(key)!;
    const now = nowIso();
    const { metadata: patchMeta, ...rest } = patch;
    const obj = mergePatch(current.obj, rest, strategic) as KubeObject;
    if (isPlainObject(patchMeta)) {
      for (const field of ['labels', 'annotations'] as const) {
        if (patchMeta[field] !== undefined) obj.metadata[field] = mergePatch(obj.metadata[field], patchMeta[field], false);
      }
    }
    obj.apiVersion = current.obj.apiVersion;
    obj.kind = current.obj.kind;
    const before = leaves(current.obj);
    const after = leaves(obj);
    const managed = new Map([...current.managed].map(([m, e]) => [m, { ...e, fields: new Set(e.fields) }]));
    const changedPaths = [...after].filter(([p, v]) => !before.has(p) || !deepEqual(before.get(p), v)).map(([p]) => p);
    const removedPaths = [...before.keys()].filter((p) => !after.has(p));
    for (const entry of managed.values()) for (const p of [...changedPaths, ...removedPaths]) entry.fields.delete(p);
    if (changedPaths.length) {
      const own = managed.get(manager);
      const fields = new Set([...(own?.operation === 'Update' ? own.fields : []), ...changedPaths]);
      // An Apply manager that also sends an update is tracked as a separate entry in Kubernetes; one entry per name here.
      managed.set(manager, { operation: 'Update', apiVersion: info.apiVersion, time: own?.time ?? now, fields });
    }
    return { ...this.commit(state, store, key, current, obj, managed, manager, now), conflicts: [] };
  }

  private commit(
    state: ClusterState,
    store: Map<string, Stored>,
    key: string,
    current: Stored,
    obj: KubeObject,
    managed: Map<string, ManagerEntry>,
    manager: string,
    now: string,
  ): Omit<ApplyOutcome, 'conflicts'> {
    for (const [m, e] of managed) if (e.fields.size === 0) managed.delete(m);
    const sameFields = (a: Map<string, ManagerEntry>, b: Map<string, ManagerEntry>) =>
      a.size === b.size && [...a].every(([m, e]) => b.get(m)?.operation === e.operation && deepEqual([...e.fields].sort(), [...(b.get(m)?.fields ?? [])].sort()));
    const changed = !deepEqual(obj, current.obj) || !sameFields(managed, current.managed);
    if (!changed) return { object: this.render(current), created: false, changed: false };
    const entry = managed.get(manager);
    if (entry) entry.time = now;
    if (!deepEqual(obj.spec, current.obj.spec)) obj.metadata.generation = (current.obj.metadata.generation ?? 1) + 1;
    obj.metadata.resourceVersion = String(++state.rv);
    const stored: Stored = { obj, managed };
    store.set(key, stored);
    return { object: this.render(stored), created: false, changed: true };
  }

  private render(stored: Stored): KubeObject {
    const obj = clone(stored.obj);
    if (stored.managed.size) {
      obj.metadata.managedFields = [...stored.managed].map(([manager, e]) => ({
        manager,
        operation: e.operation,
        apiVersion: e.apiVersion,
        time: e.time,
        fieldsType: 'FieldsV1',
        fieldsV1: fieldsV1(e.fields),
      }));
    }
    return obj;
  }

  private state(cluster: string): ClusterState {
    const state = this.clusters.get(cluster);
    if (!state) throw new Error(`kube emulator: no cluster "${cluster}" registered`);
    return state;
  }
}

// ---------------------------------------------------------------------------------------------

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function parseJson(body: string): KubeObject {
  try {
    const parsed = JSON.parse(body);
    if (!isPlainObject(parsed)) throw new Error('not an object');
    return parsed;
  } catch (error) {
    throw new HttpError(400, 'BadRequest', `emulator accepts JSON bodies only (JSON is valid YAML): ${(error as Error).message}`);
  }
}

function conflictError(conflicts: { manager: string; field: string }[]): HttpError {
  const lines = conflicts.map((c) => `conflict with "${c.manager}": ${c.field}`);
  return new HttpError(409, 'Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${lines.join('\n')}`, {
    causes: conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with "${c.manager}"`, field: c.field })),
  });
}

function forbiddenText(username: string, verb: string, info: ResourceInfo): string {
  const resource = info.group ? `${info.kind}.${info.group}` : info.kind;
  const subject = info.name ? `${resource} "${info.name}"` : resource;
  const where = info.namespace ? `in the namespace "${info.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${username}" cannot ${verb} resource "${info.kind}" in API group "${info.group}" ${where}`;
}

/** The IAM principal EKS matches access entries against, from the STS caller ARN. */
export function principalOf(stsArn: string): string {
  const assumed = /^arn:(aws[\w-]*):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(stsArn);
  if (assumed) return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
  const user = /^arn:(aws[\w-]*):sts::(\d+):user\/(.+)$/.exec(stsArn);
  if (user) return `arn:${user[1]}:iam::${user[2]}:user/${user[3]}`;
  return stsArn;
}

function matchesSelector(labels: Record<string, string>, selector: string): boolean {
  return selector.split(',').every((term) => {
    const t = term.trim();
    if (!t) return true;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=]+)!=(.*)$/.exec(t))) return labels[m[1].trim()] !== m[2].trim();
    if ((m = /^([^=]+)==?(.*)$/.exec(t))) return labels[m[1].trim()] === m[2].trim();
    if (t.startsWith('!')) return !(t.slice(1) in labels);
    return t in labels;
  });
}

function userAgentManager(req: http.IncomingMessage): string {
  const agent = req.headers['user-agent'];
  return agent ? agent.split('/')[0] : 'unknown';
}

const byName = (a: KubeObject, b: KubeObject) => String(a.metadata.name).localeCompare(String(b.metadata.name));
const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

function httpGet(url: URL, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'GET', headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('STS call timed out')));
    req.on('error', reject);
    req.end();
  });
}

const ENI_CONFIG_SPEC_FIELDS = new Set(['subnet', 'securityGroups']);

/**
 * The ENIConfig CRD's schema, as the API server enforces it: spec.subnet a subnet id (the CNI needs
 * it), spec.securityGroups a list of security group ids; fields the schema does not know are pruned
 * from what is stored, as a structural schema does.
 */
function validateEniConfig(object: KubeObject): void {
  const spec = (object as { spec?: unknown }).spec;
  const invalid = (field: string, why: string) => new HttpError(422, 'Invalid', `ENIConfig.${ENI_CONFIG_GROUP} "${object.metadata?.name}" is invalid: ${field}: ${why}`);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw invalid('spec', 'Required value');
  const fields = spec as Record<string, unknown>;
  if (typeof fields.subnet !== 'string' || !/^subnet-[0-9a-z]+$/.test(fields.subnet)) throw invalid('spec.subnet', `Invalid value: ${JSON.stringify(fields.subnet)}: a subnet id is required`);
  if (fields.securityGroups !== undefined) {
    if (!Array.isArray(fields.securityGroups)) throw invalid('spec.securityGroups', 'Invalid value: must be of type array');
    const bad = fields.securityGroups.find((g) => typeof g !== 'string' || !/^sg-[0-9a-z]+$/.test(g));
    if (bad !== undefined) throw invalid('spec.securityGroups', `Invalid value: ${JSON.stringify(bad)}: must be a security group id`);
  }
  for (const key of Object.keys(fields)) if (!ENI_CONFIG_SPEC_FIELDS.has(key)) delete fields[key];
}
