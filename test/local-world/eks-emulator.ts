// An in-process stand-in for the EKS REST API (restJson1), reached by the real @aws-sdk/client-eks
// through AWS_ENDPOINT_URL_EKS. Clusters live in moto's VPCs: CreateCluster derives vpcId from
// moto's subnets and creates the cluster security group there. Kubernetes-side effects (the
// aws-node DaemonSet, nodes, who may call the API server) go to the KubeEmulator.
//
// Lifecycles are driven by options or admin methods, never by wall-clock timers, so tests are
// deterministic:
//   cluster    CREATING -> ACTIVE   activateCluster(name), or `clusterActivationDescribes` /
//                                   `clusterActivationDelayMs`
//   node group CREATING -> ACTIVE   activateNodegroup(c, ng), or `nodegroupActivationDescribes` /
//                                   `nodegroupActivationDelayMs`
//   add-on update InProgress -> Successful after `addonUpdateDescribes` polls (DescribeUpdate of
//                                   that update, or DescribeAddon of that add-on) that answered
//                                   InProgress; or completeAddonUpdate(c, addon)
//   cluster / node group DELETING -> gone after `deletionDescribes` Describe calls answering DELETING
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { applyFault, awsErrorCode, dropResponse } from './faults';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  EC2Client,
  Subnet,
} from '@aws-sdk/client-ec2';
import { contains, parseCidr, parseCidrOrThrow } from '../../lambdas/shared/cidr';
import { CallLog, isReadAction } from './call-log';
import { KubeAccessGrant, KubeEmulator } from './kube-emulator';
import { closeServer, listenOnLoopback } from './loopback';

export interface EksEmulatorOptions {
  /**
   * DescribeCluster calls that still answer CREATING after creation; the next one answers ACTIVE.
   * Default undefined: the cluster stays CREATING until activateCluster() (or the delay below).
   */
  clusterActivationDescribes?: number;
  /** The cluster becomes ACTIVE once this many ms have passed since creation (checked on every read). Default undefined (never). */
  clusterActivationDelayMs?: number;
  /** As clusterActivationDescribes, for DescribeNodegroup. Default undefined: stays CREATING until activateNodegroup(). */
  nodegroupActivationDescribes?: number;
  /** As clusterActivationDelayMs, for node groups. Default undefined. */
  nodegroupActivationDelayMs?: number;
  /** DescribeUpdate/DescribeAddon polls that still answer InProgress/UPDATING; the next one completes the update. Default 1. */
  addonUpdateDescribes?: number;
  /** Describe calls that still answer DELETING after DeleteCluster/DeleteNodegroup; the next one answers 404. Default 1. */
  deletionDescribes?: number;
  /** New clusters get the managed `vpc-cni` add-on when they become ACTIVE. Default true. */
  withVpcCniAddon?: boolean;
  /** Without the add-on: whether the cluster still runs a self-managed aws-node DaemonSet. Default true. */
  selfManagedAwsNode?: boolean;
  /** Default Kubernetes version for CreateCluster without `version`. Default '1.31'. */
  kubernetesVersion?: string;
  /** Version of the vpc-cni add-on. Default 'v1.19.2-eksbuild.1'. */
  vpcCniVersion?: string;
  /**
   * When set, CreateCluster (with bootstrapClusterCreatorAdminPermissions not false and an
   * authentication mode allowing access entries) gives this IAM principal an access entry with
   * AmazonEKSClusterAdminPolicy, as EKS does for the creator. Default undefined (no bootstrap entry).
   */
  creatorPrincipalArn?: string;
  /**
   * Where the code under test calls the Kubernetes API from (its security groups, its subnets'
   * CIDRs): a private-only cluster's API answers only when its cluster security group admits one of
   * them on 443. Default: nowhere (a private-only cluster is unreachable).
   */
  privateEndpointCallers?: () => { securityGroupIds: string[]; cidrs: string[] };
}

export interface EksEmulatorDeps {
  log: CallLog;
  kube: KubeEmulator;
  /** moto's own endpoint (not the recording proxy): the emulator's EC2 calls are not counted. */
  motoDirectEndpoint: string;
  region: string;
  accountId: string;
  /** Credentials acting in `accountId` (moto keeps accounts apart by credentials); default the hub's test ones. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface EksError {
  code: string;
  status?: number;
  message?: string;
}

export interface ClusterPreset {
  withVpcCniAddon?: boolean;
  selfManagedAwsNode?: boolean;
}

export interface AddonUpdateState {
  id: string;
  addonName: string;
  status: 'InProgress' | 'Successful' | 'Failed' | 'Cancelled';
  params: { type: string; value: string }[];
  createdAt: Date;
  errors: { errorCode: string; errorMessage: string; resourceIds: string[] }[];
  pollsLeft: number;
  resolveConflicts: string;
  previousConfiguration?: string;
}

export interface AddonState {
  addonName: string;
  addonVersion: string;
  addonArn: string;
  status: string;
  createdAt: Date;
  modifiedAt: Date;
  configurationValues?: string;
  serviceAccountRoleArn?: string;
  tags: Record<string, string>;
  activeUpdateId?: string;
}

export interface AccessEntryState {
  principalArn: string;
  accessEntryArn: string;
  type: string;
  username: string;
  kubernetesGroups: string[];
  createdAt: Date;
  modifiedAt: Date;
  tags: Record<string, string>;
  policies: Map<string, { accessScope: { type: string; namespaces: string[] }; associatedAt: Date; modifiedAt: Date }>;
}

export interface NodegroupState {
  nodegroupName: string;
  nodegroupArn: string;
  status: string;
  createdAt: Date;
  modifiedAt: Date;
  subnets: { subnetId: string; az: string; cidr: string }[];
  scalingConfig: { minSize?: number; maxSize?: number; desiredSize?: number };
  labels: Record<string, string>;
  tags: Record<string, string>;
  amiType: string;
  nodeRole: string;
  instanceTypes: string[];
  capacityType: string;
  autoScalingGroupName: string;
  activationDescribesLeft?: number;
  deletionDescribesLeft: number;
  nodeNames: string[];
}

export interface ClusterState {
  name: string;
  arn: string;
  roleArn: string;
  version: string;
  status: string;
  createdAt: Date;
  subnetIds: string[];
  securityGroupIds: string[];
  endpointPublicAccess: boolean;
  clusterSecurityGroupId: string;
  /** Report clusterSecurityGroupId while CREATING too (real EKS may, late in CREATING). */
  reportsGroupWhileCreating?: boolean;
  vpcId: string;
  ipFamily: string;
  serviceIpv4Cidr: string;
  authenticationMode: string;
  bootstrapClusterCreatorAdminPermissions: boolean;
  computeConfig?: { enabled?: boolean; nodePools?: string[]; nodeRoleArn?: string };
  tags: Record<string, string>;
  withVpcCniAddon: boolean;
  selfManagedAwsNode: boolean;
  activated: boolean;
  activationDescribesLeft?: number;
  deletionDescribesLeft: number;
  addons: Map<string, AddonState>;
  updates: Map<string, AddonUpdateState>;
  accessEntries: Map<string, AccessEntryState>;
  nodegroups: Map<string, NodegroupState>;
}

/** eni-max-pods.txt of the EKS AMIs for a few types: ENIs x (IPs per ENI - 1) + 2. */
const AMI_MAX_PODS: Readonly<Record<string, number>> = { 't3.medium': 17, 't3.large': 35, 'm5.large': 29, 'm5.xlarge': 58 };

