// SmartGroups (issue 13): Kubernetes SmartGroups by namespace, labels, namespace labels, service,
// pod and nodes, the list chosen by a cluster tag naming a template, the VPC SmartGroup by the VPC's
// Name tag, and the controller's view-nodes access; the real cluster and offboarding ASL with the
// real handlers against the local world, asserting the controller's groups, the access entry and
// the Kubernetes RBAC. Refusals: an unknown template, a VPC without a Name tag, selectors the
// controller refuses, and a controller that keeps a group differently from what was sent.
import { CreateTagsCommand, DeleteTagsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { AssociateAccessPolicyCommand, CreateAccessEntryCommand, DeleteClusterCommand, EKSClient, TagResourceCommand } from '@aws-sdk/client-eks';
import { parseConfig } from '../../lib/config';
import { AviatrixClient, ControllerApiError } from '../../lambdas/aviatrix/client';
import { reconcileOnboarding } from '../../lambdas/aviatrix/onboarding';
import { OwnershipRegistry } from '../../lambdas/aviatrix/ownership';
import { ensureAccessEntry } from '../../lambdas/domain/access-entries';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { OnboardingError } from '../../lambdas/shared/errors';
import { VIEW_NODES_KUBE_GROUP, VIEW_NODES_RBAC_NAME, VIEW_NODES_RULES } from '../../lambdas/shared/kube-rbac';
import { CONTROLLER_ROLE_ARN, createCluster, CreatedCluster, OnboardingWorld, SECRET_NAME, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const ONBOARDING = 'cluster-onboarding.asl.json';
const OFFBOARDING = 'cluster-offboarding.asl.json';
const TAG = 'eks-aviatrix:smartgroup-template';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const SMARTGROUPS = {
  vpcSmartGroupMatch: 'name',
  kubernetesSmartGroups: [{ name: 'all-pods' }],
  smartGroupTemplates: {
    payments: [
      { name: 'api', namespace: 'pay', labels: { app: 'api', 'app.kubernetes.io/tier': 'backend' } },
      { name: 'prod-ns', namespaceLabels: { env: 'prod' } },
      { name: 'checkout', namespace: 'pay', service: 'checkout' },
      { name: 'ledger-0', namespace: 'pay', pod: 'ledger-0' },
      { name: 'nodes', type: 'k8s_node' },
    ],
    edge: [{ name: 'nodes', type: 'k8s_node' }, { name: 'ingress', namespace: 'ingress' }],
  },
};

let w: OnboardingWorld;
let eks: EKSClient;

beforeAll(async () => {
  w = await startOnboardingWorld();
  w.setConfig({ aviatrix: { ...(w.config.aviatrix as object), ...SMARTGROUPS } });
  eks = new EKSClient({ region: w.world.region });
});

afterAll(async () => {
  eks?.destroy();
  await w?.stop();
});

interface Outcome {
  status: string;
  changes: { resource: string; action: string; detail: string }[];
}

const run = (clusterName: string, dryRun = false) => runWorkflow(ONBOARDING, { clusterName, ...(dryRun ? { dryRun } : {}) });
const arnOf = (cluster: string) => w.world.eks.cluster(cluster)!.arn as string;
const groupsOf = (cluster: string) =>
  w.controller.smartGroups().filter((g) => g.name.startsWith(`${cluster}-`)).sort((a, b) => a.name.localeCompare(b.name));
const selectorsOf = (cluster: string) => Object.fromEntries(groupsOf(cluster).map((g) => [g.name, g.selector]));
const uuidOf = (name: string) => w.controller.smartGroups().find((g) => g.name === name)!.uuid;
const one = (all: Record<string, string>) => ({ any: [{ all }] });
const retag = (cluster: string, template: string) => eks.send(new TagResourceCommand({ resourceArn: arnOf(cluster), tags: { [TAG]: template } }));
const nameVpc = (vpcId: string, name: string) => w.world.ec2Direct.send(new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'Name', Value: name }] }));
const WRITES = ['ec2', 'eks', 'kubernetes', 'aviatrix'];
const writesSince = (mark: number) => w.world.log.since(mark).filter((c) => c.write && WRITES.includes(c.service));
const smartGroupChanges = (result: { output?: unknown }) =>
  (result.output as Outcome).changes.filter((c) => c.resource.startsWith('aviatrix SmartGroup ')).map((c) => `${c.action} ${c.resource.slice('aviatrix SmartGroup '.length)}`).sort();

