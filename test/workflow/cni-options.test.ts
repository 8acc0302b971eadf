// The VPC CNI options (network policy, prefix delegation) and the read-only checks of what custom
// networking breaks (security groups for pods, load balancers, old kernels): the real cluster and
// node-group ASL with the real handlers against the local world, asserting the add-on, aws-node
// and the run's result; the refusals write nothing.
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { CreateNetworkInterfaceCommand, CreateSecurityGroupCommand, CreateTagsCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, RevokeSecurityGroupIngressCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { nodeInstanceTagKey, rulesOf } from '../../lambdas/domain/network';
import { POD_SG_RULE_DESCRIPTION } from '../../lambdas/domain/pod-security-groups';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { createCluster, createClusterRole, createNodegroup, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const CLUSTER_WORKFLOW = 'cluster-onboarding.asl.json';
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];

let w: OnboardingWorld;

beforeAll(async () => {
  // A deleted cluster answers DELETING to the offboarding's first two looks (ResolveOffboarding's and
  // DetachSecurityGroups'), so its security group is still there when DetachSecurityGroups runs.
  w = await startOnboardingWorld({ eks: { deletionDescribes: 2 } });
});

afterAll(async () => {
  await w?.stop();
});

interface Outcome {
  status: string;
  warnings: string[];
  changes: { resource: string; action: string; detail: string }[];
}

const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));
const addonConfig = (cluster: string) => JSON.parse((w.world.eks.addon(cluster, 'vpc-cni')?.configurationValues as string | undefined) ?? '{}');
const run = (clusterName: string, dryRun = false) => runWorkflow(CLUSTER_WORKFLOW, { clusterName, ...(dryRun ? { dryRun } : {}) });

async function activeCluster(name: string, spec: Partial<Parameters<typeof createCluster>[1]> = {}): Promise<CreatedCluster> {
  const created = await createCluster(w, { name, ...spec });
  w.activateCluster(name);
  return created;
}

/** Runs with the options switched on, and switches them off again whatever happens. */
async function withOptions<T>(options: Record<string, unknown>, body: () => Promise<T>): Promise<T> {
  w.setConfig(options);
  try {
    return await body();
  } finally {
    const off: Record<string, unknown> = { podSubnetPrefixLength: undefined, warmPrefixTarget: undefined, podSecurityGroups: 'report', loadBalancerSubnets: undefined };
    w.setConfig(Object.fromEntries(Object.keys(options).map((key) => [key, key in off ? off[key] : false])));
  }
}

