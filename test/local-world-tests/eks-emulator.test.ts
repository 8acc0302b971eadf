// The EKS emulator, driven through the real @aws-sdk/client-eks.
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  CreateClusterCommand,
  CreateNodegroupCommand,
  DeleteAccessEntryCommand,
  DeleteClusterCommand,
  DeleteNodegroupCommand,
  DescribeAccessEntryCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  DisassociateAccessPolicyCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ListAddonsCommand,
  ListAssociatedAccessPoliciesCommand,
  ListClustersCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAddonCommand,
} from '@aws-sdk/client-eks';
import { LocalWorld, LocalWorldVpc, startLocalWorld } from '../local-world/world';

const ROLE = 'arn:aws:iam::123456789012:role/eks-cluster-role';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';

let world: LocalWorld;
let eks: EKSClient;
let vpc: LocalWorldVpc;

async function expectEksError(promise: Promise<unknown>, name: string, status?: number): Promise<Error> {
  const error = await promise.then(
    () => {
      throw new Error(`expected ${name}, got success`);
    },
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
  );
  expect(error.name).toBe(name);
  if (status !== undefined) expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(status);
  return error;
}

async function createActiveCluster(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: ROLE,
      resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) },
      ...extra,
    }),
  );
  world.eks.activateCluster(name);
}

