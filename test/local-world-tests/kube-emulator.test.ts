// The Kubernetes API emulator, reached over HTTPS with real EKS bearer tokens (the production token
// builder and client from lambdas/shared), authorized by the EKS emulator's access entries.
import https from 'node:https';
import { Sha256 } from '@aws-crypto/sha256-js';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { eksBearerToken } from '../../lambdas/shared/kube-token';
import { FIELD_MANAGER, KubeApiError, KubeClient } from '../../lambdas/shared/kube';
import { LocalWorld, startLocalWorld } from '../local-world/world';

const CLUSTER = 'kube-test';
const ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const MOTO_USER = 'arn:aws:iam::123456789012:user/moto';
const ENI = '/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs';
const AWS_NODE = '/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node';

let world: LocalWorld;
let restoreEnv: () => void;
let endpoint: string;

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

function request(method: string, path: string, opts: { token?: string; body?: unknown; contentType?: string; cluster?: string } = {}): Promise<Answer> {
  const url = new URL(`${world.kube.endpointFor(opts.cluster ?? CLUSTER)}${path}`);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, ca: world.kube.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** A token for explicit credentials (an assumed role), built exactly as `aws eks get-token` does. */
async function tokenFor(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, cluster = CLUSTER): Promise<string> {
  const sts = new URL(world.env.AWS_ENDPOINT_URL_STS);
  const signer = new SignatureV4({ service: 'sts', region: world.region, credentials, sha256: Sha256 });
  const signed = await signer.presign(
    new HttpRequest({
      method: 'GET',
      protocol: sts.protocol,
      hostname: sts.hostname,
      port: Number(sts.port),
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: sts.host, 'x-k8s-aws-id': cluster },
    }),
    { expiresIn: 60 },
  );
  const query = new URLSearchParams(signed.query as Record<string, string>).toString();
  return 'k8s-aws-v1.' + Buffer.from(`${sts.protocol}//${sts.host}/?${query}`).toString('base64url');
}