describe('networkPolicy and prefixDelegation', () => {
  const CLUSTER = 'opts-on';

  beforeAll(async () => {
    await activeCluster(CLUSTER, { addonConfiguration: { env: { WARM_IP_TARGET: '5' }, resources: { requests: { cpu: '25m' } } } });
  });

  it('are merged into the add-on with custom networking, in one update, keeping the other settings', async () => {
    const result = await withOptions({ networkPolicy: true, prefixDelegation: true }, () => run(CLUSTER));
    expect(result.error).toBeUndefined();
    expect((result.output as Outcome).status).toBe('ONBOARDED');
    expect(addonConfig(CLUSTER)).toEqual({
      resources: { requests: { cpu: '25m' } },
      enableNetworkPolicy: 'true',
      env: {
        WARM_IP_TARGET: '5',
        AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true',
        ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
        ENABLE_PREFIX_DELEGATION: 'true',
        AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
      },
    });
    // The nodes run with it (aws-node read back), and the custom-networking stage wrote the add-on once.
    expect(w.world.kube.daemonSetEnv(CLUSTER)).toMatchObject({ ENABLE_PREFIX_DELEGATION: 'true', AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true' });
    const updates = (result.output as Outcome).changes.filter((c) => c.resource === 'add-on vpc-cni');
    expect(updates.map((c) => c.detail)).toEqual([
      expect.stringContaining('ENABLE_PREFIX_DELEGATION=true, enableNetworkPolicy=true'),
      expect.stringContaining('AWS_VPC_K8S_CNI_EXTERNALSNAT=true'),
    ]);
  });

  it('a second run changes nothing', async () => {
    const mark = w.world.log.mark();
    const result = await withOptions({ networkPolicy: true, prefixDelegation: true }, () => run(CLUSTER));
    expect((result.output as Outcome).changes).toEqual([]);
    expect(writesSince(mark)).toEqual([]);
  });

  it('removed by hand: plan shows it, and the next run (drift repair) puts it back', async () => {
    const { enableNetworkPolicy: _removed, ...rest } = addonConfig(CLUSTER);
    w.world.eks.setAddonConfiguration(CLUSTER, 'vpc-cni', rest);
    await withOptions({ networkPolicy: true, prefixDelegation: true }, async () => {
      const mark = w.world.log.mark();
      const plan = await run(CLUSTER, true);
      expect((plan.output as Outcome).changes).toEqual([
        { resource: 'add-on vpc-cni', action: 'update', detail: expect.stringContaining('enableNetworkPolicy=true') },
      ]);
      expect(writesSince(mark)).toEqual([]);
      const repaired = await run(CLUSTER);
      expect((repaired.output as Outcome).changes).toEqual([expect.objectContaining({ resource: 'add-on vpc-cni' })]);
    });
    expect(addonConfig(CLUSTER)).toMatchObject({ enableNetworkPolicy: 'true', resources: { requests: { cpu: '25m' } } });
  });

  it('off (the default), the add-on gets neither', async () => {
    await activeCluster('opts-off');
    const result = await run('opts-off');
    expect(result.error).toBeUndefined();
    expect(addonConfig('opts-off')).not.toHaveProperty('enableNetworkPolicy');
    expect(addonConfig('opts-off').env).not.toHaveProperty('ENABLE_PREFIX_DELEGATION');
  });

  it.each([
    ['networkPolicy', 'v1.13.4-eksbuild.1', /onboarding\.networkPolicy needs VPC CNI v1\.14\.0 or later, the cluster runs v1\.13\.4-eksbuild\.1; update the add-on/],
    ['prefixDelegation', 'v1.8.0-eksbuild.1', /onboarding\.prefixDelegation needs VPC CNI v1\.9\.0 or later, the cluster runs v1\.8\.0-eksbuild\.1/],
  ])('%s on an add-on too old for it is refused by the preflight, with no write', async (option, version, message) => {
    const name = `old-cni-${option.toLowerCase()}`;
    await activeCluster(name);
    w.world.eks.addon(name, 'vpc-cni')!.addonVersion = version;
    const mark = w.world.log.mark();
    const result = await withOptions({ [option]: true }, () => run(name));
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(message);
    expect(result.statesEntered).not.toContain('ExcludePodCidr');
    expect(writesSince(mark)).toEqual([]);
    expect(await readStatusRecord(STATUS_TABLE, name)).toMatchObject({ status: 'REFUSED' });
  });

  it('nodes whose kernel cannot enforce network policies are named', async () => {
    await activeCluster('old-kernel');
    w.world.kube.addNode('old-kernel', { name: 'ip-10-0-1-9.ec2.internal', zone: 'us-east-1a', kernelVersion: '4.14.355-275.572.amzn2.x86_64' });
    w.world.kube.addNode('old-kernel', { name: 'ip-10-0-1-10.ec2.internal', zone: 'us-east-1a' });
    const result = await withOptions({ networkPolicy: true }, () => run('old-kernel'));
    const warnings = (result.output as Outcome).warnings.filter((x) => x.includes('Linux kernel'));
    expect(warnings).toEqual([
      expect.stringMatching(/nodes ip-10-0-1-9\.ec2\.internal \(4\.14\.355-275\.572\.amzn2\.x86_64, Amazon Linux 2\) of EKS cluster "old-kernel" run a Linux kernel older than 5\.10/),
    ]);
  });
});

describe('switching networkPolicy and prefixDelegation off undoes only what onboarding set', () => {
  const ON = { networkPolicy: true, prefixDelegation: true, warmPrefixTarget: 2 };
  const claims = (cluster: string) => w.world.eks.cluster(cluster)!.tags['eks-aviatrix:cni-options'];

  it('records the values it set, removes them once off (plan first), keeps a value changed by hand since and the other settings', async () => {
    const CLUSTER = 'opts-undo';
    await activeCluster(CLUSTER, { addonConfiguration: { env: { WARM_ENI_TARGET: '1' } } });
    expect((await withOptions(ON, () => run(CLUSTER))).error).toBeUndefined();
    expect(addonConfig(CLUSTER)).toMatchObject({ enableNetworkPolicy: 'true', env: { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '2' } });
    expect(claims(CLUSTER)).toBe('ENABLE_PREFIX_DELEGATION=true WARM_PREFIX_TARGET=2 enableNetworkPolicy=true');

    // Someone tunes the warm pool by hand: that value is theirs from now on.
    const tuned = addonConfig(CLUSTER);
    w.world.eks.setAddonConfiguration(CLUSTER, 'vpc-cni', { ...tuned, env: { ...tuned.env, WARM_PREFIX_TARGET: '3' } });

    const mark = w.world.log.mark();
    const plan = await run(CLUSTER, true);
    expect(writesSince(mark)).toEqual([]);
    expect((plan.output as Outcome).changes).toEqual([
      { resource: `EKS cluster ${CLUSTER}`, action: 'tag', detail: 'remove eks-aviatrix:cni-options' },
      { resource: 'add-on vpc-cni', action: 'update', detail: expect.stringMatching(/; removes enableNetworkPolicy, ENABLE_PREFIX_DELEGATION \(set by onboarding, option now off\)$/) },
    ]);
    expect((await run(CLUSTER)).error).toBeUndefined();
    const after = addonConfig(CLUSTER);
    expect(after).not.toHaveProperty('enableNetworkPolicy');
    expect(after.env).toEqual({
      WARM_ENI_TARGET: '1', WARM_PREFIX_TARGET: '3',
      AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true', ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone', AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
    });
    // The nodes are back to the add-on's default.
    expect(w.world.kube.daemonSetEnv(CLUSTER)).toMatchObject({ ENABLE_PREFIX_DELEGATION: 'false' });
    expect(claims(CLUSTER)).toBeUndefined();
    const again = w.world.log.mark();
    expect((await run(CLUSTER)).output).toMatchObject({ changes: [] });
    expect(writesSince(again)).toEqual([]);
  });

  it('never claims, so never removes, values that were set by hand before', async () => {
    const CLUSTER = 'opts-hand';
    await activeCluster(CLUSTER, { addonConfiguration: { enableNetworkPolicy: 'true', env: { ENABLE_PREFIX_DELEGATION: 'true' } } });
    expect((await withOptions({ networkPolicy: true, prefixDelegation: true }, () => run(CLUSTER))).error).toBeUndefined();
    expect(claims(CLUSTER)).toBeUndefined();
    expect((await run(CLUSTER)).error).toBeUndefined();
    expect(addonConfig(CLUSTER)).toMatchObject({ enableNetworkPolicy: 'true', env: { ENABLE_PREFIX_DELEGATION: 'true' } });
  });
});

describe('prefix delegation on pod subnets without free /28 blocks', () => {
  const CLUSTER = 'pd-full';

  it('is refused before the add-on is touched, naming the subnet', async () => {
    const created = await activeCluster(CLUSTER);
    // /26 pod subnets: AWS reserves addresses in the first and last /28, two blocks stay free.
    await withOptions({ podSubnetPrefixLength: 26 }, () => run(CLUSTER));
    const { Subnets = [] } = await w.world.ec2Direct.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [created.vpc.vpcId] }] }));
    const pod = Subnets.find((s) => s.CidrBlock?.startsWith('100.64.') && s.AvailabilityZone === 'us-east-1a')!;
    const base = pod.CidrBlock!.split('/')[0].split('.').map(Number);
    for (const offset of [20, 36]) {
      const address = [...base.slice(0, 3), base[3] + offset].join('.');
      await w.world.ec2Direct.send(new CreateNetworkInterfaceCommand({ SubnetId: pod.SubnetId!, PrivateIpAddress: address }));
    }
    const before = JSON.stringify(addonConfig(CLUSTER));
    const result = await withOptions({ podSubnetPrefixLength: 26, prefixDelegation: true }, () => run(CLUSTER));
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toContain(`pod subnet ${pod.SubnetId} (${pod.CidrBlock}, us-east-1a) has no free /28 block`);
    expect(JSON.stringify(addonConfig(CLUSTER))).toBe(before);
  });
});

