// Private-only clusters (onboarding.privateEndpointAccess) through the real workflows: the EKS
// emulator's private endpoint answers only callers its cluster security group admits on 443, so a
// run succeeds only if the network step added our rule before the first Kubernetes call. Without
// the setting the cluster is refused before any write; offboarding revokes our rule and no other.
// A rule write refused half-way is named, with what was written before it, in the failure record.
import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, DescribeSecurityGroupsCommand, IpPermission, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { API_RULE_DESCRIPTION } from '../../lambdas/domain/api-access';
import { createCluster, CreatedCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const ONBOARDING = 'cluster-onboarding.asl.json';
const OFFBOARDING = 'cluster-offboarding.asl.json';
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];
/** The functions' subnets as seen through the Aviatrix transit (a shared-services spoke). */
const FUNCTION_CIDR = '10.99.0.0/24';

let w: OnboardingWorld;
let functionsGroupId: string;
let sameVpc: { subnetIds: string[]; vpcId: string };
/** The functions in the cluster's own VPC: the rule names their security group. */
let byGroup: Record<string, unknown>;

beforeAll(async () => {
  // Offboarding starts while EKS is still deleting the cluster (its security group still there
  // through ResolveOffboarding's, DetachSecurityGroups' and the first CleanupAws looks).
  w = await startOnboardingWorld({ eks: { deletionDescribes: 5 } });
  const created = await createCluster(w, { name: 'private-a', endpointPublicAccess: false });
  sameVpc = { vpcId: created.vpc.vpcId, subnetIds: created.vpc.subnets.map((s) => s.subnetId) };
  functionsGroupId = (await w.world.ec2Direct.send(new CreateSecurityGroupCommand({ GroupName: 'kube-api-functions', Description: 'functions', VpcId: sameVpc.vpcId }))).GroupId!;
  byGroup = { ...sameVpc, securityGroupIds: [functionsGroupId] };
});

afterAll(async () => {
  await w?.stop();
});

const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));

function runOnboarding(clusterName: string, dryRun = false) {
  return runWorkflow(ONBOARDING, { clusterName, dryRun }, {
    onEvent: (event) => {
      if (event.type === 'StateEntered' && event.state === 'WaitForActive') w.activateCluster(clusterName);
    },
  });
}

async function clusterGroup(name: string) {
  const { SecurityGroups = [] } = await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ GroupIds: [w.world.eks.cluster(name)!.clusterSecurityGroupId] }));
  return SecurityGroups[0];
}

/** Every tcp/443 source on a group's ingress with its description: one entry per rule. */
const httpsRules = (permissions: IpPermission[] = []) =>
  permissions
    .filter((p) => p.IpProtocol === 'tcp' && p.FromPort === 443 && p.ToPort === 443)
    .flatMap((p) => [
      ...(p.UserIdGroupPairs ?? []).map((g) => ({ source: g.GroupId, description: g.Description })),
      ...(p.IpRanges ?? []).map((r) => ({ source: r.CidrIp, description: r.Description })),
    ]);

describe('a private-only cluster with privateEndpointAccess', () => {
  it('is onboarded: the 443 rule from the functions\' group exactly once, before any Kubernetes call; ENIConfigs; record ONBOARDED', async () => {
    w.setConfig({ privateEndpointAccess: byGroup });
    const mark = w.world.log.mark();
    // Slow rule writes (PodNetwork's, then VpcCni's two): VpcCni's access must still wait for them.
    w.world.log.faults.inject('ec2', 'AuthorizeSecurityGroupIngress', { kind: 'delay', ms: 1000 }, 3);
    const result = await runOnboarding('private-a');
    w.world.log.faults.clear();
    expect(result.error).toBeUndefined();
    expect(result.status).toBe('SUCCEEDED');

    expect(httpsRules((await clusterGroup('private-a')).IpPermissions)).toEqual([{ source: functionsGroupId, description: API_RULE_DESCRIPTION }]);
    const calls = w.world.log.since(mark);
    const firstKube = calls.findIndex((c) => c.service === 'kubernetes');
    const lastAuthorize = calls.map((c) => c.action).lastIndexOf('AuthorizeSecurityGroupIngress');
    expect(firstKube).toBeGreaterThan(lastAuthorize);
    expect(lastAuthorize).toBeGreaterThanOrEqual(0);
    expect(w.world.kube.eniConfigs('private-a').map((e) => e.metadata.name).sort()).toEqual(['us-east-1a', 'us-east-1b']);

    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const record = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: 'private-a' } } }));
    dynamo.destroy();
    expect(record.Item?.status?.S).toBe('ONBOARDED');
  });

  it('drift repair (a re-run) restores the rule when someone removed it, once', async () => {
    const group = await clusterGroup('private-a');
    await w.world.ec2Direct.send(new RevokeSecurityGroupIngressCommand({
      GroupId: group.GroupId,
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, UserIdGroupPairs: [{ GroupId: functionsGroupId, Description: API_RULE_DESCRIPTION }] }],
    }));
    const result = await runOnboarding('private-a');
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { changes: unknown[] }).changes).toContainEqual({ resource: group.GroupId, action: 'update', detail: `allow ingress tcp 443 from ${functionsGroupId}` });
    expect(httpsRules((await clusterGroup('private-a')).IpPermissions)).toEqual([{ source: functionsGroupId, description: API_RULE_DESCRIPTION }]);
  });

  it('reached through the transit from another VPC: plan shows the rule from sourceCidrs and writes nothing; the run adds it', async () => {
    await createCluster(w, { name: 'private-b', endpointPublicAccess: false });
    w.setConfig({ privateEndpointAccess: { ...byGroup, sourceCidrs: [FUNCTION_CIDR] } });
    const clusterGroupId = () => w.world.eks.cluster('private-b')!.clusterSecurityGroupId;

    let mark = w.world.log.mark();
    const plan = await runOnboarding('private-b', true);
    expect(plan.status).toBe('SUCCEEDED');
    expect((plan.output as { changes: unknown[] }).changes).toContainEqual({ resource: clusterGroupId(), action: 'update', detail: `allow ingress tcp 443 from ${FUNCTION_CIDR}` });
    expect(writesSince(mark)).toEqual([]);

    mark = w.world.log.mark();
    const result = await runOnboarding('private-b');
    expect(result.error).toBeUndefined();
    expect(httpsRules((await clusterGroup('private-b')).IpPermissions)).toEqual([{ source: FUNCTION_CIDR, description: API_RULE_DESCRIPTION }]);
    expect(w.world.kube.eniConfigs('private-b')).toHaveLength(2);
  });

  it('a cluster with a public endpoint gets no 443 rule (plan)', async () => {
    await createCluster(w, { name: 'public-d' });
    const plan = await runOnboarding('public-d', true);
    expect(plan.status).toBe('SUCCEEDED');
    const changes = (plan.output as { changes: { detail: string }[] }).changes;
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.filter((c) => c.detail.includes('tcp 443'))).toEqual([]);
  });
});