/** Env of the aws-node container as the vpc-cni add-on installs it. */
export const DEFAULT_AWS_NODE_ENV: Readonly<Record<string, string>> = {
  ADDITIONAL_ENI_TAGS: '{}',
  AWS_VPC_CNI_NODE_PORT_SUPPORT: 'true',
  AWS_VPC_ENI_MTU: '9001',
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'false',
  AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
  AWS_VPC_K8S_CNI_LOGLEVEL: 'DEBUG',
  AWS_VPC_K8S_CNI_LOG_FILE: '/host/var/log/aws-routed-eni/ipamd.log',
  AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'prng',
  AWS_VPC_K8S_CNI_VETHPREFIX: 'eni',
  ENABLE_IPv4: 'true',
  ENABLE_IPv6: 'false',
  ENABLE_PREFIX_DELEGATION: 'false',
  WARM_ENI_TARGET: '1',
};

const ACCESS_ENTRY_MODES = new Set(['API', 'API_AND_CONFIG_MAP']);
const ERROR_STATUS: Record<string, number> = {
  AccessDeniedException: 403,
  BadRequestException: 400,
  ClientException: 400,
  InvalidParameterException: 400,
  InvalidRequestException: 400,
  InvalidStateException: 400,
  NotFoundException: 404,
  ResourceInUseException: 409,
  ResourceLimitExceededException: 400,
  ResourceNotFoundException: 404,
  ServerException: 500,
  ServiceUnavailableException: 503,
  ThrottlingException: 429,
};

class EksHttpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = ERROR_STATUS[code] ?? 400,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

const epoch = (d: Date) => d.getTime() / 1000;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
type Handler = (params: string[], body: Json, query: URLSearchParams) => Promise<Json> | Json;

export class EksEmulator {
  private server?: http.Server;
  private port = 0;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly presets = new Map<string, ClusterPreset>();
  private readonly reportedCas = new Map<string, string>();
  private readonly failures = new Map<string, { error: EksError; times: number }>();
  private readonly ec2: EC2Client;
  private readonly routes: { method: string; pattern: RegExp; op: string; handler: Handler }[];
  readonly options: EksEmulatorOptions & Required<Pick<EksEmulatorOptions, 'addonUpdateDescribes' | 'deletionDescribes' | 'withVpcCniAddon' | 'selfManagedAwsNode' | 'kubernetesVersion' | 'vpcCniVersion'>>;
  private nextIp = 10;