describe('read-only checks: security groups for pods and load balancers', () => {
  const CLUSTER = 'checks';

  beforeAll(async () => {
    await activeCluster(CLUSTER);
  });

  it('a clean cluster has no such warnings', async () => {
    const result = await run(CLUSTER);
    expect(result.error).toBeUndefined();
    expect((result.output as Outcome).warnings).toEqual([]);
  });

  it('SecurityGroupPolicies and classic or instance-mode load balancers are named, in plan and run alike', async () => {
    const kube = w.world.kube;
    kube.addObject(CLUSTER, 'securitygrouppolicies', {
      apiVersion: 'vpcresources.k8s.aws/v1beta1', kind: 'SecurityGroupPolicy',
      metadata: { name: 'db-access', namespace: 'shop' },
      spec: { podSelector: { matchLabels: { app: 'orders' } }, securityGroups: { groupIds: ['sg-0db', 'sg-0aa'] } },
    });
    const service = (name: string, annotations: Record<string, string>, spec: Record<string, unknown> = { type: 'LoadBalancer' }) =>
      kube.addObject(CLUSTER, 'services', { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'web', annotations }, spec });
    service('classic', {});
    service('instance-nlb', { 'service.beta.kubernetes.io/aws-load-balancer-type': 'external' });
    service('ip-nlb', { 'service.beta.kubernetes.io/aws-load-balancer-type': 'external', 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip' });
    service('internal', {}, { type: 'ClusterIP' });

    for (const dryRun of [true, false]) {
      const mark = w.world.log.mark();
      const result = await run(CLUSTER, dryRun);
      expect(result.error).toBeUndefined();
      expect((result.output as Outcome).warnings).toEqual([
        expect.stringMatching(/^SecurityGroupPolicy shop\/db-access \(sg-0aa, sg-0db\) on EKS cluster "checks" gives pods their own security groups instead of the ENIConfig's pod security group sg-\w+.*ENABLE_POD_ENI is not "true"/),
        expect.stringMatching(/^Services web\/classic on EKS cluster "checks" get a classic load balancer/),
        expect.stringMatching(/^Services web\/instance-nlb on EKS cluster "checks" use instance-mode targets.*nlb-target-type: ip$/),
      ]);
      expect(writesSince(mark)).toEqual([]);
    }
  });
});

describe('security groups for pods: the cluster role needs AmazonEKSVPCResourceController', () => {
  const CLUSTER = 'role-check';
  const roleReads = (mark: number) => w.world.log.since(mark).filter((c) => c.action === 'ListAttachedRolePolicies');
  const roleWarnings = (result: { output?: unknown }) => (result.output as Outcome).warnings.filter((x) => x.includes('AmazonEKSVPCResourceController'));

  it('is read only when pods get their own groups, and a missing or unreadable policy is named with the fix', async () => {
    await activeCluster(CLUSTER, { roleName: 'eks-cluster-bare' });
    let mark = w.world.log.mark();
    expect((await run(CLUSTER)).error).toBeUndefined();
    expect(roleReads(mark)).toEqual([]);

    w.world.kube.addObject(CLUSTER, 'securitygrouppolicies', {
      apiVersion: 'vpcresources.k8s.aws/v1beta1', kind: 'SecurityGroupPolicy',
      metadata: { name: 'orders', namespace: 'shop' }, spec: { podSelector: {}, securityGroups: { groupIds: ['sg-0aa'] } },
    });
    // The role is not there (deleted, or in an account onboarding cannot read): the run goes on and says so.
    const unreadable = await run(CLUSTER);
    expect(unreadable.error).toBeUndefined();
    expect(roleWarnings(unreadable)).toEqual([
      expect.stringMatching(/^security groups for pods on EKS cluster "role-check" need AmazonEKSVPCResourceController on its cluster role arn:aws:iam::123456789012:role\/eks-cluster-bare, which onboarding could not read \(NoSuchEntity/),
    ]);

    await createClusterRole({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } }, 'eks-cluster-bare', ['AmazonEKSClusterPolicy']);
    mark = w.world.log.mark();
    const missing = await run(CLUSTER, true);
    expect(roleReads(mark)).toHaveLength(1);
    expect(roleWarnings(missing)).toEqual([
      expect.stringMatching(/cluster role arn:aws:iam::123456789012:role\/eks-cluster-bare lacks the managed policy AmazonEKSVPCResourceController.*aws iam attach-role-policy --role-name eks-cluster-bare --policy-arn arn:aws:iam::aws:policy\/AmazonEKSVPCResourceController\)$/),
    ]);
  });
});

describe('max-pods with prefix delegation', () => {
  it('the node group report asks to raise max-pods to the 110 a small instance gets', async () => {
    const created = await activeCluster('pd-pods');
    await withOptions({ prefixDelegation: true }, async () => {
      expect((await run('pd-pods')).error).toBeUndefined();
      await createNodegroup(w, { cluster: 'pd-pods', name: 'small', subnetIds: [created.vpc.subnets[0].subnetId] });
      w.world.eks.activateNodegroup('pd-pods', 'small');
      const result = await runWorkflow('nodegroup-onboarding.asl.json', { clusterName: 'pd-pods', nodegroupName: 'small' });
      expect(result.error).toBeUndefined();
      // t3.medium: 2 vCPUs, 3 ENIs of 6 addresses; the AMI's 17 ignores prefixes: (3 - 1) x 5 x 16 + 2 = 162, capped at 110.
      expect((result.output as Outcome).warnings).toEqual([
        expect.stringMatching(/allows 17 pods but custom networking with \/28 prefixes gives it addresses for 110; raise max-pods to 110/),
      ]);
    });
  });
});

describe('podSecurityGroups: the pod rules on the groups SecurityGroupPolicies name', () => {
  const CLUSTER = 'sgp';
  let created: CreatedCluster;
  let ours: string;
  let theirs: string;
  const ec2 = () => w.world.ec2Direct;
  const groupRules = async (id: string) => {
    const { SecurityGroups = [] } = await ec2().send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
    return SecurityGroups[0]?.IpPermissions ?? [];
  };
  const clusterGroup = () => w.world.eks.cluster(CLUSTER)!.clusterSecurityGroupId as string;
  /** The rules this project adds for pods with their own groups, as protocol/port/source. */
  const added = async (id: string) =>
    (await groupRules(id))
      .flatMap((p) => (p.UserIdGroupPairs ?? []).filter((g) => g.Description === POD_SG_RULE_DESCRIPTION).map((g) => `${p.IpProtocol}:${p.FromPort ?? ''}:${g.GroupId}`))
      .sort();

  beforeAll(async () => {
    created = await activeCluster(CLUSTER);
    const group = async (name: string, tagged: boolean) =>
      (await ec2().send(new CreateSecurityGroupCommand({
        GroupName: name, Description: name, VpcId: created.vpc.vpcId,
        ...(tagged ? { TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'eks-aviatrix:managed', Value: 'true' }] }] } : {}),
      }))).GroupId!;
    ours = await group('sgp-ours', true);
    theirs = await group('sgp-theirs', false);
    w.world.kube.addObject(CLUSTER, 'securitygrouppolicies', {
      apiVersion: 'vpcresources.k8s.aws/v1beta1', kind: 'SecurityGroupPolicy',
      metadata: { name: 'orders', namespace: 'shop' },
      spec: { podSelector: {}, securityGroups: { groupIds: [ours, theirs] } },
    });
    expect((await run(CLUSTER)).error).toBeUndefined();
  });

  it('"report" (the default) names the policy and writes no rule on its groups', async () => {
    expect(await added(ours)).toEqual([]);
    expect(await added(theirs)).toEqual([]);
  });

  it('"reconcile" gives our tagged group the pod rules and names the untagged one', async () => {
    const result = await withOptions({ podSecurityGroups: 'reconcile' }, () => run(CLUSTER));
    expect(result.error).toBeUndefined();
    const cluster = clusterGroup();
    expect(await added(ours)).toEqual([`-1::${cluster}`, `-1::${ours}`, `tcp:9443:${cluster}`].sort());
    expect(await added(theirs)).toEqual([]);
    expect(await added(cluster)).toEqual([`-1::${ours}`]);
    expect((result.output as Outcome).warnings).toContainEqual(expect.stringContaining(`security groups ${theirs} named by SecurityGroupPolicies on EKS cluster "sgp" are not tagged eks-aviatrix:managed=true`));
    expect((result.output as Outcome).warnings.filter((x) => x.startsWith('SecurityGroupPolicy'))).toEqual([]);
  });

  it('"reconcile-all" takes the untagged group too; a rule revoked by hand comes back, the rest is not rewritten', async () => {
    await withOptions({ podSecurityGroups: 'reconcile-all' }, async () => {
      expect((await run(CLUSTER)).error).toBeUndefined();
      const cluster = clusterGroup();
      expect(await added(theirs)).toEqual([`-1::${cluster}`, `-1::${theirs}`, `tcp:9443:${cluster}`].sort());
      expect(await added(cluster)).toEqual([`-1::${ours}`, `-1::${theirs}`].sort());

      await ec2().send(new RevokeSecurityGroupIngressCommand({ GroupId: theirs, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 9443, ToPort: 9443, UserIdGroupPairs: [{ GroupId: cluster, Description: POD_SG_RULE_DESCRIPTION }] }] }));
      expect(rulesOf(await groupRules(theirs)).some((r) => r.fromPort === 9443)).toBe(false);
      const mark = w.world.log.mark();
      const repaired = await run(CLUSTER);
      expect((repaired.output as Outcome).changes).toEqual([
        { resource: `security group ${theirs}`, action: 'update', detail: `ingress tcp 9443 from ${cluster} (pods with their own security groups)` },
      ]);
      expect(writesSince(mark).map((c) => c.action)).toEqual(['AuthorizeSecurityGroupIngress']);
      expect(await added(theirs)).toContain(`tcp:9443:${cluster}`);
    });
  });
});