async function assumeRole(roleName: string) {
  const sts = new STSClient({ region: world.region, endpoint: world.motoDirectEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::123456789012:role/${roleName}`, RoleSessionName: 'test-session' }));
    return { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
  } finally {
    sts.destroy();
  }
}

function addAccessEntry(principalArn: string, policyArn?: string, scope: { type: string; namespaces: string[] } = { type: 'cluster', namespaces: [] }): void {
  const cluster = world.eks.cluster(CLUSTER)!;
  const now = new Date();
  cluster.accessEntries.set(principalArn, {
    principalArn,
    accessEntryArn: `arn:aws:eks:us-east-1:123456789012:access-entry/${CLUSTER}/x/${principalArn.length}`,
    type: 'STANDARD',
    username: principalArn,
    kubernetesGroups: [],
    createdAt: now,
    modifiedAt: now,
    tags: {},
    policies: new Map(policyArn ? [[policyArn, { accessScope: scope, associatedAt: now, modifiedAt: now }]] : []),
  });
}

function eniConfig(az: string, subnet: string, securityGroups?: string[]) {
  return {
    apiVersion: 'crd.k8s.amazonaws.com/v1alpha1',
    kind: 'ENIConfig',
    metadata: { name: az },
    spec: { subnet, ...(securityGroups ? { securityGroups } : {}) },
  };
}

beforeAll(async () => {
  world = await startLocalWorld();
  restoreEnv = world.applyEnv();
  const vpc = await world.createVpc();
  await world.eks.createClusterDirect({
    name: CLUSTER,
    roleArn: 'arn:aws:iam::123456789012:role/eks',
    resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) },
  });
  world.eks.activateCluster(CLUSTER);
  endpoint = world.kube.endpointFor(CLUSTER);
  addAccessEntry(MOTO_USER, ADMIN);
});

afterAll(async () => {
  restoreEnv?.();
  await world?.stop();
});

describe('authentication', () => {
  test('no token, a malformed token, or a token that is not GetCallerIdentity: 401 Status', async () => {
    const none = await request('GET', ENI);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', code: 401 });
    expect((await request('GET', ENI, { token: 'k8s-aws-v1.%%%' })).status).toBe(401);
    const wrongAction = 'k8s-aws-v1.' + Buffer.from(`${world.motoEndpoint}/?Action=ListUsers&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id`).toString('base64url');
    expect((await request('GET', ENI, { token: wrongAction })).status).toBe(401);
    // The token must bind the cluster name through the signed x-k8s-aws-id header.
    const unbound = 'k8s-aws-v1.' + Buffer.from(`${world.motoEndpoint}/?Action=GetCallerIdentity&X-Amz-SignedHeaders=host&X-Amz-Date=20990101T000000Z&X-Amz-Expires=60`).toString('base64url');
    expect((await request('GET', ENI, { token: unbound })).status).toBe(401);
  });

  test('the production token is accepted; the STS check is not counted as a call by the code under test', async () => {
    const token = await eksBearerToken(CLUSTER);
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    const mark = world.log.mark();
    const version = await request('GET', '/version', { token });
    expect(version.status).toBe(200);
    expect(version.body.gitVersion).toMatch(/^v1\.31/);
    expect(world.log.since(mark).map((c) => `${c.service} ${c.action} ${c.write}`)).toEqual([`kubernetes GET /clusters/${CLUSTER}/version false`]);
  });

  test('an IAM principal without an access entry is refused (401 as EKS, or 403 when configured)', async () => {
    const creds = await assumeRole('stranger');
    const token = await tokenFor(creds);
    const refused = await request('GET', ENI, { token });
    expect(refused.status).toBe(401);
    world.kube.options.unmappedPrincipalStatus = 403;
    try {
      const forbidden = await request('GET', ENI, { token });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body.reason).toBe('Forbidden');
      expect(forbidden.body.message).toContain('arn:aws:iam::123456789012:role/stranger');
    } finally {
      world.kube.options.unmappedPrincipalStatus = 401;
    }
  });

  test('an access entry takes effect only after accessEntryPropagationMs', async () => {
    const token = await tokenFor(await assumeRole('late'));
    world.kube.options.accessEntryPropagationMs = 60_000;
    try {
      addAccessEntry('arn:aws:iam::123456789012:role/late', ADMIN);
      expect((await request('GET', ENI, { token })).status).toBe(401);
    } finally {
      world.kube.options.accessEntryPropagationMs = 0;
    }
    expect((await request('GET', ENI, { token })).status).toBe(200);
  });
});

describe('authorization', () => {
  test('AmazonEKSViewPolicy may read ENIConfig but not write it; writes need cluster admin', async () => {
    addAccessEntry('arn:aws:iam::123456789012:role/viewer', VIEW);
    const token = await tokenFor(await assumeRole('viewer'));
    expect((await request('GET', ENI, { token })).status).toBe(200);
    expect((await request('GET', AWS_NODE, { token })).status).toBe(200);
    const patch = await request('PATCH', `${ENI}/us-east-1a?fieldManager=viewer&force=true`, {
      token,
      body: eniConfig('us-east-1a', 'subnet-1'),
      contentType: 'application/apply-patch+yaml',
    });
    expect(patch.status).toBe(403);
    expect(patch.body).toMatchObject({ kind: 'Status', reason: 'Forbidden', code: 403 });
    expect(patch.body.message).toBe(
      'eniconfigs.crd.k8s.amazonaws.com "us-east-1a" is forbidden: User "arn:aws:sts::123456789012:assumed-role/viewer/test-session" cannot patch resource "eniconfigs" in API group "crd.k8s.amazonaws.com" at the cluster scope',
    );
    const ds = await request('PATCH', AWS_NODE, { token, body: { spec: {} }, contentType: 'application/strategic-merge-patch+json' });
    expect(ds.status).toBe(403);
    expect(world.kube.eniConfigs(CLUSTER)).toHaveLength(0);
  });

  test('a namespace-scoped policy does not reach cluster-scoped resources', async () => {
    addAccessEntry('arn:aws:iam::123456789012:role/ns-viewer', VIEW, { type: 'namespace', namespaces: ['kube-system'] });
    const token = await tokenFor(await assumeRole('ns-viewer'));
    expect((await request('GET', AWS_NODE, { token })).status).toBe(200);
    expect((await request('GET', ENI, { token })).status).toBe(403);
  });
});

describe('RBAC for an access entry\'s Kubernetes groups', () => {
  const RBAC = '/apis/rbac.authorization.k8s.io/v1';
  const apply = (path: string, body: object, token: string) =>
    request('PATCH', `${path}?fieldManager=test&force=true`, { token, body, contentType: 'application/apply-patch+yaml' });

  test('a ClusterRole bound to the group allows its rules (verbs, resources, names) and nothing else', async () => {
    addAccessEntry('arn:aws:iam::123456789012:role/rbac-admin', ADMIN);
    const admin = await tokenFor(await assumeRole('rbac-admin'));
    addAccessEntry('arn:aws:iam::123456789012:role/grouped');
    world.eks.cluster(CLUSTER)!.accessEntries.get('arn:aws:iam::123456789012:role/grouped')!.kubernetesGroups = ['writers'];
    const token = await tokenFor(await assumeRole('grouped'));
    // An entry with a group but no binding yet: authenticated, allowed nothing.
    expect((await request('GET', ENI, { token })).status).toBe(403);

    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'writer' },
      rules: [
        { apiGroups: ['crd.k8s.amazonaws.com'], resources: ['eniconfigs'], verbs: ['get', 'list', 'patch'] },
        { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['aws-node'], verbs: ['get'] },
      ],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'writer' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'writer' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'writers' }],
    };
    // Writing RBAC needs cluster-admin: the group cannot grant itself anything.
    expect((await apply(`${RBAC}/clusterroles/writer`, role, token)).status).toBe(403);
    expect((await apply(`${RBAC}/clusterroles/writer`, role, admin)).status).toBe(201);
    expect((await apply(`${RBAC}/clusterrolebindings/writer`, binding, admin)).status).toBe(201);

    expect((await request('GET', ENI, { token })).status).toBe(200);
    expect((await apply(`${ENI}/us-east-1a`, eniConfig('us-east-1a', 'subnet-1'), token)).status).toBe(201);
    expect((await request('DELETE', `${ENI}/us-east-1a`, { token })).status).toBe(403);
    expect((await request('GET', AWS_NODE, { token })).status).toBe(200);
    expect((await request('PATCH', AWS_NODE, { token, body: { spec: {} }, contentType: 'application/strategic-merge-patch+json' })).status).toBe(403);
    expect((await request('GET', '/apis/apps/v1/namespaces/kube-system/daemonsets/other', { token })).status).toBe(403);
    expect((await request('GET', '/api/v1/nodes', { token })).status).toBe(403);

    // Another group gets nothing from that binding; removing the binding removes the access.
    world.eks.cluster(CLUSTER)!.accessEntries.get('arn:aws:iam::123456789012:role/grouped')!.kubernetesGroups = ['others'];
    expect((await request('GET', ENI, { token })).status).toBe(403);
    world.eks.cluster(CLUSTER)!.accessEntries.get('arn:aws:iam::123456789012:role/grouped')!.kubernetesGroups = ['writers'];
    expect(world.kube.deleteRbac(CLUSTER, 'clusterrolebindings', 'writer')).toBe(true);
    expect((await request('GET', ENI, { token })).status).toBe(403);
    world.kube.deleteRbac(CLUSTER, 'clusterroles', 'writer');
    world.kube.deleteEniConfig(CLUSTER, 'us-east-1a');
  });
});

describe('ENIConfig server-side apply', () => {
  let client: KubeClient;
  beforeAll(() => {
    client = new KubeClient(CLUSTER, endpoint, Buffer.from(world.kube.caPem).toString('base64'));
  });

  test('create, no-op, update, read back', async () => {
    const mark = world.log.mark();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const created = await client.apply<any>(`${ENI}/us-east-1a`, eniConfig('us-east-1a', 'subnet-aaa', ['sg-1']));
    expect(created.metadata.name).toBe('us-east-1a');
    expect(created.spec).toEqual({ subnet: 'subnet-aaa', securityGroups: ['sg-1'] });
    expect(Date.parse(created.metadata.creationTimestamp)).toBeGreaterThan(Date.now() - 60_000);
    expect(created.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: FIELD_MANAGER, operation: 'Apply', fieldsV1: { 'f:spec': { 'f:subnet': {}, 'f:securityGroups': {} } } }),
    ]);
    expect(world.log.writesSince(mark, 'kubernetes').map((c) => c.action)).toEqual([`PATCH /clusters/${CLUSTER}${ENI}/us-east-1a`]);

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const again = await client.apply<any>(`${ENI}/us-east-1a`, eniConfig('us-east-1a', 'subnet-aaa', ['sg-1']));
    expect(again.metadata.resourceVersion).toBe(created.metadata.resourceVersion);
    expect(again.metadata.managedFields[0].time).toBe(created.metadata.managedFields[0].time);

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const changed = await client.apply<any>(`${ENI}/us-east-1a`, eniConfig('us-east-1a', 'subnet-bbb', ['sg-1']));
    expect(Number(changed.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(changed.metadata.uid).toBe(created.metadata.uid);
    expect(changed.metadata.creationTimestamp).toBe(created.metadata.creationTimestamp);

    // A field the manager stops applying is removed.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const dropped = await client.apply<any>(`${ENI}/us-east-1a`, eniConfig('us-east-1a', 'subnet-bbb'));
    expect(dropped.spec).toEqual({ subnet: 'subnet-bbb' });

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const read = await client.get<any>(`${ENI}/us-east-1a`);
    expect(read.spec.subnet).toBe('subnet-bbb');
    expect(await client.get(`${ENI}/us-east-1z`)).toBeUndefined();
    expect(world.kube.eniConfig(CLUSTER, 'us-east-1a')?.spec.subnet).toBe('subnet-bbb');
  });

  test('GET missing, list, DELETE', async () => {
    const token = await eksBearerToken(CLUSTER);
    const missing = await request('GET', `${ENI}/nope`, { token });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    world.kube.applyEniConfig(CLUSTER, eniConfig('us-east-1b', 'subnet-ccc'));
    const list = await request('GET', ENI, { token });
    expect(list.body.kind).toBe('ENIConfigList');
    expect(list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['us-east-1a', 'us-east-1b']);
    expect((await request('DELETE', `${ENI}/us-east-1b`, { token })).status).toBe(200);
    expect(world.kube.eniConfigs(CLUSTER).map((e) => e.metadata.name)).toEqual(['us-east-1a']);
  });

  test('a field owned by another manager: 409 Conflict without force, taken over with force', async () => {
    const token = await eksBearerToken(CLUSTER);
    const path = `${ENI}/us-east-1a`;
    const conflict = await request('PATCH', `${path}?fieldManager=someone-else`, {
      token,
      body: eniConfig('us-east-1a', 'subnet-zzz'),
      contentType: 'application/apply-patch+yaml',
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.reason).toBe('Conflict');
    expect(conflict.body.message).toContain(`conflict with "${FIELD_MANAGER}": .spec.subnet`);
    expect(world.kube.eniConfig(CLUSTER, 'us-east-1a')?.spec.subnet).toBe('subnet-bbb');

    // Same value: shared ownership, no conflict and no change.
    const before = world.kube.eniConfig(CLUSTER, 'us-east-1a')!;
    const shared = await request('PATCH', `${path}?fieldManager=someone-else`, { token, body: eniConfig('us-east-1a', 'subnet-bbb'), contentType: 'application/apply-patch+yaml' });
    expect(shared.status).toBe(200);
    expect(shared.body.metadata.managedFields.map((m: { manager: string }) => m.manager).sort()).toEqual([FIELD_MANAGER, 'someone-else'].sort());

    const forced = await request('PATCH', `${path}?fieldManager=someone-else&force=true`, { token, body: eniConfig('us-east-1a', 'subnet-zzz'), contentType: 'application/apply-patch+yaml' });
    expect(forced.status).toBe(200);
    expect(forced.body.spec.subnet).toBe('subnet-zzz');
    expect(Number(forced.body.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    const owners = forced.body.metadata.managedFields.map((m: { manager: string }) => m.manager);
    expect(owners).toEqual(['someone-else']);
  });

  test('unsupported content types: 415; apply without fieldManager: 400', async () => {
    const token = await eksBearerToken(CLUSTER);
    const smp = await request('PATCH', `${ENI}/us-east-1a`, { token, body: { spec: { subnet: 'x' } }, contentType: 'application/strategic-merge-patch+json' });
    expect(smp.status).toBe(415);
    const text = await request('PATCH', `${ENI}/us-east-1a?fieldManager=m`, { token, body: {}, contentType: 'text/plain' });
    expect(text.status).toBe(415);
    const noManager = await request('PATCH', `${ENI}/us-east-1a`, { token, body: eniConfig('us-east-1a', 'x'), contentType: 'application/apply-patch+yaml' });
    expect(noManager.status).toBe(400);
  });

  test('the ENIConfig schema: spec.subnet a subnet id, securityGroups a list of sg- ids (422 naming the field); unknown spec fields pruned', async () => {
    const invalid = async (spec: unknown) => {
      const error = await client.apply(`${ENI}/us-east-1c`, { ...eniConfig('us-east-1c', 'subnet-0'), spec }).then(() => undefined, (e: KubeApiError) => e);
      return error && `${error.status} ${error.message}`;
    };
    expect(await invalid(undefined)).toMatch(/^422 .*spec: Required value/);
    expect(await invalid({ securityGroups: ['sg-1'] })).toMatch(/^422 .*spec\.subnet: Invalid value: undefined/);
    expect(await invalid({ subnet: 'sg-1' })).toMatch(/^422 .*spec\.subnet: Invalid value: "sg-1"/);
    expect(await invalid({ subnet: 'subnet-1', securityGroups: 'sg-1' })).toMatch(/^422 .*spec\.securityGroups: Invalid value: must be of type array/);
    expect(await invalid({ subnet: 'subnet-1', securityGroups: ['sg-1', 'subnet-2'] })).toMatch(/^422 .*spec\.securityGroups: Invalid value: "subnet-2"/);
    expect(world.kube.eniConfig(CLUSTER, 'us-east-1c')).toBeUndefined();
    await client.apply(`${ENI}/us-east-1c`, { ...eniConfig('us-east-1c', 'subnet-0'), spec: { subnet: 'subnet-0', securityGroups: ['sg-9'], subnetId: 'subnet-typo' } });
    expect(world.kube.eniConfig(CLUSTER, 'us-east-1c')?.spec).toEqual({ subnet: 'subnet-0', securityGroups: ['sg-9'] });
    world.kube.deleteEniConfig(CLUSTER, 'us-east-1c');
  });
});

describe('aws-node DaemonSet', () => {
  test('strategic merge patch merges env by name and keeps the rest', async () => {
    const client = new KubeClient(CLUSTER, endpoint, Buffer.from(world.kube.caPem).toString('base64'));
    const before = world.kube.daemonSetEnv(CLUSTER)!;
    expect(before.AWS_VPC_K8S_CNI_LOGLEVEL).toBe('DEBUG');
    await client.strategicMerge(AWS_NODE, {
      spec: { template: { spec: { containers: [{ name: 'aws-node', env: [{ name: 'AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG', value: 'true' }, { name: 'ENI_CONFIG_LABEL_DEF', value: 'topology.kubernetes.io/zone' }] }] } } },
    });
    const after = world.kube.daemonSetEnv(CLUSTER)!;
    expect(after).toEqual({ ...before, AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone' });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ds = await client.get<any>(AWS_NODE);
    expect(ds.spec.template.spec.containers[0].image).toContain('amazon-k8s-cni');
  });

  test('server-side apply of env conflicts with the eks manager unless forced', async () => {
    const token = await eksBearerToken(CLUSTER);
    const body = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'aws-node', namespace: 'kube-system' },
      spec: { template: { spec: { containers: [{ name: 'aws-node', env: [{ name: 'AWS_VPC_K8S_CNI_EXTERNALSNAT', value: 'true' }] }] } } },
    };
    const conflict = await request('PATCH', `${AWS_NODE}?fieldManager=mine`, { token, body, contentType: 'application/apply-patch+yaml' });
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toContain('conflict with "eks"');
    const forced = await request('PATCH', `${AWS_NODE}?fieldManager=mine&force=true`, { token, body, contentType: 'application/apply-patch+yaml' });
    expect(forced.status).toBe(200);
    expect(world.kube.daemonSetEnv(CLUSTER)?.AWS_VPC_K8S_CNI_EXTERNALSNAT).toBe('true');
    expect(world.kube.daemonSetEnv(CLUSTER)?.AWS_VPC_K8S_CNI_LOGLEVEL).toBe('DEBUG');
  });
});

describe('nodes', () => {
  test('list with labels and selector, delete one', async () => {
    const early = new Date(Date.now() - 3600_000);
    world.kube.addNode(CLUSTER, { name: 'ip-10-0-1-10.ec2.internal', zone: 'us-east-1a', nodegroup: 'ng-1', createdAt: early });
    world.kube.addNode(CLUSTER, { name: 'ip-10-0-17-10.ec2.internal', zone: 'us-east-1b', nodegroup: 'ng-2' });
    const token = await eksBearerToken(CLUSTER);
    const list = await request('GET', '/api/v1/nodes', { token });
    expect(list.status).toBe(200);
    expect(list.body.kind).toBe('NodeList');
    const first = list.body.items[0];
    expect(first.metadata.labels).toMatchObject({ 'topology.kubernetes.io/zone': 'us-east-1a', 'eks.amazonaws.com/nodegroup': 'ng-1' });
    expect(first.metadata.creationTimestamp).toBe(early.toISOString().replace(/\.\d{3}Z$/, 'Z'));
    const selected = await request('GET', `/api/v1/nodes?labelSelector=${encodeURIComponent('eks.amazonaws.com/nodegroup=ng-2')}`, { token });
    expect(selected.body.items.map((n: { metadata: { name: string } }) => n.metadata.name)).toEqual(['ip-10-0-17-10.ec2.internal']);
    expect((await request('DELETE', '/api/v1/nodes/ip-10-0-1-10.ec2.internal', { token })).status).toBe(200);
    expect(world.kube.nodes(CLUSTER).map((n) => n.metadata.name)).toEqual(['ip-10-0-17-10.ec2.internal']);
  });

  test('an unknown cluster or path is 404', async () => {
    const token = await eksBearerToken(CLUSTER);
    expect((await request('GET', '/api/v1/pods', { token })).status).toBe(404);
    expect((await request('GET', '/version', { token, cluster: 'ghost' })).status).toBe(404);
    await expect(new KubeClient('ghost', world.kube.endpointFor('ghost'), Buffer.from(world.kube.caPem).toString('base64')).apply(`${ENI}/a`, eniConfig('a', 'b'))).rejects.toBeInstanceOf(KubeApiError);
  });
});