/** The groups the "payments" template gives cluster `name` in the VPC named `vpcName`. */
function paymentsGroups(name: string, vpcName: string): Record<string, unknown> {
  const k8s = { type: 'k8s', k8s_cluster_id: arnOf(name) };
  return {
    [`${name}-api`]: one({ ...k8s, k8s_namespace: 'pay', 'tags.app': 'api', 'tags.app.kubernetes.io/tier': 'backend' }),
    [`${name}-checkout`]: one({ ...k8s, k8s_namespace: 'pay', k8s_service: 'checkout' }),
    [`${name}-ledger-0`]: one({ ...k8s, k8s_namespace: 'pay', k8s_pod: 'ledger-0' }),
    [`${name}-nodes`]: one({ type: 'k8s_node', k8s_cluster_id: arnOf(name) }),
    [`${name}-prod-ns`]: one({ ...k8s, 'namespacetags.env': 'prod' }),
    [`${name}-vpc`]: one({ type: 'vpc', name: vpcName }),
  };
}

describe('a cluster whose tag names a template', () => {
  const CLUSTER = 'sg-pay';
  let created: CreatedCluster;

  beforeAll(async () => {
    created = await createCluster(w, { name: CLUSTER, tags: { [TAG]: 'payments' } });
    await nameVpc(created.vpc.vpcId, 'frontend');
    w.activateCluster(CLUSTER);
  });

  it('gets that template\'s groups (not kubernetesSmartGroups), the VPC group by Name, and the controller may read nodes', async () => {
    const result = await run(CLUSTER);
    expect(result.error).toBeUndefined();
    expect((result.output as Outcome).status).toBe('ONBOARDED');
    expect(selectorsOf(CLUSTER)).toEqual(paymentsGroups(CLUSTER, 'frontend'));

    const entry = w.world.eks.accessEntries(CLUSTER).find((e) => e.principalArn === CONTROLLER_ROLE_ARN);
    expect(entry?.kubernetesGroups).toEqual([VIEW_NODES_KUBE_GROUP]);
    expect(entry?.policies.map((p) => p.policyArn)).toEqual([VIEW]);
    expect(w.world.kube.clusterRole(CLUSTER, VIEW_NODES_RBAC_NAME)?.rules).toEqual(VIEW_NODES_RULES);
    expect(w.world.kube.clusterRoleBinding(CLUSTER, VIEW_NODES_RBAC_NAME)).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: VIEW_NODES_RBAC_NAME },
      subjects: [{ kind: 'Group', name: VIEW_NODES_KUBE_GROUP }],
    });
  });

  it('drift (a group edited, one deleted, the VPC renamed, view-nodes RBAC deleted): plan shows it, the next run repairs only that', async () => {
    w.controller.editSmartGroup(uuidOf(`${CLUSTER}-api`), one({ type: 'k8s', k8s_cluster_id: arnOf(CLUSTER), k8s_namespace: 'other' }));
    w.controller.removeSmartGroup(uuidOf(`${CLUSTER}-nodes`));
    await nameVpc(created.vpc.vpcId, 'frontend-2');
    w.world.kube.deleteRbac(CLUSTER, 'clusterrolebindings', VIEW_NODES_RBAC_NAME);
    const untouched = uuidOf(`${CLUSTER}-checkout`);

    let mark = w.world.log.mark();
    const plan = await run(CLUSTER, true);
    expect(smartGroupChanges(plan)).toEqual([`create ${CLUSTER}-nodes`, `update ${CLUSTER}-api`, `update ${CLUSTER}-vpc`]);
    expect((plan.output as Outcome).changes).toContainEqual({ resource: `ClusterRoleBinding ${VIEW_NODES_RBAC_NAME}`, action: 'create', detail: `for Kubernetes group ${VIEW_NODES_KUBE_GROUP}` });
    // The reconciler's own RBAC is intact, so the plan still reads the cluster: its ENIConfigs are in place.
    expect((plan.output as Outcome).changes.filter((c) => c.resource.startsWith('ENIConfig'))).toEqual([]);
    expect(writesSince(mark)).toEqual([]);

    mark = w.world.log.mark();
    const repaired = await run(CLUSTER);
    expect(repaired.error).toBeUndefined();
    expect(selectorsOf(CLUSTER)).toEqual(paymentsGroups(CLUSTER, 'frontend-2'));
    expect(uuidOf(`${CLUSTER}-checkout`)).toBe(untouched);
    // Full-body PUTs for the two that differ, one create, each read back; nothing else on the controller.
    expect(w.world.log.writesSince(mark, 'aviatrix').map((c) => c.action).sort()).toEqual(['POST app-domains', 'PUT app-domains', 'PUT app-domains']);
    expect(w.world.kube.clusterRoleBinding(CLUSTER, VIEW_NODES_RBAC_NAME)?.subjects).toEqual([expect.objectContaining({ kind: 'Group', name: VIEW_NODES_KUBE_GROUP })]);
  });

  it('the tag switched to another template: the old template\'s groups go, the new ones come, a same-named identical one stays, a hand-made one is kept', async () => {
    const handMade = w.controller.addSmartGroup(`${CLUSTER}-manual`, one({ type: 'vm', 'tags.team': 'pay' }));
    const nodes = uuidOf(`${CLUSTER}-nodes`);
    await retag(CLUSTER, 'edge');
    const result = await run(CLUSTER);
    expect(result.error).toBeUndefined();
    expect(selectorsOf(CLUSTER)).toEqual({
      [`${CLUSTER}-ingress`]: one({ type: 'k8s', k8s_cluster_id: arnOf(CLUSTER), k8s_namespace: 'ingress' }),
      [`${CLUSTER}-manual`]: one({ type: 'vm', 'tags.team': 'pay' }),
      [`${CLUSTER}-nodes`]: one({ type: 'k8s_node', k8s_cluster_id: arnOf(CLUSTER) }),
      [`${CLUSTER}-vpc`]: one({ type: 'vpc', name: 'frontend-2' }),
    });
    expect(uuidOf(`${CLUSTER}-nodes`)).toBe(nodes);
    expect(uuidOf(`${CLUSTER}-manual`)).toBe(handMade);
  });

  it('a tag naming no template stops the run at the preflight, naming the tag and the templates, with no write', async () => {
    await retag(CLUSTER, 'paymnets');
    const mark = w.world.log.mark();
    const result = await run(CLUSTER);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ConfigError');
    expect(result.error?.message).toContain(
      `EKS cluster "${CLUSTER}" has the tag ${TAG}=paymnets, but onboarding.aviatrix.smartGroupTemplates has no template "paymnets" ` +
        '(it has "payments", "edge"); set the tag to one of those, remove it to use kubernetesSmartGroups, or add the template to the config',
    );
    expect(result.statesEntered).not.toContain('ExcludePodCidr');
    expect(writesSince(mark)).toEqual([]);
    // The onboarded cluster keeps its status; the refusal is the last run's.
    expect(await readStatusRecord(STATUS_TABLE, CLUSTER)).toMatchObject({ status: 'ONBOARDED', lastRunStatus: 'REFUSED' });
    await retag(CLUSTER, 'edge');
  });

  it('offboarding deletes the cluster\'s groups and keeps the hand-made one', async () => {
    await eks.send(new DeleteClusterCommand({ name: CLUSTER }));
    const result = await runWorkflow(OFFBOARDING, { clusterName: CLUSTER });
    expect(result.error).toBeUndefined();
    expect(groupsOf(CLUSTER).map((g) => g.name)).toEqual([`${CLUSTER}-manual`]);
  });
});