describe('loadBalancerSubnets: the role tags for the AWS Load Balancer Controller', () => {
  let created: CreatedCluster;
  const tagsOf = async (subnetId: string) => {
    const { Subnets = [] } = await w.world.ec2Direct.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
    return Object.fromEntries((Subnets[0]?.Tags ?? []).filter((t) => /role|lb-role/.test(t.Key ?? '')).map((t) => [t.Key, t.Value]));
  };

  beforeAll(async () => {
    created = await activeCluster('lb-a');
    await activeCluster('lb-b', { vpc: created.vpc });
  });

  it('tags the named subnets of the cluster VPC, leaves a role tag someone else set, and is undone by offboarding', async () => {
    const [pub, internal] = created.vpc.subnets.map((s) => s.subnetId);
    // Someone tagged the internal subnet by hand already: it stays theirs.
    await w.world.ec2Direct.send(new CreateTagsCommand({ Resources: [internal], Tags: [{ Key: 'kubernetes.io/role/internal-elb', Value: '1' }] }));
    await withOptions({ loadBalancerSubnets: { public: [pub], internal: [internal, 'subnet-0000000000000dead'] } }, async () => {
      const planned = await run('lb-a', true);
      expect((planned.output as Outcome).changes.filter((c) => c.action === 'tag')).toEqual([
        { resource: `subnet ${pub}`, action: 'tag', detail: 'kubernetes.io/role/elb=1 for load balancers (ours, removed at offboarding)' },
      ]);
      expect(await tagsOf(pub)).toEqual({});
      expect((await run('lb-a')).error).toBeUndefined();
      expect((await run('lb-b')).error).toBeUndefined();
      expect(await tagsOf(pub)).toEqual({ 'kubernetes.io/role/elb': '1', 'eks-aviatrix:lb-role/lb-a': 'kubernetes.io/role/elb', 'eks-aviatrix:lb-role/lb-b': 'kubernetes.io/role/elb' });
      expect(await tagsOf(internal)).toEqual({ 'kubernetes.io/role/internal-elb': '1' });
      const mark = w.world.log.mark();
      expect((await run('lb-a')).output).toMatchObject({ changes: [] });
      expect(writesSince(mark)).toEqual([]);
    });

    // Offboarding one cluster keeps the tag the other still marks; the last one removes it.
    const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    try {
      for (const [name, left] of [['lb-a', { 'kubernetes.io/role/elb': '1', 'eks-aviatrix:lb-role/lb-b': 'kubernetes.io/role/elb' }], ['lb-b', {}]] as const) {
        await eks.send(new DeleteClusterCommand({ name }));
        const result = await runWorkflow('cluster-offboarding.asl.json', { clusterName: name });
        expect(result.error).toBeUndefined();
        expect(await tagsOf(pub)).toEqual(left);
        expect(await tagsOf(internal)).toEqual({ 'kubernetes.io/role/internal-elb': '1' });
      }
    } finally {
      eks.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Undoing what podSecurityGroups did: our pod rules leave the groups no SecurityGroupPolicy names
// any more, and leave while the cluster is being deleted (so EKS can delete its cluster group).

async function group(vpcId: string, name: string, tagged: boolean): Promise<string> {
  const tags = tagged ? { TagSpecifications: [{ ResourceType: 'security-group' as const, Tags: [{ Key: 'eks-aviatrix:managed', Value: 'true' }] }] } : {};
  return (await w.world.ec2Direct.send(new CreateSecurityGroupCommand({ GroupName: name, Description: name, VpcId: vpcId, ...tags }))).GroupId!;
}

function policy(cluster: string, name: string, groupIds: string[]): void {
  w.world.kube.addObject(cluster, 'securitygrouppolicies', {
    apiVersion: 'vpcresources.k8s.aws/v1beta1', kind: 'SecurityGroupPolicy',
    metadata: { name, namespace: 'shop' },
    spec: { podSelector: {}, securityGroups: { groupIds } },
  });
}

/** The rules this project added for pods with their own groups on a group, as protocol:port:source. */
async function added(id: string): Promise<string[]> {
  const { SecurityGroups = [] } = await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [id] }] }));
  return (SecurityGroups[0]?.IpPermissions ?? [])
    .flatMap((p) => (p.UserIdGroupPairs ?? []).filter((g) => g.Description === POD_SG_RULE_DESCRIPTION).map((g) => `${p.IpProtocol}:${p.FromPort ?? ''}:${g.GroupId}`))
    .sort();
}