describe('a rule write that fails half-way', () => {
  // VpcCni writes both groups' rules at once: the pod group's succeeds, the cluster group's is refused.
  // A private-only endpoint writes them before the access entry; a public one beside it.
  // one-by-one: EC2 answers the cluster group's write Duplicate (as after a lost answer), so its rules
  // go one at a time, and the second of them (443 from the functions) is refused.
  it.each([
    { name: 'private-e', endpointPublicAccess: false, oneByOne: false, alsoWritten: () => '. Running' },
    { name: 'public-e', endpointPublicAccess: true, oneByOne: false, alsoWritten: () => '; create access entry ' },
    { name: 'private-g', endpointPublicAccess: false, oneByOne: true, alsoWritten: (cluster: string, pods: string) => `; update ${cluster} (allow ingress all traffic from ${pods}). Running` },
  ])('$name (one by one: $oneByOne): the error and the record name every rule already written; the next run adds the rest, each once', async ({ name, endpointPublicAccess, oneByOne, alsoWritten }) => {
    await createCluster(w, { name, endpointPublicAccess });
    w.setConfig({ privateEndpointAccess: byGroup });
    const clusterGroupId = () => w.world.eks.cluster(name)!.clusterSecurityGroupId;
    const podGroupId = async () => {
      const { SecurityGroups = [] } = await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: [`eks-aviatrix-pods-${name}`] }] }));
      return SecurityGroups[0]!.GroupId!;
    };
    const refuseClusterGroupWrite = () => {
      const faults = w.world.log.faults;
      if (oneByOne) faults.inject('ec2', 'AuthorizeSecurityGroupIngress', { kind: 'status', status: 400, code: 'InvalidPermission.Duplicate' }, 1, `&GroupId=${clusterGroupId()}&`);
      faults.inject('ec2', 'AuthorizeSecurityGroupIngress', { kind: 'status', status: 400, code: 'RulesPerSecurityGroupLimitExceeded' }, 1, oneByOne ? 'FromPort=443' : `&GroupId=${clusterGroupId()}&`);
    };
    const failed = await runWorkflow(ONBOARDING, { clusterName: name }, {
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'WaitForActive') w.activateCluster(name);
        if (event.type === 'StateEntered' && event.state === 'VpcCni') refuseClusterGroupWrite();
      },
    });
    w.world.log.faults.clear();
    expect(failed.status).toBe('FAILED');
    const pods = await podGroupId();
    const written = `. Already changed before the failure: update ${pods} (allow ingress all traffic from ${clusterGroupId()}); ` +
      `update ${pods} (allow ingress tcp 9443 from ${clusterGroupId()})${alsoWritten(clusterGroupId(), pods)}`;
    const message = failed.error?.message ?? '';
    expect(message).toContain(`vpc-cni for cluster "${name}" failed in EC2 AuthorizeSecurityGroupIngress: RulesPerSecurityGroupLimitExceeded: injected fault 400${written}`);
    expect(message.split('Already changed').length).toBe(2);
    expect(message).not.toContain(`update ${clusterGroupId()} (allow ingress tcp 443`);
    const dynamo = new DynamoDBClient({ endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const record = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: name } } }));
    expect(record.Item?.status?.S).toBe('FAILED');
    expect(record.Item?.error?.S).toContain(written);
    expect(httpsRules((await clusterGroup(name)).IpPermissions)).toEqual([]);
    expect(w.world.kube.eniConfigs(name)).toEqual([]);

    const again = await runOnboarding(name);
    expect(again.error).toBeUndefined();
    expect(again.status).toBe('SUCCEEDED');
    expect(httpsRules((await clusterGroup(name)).IpPermissions)).toEqual(endpointPublicAccess ? [] : [{ source: functionsGroupId, description: API_RULE_DESCRIPTION }]);
    const { SecurityGroups = [] } = await w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ GroupIds: [pods] }));
    const fromClusterGroup = (SecurityGroups[0]?.IpPermissions ?? []).flatMap((p) =>
      (p.UserIdGroupPairs ?? []).filter((g) => g.GroupId === clusterGroupId()).map(() => `${p.IpProtocol} ${p.FromPort ?? ''}`));
    expect(fromClusterGroup.sort()).toEqual(['-1 ', 'tcp 9443']);
    const after = await dynamo.send(new GetItemCommand({ TableName: STATUS_TABLE, Key: { clusterName: { S: name } } }));
    dynamo.destroy();
    expect(after.Item?.status?.S).toBe('ONBOARDED');
  });
});