describe('the controller\'s access entry made before', () => {
  const entryOf = (cluster: string) => w.world.eks.accessEntries(cluster).find((e) => e.principalArn === CONTROLLER_ROLE_ARN);

  it.each<[string, Record<string, string>, string[], string[]]>([
    ['by this project (tagged), without the group: the group is added, the others kept', { 'eks-aviatrix:managed': 'true' }, ['platform'], ['platform', VIEW_NODES_KUBE_GROUP]],
    ['by someone else (untagged): left as it is, with a warning naming the group', {}, ['platform'], ['platform']],
  ])('%s', async (_what, tags, groups, expected) => {
    const name = `sg-entry-${Object.keys(tags).length}`;
    await createCluster(w, { name });
    w.activateCluster(name);
    await eks.send(new CreateAccessEntryCommand({ clusterName: name, principalArn: CONTROLLER_ROLE_ARN, kubernetesGroups: groups, tags }));
    await eks.send(new AssociateAccessPolicyCommand({ clusterName: name, principalArn: CONTROLLER_ROLE_ARN, policyArn: VIEW, accessScope: { type: 'cluster' } }));
    const result = await ensureAccessEntry(name, CONTROLLER_ROLE_ARN, VIEW, false, VIEW_NODES_KUBE_GROUP);
    expect(entryOf(name)?.kubernetesGroups).toEqual(expected);
    expect(result.warnings).toEqual(
      expected.includes(VIEW_NODES_KUBE_GROUP)
        ? []
        : [
            `the access entry of ${CONTROLLER_ROLE_ARN} on cluster ${name} was not created by this project (no eks-aviatrix:managed=true tag), so it is ` +
              `not put in the Kubernetes group ${VIEW_NODES_KUBE_GROUP}: add that group to it, or the controller cannot read nodes (k8s_node SmartGroups)`,
          ],
    );
  });
});