/** Deletes the EKS cluster (it answers DELETING, see beforeAll) and runs the offboarding workflow for it. */
async function deleteAndOffboard(clusterName: string): Promise<Awaited<ReturnType<typeof runWorkflow>>> {
  const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    await eks.send(new DeleteClusterCommand({ name: clusterName }));
  } finally {
    eks.destroy();
  }
  return runWorkflow('cluster-offboarding.asl.json', { clusterName });
}

const exists = async (id: string) =>
  ((await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: [id] }] }))).SecurityGroups ?? []).length > 0;

describe('podSecurityGroups: our rules leave the groups no policy serves any more', () => {
  const CLUSTER = 'sgp-undo';
  let clusterGroup: string;
  let a: string; // tagged, named throughout
  let b: string; // tagged, its policy is deleted
  let c: string; // untagged: only "reconcile-all" may write (and revoke) there

  beforeAll(async () => {
    const created = await activeCluster(CLUSTER);
    clusterGroup = w.world.eks.cluster(CLUSTER)!.clusterSecurityGroupId as string;
    [a, b, c] = await Promise.all([group(created.vpc.vpcId, 'undo-a', true), group(created.vpc.vpcId, 'undo-b', true), group(created.vpc.vpcId, 'undo-c', false)]);
    policy(CLUSTER, 'orders', [a, c]);
    policy(CLUSTER, 'billing', [b]);
    w.setConfig({ podSecurityGroups: 'reconcile-all' });
    expect((await run(CLUSTER)).error).toBeUndefined();
  });

  afterAll(() => w.setConfig({ podSecurityGroups: 'report' }));

  it('"reconcile-all" gave every named group the pod rules', async () => {
    for (const id of [a, b, c]) expect(await added(id)).toEqual([`-1::${clusterGroup}`, `-1::${id}`, `tcp:9443:${clusterGroup}`].sort());
    expect(await added(clusterGroup)).toEqual([`-1::${a}`, `-1::${b}`, `-1::${c}`].sort());
  });

  it('a deleted policy: its group loses our rules but its self-rule; an untagged group out of reach is named, not touched', async () => {
    w.world.kube.removeObject(CLUSTER, 'securitygrouppolicies', 'shop', 'billing');
    w.setConfig({ podSecurityGroups: 'reconcile' });
    const result = await run(CLUSTER);
    expect(result.error).toBeUndefined();
    // The self-rule blocks nothing and may serve another cluster's policy naming the same group.
    expect(await added(b)).toEqual([`-1::${b}`]);
    expect(await added(a)).toEqual([`-1::${clusterGroup}`, `-1::${a}`, `tcp:9443:${clusterGroup}`].sort());
    // "reconcile" may not revoke on an untagged group: the rules stay and are named, and the cluster
    // group's rule from it stays so the next run still finds them.
    expect(await added(c)).toEqual([`-1::${clusterGroup}`, `-1::${c}`, `tcp:9443:${clusterGroup}`].sort());
    expect(await added(clusterGroup)).toEqual([`-1::${a}`, `-1::${c}`].sort());
    expect((result.output as Outcome).warnings).toContainEqual(
      expect.stringMatching(new RegExp(`^security group ${c} keeps ingress .* that onboarding added for pods with their own security groups .*"reconcile-all": revoke them yourself`)),
    );
  });

  it('the mode switched off: plan shows the revocations, the run makes them, the next run writes nothing', async () => {
    w.setConfig({ podSecurityGroups: 'report' });
    const mark = w.world.log.mark();
    const plan = await run(CLUSTER, true);
    expect(writesSince(mark)).toEqual([]);
    expect((plan.output as Outcome).changes).toEqual([
      { resource: `security group ${a}`, action: 'update', detail: expect.stringMatching(/^revoke ingress .* \(pods with their own security groups: no SecurityGroupPolicy of EKS cluster "sgp-undo" has it served any more\)$/) },
      { resource: `security group ${clusterGroup}`, action: 'update', detail: `revoke ingress all from ${a} (pods with their own security groups: its source is no longer served)` },
    ]);
    expect((await run(CLUSTER)).error).toBeUndefined();
    expect(await added(a)).toEqual([`-1::${a}`]);
    expect(await added(clusterGroup)).toEqual([`-1::${c}`]);
    const again = w.world.log.mark();
    expect((await run(CLUSTER)).output).toMatchObject({ changes: [] });
    expect(writesSince(again)).toEqual([]);
  });
});