describe('refusals: one clear error naming the setting, no writes', () => {
  let created: CreatedCluster;
  beforeAll(async () => {
    created = await createCluster(w, { name: 'private-c', endpointPublicAccess: false });
    w.activateCluster('private-c');
  });

  async function expectRefusal(config: Record<string, unknown>, message: RegExp) {
    w.setConfig(config);
    const mark = w.world.log.mark();
    const result = await runOnboarding('private-c');
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toMatch(message);
    expect(writesSince(mark)).toEqual([]);
    expect(httpsRules((await clusterGroup('private-c')).IpPermissions)).toEqual([]);
  }

  it('without privateEndpointAccess', async () => {
    await expectRefusal({ privateEndpointAccess: undefined }, /"private-c" has a private-only API endpoint.*need onboarding\.privateEndpointAccess/);
  });

  it('in another account than the hub, without sourceCidrs (its security group cannot name the hub\'s)', async () => {
    expect(created.vpc.vpcId).toBeTruthy();
    await expectRefusal(
      {
        privateEndpointAccess: byGroup,
        hub: { account: '111122223333', region: 'us-east-1' },
        members: { accounts: ['123456789012'], externalId: 'eks-aviatrix-test' },
      },
      /"private-c" has a private-only API endpoint in account 123456789012, .* of account 111122223333; set onboarding\.privateEndpointAccess\.sourceCidrs/,
    );
    w.setConfig({ hub: undefined, members: undefined });
  });
});

describe('offboarding a private-only cluster', () => {
  it('revokes our 443 rule from the cluster security group and keeps someone else\'s', async () => {
    w.setConfig({ privateEndpointAccess: byGroup });
    const groupId = w.world.eks.cluster('private-a')!.clusterSecurityGroupId;
    const theirs = { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '192.168.50.0/24', Description: 'bastion' }] };
    await w.world.ec2Direct.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [theirs] }));
    const eks = new EKSClient({ endpoint: w.world.env.AWS_ENDPOINT_URL_EKS, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await eks.send(new DeleteClusterCommand({ name: 'private-a' }));
    eks.destroy();

    // The cluster security group as it is while EKS is still deleting the cluster (EKS deletes it after).
    // Its failure is kept at once (not left to the await after the run): a rejection nobody handles
    // while the run goes on would surface as an unhandled one (PromiseRejectionHandledWarning).
    let whileDeleting: Promise<{ rules?: IpPermission[]; failed?: string }> | undefined;
    const result = await runWorkflow(OFFBOARDING, { clusterName: 'private-a' }, {
      waitMs: 200,
      onEvent: (event) => {
        if (event.type === 'StateEntered' && event.state === 'WaitForDeletion' && !whileDeleting) {
          whileDeleting = w.world.ec2Direct.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })).then(
            (r) => ({ rules: r.SecurityGroups?.[0]?.IpPermissions }),
            (e: Error) => ({ failed: `${e.name}: ${e.message}` }),
          );
        }
      },
    });
    expect(result.error).toBeUndefined();
    expect(result.output).toMatchObject({ status: 'OFFBOARDED' });
    expect((result.output as { changes: unknown[] }).changes).toContainEqual({
      resource: groupId,
      action: 'update',
      detail: `revoke ingress tcp 443 from ${functionsGroupId} (onboarding functions to the private API endpoint)`,
    });
    expect(whileDeleting).toBeDefined();
    const seen = await whileDeleting!;
    expect(seen.failed).toBeUndefined();
    expect(httpsRules(seen.rules)).toEqual([{ source: '192.168.50.0/24', description: 'bastion' }]);
  });
});