beforeAll(async () => {
  world = await startLocalWorld();
  vpc = await world.createVpc({ azs: ['us-east-1a', 'us-east-1b', 'us-east-1c'] });
  eks = new EKSClient({
    region: world.region,
    endpoint: world.env.AWS_ENDPOINT_URL_EKS,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  eks?.destroy();
  await world?.stop();
});

describe('clusters', () => {
  test('CreateCluster derives the VPC and a cluster security group from moto; CREATING until activated', async () => {
    const mark = world.log.mark();
    const created = await eks.send(
      new CreateClusterCommand({
        name: 'alpha',
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) },
        tags: { team: 'net' },
      }),
    );
    expect(created.cluster?.status).toBe('CREATING');
    expect(created.cluster?.arn).toBe('arn:aws:eks:us-east-1:123456789012:cluster/alpha');
    expect(created.cluster?.resourcesVpcConfig?.vpcId).toBe(vpc.vpcId);
    expect(created.cluster?.kubernetesNetworkConfig?.ipFamily).toBe('ipv4');
    expect(created.cluster?.accessConfig?.authenticationMode).toBe('API_AND_CONFIG_MAP');
    expect(created.cluster?.createdAt).toBeInstanceOf(Date);
    expect(created.cluster?.endpoint).toBeUndefined();

    // Real EKS may report the cluster security group only late in CREATING: the emulator only once ACTIVE.
    expect(created.cluster?.resourcesVpcConfig?.clusterSecurityGroupId).toBeUndefined();
    expect(created.cluster?.resourcesVpcConfig?.subnetIds).toEqual(vpc.subnets.map((s) => s.subnetId));
    const sgId = world.eks.cluster('alpha')!.clusterSecurityGroupId;
    const sg = (await world.ec2Direct.send(new DescribeSecurityGroupsCommand({ GroupIds: [sgId] }))).SecurityGroups![0];
    expect(sg.VpcId).toBe(vpc.vpcId);
    expect(sg.GroupName).toMatch(/^eks-cluster-sg-alpha-\d+$/);
    const tagKeys = (sg.Tags ?? []).map((t) => t.Key);
    expect(tagKeys.includes('aws:eks:cluster-name') || tagKeys.includes('kubernetes.io/cluster/alpha')).toBe(true);

    const stillCreating = await eks.send(new DescribeClusterCommand({ name: 'alpha' }));
    expect(stillCreating.cluster?.status).toBe('CREATING');
    // The emulator's EC2 calls went to moto directly: only the two EKS calls were recorded.
    expect(world.log.since(mark).map((c) => `${c.service}:${c.action}:${c.write}`)).toEqual([
      'eks:CreateCluster:true',
      'eks:DescribeCluster:false',
    ]);

    world.eks.activateCluster('alpha');
    const active = (await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster!;
    expect(active.status).toBe('ACTIVE');
    expect(active.resourcesVpcConfig?.clusterSecurityGroupId).toBe(sgId);
    expect(active.endpoint).toBe(world.kube.endpointFor('alpha'));
    expect(Buffer.from(active.certificateAuthority!.data!, 'base64').toString()).toBe(world.kube.caPem);
    expect(active.tags).toEqual({ team: 'net' });

    expect((await eks.send(new ListAddonsCommand({ clusterName: 'alpha' }))).addons).toEqual(['vpc-cni']);
    const env = world.kube.daemonSetEnv('alpha')!;
    expect(env.AWS_VPC_K8S_CNI_LOGLEVEL).toBe('DEBUG');
    expect(env.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG).toBe('false');
    expect(env.VPC_ID).toBe(vpc.vpcId);
    expect((await eks.send(new ListClustersCommand({}))).clusters).toContain('alpha');
  });

  test('clusterActivationDescribes: the Nth describe after creation answers ACTIVE', async () => {
    world.eks.options.clusterActivationDescribes = 2;
    try {
      await eks.send(new CreateClusterCommand({ name: 'auto', roleArn: ROLE, resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) } }));
      const statuses: string[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await eks.send(new DescribeClusterCommand({ name: 'auto' }))).cluster!.status!);
      expect(statuses).toEqual(['CREATING', 'CREATING', 'ACTIVE']);
    } finally {
      world.eks.options.clusterActivationDescribes = undefined;
    }
  });

  test('errors carry the SDK exception names and statuses', async () => {
    await expectEksError(eks.send(new DescribeClusterCommand({ name: 'nope' })), 'ResourceNotFoundException', 404);
    await expectEksError(
      eks.send(new CreateClusterCommand({ name: 'bad', roleArn: ROLE, resourcesVpcConfig: { subnetIds: ['subnet-deadbeef', vpc.subnets[0].subnetId] } })),
      'InvalidParameterException',
      400,
    );
    await expectEksError(
      eks.send(new CreateClusterCommand({ name: 'alpha', roleArn: ROLE, resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) } })),
      'ResourceInUseException',
      409,
    );
    world.eks.failNext('DescribeCluster', { code: 'ServiceUnavailableException' });
    await expectEksError(eks.send(new DescribeClusterCommand({ name: 'alpha' })), 'ServiceUnavailableException', 503);
    expect((await eks.send(new DescribeClusterCommand({ name: 'alpha' }))).cluster?.status).toBe('ACTIVE');
  });

  test('Auto Mode, IPv6 and CONFIG_MAP settings are reported back as given', async () => {
    await eks.send(
      new CreateClusterCommand({
        name: 'odd',
        roleArn: ROLE,
        resourcesVpcConfig: { subnetIds: vpc.subnets.map((s) => s.subnetId) },
        kubernetesNetworkConfig: { ipFamily: 'ipv6' },
        accessConfig: { authenticationMode: 'CONFIG_MAP' },
        computeConfig: { enabled: true, nodePools: ['general-purpose'], nodeRoleArn: ROLE },
      }),
    );
    const c = (await eks.send(new DescribeClusterCommand({ name: 'odd' }))).cluster!;
    expect(c.kubernetesNetworkConfig?.ipFamily).toBe('ipv6');
    expect(c.accessConfig?.authenticationMode).toBe('CONFIG_MAP');
    expect(c.computeConfig?.enabled).toBe(true);
  });

  test('a cluster without the vpc-cni add-on, with or without a self-managed aws-node', async () => {
    world.eks.presetCluster('selfmanaged', { withVpcCniAddon: false, selfManagedAwsNode: true });
    world.eks.presetCluster('nocni', { withVpcCniAddon: false, selfManagedAwsNode: false });
    await createActiveCluster('selfmanaged');
    await createActiveCluster('nocni');
    expect((await eks.send(new ListAddonsCommand({ clusterName: 'selfmanaged' }))).addons).toEqual([]);
    expect(world.kube.daemonSetEnv('selfmanaged')?.AWS_VPC_K8S_CNI_LOGLEVEL).toBe('DEBUG');
    expect(world.kube.daemonSet('selfmanaged')?.metadata.managedFields[0].manager).toBe('kubectl-client-side-apply');
    expect((await eks.send(new ListAddonsCommand({ clusterName: 'nocni' }))).addons).toEqual([]);
    expect(world.kube.daemonSetEnv('nocni')).toBeUndefined();
  });

  test('DeleteCluster: DELETING, then gone from EKS and the Kubernetes emulator', async () => {
    await createActiveCluster('doomed');
    const sgId = world.eks.cluster('doomed')!.clusterSecurityGroupId;
    const deleted = await eks.send(new DeleteClusterCommand({ name: 'doomed' }));
    expect(deleted.cluster?.status).toBe('DELETING');
    expect((await eks.send(new DescribeClusterCommand({ name: 'doomed' }))).cluster?.status).toBe('DELETING');
    await expectEksError(eks.send(new DescribeClusterCommand({ name: 'doomed' })), 'ResourceNotFoundException');
    expect(world.kube.hasCluster('doomed')).toBe(false);
    const groups = await world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [sgId] }] }));
    expect(groups.SecurityGroups ?? []).toHaveLength(0);
  });
});