describe('offboarding: our pod rules leave while EKS deletes the cluster', () => {
  const CLUSTER = 'sgp-gone';

  it('revokes the rules naming the cluster security group, so EKS can delete it', async () => {
    const created = await activeCluster(CLUSTER);
    const clusterGroup = w.world.eks.cluster(CLUSTER)!.clusterSecurityGroupId as string;
    const d = await group(created.vpc.vpcId, 'gone-d', true);
    policy(CLUSTER, 'orders', [d]);
    w.setConfig({ podSecurityGroups: 'reconcile' });
    try {
      expect((await run(CLUSTER)).error).toBeUndefined();
    } finally {
      w.setConfig({ podSecurityGroups: 'report' });
    }
    expect(await added(d)).toEqual([`-1::${clusterGroup}`, `-1::${d}`, `tcp:9443:${clusterGroup}`].sort());

    // The setting is off by now: the rules are ours all the same (a tagged group).
    const result = await deleteAndOffboard(CLUSTER);
    expect(result.error).toBeUndefined();
    expect(result.statesEntered.indexOf('DetachSecurityGroups')).toBeLessThan(result.statesEntered.indexOf('OffboardController'));
    expect(await added(d)).toEqual([`-1::${d}`]);
    expect(await exists(clusterGroup)).toBe(false);
    expect(await exists(d)).toBe(true);
  });

  it('keeps a rule whose source the other cluster\'s pod group also uses: the nodes\' shared group', async () => {
    const first = await activeCluster('sgp-share-a');
    await activeCluster('sgp-share-b', { vpc: first.vpc });
    const vpcId = first.vpc.vpcId;
    const [groupA, groupB] = ['sgp-share-a', 'sgp-share-b'].map((name) => w.world.eks.cluster(name)!.clusterSecurityGroupId as string);
    // One node security group both clusters' nodes carry: a source of both pod groups' rules.
    const nodes = await group(vpcId, 'share-nodes', false);
    for (const name of ['sgp-share-a', 'sgp-share-b']) {
      await w.world.ec2Direct.send(new RunInstancesCommand({
        ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.large', SubnetId: first.vpc.subnets[0].subnetId, SecurityGroupIds: [nodes],
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: nodeInstanceTagKey(name), Value: 'owned' }] }],
      }));
    }
    // Both clusters' policies name one group: its rule from the nodes' group serves both.
    const d = await group(vpcId, 'share-d', true);
    policy('sgp-share-a', 'orders', [d]);
    policy('sgp-share-b', 'orders', [d]);
    w.setConfig({ podSecurityGroups: 'reconcile' });
    try {
      for (const name of ['sgp-share-a', 'sgp-share-b']) expect((await run(name)).error).toBeUndefined();
    } finally {
      w.setConfig({ podSecurityGroups: 'report' });
    }
    expect(await added(d)).toEqual([`-1::${groupA}`, `-1::${groupB}`, `-1::${d}`, `-1::${nodes}`, `tcp:9443:${groupA}`, `tcp:9443:${groupB}`].sort());

    const result = await deleteAndOffboard('sgp-share-a');
    expect(result.error).toBeUndefined();
    // sgp-share-a's rules go; the one from the shared nodes' group stays with sgp-share-b's.
    expect(await added(d)).toEqual([`-1::${groupB}`, `-1::${d}`, `-1::${nodes}`, `tcp:9443:${groupB}`].sort());
    expect(await added(groupB)).toEqual([`-1::${d}`]);
    expect(await exists(groupA)).toBe(false);
  });
});