describe('refusals', () => {
  it('vpcSmartGroupMatch "name" with a VPC that has no Name tag is refused by the preflight, before any write anywhere, naming the VPC and the fix', async () => {
    const created = await createCluster(w, { name: 'sg-noname' });
    await w.world.ec2Direct.send(new DeleteTagsCommand({ Resources: [created.vpc.vpcId], Tags: [{ Key: 'Name' }] }));
    w.activateCluster('sg-noname');
    const result = await run('sg-noname');
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('ClusterRefused');
    expect(result.error?.message).toContain(
      `VPC ${created.vpc.vpcId} of EKS cluster "sg-noname" has no Name tag, and onboarding.aviatrix.vpcSmartGroupMatch is "name" (the VPC ` +
        'SmartGroup matches the VPC by its Name tag): tag the VPC with a Name unique on the controller, or set vpcSmartGroupMatch to "id"',
    );
    expect(groupsOf('sg-noname')).toEqual([]);
    expect(w.world.eks.accessEntries('sg-noname').find((e) => e.principalArn === CONTROLLER_ROLE_ARN)).toBeUndefined();
    // Nothing of the network steps either: the VPC keeps its one CIDR block, and the failure is the preflight's.
    const { Vpcs = [] } = await w.world.ec2Direct.send(new DescribeVpcsCommand({ VpcIds: [created.vpc.vpcId] }));
    expect(Vpcs[0].CidrBlockAssociationSet?.length).toBe(1);
    expect(result.statesEntered).toContain('NetworkPreflightFailed');
    expect(result.statesEntered).not.toContain('ExcludePodCidr');
  });

  describe('on the controller', () => {
    let client: AviatrixClient;
    beforeAll(() => {
      client = new AviatrixClient({ controllerUrl: w.controllerUrl, credentialsSecretName: SECRET_NAME, caBundlePem: w.controllerCaPem, verifyTls: true }, { baseDelayMs: 5 });
    });

    it.each<[string, Record<string, string>, string]>([
      ['a pod without its namespace', { type: 'k8s', k8s_cluster_id: 'arn:c', k8s_pod: 'web-0' }, 'k8s_pod requires k8s_cluster_id and k8s_namespace'],
      ['a pod with a service', { type: 'k8s', k8s_cluster_id: 'arn:c', k8s_namespace: 'a', k8s_pod: 'web-0', k8s_service: 'web' }, 'k8s_pod and k8s_service cannot be combined'],
      ['namespace labels with a service', { type: 'k8s', k8s_cluster_id: 'arn:c', k8s_service: 'web', 'namespacetags.env': 'prod' }, 'namespacetags cannot be combined with k8s_service or k8s_pod'],
      ['namespace labels outside k8s', { type: 'vpc', 'namespacetags.env': 'prod' }, 'namespacetags is only valid with type "k8s"'],
      ['a namespace that is not DNS-1123', { type: 'k8s', k8s_cluster_id: 'arn:c', k8s_namespace: 'Pay_1' }, 'k8s_namespace "Pay_1" is not a valid DNS-1123 label'],
      ['a key the controller does not know', { type: 'k8s', k8s_cluster_id: 'arn:c', k8s_service_account: 'sa' }, 'unknown match expression key "k8s_service_account"'],
    ])('refuses %s, as the controller does', async (_what, all, message) => {
      const mark = w.world.log.mark();
      const error = await client.createSmartGroup({ name: 'refused', selector: one(all) }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ControllerApiError);
      expect((error as ControllerApiError).reason).toContain(message);
      expect(w.controller.smartGroups().filter((g) => g.name === 'refused')).toEqual([]);
      expect(w.world.log.writesSince(mark, 'aviatrix')).toHaveLength(1);
    });

    it('the plan names the template the tag chose and its groups, and writes nothing', async () => {
      const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
      const cluster = { name: 'sg-plan', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/sg-plan', vpcId: 'vpc-0plan', tags: { [TAG]: 'edge' } };
      const mark = w.world.log.mark();
      const plan = await reconcileOnboarding(client, { ...parseConfig(w.config).aviatrix, vpcSmartGroupMatch: 'id' }, { cluster, dryRun: true }, ownership);
      expect(plan.smartGroupTemplate).toBe('edge');
      expect(plan.smartGroups.map((g) => `${g.action} ${g.name}`)).toEqual(['create sg-plan-vpc', 'create sg-plan-nodes', 'create sg-plan-ingress']);
      expect(w.world.log.writesSince(mark, 'aviatrix')).toEqual([]);
    });

    it('a group the controller keeps differently from what was sent (an older version dropping namespacetags) fails the step, naming both', async () => {
      const ownership = new OwnershipRegistry({ tableName: STATUS_TABLE });
      const cluster = { name: 'sg-old', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/sg-old', vpcId: 'vpc-0old', tags: {} };
      w.controller.droppedSelectorKeys = /^namespacetags\./;
      try {
        const config = { kubernetesSmartGroups: [{ name: 'prod-ns', namespaceLabels: { env: 'prod' } }] };
        const error = await reconcileOnboarding(client, config, { cluster, dryRun: false }, ownership).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(OnboardingError);
        expect((error as OnboardingError).name).toBe('ControllerError');
        expect((error as Error).message).toBe(
          `the Aviatrix controller accepted SmartGroup "sg-old-prod-ns" (uuid ${uuidOf('sg-old-prod-ns')}) but reads it back as "sg-old-prod-ns" ` +
            `matching type=k8s AND k8s_cluster_id=${cluster.arn} instead of type=k8s AND k8s_cluster_id=${cluster.arn} AND namespacetags.env=prod; ` +
            'check the controller version supports these selector keys, then run the workflow again',
        );
      } finally {
        w.controller.droppedSelectorKeys = undefined;
      }
    });
  });
});