describe('vpc-cni add-on updates', () => {
  const cluster = 'addons';
  beforeAll(async () => {
    await createActiveCluster(cluster);
    world.eks.setAddonConfiguration(cluster, 'vpc-cni', { env: { WARM_IP_TARGET: '5' } });
  });

  test('seeded configuration is visible and applied', async () => {
    const addon = (await eks.send(new DescribeAddonCommand({ clusterName: cluster, addonName: 'vpc-cni' }))).addon!;
    expect(addon.status).toBe('ACTIVE');
    expect(JSON.parse(addon.configurationValues!)).toEqual({ env: { WARM_IP_TARGET: '5' } });
    expect(addon.addonArn).toMatch(/^arn:aws:eks:us-east-1:123456789012:addon\/addons\/vpc-cni\/[0-9a-f-]{36}$/);
    expect(world.kube.daemonSetEnv(cluster)?.WARM_IP_TARGET).toBe('5');
  });

  test('UpdateAddon: InProgress, concurrent update refused, then Successful with env on aws-node', async () => {
    const config = JSON.stringify({
      env: { WARM_IP_TARGET: '5', AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone' },
    });
    const { update } = await eks.send(
      new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: config, resolveConflicts: 'OVERWRITE' }),
    );
    expect(update?.status).toBe('InProgress');
    expect(update?.type).toBe('AddonUpdate');
    expect(update?.params).toEqual(
      expect.arrayContaining([{ type: 'ConfigurationValues', value: config }, { type: 'ResolveConflicts', value: 'OVERWRITE' }]),
    );

    await expectEksError(
      eks.send(new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: '{}' })),
      'ResourceInUseException',
      409,
    );

    const first = await eks.send(new DescribeUpdateCommand({ name: cluster, updateId: update!.id!, addonName: 'vpc-cni' }));
    expect(first.update?.status).toBe('InProgress');
    expect(world.kube.daemonSetEnv(cluster)?.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG).toBe('false');

    const second = await eks.send(new DescribeUpdateCommand({ name: cluster, updateId: update!.id!, addonName: 'vpc-cni' }));
    expect(second.update?.status).toBe('Successful');
    const env = world.kube.daemonSetEnv(cluster)!;
    expect(env.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG).toBe('true');
    expect(env.ENI_CONFIG_LABEL_DEF).toBe('topology.kubernetes.io/zone');
    expect(env.WARM_IP_TARGET).toBe('5');
    expect(env.AWS_VPC_K8S_CNI_LOGLEVEL).toBe('DEBUG');
    const addon = (await eks.send(new DescribeAddonCommand({ clusterName: cluster, addonName: 'vpc-cni' }))).addon!;
    expect(addon.status).toBe('ACTIVE');
    expect(addon.configurationValues).toBe(config);
  });

  test('configurationValues replace the whole configuration', async () => {
    const { update } = await eks.send(
      new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: JSON.stringify({ env: { AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' } }) }),
    );
    world.eks.completeAddonUpdate(cluster, 'vpc-cni');
    expect(world.eks.addonUpdate(cluster, 'vpc-cni', update!.id)?.status).toBe('Successful');
    const env = world.kube.daemonSetEnv(cluster)!;
    expect(env.AWS_VPC_K8S_CNI_EXTERNALSNAT).toBe('true');
    expect(env.WARM_IP_TARGET).toBeUndefined(); // dropped from the configuration: gone
    expect(env.AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG).toBe('false'); // back to the add-on default
  });

  test('invalid configuration JSON, unknown add-on, injected failures', async () => {
    await expectEksError(
      eks.send(new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: '{"env": ' })),
      'InvalidParameterException',
      400,
    );
    await expectEksError(eks.send(new DescribeAddonCommand({ clusterName: cluster, addonName: 'coredns' })), 'ResourceNotFoundException', 404);
    world.eks.failNext('UpdateAddon', { code: 'ServerException' }, 2);
    await expectEksError(eks.send(new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: '{}' })), 'ServerException', 500);
    await expectEksError(eks.send(new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: '{}' })), 'ServerException', 500);
    expect(world.eks.addon(cluster, 'vpc-cni')?.activeUpdateId).toBeUndefined();
  });

  test('resolveConflicts NONE fails with ConfigurationConflict when another manager owns the field; OVERWRITE wins', async () => {
    world.kube.setAwsNodeEnv(cluster, { WARM_ENI_TARGET: '3' }, 'kubectl-edit', { operation: 'Update' });
    const wanted = JSON.stringify({ env: { WARM_ENI_TARGET: '2' } });
    const none = await eks.send(new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: wanted, resolveConflicts: 'NONE' }));
    await eks.send(new DescribeUpdateCommand({ name: cluster, updateId: none.update!.id!, addonName: 'vpc-cni' }));
    const failed = await eks.send(new DescribeUpdateCommand({ name: cluster, updateId: none.update!.id!, addonName: 'vpc-cni' }));
    expect(failed.update?.status).toBe('Failed');
    expect(failed.update?.errors?.[0]?.errorCode).toBe('ConfigurationConflict');
    expect(failed.update?.errors?.[0]?.errorMessage).toContain('kubectl-edit');
    expect(world.kube.daemonSetEnv(cluster)?.WARM_ENI_TARGET).toBe('3');

    const overwrite = await eks.send(
      new UpdateAddonCommand({ clusterName: cluster, addonName: 'vpc-cni', configurationValues: wanted, resolveConflicts: 'OVERWRITE' }),
    );
    world.eks.completeAddonUpdate(cluster, 'vpc-cni');
    expect(world.eks.addonUpdate(cluster, 'vpc-cni', overwrite.update!.id)?.status).toBe('Successful');
    expect(world.kube.daemonSetEnv(cluster)?.WARM_ENI_TARGET).toBe('2');
  });
});