  constructor(
    private readonly deps: EksEmulatorDeps,
    options: EksEmulatorOptions = {},
  ) {
    this.options = {
      addonUpdateDescribes: 1,
      deletionDescribes: 1,
      withVpcCniAddon: true,
      selfManagedAwsNode: true,
      kubernetesVersion: '1.31',
      vpcCniVersion: 'v1.19.2-eksbuild.1',
      ...options,
    };
    this.ec2 = new EC2Client({
      endpoint: deps.motoDirectEndpoint,
      region: deps.region,
      credentials: deps.credentials ?? { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    deps.kube.setAccessResolver((cluster, principal) => this.accessGrant(cluster, principal));
    const S = '([^/]+)';
    const r = (method: string, path: string, op: string, handler: Handler) =>
      ({ method, pattern: new RegExp(`^${path}$`), op, handler });
    this.routes = [
      r('POST', '/clusters', 'CreateCluster', (_p, b) => this.createCluster(b)),
      r('GET', '/clusters', 'ListClusters', () => ({ clusters: [...this.clusters.keys()] })),
      r('GET', `/clusters/${S}`, 'DescribeCluster', ([c]) => this.describeCluster(c)),
      r('DELETE', `/clusters/${S}`, 'DeleteCluster', ([c]) => this.deleteCluster(c)),
      r('GET', `/clusters/${S}/updates/${S}`, 'DescribeUpdate', ([c, id], _b, q) => this.describeUpdate(c, id, q.get('addonName') ?? undefined)),
      r('POST', `/clusters/${S}/addons`, 'CreateAddon', ([c], b) => this.createAddon(c, b)),
      r('GET', `/clusters/${S}/addons`, 'ListAddons', ([c]) => ({ addons: [...this.mustCluster(c).addons.keys()] })),
      r('GET', `/clusters/${S}/addons/${S}`, 'DescribeAddon', ([c, a]) => this.describeAddon(c, a)),
      r('DELETE', `/clusters/${S}/addons/${S}`, 'DeleteAddon', ([c, a], _b, q) => this.deleteAddon(c, a, q.get('preserve') === 'true')),
      r('POST', `/clusters/${S}/addons/${S}/update`, 'UpdateAddon', ([c, a], b) => this.updateAddon(c, a, b)),
      r('POST', `/clusters/${S}/access-entries`, 'CreateAccessEntry', ([c], b) => this.createAccessEntry(c, b)),
      r('GET', `/clusters/${S}/access-entries`, 'ListAccessEntries', ([c]) => ({ accessEntries: [...this.accessEntryCluster(c).accessEntries.keys()] })),
      r('GET', `/clusters/${S}/access-entries/${S}`, 'DescribeAccessEntry', ([c, p]) => ({ accessEntry: this.renderAccessEntry(c, this.mustAccessEntry(c, p)) })),
      r('DELETE', `/clusters/${S}/access-entries/${S}`, 'DeleteAccessEntry', ([c, p]) => this.deleteAccessEntry(c, p)),
      r('POST', `/clusters/${S}/access-entries/${S}`, 'UpdateAccessEntry', ([c, p], b) => this.updateAccessEntry(c, p, b)),
      r('POST', `/clusters/${S}/access-entries/${S}/access-policies`, 'AssociateAccessPolicy', ([c, p], b) => this.associateAccessPolicy(c, p, b)),
      r('GET', `/clusters/${S}/access-entries/${S}/access-policies`, 'ListAssociatedAccessPolicies', ([c, p]) => this.listAssociatedAccessPolicies(c, p)),
      r('DELETE', `/clusters/${S}/access-entries/${S}/access-policies/${S}`, 'DisassociateAccessPolicy', ([c, p, pol]) => this.disassociateAccessPolicy(c, p, pol)),
      r('POST', `/clusters/${S}/node-groups`, 'CreateNodegroup', ([c], b) => this.createNodegroup(c, b)),
      r('GET', `/clusters/${S}/node-groups`, 'ListNodegroups', ([c]) => ({ nodegroups: [...this.mustCluster(c).nodegroups.keys()] })),
      r('GET', `/clusters/${S}/node-groups/${S}`, 'DescribeNodegroup', ([c, ng]) => this.describeNodegroup(c, ng)),
      r('DELETE', `/clusters/${S}/node-groups/${S}`, 'DeleteNodegroup', ([c, ng]) => this.deleteNodegroup(c, ng)),
      r('POST', `/tags/${S}`, 'TagResource', ([arn], b) => this.tagResource(arn, b.tags ?? {})),
      r('DELETE', `/tags/${S}`, 'UntagResource', ([arn], _b, q) => this.untagResource(arn, q.getAll('tagKeys'))),
      r('GET', `/tags/${S}`, 'ListTagsForResource', ([arn]) => ({ tags: { ...this.taggable(arn) } })),
    ];
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.port = await listenOnLoopback(this.server);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
    this.ec2.destroy();
  }

  /** http://127.0.0.1:<port>: the value for AWS_ENDPOINT_URL_EKS. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // ---------------------------------------------------------------------------------------------
  // Admin methods (not recorded)

  /** Creates a cluster as CreateCluster would, without going through HTTP (so without a recorded call). */
  async createClusterDirect(input: Json): Promise<ClusterState> {
    await this.createCluster(input);
    return this.clusters.get(input.name)!;
  }

  /** Per-cluster overrides of withVpcCniAddon / selfManagedAwsNode, for a cluster not created yet. */
  presetCluster(name: string, preset: ClusterPreset): void {
    this.presets.set(name, preset);
  }

  /** CREATING -> ACTIVE, with its side effects: the API server, the vpc-cni add-on, the aws-node DaemonSet. */
  /** DescribeCluster reports `pem` as the cluster's CA (the Kubernetes API is served from another one: an impostor endpoint). */
  reportCertificateAuthority(name: string, pem: string | undefined): void {
    if (pem === undefined) this.reportedCas.delete(name);
    else this.reportedCas.set(name, pem);
  }

  activateCluster(name: string): void {
    const cluster = this.mustClusterAdmin(name);
    cluster.status = 'ACTIVE';
    this.onActive(cluster);
  }

  /** Any status ('UPDATING', 'FAILED', ...). 'ACTIVE' activates as activateCluster does. */
  setClusterStatus(name: string, status: string): void {
    const cluster = this.mustClusterAdmin(name);
    cluster.status = status;
    if (status === 'ACTIVE') this.onActive(cluster);
  }

  /** The emulator's own record of a cluster (live, mutable). */
  cluster(name: string): ClusterState | undefined {
    return this.clusters.get(name);
  }

  clusterNames(): string[] {
    return [...this.clusters.keys()];
  }

  /** Access entries as DescribeAccessEntry would show them, each with its associated policies. */
  accessEntries(name: string): (Json & { policies: { policyArn: string; accessScope: { type: string; namespaces: string[] } }[] })[] {
    const cluster = this.mustClusterAdmin(name);
    return [...cluster.accessEntries.values()].map((e) => ({
      ...this.renderAccessEntry(name, e),
      policies: [...e.policies].map(([policyArn, p]) => ({ policyArn, accessScope: p.accessScope })),
    }));
  }

  addon(cluster: string, name: string): AddonState | undefined {
    return this.clusters.get(cluster)?.addons.get(name);
  }

  /** The add-on's update record (the last one when `updateId` is omitted). */
  addonUpdate(cluster: string, addonName: string, updateId?: string): AddonUpdateState | undefined {
    const updates = [...this.mustClusterAdmin(cluster).updates.values()].filter((u) => u.addonName === addonName);
    return updateId ? updates.find((u) => u.id === updateId) : updates[updates.length - 1];
  }

  /** Seeds pre-existing add-on settings (as if set long ago): stored and applied to aws-node at once. */
  setAddonConfiguration(cluster: string, name: string, configurationValues: string | object): void {
    const state = this.mustClusterAdmin(cluster);
    const addon = state.addons.get(name);
    if (!addon) throw new Error(`eks emulator: cluster ${cluster} has no add-on ${name}`);
    addon.configurationValues = typeof configurationValues === 'string' ? configurationValues : JSON.stringify(configurationValues);
    if (name === 'vpc-cni') this.applyAddonEnv(state, addon, 'OVERWRITE');
  }

  /** Completes the add-on's in-progress update now (as if enough polls had happened). */
  completeAddonUpdate(cluster: string, addonName: string): AddonUpdateState | undefined {
    const state = this.mustClusterAdmin(cluster);
    const addon = state.addons.get(addonName);
    const update = addon?.activeUpdateId ? state.updates.get(addon.activeUpdateId) : undefined;
    if (addon && update) this.finishUpdate(state, addon, update);
    return update;
  }

  /** Makes the next `times` calls of `operation` ('UpdateAddon', ...) fail with `error` (status from the code when omitted). */
  failNext(operation: string, error: EksError, times = 1): void {
    this.failures.set(operation, { error, times });
  }

  nodegroup(cluster: string, name: string): NodegroupState | undefined {
    return this.clusters.get(cluster)?.nodegroups.get(name);
  }

  /** CREATING -> ACTIVE: registers one Kubernetes node per subnet of the node group. */
  activateNodegroup(cluster: string, name: string): void {
    const state = this.mustClusterAdmin(cluster);
    const ng = state.nodegroups.get(name);
    if (!ng) throw new Error(`eks emulator: cluster ${cluster} has no node group ${name}`);
    this.onNodegroupActive(state, ng);
  }

  /** The node group whose Auto Scaling group has this name (the Auto Scaling emulator's view of EKS). */
  nodegroupByAutoScalingGroup(groupName: string): { cluster: string; nodegroup: NodegroupState } | undefined {
    for (const c of this.clusters.values()) {
      for (const ng of c.nodegroups.values()) if (ng.autoScalingGroupName === groupName) return { cluster: c.name, nodegroup: ng };
    }
    return undefined;
  }

  /**
   * Every instance of the node group replaced (an instance refresh of its Auto Scaling group): the
   * old nodes leave Kubernetes and new ones register now. The node group itself does not change.
   */
  replaceNodegroupNodes(cluster: string, name: string): void {
    const state = this.mustClusterAdmin(cluster);
    const ng = state.nodegroups.get(name);
    if (!ng) throw new Error(`eks emulator: cluster ${cluster} has no node group ${name}`);
    if (this.deps.kube.hasCluster(state.name)) for (const node of ng.nodeNames) this.deps.kube.removeNode(state.name, node);
    ng.nodeNames = [];
    this.registerNodes(state, ng);
  }

  /** Ends a pending DeleteCluster / DeleteNodegroup now. */
  async finishDeletion(cluster: string, nodegroup?: string): Promise<void> {
    const state = this.mustClusterAdmin(cluster);
    if (nodegroup) {
      const ng = state.nodegroups.get(nodegroup);
      if (ng) this.removeNodegroup(state, ng);
    } else await this.removeCluster(state);
  }

  /** What the cluster's access entries grant `principalArn` (the kube emulator's authorizer). */
  accessGrant(clusterName: string, principalArn: string): KubeAccessGrant | undefined {
    const cluster = this.clusters.get(clusterName);
    if (!cluster || !ACCESS_ENTRY_MODES.has(cluster.authenticationMode)) return undefined;
    const key = principalKey(principalArn);
    const entry = [...cluster.accessEntries.values()].find((e) => principalKey(e.principalArn) === key);
    if (!entry) return undefined;
    return {
      createdAt: entry.createdAt.getTime(),
      policies: [...entry.policies].map(([policyArn, p]) => ({ policyArn, accessScope: p.accessScope, associatedAt: p.associatedAt.getTime() })),
      groups: [...entry.kubernetesGroups],
      groupsSetAt: entry.modifiedAt.getTime(),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = (req.method ?? 'GET').toUpperCase();
      const rawPath = url.pathname.replace(/\/+$/, '') || '/';
      const route = this.routes.find((r) => r.method === method && r.pattern.test(rawPath));
      const op = route?.op ?? 'Unknown';
      this.deps.log.record('eks', op, !isReadAction(op));
      const run = async (): Promise<Json> => {
        if (!route) throw new EksHttpError('NotFoundException', `emulator: unsupported EKS operation ${method} ${url.pathname}`, 404);
        const failure = this.failures.get(op);
        if (failure && failure.times > 0) {
          failure.times -= 1;
          if (failure.times === 0) this.failures.delete(op);
          const { code, status, message } = failure.error;
          throw new EksHttpError(code, message ?? `injected ${code}`, status ?? ERROR_STATUS[code] ?? 400);
        }
        const params = route.pattern.exec(rawPath)!.slice(1).map((p) => decodeURIComponent(p));
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Json = {};
        if (text) {
          try {
            body = JSON.parse(text);
          } catch {
            throw new EksHttpError('BadRequestException', 'request body is not JSON');
          }
        }
        return route.handler(params, body, url.searchParams);
      };
      const respond = () => run()
        .then((body) => {
          const text = JSON.stringify(body);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
          res.end(text);
        })
        .catch((error: unknown) => {
          const e = error instanceof EksHttpError ? error : new EksHttpError('ServerException', `emulator: ${(error as Error).stack ?? String(error)}`, 500);
          const text = JSON.stringify({ message: e.message, ...e.extra });
          res.writeHead(e.status, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            'x-amzn-errortype': e.code,
            'x-amzn-requestid': randomUUID(),
          });
          res.end(text);
        });
      const fault = this.deps.log.faults.take('eks', op);
      void applyFault(fault, req, res, (status, code) => {
        const name = awsErrorCode(status, code, 'TooManyRequestsException');
        return { headers: { 'content-type': 'application/json', 'x-amzn-errortype': name }, body: JSON.stringify({ message: `injected fault ${status}` }) };
      }).then((next) => {
        if (next === 'answered') return;
        if (next === 'serve-and-drop') return run().then(() => dropResponse(res), () => dropResponse(res));
        return respond();
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Clusters

  private async createCluster(b: Json): Promise<Json> {
    const name = b.name;
    if (typeof name !== 'string' || !/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(name)) {
      throw new EksHttpError('InvalidParameterException', `Invalid cluster name: ${String(name)}`);
    }
    if (typeof b.roleArn !== 'string' || !b.roleArn.startsWith('arn:')) throw new EksHttpError('InvalidParameterException', 'roleArn is required');
    if (this.clusters.has(name)) throw new EksHttpError('ResourceInUseException', `Cluster already exists with name: ${name}`, 409, { clusterName: name });
    const subnetIds: string[] = b.resourcesVpcConfig?.subnetIds ?? [];
    const subnets = await this.lookUpSubnets(subnetIds);
    const vpcs = new Set(subnets.map((s) => s.VpcId));
    if (vpcs.size !== 1) throw new EksHttpError('InvalidParameterException', 'Subnets specified must belong to one VPC');
    if (new Set(subnets.map((s) => s.AvailabilityZone)).size < 2) {
      throw new EksHttpError('InvalidParameterException', 'Subnets specified must be in at least two different AZs');
    }
    const vpcId = [...vpcs][0]!;
    const ipFamily = b.kubernetesNetworkConfig?.ipFamily ?? 'ipv4';
    const authenticationMode = b.accessConfig?.authenticationMode ?? 'API_AND_CONFIG_MAP';
    if (!['API', 'API_AND_CONFIG_MAP', 'CONFIG_MAP'].includes(authenticationMode)) {
      throw new EksHttpError('InvalidParameterException', `Invalid authenticationMode ${authenticationMode}`);
    }
    const clusterSecurityGroupId = await this.createClusterSecurityGroup(name, vpcId);
    const preset = this.presets.get(name) ?? {};
    const now = new Date();
    const cluster: ClusterState = {
      name,
      arn: `arn:aws:eks:${this.deps.region}:${this.deps.accountId}:cluster/${name}`,
      roleArn: b.roleArn,
      version: b.version ?? this.options.kubernetesVersion,
      status: 'CREATING',
      createdAt: now,
      subnetIds,
      securityGroupIds: b.resourcesVpcConfig?.securityGroupIds ?? [],
      endpointPublicAccess: b.resourcesVpcConfig?.endpointPublicAccess ?? true,
      clusterSecurityGroupId,
      vpcId,
      ipFamily,
      serviceIpv4Cidr: b.kubernetesNetworkConfig?.serviceIpv4Cidr ?? '172.20.0.0/16',
      authenticationMode,
      bootstrapClusterCreatorAdminPermissions: b.accessConfig?.bootstrapClusterCreatorAdminPermissions ?? true,
      computeConfig: b.computeConfig,
      tags: { ...(b.tags ?? {}) },
      withVpcCniAddon: preset.withVpcCniAddon ?? this.options.withVpcCniAddon,
      selfManagedAwsNode: preset.selfManagedAwsNode ?? this.options.selfManagedAwsNode,
      activated: false,
      activationDescribesLeft: this.options.clusterActivationDescribes,
      deletionDescribesLeft: this.options.deletionDescribes,
      addons: new Map(),
      updates: new Map(),
      accessEntries: new Map(),
      nodegroups: new Map(),
    };
    this.clusters.set(name, cluster);
    if (this.options.creatorPrincipalArn && cluster.bootstrapClusterCreatorAdminPermissions && ACCESS_ENTRY_MODES.has(authenticationMode)) {
      const entry = this.newAccessEntry(cluster, { principalArn: this.options.creatorPrincipalArn });
      entry.policies.set('arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy', { accessScope: { type: 'cluster', namespaces: [] }, associatedAt: now, modifiedAt: now });
      cluster.accessEntries.set(entry.principalArn, entry);
    }
    return { cluster: this.renderCluster(cluster) };
  }

  private async describeCluster(name: string): Promise<Json> {
    const cluster = this.mustCluster(name);
    if (cluster.status === 'DELETING') {
      if (cluster.deletionDescribesLeft <= 0) {
        await this.removeCluster(cluster);
        throw notFoundCluster(name);
      }
      cluster.deletionDescribesLeft -= 1;
    } else if (cluster.status === 'CREATING' && cluster.activationDescribesLeft !== undefined) {
      if (cluster.activationDescribesLeft <= 0) this.activateCluster(name);
      else cluster.activationDescribesLeft -= 1;
    }
    return { cluster: this.renderCluster(cluster) };
  }

  private deleteCluster(name: string): Json {
    const cluster = this.mustCluster(name);
    if (cluster.nodegroups.size > 0) {
      throw new EksHttpError('ResourceInUseException', `Cluster has nodegroups attached`, 409, { clusterName: name });
    }
    if (cluster.status !== 'DELETING') {
      cluster.status = 'DELETING';
      cluster.deletionDescribesLeft = this.options.deletionDescribes;
    }
    return { cluster: this.renderCluster(cluster) };
  }

  private async removeCluster(cluster: ClusterState): Promise<void> {
    this.clusters.delete(cluster.name);
    this.deps.kube.removeCluster(cluster.name);
    try {
      // EC2 refuses to delete a group another group's rule names (DependencyViolation); moto does not check.
      const { SecurityGroups = [] } = await this.ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.group-id', Values: [cluster.clusterSecurityGroupId] }] }),
      );
      if (SecurityGroups.some((g) => g.GroupId !== cluster.clusterSecurityGroupId)) return;
      await this.ec2.send(new DeleteSecurityGroupCommand({ GroupId: cluster.clusterSecurityGroupId }));
    } catch {
      // still referenced (as EKS would leave it): keep it
    }
  }

  private renderCluster(c: ClusterState): Json {
    this.tick(c);
    const active = c.activated && c.status !== 'CREATING';
    return {
      name: c.name,
      arn: c.arn,
      createdAt: epoch(c.createdAt),
      version: c.version,
      ...(active ? { endpoint: this.deps.kube.endpointFor(c.name) } : {}),
      roleArn: c.roleArn,
      resourcesVpcConfig: {
        subnetIds: c.subnetIds,
        securityGroupIds: c.securityGroupIds,
        // Real EKS may report it only late in CREATING: hidden until ACTIVE, so nothing may rely on it earlier.
        ...(active || c.reportsGroupWhileCreating ? { clusterSecurityGroupId: c.clusterSecurityGroupId } : {}),
        vpcId: c.vpcId,
        endpointPublicAccess: c.endpointPublicAccess,
        endpointPrivateAccess: !c.endpointPublicAccess,
        publicAccessCidrs: ['0.0.0.0/0'],
      },
      kubernetesNetworkConfig: {
        ipFamily: c.ipFamily,
        ...(c.ipFamily === 'ipv6' ? { serviceIpv6Cidr: 'fd00:ec2:1::/108' } : { serviceIpv4Cidr: c.serviceIpv4Cidr }),
        elasticLoadBalancing: { enabled: c.computeConfig?.enabled === true },
      },
      ...(active ? { identity: { oidc: { issuer: `https://oidc.eks.${this.deps.region}.amazonaws.com/id/${c.arn.length.toString(16).padStart(32, '0').toUpperCase()}` } } } : {}),
      status: c.status,
      ...(active ? { certificateAuthority: { data: Buffer.from(this.reportedCas.get(c.name) ?? this.deps.kube.caPem).toString('base64') } } : {}),
      platformVersion: 'eks.1',
      tags: c.tags,
      accessConfig: { bootstrapClusterCreatorAdminPermissions: c.bootstrapClusterCreatorAdminPermissions, authenticationMode: c.authenticationMode },
      ...(c.computeConfig ? { computeConfig: c.computeConfig } : {}),
      upgradePolicy: { supportType: 'STANDARD' },
    };
  }

  /** Time-based activation of the cluster and its node groups. */
  private tick(c: ClusterState): void {
    const age = Date.now() - c.createdAt.getTime();
    if (c.status === 'CREATING' && this.options.clusterActivationDelayMs !== undefined && age >= this.options.clusterActivationDelayMs) {
      c.status = 'ACTIVE';
      this.onActive(c);
    }
    if (this.options.nodegroupActivationDelayMs !== undefined) {
      for (const ng of c.nodegroups.values()) {
        if (ng.status === 'CREATING' && Date.now() - ng.createdAt.getTime() >= this.options.nodegroupActivationDelayMs) this.onNodegroupActive(c, ng);
      }
    }
  }

  private onActive(c: ClusterState): void {
    if (c.activated) return;
    c.activated = true;
    const cni = c.withVpcCniAddon || c.selfManagedAwsNode;
    this.deps.kube.registerCluster(c.name, {
      kubernetesVersion: c.version,
      eniConfigCrd: cni,
      ...(c.endpointPublicAccess ? {} : { reachable: () => this.admitsCallers(c) }),
    });
    if (c.withVpcCniAddon) {
      const addon = this.newAddon(c, 'vpc-cni', this.options.vpcCniVersion);
      c.addons.set('vpc-cni', addon);
      this.applyAddonEnv(c, addon, 'OVERWRITE');
    } else if (c.selfManagedAwsNode) {
      this.deps.kube.ensureAwsNode(c.name, this.baseEnv(c), 'kubectl-client-side-apply');
    }
  }

  private baseEnv(c: ClusterState): Record<string, string> {
    return { ...DEFAULT_AWS_NODE_ENV, CLUSTER_NAME: c.name, VPC_ID: c.vpcId };
  }

  private async lookUpSubnets(subnetIds: string[]): Promise<Subnet[]> {
    if (!Array.isArray(subnetIds) || subnetIds.length === 0) throw new EksHttpError('InvalidParameterException', 'At least one subnet is required');
    const found: Subnet[] = [];
    for (const id of subnetIds) {
      try {
        const out = await this.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }));
        if (!out.Subnets?.length) throw new Error('none');
        found.push(out.Subnets[0]);
      } catch {
        throw new EksHttpError('InvalidParameterException', `The subnet ID '${id}' does not exist`);
      }
    }
    return found;
  }

  /** Whether the cluster security group admits a caller on 443 (a rule for all traffic or a port range holding 443). */
  private async admitsCallers(c: ClusterState): Promise<boolean> {
    const callers = this.options.privateEndpointCallers?.() ?? { securityGroupIds: [], cidrs: [] };
    const { SecurityGroups = [] } = await this.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [c.clusterSecurityGroupId] }));
    return (SecurityGroups[0]?.IpPermissions ?? [])
      .filter((p) => p.IpProtocol === '-1' || (p.IpProtocol === 'tcp' && (p.FromPort ?? 0) <= 443 && 443 <= (p.ToPort ?? 0)))
      .some(
        (p) =>
          (p.UserIdGroupPairs ?? []).some((g) => callers.securityGroupIds.includes(g.GroupId ?? '')) ||
          (p.IpRanges ?? []).some((r) => {
            const rule = parseCidr(r.CidrIp ?? '');
            return callers.cidrs.some((cidr) => rule && contains(rule, parseCidrOrThrow(cidr, 'caller CIDR')));
          }),
      );
  }

  private async createClusterSecurityGroup(name: string, vpcId: string): Promise<string> {
    const groupName = `eks-cluster-sg-${name}-${Math.floor(Math.random() * 1e10)}`;
    const description = 'EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.';
    const tags = [
      { Key: 'aws:eks:cluster-name', Value: name },
      { Key: `kubernetes.io/cluster/${name}`, Value: 'owned' },
      { Key: 'Name', Value: groupName },
    ];
    let groupId: string | undefined;
    try {
      groupId = (await this.ec2.send(new CreateSecurityGroupCommand({ GroupName: groupName, Description: description, VpcId: vpcId, TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }] }))).GroupId;
    } catch {
      groupId = (await this.ec2.send(new CreateSecurityGroupCommand({ GroupName: groupName, Description: description, VpcId: vpcId, TagSpecifications: [{ ResourceType: 'security-group', Tags: tags.slice(1) }] }))).GroupId;
    }
    await this.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: groupId }] }] }));
    return groupId!;
  }

  // ---------------------------------------------------------------------------------------------
  // Add-ons

  private newAddon(c: ClusterState, name: string, version: string, b: Json = {}): AddonState {
    const now = new Date();
    return {
      addonName: name,
      addonVersion: version,
      addonArn: `arn:aws:eks:${this.deps.region}:${this.deps.accountId}:addon/${c.name}/${name}/${randomUUID()}`,
      status: 'ACTIVE',
      createdAt: now,
      modifiedAt: now,
      configurationValues: b.configurationValues,
      serviceAccountRoleArn: b.serviceAccountRoleArn,
      tags: { ...(b.tags ?? {}) },
    };
  }

  private renderAddon(c: ClusterState, a: AddonState): Json {
    return {
      addonName: a.addonName,
      clusterName: c.name,
      status: a.status,
      addonVersion: a.addonVersion,
      health: { issues: [] },
      addonArn: a.addonArn,
      createdAt: epoch(a.createdAt),
      modifiedAt: epoch(a.modifiedAt),
      ...(a.serviceAccountRoleArn ? { serviceAccountRoleArn: a.serviceAccountRoleArn } : {}),
      tags: a.tags,
      ...(a.configurationValues !== undefined ? { configurationValues: a.configurationValues } : {}),
    };
  }

  private createAddon(clusterName: string, b: Json): Json {
    const c = this.activeCluster(clusterName);
    const name = b.addonName;
    if (typeof name !== 'string' || !name) throw new EksHttpError('InvalidParameterException', 'addonName is required');
    if (c.addons.has(name)) throw new EksHttpError('ResourceInUseException', `Addon already exists with name: ${name}`, 409, { clusterName, addonName: name });
    validateConfiguration(b.configurationValues, b.addonVersion ?? this.options.vpcCniVersion);
    const addon = this.newAddon(c, name, b.addonVersion ?? (name === 'vpc-cni' ? this.options.vpcCniVersion : 'v1.0.0-eksbuild.1'), b);
    c.addons.set(name, addon);
    if (name === 'vpc-cni') {
      this.deps.kube.setEniConfigCrd(c.name, true);
      this.applyAddonEnv(c, addon, b.resolveConflicts ?? 'OVERWRITE');
    }
    return { addon: this.renderAddon(c, addon) };
  }

  private describeAddon(clusterName: string, name: string): Json {
    const c = this.mustCluster(clusterName);
    const addon = this.mustAddon(c, name);
    const update = addon.activeUpdateId ? c.updates.get(addon.activeUpdateId) : undefined;
    if (update) this.poll(c, addon, update);
    return { addon: this.renderAddon(c, addon) };
  }

  private deleteAddon(clusterName: string, name: string, preserve: boolean): Json {
    const c = this.mustCluster(clusterName);
    const addon = this.mustAddon(c, name);
    c.addons.delete(name);
    if (name === 'vpc-cni' && !preserve && this.deps.kube.hasCluster(c.name)) this.deps.kube.removeDaemonSet(c.name);
    return { addon: { ...this.renderAddon(c, addon), status: 'DELETING' } };
  }

  private updateAddon(clusterName: string, name: string, b: Json): Json {
    const c = this.activeCluster(clusterName);
    const addon = this.mustAddon(c, name);
    if (addon.activeUpdateId) {
      throw new EksHttpError('ResourceInUseException', `Addon ${name} cannot be updated as it is currently in UPDATING state`, 409, { clusterName, addonName: name });
    }
    validateConfiguration(b.configurationValues, b.addonVersion ?? addon.addonVersion);
    const resolveConflicts = b.resolveConflicts ?? 'NONE';
    if (!['OVERWRITE', 'NONE', 'PRESERVE'].includes(resolveConflicts)) {
      throw new EksHttpError('InvalidParameterException', `Invalid resolveConflicts ${resolveConflicts}`);
    }
    const params: { type: string; value: string }[] = [];
    if (b.addonVersion !== undefined) params.push({ type: 'AddonVersion', value: b.addonVersion });
    if (b.serviceAccountRoleArn !== undefined) params.push({ type: 'ServiceAccountRoleArn', value: b.serviceAccountRoleArn });
    if (b.configurationValues !== undefined) params.push({ type: 'ConfigurationValues', value: b.configurationValues });
    params.push({ type: 'ResolveConflicts', value: resolveConflicts });
    const update: AddonUpdateState = {
      id: randomUUID(),
      addonName: name,
      status: 'InProgress',
      params,
      createdAt: new Date(),
      errors: [],
      pollsLeft: this.options.addonUpdateDescribes,
      resolveConflicts,
      previousConfiguration: addon.configurationValues,
    };
    c.updates.set(update.id, update);
    if (b.configurationValues !== undefined) addon.configurationValues = b.configurationValues;
    if (b.addonVersion !== undefined) addon.addonVersion = b.addonVersion;
    if (b.serviceAccountRoleArn !== undefined) addon.serviceAccountRoleArn = b.serviceAccountRoleArn;
    addon.status = 'UPDATING';
    addon.modifiedAt = new Date();
    addon.activeUpdateId = update.id;
    return { update: renderUpdate(update) };
  }

  private describeUpdate(clusterName: string, id: string, addonName: string | undefined): Json {
    const c = this.mustCluster(clusterName);
    const update = c.updates.get(id);
    if (!update || (addonName !== undefined && addonName !== update.addonName)) {
      throw new EksHttpError('ResourceNotFoundException', `No update found for ID: ${id}`, 404, { clusterName });
    }
    const addon = c.addons.get(update.addonName);
    if (addon && addon.activeUpdateId === update.id) this.poll(c, addon, update);
    return { update: renderUpdate(update) };
  }

  private poll(c: ClusterState, addon: AddonState, update: AddonUpdateState): void {
    if (update.status !== 'InProgress') return;
    if (update.pollsLeft > 0) update.pollsLeft -= 1;
    else this.finishUpdate(c, addon, update);
  }

  private finishUpdate(c: ClusterState, addon: AddonState, update: AddonUpdateState): void {
    addon.activeUpdateId = undefined;
    addon.modifiedAt = new Date();
    const conflicts = addon.addonName === 'vpc-cni' ? this.applyAddonEnv(c, addon, update.resolveConflicts) : [];
    if (conflicts.length) {
      update.status = 'Failed';
      update.errors = [{
        errorCode: 'ConfigurationConflict',
        errorMessage: `Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts:\n${conflicts.map((x) => `${x.manager} ${x.field}`).join('\n')}`,
        resourceIds: [],
      }];
      addon.configurationValues = update.previousConfiguration;
      addon.status = 'ACTIVE';
      return;
    }
    update.status = 'Successful';
    addon.status = 'ACTIVE';
  }

  /** Applies the add-on's env (defaults + configurationValues.env) to aws-node as the `eks` field manager. */
  private applyAddonEnv(c: ClusterState, addon: AddonState, resolveConflicts: string): { manager: string; field: string }[] {
    if (!this.deps.kube.hasCluster(c.name)) return [];
    let env: Record<string, string> = {};
    try {
      const parsed = addon.configurationValues ? JSON.parse(addon.configurationValues) : {};
      env = parsed?.env ?? {};
    } catch {
      env = {};
    }
    const desired = { ...this.baseEnv(c), ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])) };
    if (!this.deps.kube.daemonSet(c.name)) {
      this.deps.kube.ensureAwsNode(c.name, desired, 'eks');
      return [];
    }
    const outcome = this.deps.kube.setAwsNodeEnv(c.name, desired, 'eks', {
      force: resolveConflicts === 'OVERWRITE',
      skipConflicts: resolveConflicts === 'PRESERVE',
    });
    return resolveConflicts === 'NONE' ? outcome.conflicts : [];
  }

  // ---------------------------------------------------------------------------------------------
  // Access entries

  private accessEntryCluster(name: string): ClusterState {
    const c = this.mustCluster(name);
    if (!ACCESS_ENTRY_MODES.has(c.authenticationMode)) {
      throw new EksHttpError('InvalidRequestException', "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.", 400, { clusterName: name });
    }
    return c;
  }

  private newAccessEntry(c: ClusterState, b: Json): AccessEntryState {
    const principalArn: string = b.principalArn;
    const m = /^arn:aws[\w-]*:iam::(\d{12}):(role|user)\/(?:.*\/)?([^/]+)$/.exec(principalArn ?? '');
    if (!m) throw new EksHttpError('InvalidParameterException', `The specified principalArn is invalid: ${String(principalArn)}`);
    const type = b.type ?? 'STANDARD';
    if (!['STANDARD', 'EC2_LINUX', 'EC2_WINDOWS', 'FARGATE_LINUX', 'EC2', 'HYBRID_LINUX', 'HYPERPOD_LINUX'].includes(type)) {
      throw new EksHttpError('InvalidParameterException', `Invalid access entry type ${type}`);
    }
    const now = new Date();
    const username = b.username ?? (m[2] === 'role' ? `arn:aws:sts::${m[1]}:assumed-role/${m[3]}/{{SessionName}}` : principalArn);
    return {
      principalArn,
      accessEntryArn: `arn:aws:eks:${this.deps.region}:${this.deps.accountId}:access-entry/${c.name}/${m[2]}/${m[1]}/${m[3]}/${randomUUID()}`,
      type,
      username,
      kubernetesGroups: b.kubernetesGroups ?? [],
      createdAt: now,
      modifiedAt: now,
      tags: { ...(b.tags ?? {}) },
      policies: new Map(),
    };
  }

  private createAccessEntry(clusterName: string, b: Json): Json {
    const c = this.accessEntryCluster(clusterName);
    if (c.status !== 'ACTIVE' && c.status !== 'UPDATING') {
      throw new EksHttpError('InvalidRequestException', `Cluster ${clusterName} is in ${c.status} state`, 400, { clusterName });
    }
    const entry = this.newAccessEntry(c, b);
    if (c.accessEntries.has(entry.principalArn)) {
      throw new EksHttpError('ResourceInUseException', `The specified access entry resource is already in use on this cluster.`, 409, { clusterName });
    }
    if ((entry.kubernetesGroups as string[]).some((g) => g.startsWith('system:'))) {
      throw new EksHttpError('InvalidParameterException', 'Kubernetes groups cannot start with system:');
    }
    c.accessEntries.set(entry.principalArn, entry);
    return { accessEntry: this.renderAccessEntry(clusterName, entry) };
  }

  private mustAccessEntry(clusterName: string, principalArn: string): AccessEntryState {
    const c = this.accessEntryCluster(clusterName);
    const entry = c.accessEntries.get(principalArn);
    if (!entry) throw new EksHttpError('ResourceNotFoundException', `The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.`, 404, { clusterName });
    return entry;
  }

  private renderAccessEntry(clusterName: string, e: AccessEntryState): Json {
    return {
      clusterName,
      principalArn: e.principalArn,
      kubernetesGroups: e.kubernetesGroups,
      accessEntryArn: e.accessEntryArn,
      createdAt: epoch(e.createdAt),
      modifiedAt: epoch(e.modifiedAt),
      tags: e.tags,
      username: e.username,
      type: e.type,
    };
  }

  /** UpdateAccessEntry replaces the Kubernetes groups (and username) it is given. */
  private updateAccessEntry(clusterName: string, principalArn: string, b: Json): Json {
    const entry = this.mustAccessEntry(clusterName, principalArn);
    if (b.kubernetesGroups !== undefined) {
      if ((b.kubernetesGroups as string[]).some((g) => g.startsWith('system:'))) {
        throw new EksHttpError('InvalidParameterException', 'Kubernetes groups cannot start with system:');
      }
      entry.kubernetesGroups = [...b.kubernetesGroups];
    }
    if (b.username !== undefined) entry.username = b.username;
    entry.modifiedAt = new Date();
    return { accessEntry: this.renderAccessEntry(clusterName, entry) };
  }

  private deleteAccessEntry(clusterName: string, principalArn: string): Json {
    this.mustAccessEntry(clusterName, principalArn);
    this.mustCluster(clusterName).accessEntries.delete(principalArn);
    return {};
  }

  private associateAccessPolicy(clusterName: string, principalArn: string, b: Json): Json {
    const entry = this.mustAccessEntry(clusterName, principalArn);
    const policyArn: string = b.policyArn;
    if (!/^arn:aws[\w-]*:eks::aws:cluster-access-policy\/[A-Za-z0-9]+$/.test(policyArn ?? '')) {
      throw new EksHttpError('InvalidParameterException', `The policyArn ${String(policyArn)} is not a valid EKS access policy`);
    }
    if (entry.type !== 'STANDARD') throw new EksHttpError('InvalidRequestException', 'Access policies can only be associated with STANDARD access entries');
    const type = b.accessScope?.type;
    const namespaces: string[] = b.accessScope?.namespaces ?? [];
    if (type !== 'cluster' && type !== 'namespace') throw new EksHttpError('InvalidParameterException', 'accessScope.type must be cluster or namespace');
    if (type === 'namespace' && namespaces.length === 0) throw new EksHttpError('InvalidParameterException', 'namespaces are required for a namespace access scope');
    if (type === 'cluster' && namespaces.length > 0) throw new EksHttpError('InvalidParameterException', 'namespaces must be empty for a cluster access scope');
    const now = new Date();
    const existing = entry.policies.get(policyArn);
    entry.policies.set(policyArn, { accessScope: { type, namespaces }, associatedAt: existing?.associatedAt ?? now, modifiedAt: now });
    const p = entry.policies.get(policyArn)!;
    return { clusterName, principalArn, associatedAccessPolicy: { policyArn, accessScope: p.accessScope, associatedAt: epoch(p.associatedAt), modifiedAt: epoch(p.modifiedAt) } };
  }

  private listAssociatedAccessPolicies(clusterName: string, principalArn: string): Json {
    const entry = this.mustAccessEntry(clusterName, principalArn);
    return {
      clusterName,
      principalArn,
      associatedAccessPolicies: [...entry.policies].map(([policyArn, p]) => ({ policyArn, accessScope: p.accessScope, associatedAt: epoch(p.associatedAt), modifiedAt: epoch(p.modifiedAt) })),
    };
  }

  private disassociateAccessPolicy(clusterName: string, principalArn: string, policyArn: string): Json {
    const entry = this.mustAccessEntry(clusterName, principalArn);
    if (!entry.policies.delete(policyArn)) {
      throw new EksHttpError('ResourceNotFoundException', `The policy ${policyArn} is not associated with this access entry`, 404, { clusterName });
    }
    return {};
  }

  // ---------------------------------------------------------------------------------------------
  // Node groups

  private async createNodegroup(clusterName: string, b: Json): Promise<Json> {
    const c = this.activeCluster(clusterName);
    const name = b.nodegroupName;
    if (typeof name !== 'string' || !name) throw new EksHttpError('InvalidParameterException', 'nodegroupName is required');
    if (c.nodegroups.has(name)) throw new EksHttpError('ResourceInUseException', `NodeGroup already exists with name ${name} and cluster name ${clusterName}`, 409, { clusterName, nodegroupName: name });
    if (typeof b.nodeRole !== 'string') throw new EksHttpError('InvalidParameterException', 'nodeRole is required');
    const subnets = await this.lookUpSubnets(b.subnets ?? []);
    if (subnets.some((s) => s.VpcId !== c.vpcId)) throw new EksHttpError('InvalidParameterException', `Subnets are not in the cluster's VPC ${c.vpcId}`);
    const now = new Date();
    const id = randomUUID();
    const ng: NodegroupState = {
      nodegroupName: name,
      nodegroupArn: `arn:aws:eks:${this.deps.region}:${this.deps.accountId}:nodegroup/${clusterName}/${name}/${id}`,
      status: 'CREATING',
      createdAt: now,
      modifiedAt: now,
      subnets: subnets.map((s) => ({ subnetId: s.SubnetId!, az: s.AvailabilityZone!, cidr: s.CidrBlock! })),
      scalingConfig: b.scalingConfig ?? { minSize: 1, maxSize: 2, desiredSize: 2 },
      labels: { ...(b.labels ?? {}) },
      tags: { ...(b.tags ?? {}) },
      amiType: b.amiType ?? 'AL2023_x86_64_STANDARD',
      nodeRole: b.nodeRole,
      instanceTypes: b.instanceTypes ?? ['t3.medium'],
      capacityType: b.capacityType ?? 'ON_DEMAND',
      autoScalingGroupName: `eks-${name}-${id}`,
      activationDescribesLeft: this.options.nodegroupActivationDescribes,
      deletionDescribesLeft: this.options.deletionDescribes,
      nodeNames: [],
    };
    c.nodegroups.set(name, ng);
    return { nodegroup: this.renderNodegroup(c, ng) };
  }

  private describeNodegroup(clusterName: string, name: string): Json {
    const c = this.mustCluster(clusterName);
    const ng = this.mustNodegroup(c, name);
    if (ng.status === 'DELETING') {
      if (ng.deletionDescribesLeft <= 0) {
        this.removeNodegroup(c, ng);
        throw new EksHttpError('ResourceNotFoundException', `No node group found for name: ${name}.`, 404, { clusterName, nodegroupName: name });
      }
      ng.deletionDescribesLeft -= 1;
    } else if (ng.status === 'CREATING' && ng.activationDescribesLeft !== undefined) {
      if (ng.activationDescribesLeft <= 0) this.onNodegroupActive(c, ng);
      else ng.activationDescribesLeft -= 1;
    }
    return { nodegroup: this.renderNodegroup(c, ng) };
  }

  private deleteNodegroup(clusterName: string, name: string): Json {
    const c = this.mustCluster(clusterName);
    const ng = this.mustNodegroup(c, name);
    if (ng.status !== 'DELETING') {
      ng.status = 'DELETING';
      ng.deletionDescribesLeft = this.options.deletionDescribes;
    }
    return { nodegroup: this.renderNodegroup(c, ng) };
  }

  private removeNodegroup(c: ClusterState, ng: NodegroupState): void {
    c.nodegroups.delete(ng.nodegroupName);
    if (this.deps.kube.hasCluster(c.name)) for (const node of ng.nodeNames) this.deps.kube.removeNode(c.name, node);
  }

  private onNodegroupActive(c: ClusterState, ng: NodegroupState): void {
    if (ng.status === 'ACTIVE') return;
    ng.status = 'ACTIVE';
    ng.modifiedAt = new Date();
    this.registerNodes(c, ng);
  }

  /** One new Kubernetes node per subnet of the node group, registered now. */
  private registerNodes(c: ClusterState, ng: NodegroupState): void {
    if (!this.deps.kube.hasCluster(c.name)) return;
    for (const subnet of ng.subnets) {
      const ip = ipInCidr(subnet.cidr, this.nextIp++);
      const host = `ip-${ip.replace(/\./g, '-')}`;
      const name = this.deps.region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${this.deps.region}.compute.internal`;
      this.deps.kube.addNode(c.name, {
        name,
        zone: subnet.az,
        nodegroup: ng.nodegroupName,
        internalIp: ip,
        labels: {
          ...ng.labels,
          'eks.amazonaws.com/capacityType': ng.capacityType,
          'node.kubernetes.io/instance-type': ng.instanceTypes[0] ?? 't3.medium',
        },
        // The EKS AMI's max-pods for the type, which does not account for custom networking.
        maxPods: AMI_MAX_PODS[ng.instanceTypes[0] ?? 't3.medium'] ?? 110,
      });
      ng.nodeNames.push(name);
    }
  }

  private renderNodegroup(c: ClusterState, ng: NodegroupState): Json {
    this.tick(c);
    return {
      nodegroupName: ng.nodegroupName,
      nodegroupArn: ng.nodegroupArn,
      clusterName: c.name,
      version: c.version,
      releaseVersion: `${c.version}.0-20250101`,
      createdAt: epoch(ng.createdAt),
      modifiedAt: epoch(ng.modifiedAt),
      status: ng.status,
      capacityType: ng.capacityType,
      scalingConfig: ng.scalingConfig,
      instanceTypes: ng.instanceTypes,
      subnets: ng.subnets.map((s) => s.subnetId),
      amiType: ng.amiType,
      nodeRole: ng.nodeRole,
      labels: ng.labels,
      resources: { autoScalingGroups: [{ name: ng.autoScalingGroupName }] },
      diskSize: 20,
      health: { issues: [] },
      updateConfig: { maxUnavailable: 1 },
      tags: ng.tags,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Tags

  private taggable(arn: string): Record<string, string> {
    for (const c of this.clusters.values()) {
      if (c.arn === arn) return c.tags;
      for (const ng of c.nodegroups.values()) if (ng.nodegroupArn === arn) return ng.tags;
      for (const a of c.addons.values()) if (a.addonArn === arn) return a.tags;
      for (const e of c.accessEntries.values()) if (e.accessEntryArn === arn) return e.tags;
    }
    throw new EksHttpError('NotFoundException', `Resource ${arn} not found`, 404);
  }

  private tagResource(arn: string, tags: Record<string, string>): Json {
    const target = this.taggable(arn);
    for (const key of Object.keys(tags)) {
      if (key.toLowerCase().startsWith('aws:')) throw new EksHttpError('BadRequestException', 'Tag keys starting with aws: are reserved');
    }
    Object.assign(target, tags);
    if (Object.keys(target).length > 50) throw new EksHttpError('BadRequestException', 'A resource can have at most 50 tags');
    return {};
  }

  private untagResource(arn: string, keys: string[]): Json {
    const target = this.taggable(arn);
    for (const key of keys) delete target[key];
    return {};
  }

  // ---------------------------------------------------------------------------------------------

  private mustCluster(name: string): ClusterState {
    const c = this.clusters.get(name);
    if (!c) throw notFoundCluster(name);
    return c;
  }

  private activeCluster(name: string): ClusterState {
    const c = this.mustCluster(name);
    this.tick(c);
    if (c.status !== 'ACTIVE') {
      throw new EksHttpError('InvalidRequestException', `Cluster ${name} is in ${c.status} state, not ACTIVE`, 400, { clusterName: name });
    }
    return c;
  }

  private mustClusterAdmin(name: string): ClusterState {
    const c = this.clusters.get(name);
    if (!c) throw new Error(`eks emulator: no cluster ${name}`);
    return c;
  }

  private mustAddon(c: ClusterState, name: string): AddonState {
    const addon = c.addons.get(name);
    if (!addon) throw new EksHttpError('ResourceNotFoundException', `No addon: ${name} found in cluster: ${c.name}`, 404, { clusterName: c.name, addonName: name });
    return addon;
  }

  private mustNodegroup(c: ClusterState, name: string): NodegroupState {
    const ng = c.nodegroups.get(name);
    if (!ng) throw new EksHttpError('ResourceNotFoundException', `No node group found for name: ${name}.`, 404, { clusterName: c.name, nodegroupName: name });
    return ng;
  }
}

function notFoundCluster(name: string): EksHttpError {
  return new EksHttpError('ResourceNotFoundException', `No cluster found for name: ${name}.`, 404, { clusterName: name });
}

function renderUpdate(u: AddonUpdateState): Json {
  return { id: u.id, status: u.status, type: 'AddonUpdate', params: u.params, createdAt: epoch(u.createdAt), errors: u.errors };
}

/** The vpc-cni configuration schema gained enableNetworkPolicy with v1.14.0: older versions reject the key. */
function schemaHasNetworkPolicy(version: string): boolean {
  const [major, minor] = (/v?(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  return major > 1 || (major === 1 && minor >= 14);
}

function validateConfiguration(value: unknown, addonVersion: string): void {
  if (value === undefined || value === '') return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch {
    throw new EksHttpError('InvalidParameterException', 'ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$: could not parse configuration values as JSON]');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EksHttpError('InvalidParameterException', 'ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$: must be an object]');
  }
  const env = (parsed as { env?: unknown }).env;
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env) || Object.values(env).some((v) => typeof v !== 'string'))) {
    throw new EksHttpError('InvalidParameterException', 'ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$.env: values must be strings]');
  }
  if ('enableNetworkPolicy' in (parsed as object) && !schemaHasNetworkPolicy(addonVersion)) {
    throw new EksHttpError('InvalidParameterException', 'ConfigurationValue provided in request is not supported: Json schema validation failed with error: [$.enableNetworkPolicy: is not defined in the schema and the schema does not allow additional properties]');
  }
}

/** Account + kind + name: role paths do not matter when EKS matches a caller to an access entry. */
function principalKey(arn: string): string {
  const m = /^arn:aws[\w-]*:iam::(\d+):(role|user)\/(?:.*\/)?([^/]+)$/.exec(arn);
  return m ? `${m[1]}:${m[2]}:${m[3]}` : arn;
}

function ipInCidr(cidr: string, offset: number): string {
  const [base, bits] = cidr.split('/');
  const n = base.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const value = n + 4 + (offset % Math.max(size - 5, 1));
  return [24, 16, 8, 0].map((s) => Math.floor(value / 2 ** s) % 256).join('.');
}