describe('access entries', () => {
  const cluster = 'access';
  const principal = 'arn:aws:iam::123456789012:role/aviatrix-controller';
  beforeAll(() => createActiveCluster(cluster));

  test('create, duplicate, describe, list, associate, disassociate, delete', async () => {
    const created = await eks.send(new CreateAccessEntryCommand({ clusterName: cluster, principalArn: principal, type: 'STANDARD' }));
    expect(created.accessEntry?.principalArn).toBe(principal);
    expect(created.accessEntry?.username).toBe('arn:aws:sts::123456789012:assumed-role/aviatrix-controller/{{SessionName}}');
    expect(created.accessEntry?.accessEntryArn).toMatch(/^arn:aws:eks:us-east-1:123456789012:access-entry\/access\/role\/123456789012\/aviatrix-controller\//);
    await expectEksError(eks.send(new CreateAccessEntryCommand({ clusterName: cluster, principalArn: principal })), 'ResourceInUseException', 409);

    expect((await eks.send(new DescribeAccessEntryCommand({ clusterName: cluster, principalArn: principal }))).accessEntry?.type).toBe('STANDARD');
    expect((await eks.send(new ListAccessEntriesCommand({ clusterName: cluster }))).accessEntries).toEqual([principal]);

    const assoc = await eks.send(
      new AssociateAccessPolicyCommand({ clusterName: cluster, principalArn: principal, policyArn: VIEW, accessScope: { type: 'cluster' } }),
    );
    expect(assoc.associatedAccessPolicy?.policyArn).toBe(VIEW);
    await eks.send(
      new AssociateAccessPolicyCommand({ clusterName: cluster, principalArn: principal, policyArn: ADMIN, accessScope: { type: 'namespace', namespaces: ['kube-system'] } }),
    );
    const listed = await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName: cluster, principalArn: principal }));
    expect(listed.associatedAccessPolicies?.map((p) => [p.policyArn, p.accessScope?.type])).toEqual([
      [VIEW, 'cluster'],
      [ADMIN, 'namespace'],
    ]);
    expect(world.eks.accessEntries(cluster)[0].policies).toHaveLength(2);

    await eks.send(new DisassociateAccessPolicyCommand({ clusterName: cluster, principalArn: principal, policyArn: ADMIN }));
    expect(world.eks.accessGrant(cluster, principal)?.policies.map((p) => p.policyArn)).toEqual([VIEW]);
    // The kube emulator matches an assumed-role caller to the role's entry.
    expect(world.eks.accessGrant(cluster, 'arn:aws:iam::123456789012:role/some/path/aviatrix-controller')).toBeDefined();

    await eks.send(new DeleteAccessEntryCommand({ clusterName: cluster, principalArn: principal }));
    await expectEksError(eks.send(new DescribeAccessEntryCommand({ clusterName: cluster, principalArn: principal })), 'ResourceNotFoundException', 404);
    expect(world.eks.accessGrant(cluster, principal)).toBeUndefined();
  });

  test('a CONFIG_MAP cluster refuses access-entry calls', async () => {
    await createActiveCluster('cm', { accessConfig: { authenticationMode: 'CONFIG_MAP' } });
    const error = await expectEksError(
      eks.send(new CreateAccessEntryCommand({ clusterName: 'cm', principalArn: principal })),
      'InvalidRequestException',
      400,
    );
    expect(error.message).toContain('authentication mode');
    await expectEksError(eks.send(new ListAccessEntriesCommand({ clusterName: 'cm' })), 'InvalidRequestException');
  });
});

describe('node groups', () => {
  const cluster = 'nodes';
  beforeAll(() => createActiveCluster(cluster));

  test('CREATING -> ACTIVE registers one node per subnet with zone and node-group labels', async () => {
    const before = Date.now();
    const created = await eks.send(
      new CreateNodegroupCommand({
        clusterName: cluster,
        nodegroupName: 'ng-1',
        subnets: vpc.subnets.slice(0, 2).map((s) => s.subnetId),
        nodeRole: 'arn:aws:iam::123456789012:role/node',
        scalingConfig: { minSize: 2, maxSize: 4, desiredSize: 2 },
        labels: { role: 'app' },
      }),
    );
    expect(created.nodegroup?.status).toBe('CREATING');
    expect(world.kube.nodes(cluster)).toHaveLength(0);

    world.eks.activateNodegroup(cluster, 'ng-1');
    const ng = (await eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: 'ng-1' }))).nodegroup!;
    expect(ng.status).toBe('ACTIVE');
    expect(ng.resources?.autoScalingGroups?.[0]?.name).toMatch(/^eks-ng-1-/);
    expect(ng.subnets).toEqual(vpc.subnets.slice(0, 2).map((s) => s.subnetId));

    const nodes = world.kube.nodes(cluster);
    expect(nodes.map((n) => n.metadata.labels['topology.kubernetes.io/zone'])).toEqual(expect.arrayContaining(['us-east-1a', 'us-east-1b']));
    for (const node of nodes) {
      expect(node.metadata.name).toMatch(/^ip-10-0-\d+-\d+\.ec2\.internal$/);
      expect(node.metadata.labels['eks.amazonaws.com/nodegroup']).toBe('ng-1');
      expect(node.metadata.labels.role).toBe('app');
      expect(Date.parse(node.metadata.creationTimestamp)).toBeGreaterThanOrEqual(before - 1000);
    }
    await expectEksError(eks.send(new DeleteClusterCommand({ name: cluster })), 'ResourceInUseException', 409);

    expect((await eks.send(new DeleteNodegroupCommand({ clusterName: cluster, nodegroupName: 'ng-1' }))).nodegroup?.status).toBe('DELETING');
    await eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: 'ng-1' }));
    await expectEksError(eks.send(new DescribeNodegroupCommand({ clusterName: cluster, nodegroupName: 'ng-1' })), 'ResourceNotFoundException');
    expect(world.kube.nodes(cluster)).toHaveLength(0);
  });
});

describe('tags', () => {
  test('TagResource, ListTagsForResource, UntagResource on a cluster ARN', async () => {
    const arn = world.eks.cluster('alpha')!.arn;
    await eks.send(new TagResourceCommand({ resourceArn: arn, tags: { 'aviatrix:onboarded': 'true', step: '11' } }));
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual({ team: 'net', 'aviatrix:onboarded': 'true', step: '11' });
    await eks.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['step', 'team'] }));
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual({ 'aviatrix:onboarded': 'true' });
    await expectEksError(eks.send(new ListTagsForResourceCommand({ resourceArn: `${arn}-missing` })), 'NotFoundException', 404);
  });
});
