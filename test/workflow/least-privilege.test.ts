// The narrowed roles, end to end. No standing cluster-admin: the kube reconciler reaches the
// Kubernetes API through its group's RBAC, and holds AmazonEKSClusterAdminPolicy only while it
// writes that RBAC (lambdas/domain/kube-access.ts), asserted on the EKS stand-in's access entries and
// the Kubernetes stand-in's RBAC objects. No ReplaceRouteTableAssociation: a pod subnet someone else
// re-associated is used as it is.
import { CreateRouteTableCommand, DescribeRouteTablesCommand, ReplaceRouteTableAssociationCommand } from '@aws-sdk/client-ec2';
import { AssociateAccessPolicyCommand, CreateAccessEntryCommand, EKSClient } from '@aws-sdk/client-eks';
import { RECONCILER_KUBE_GROUP, RECONCILER_RBAC_NAME, RECONCILER_RULES, VIEW_NODES_RBAC_NAME } from '../../lambdas/shared/kube-rbac';
import { readStatusRecord } from '../../lambdas/domain/status-record';
import { CONTROLLER_ROLE_ARN, createCluster, OnboardingWorld, RECONCILER_PRINCIPAL, STATUS_TABLE, startOnboardingWorld } from '../local-world/onboarding-world';
import { runWorkflow } from '../local-world/workflow-runner';

const WORKFLOW = 'cluster-onboarding.asl.json';
const ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

let w: OnboardingWorld;

beforeAll(async () => {
  w = await startOnboardingWorld();
});

afterAll(async () => {
  await w?.stop();
});

const entryOf = (cluster: string, principal: string) => w.world.eks.accessEntries(cluster).find((e) => e.principalArn === principal);
const eksCalls = (mark: number, action: string) => w.world.log.since(mark).filter((c) => c.service === 'eks' && c.action === action).length;

async function onboarded(name: string): Promise<void> {
  await createCluster(w, { name });
  w.activateCluster(name);
  const result = await runWorkflow(WORKFLOW, { clusterName: name });
  expect(result.error).toBeUndefined();
  expect(result.status).toBe('SUCCEEDED');
}

describe('the kube reconciler after onboarding', () => {
  it('holds no access policy, only its Kubernetes group, whose RBAC is what the steps write', async () => {
    const mark = w.world.log.mark();
    await onboarded('rbac-a');

    const reconciler = entryOf('rbac-a', RECONCILER_PRINCIPAL);
    expect(reconciler?.policies).toEqual([]);
    expect(reconciler?.kubernetesGroups).toEqual([RECONCILER_KUBE_GROUP]);
    expect(reconciler?.tags).toMatchObject({ 'eks-aviatrix:managed': 'true' });
    // cluster-admin was held for the RBAC write only: granted once, removed once.
    expect(eksCalls(mark, 'DisassociateAccessPolicy')).toBe(1);
    // The controller keeps its view access.
    expect(entryOf('rbac-a', CONTROLLER_ROLE_ARN)?.policies.map((p) => p.policyArn)).toEqual([VIEW]);

    expect(w.world.kube.clusterRole('rbac-a', RECONCILER_RBAC_NAME)?.rules).toEqual(RECONCILER_RULES);
    expect(w.world.kube.clusterRoleBinding('rbac-a', RECONCILER_RBAC_NAME)).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: RECONCILER_RBAC_NAME },
      subjects: [{ kind: 'Group', name: RECONCILER_KUBE_GROUP }],
    });
    expect(w.world.kube.eniConfigs('rbac-a')).toHaveLength(2);
  });

  it('a second run reads its RBAC as itself and grants itself nothing', async () => {
    const mark = w.world.log.mark();
    const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-a' });
    expect(result.status).toBe('SUCCEEDED');
    expect(eksCalls(mark, 'AssociateAccessPolicy')).toBe(0);
    expect(w.world.log.since(mark).filter((c) => c.service === 'kubernetes' && c.action.includes('/clusterrole')).map((c) => c.action).sort()).toEqual([
      `GET /clusters/rbac-a/apis/rbac.authorization.k8s.io/v1/clusterroles/${RECONCILER_RBAC_NAME}`,
      `GET /clusters/rbac-a/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${RECONCILER_RBAC_NAME}`,
      `GET /clusters/rbac-a/apis/rbac.authorization.k8s.io/v1/clusterroles/${VIEW_NODES_RBAC_NAME}`,
      `GET /clusters/rbac-a/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${VIEW_NODES_RBAC_NAME}`,
    ].sort());
  });
});

describe('RBAC changed by hand', () => {
  it('is restored, with cluster-admin only for that write', async () => {
    await onboarded('rbac-drift');
    w.world.kube.deleteRbac('rbac-drift', 'clusterrolebindings', RECONCILER_RBAC_NAME);
    const mark = w.world.log.mark();
    const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-drift' });
    expect(result.status).toBe('SUCCEEDED');
    expect(w.world.kube.clusterRoleBinding('rbac-drift', RECONCILER_RBAC_NAME)?.subjects).toEqual([
      expect.objectContaining({ kind: 'Group', name: RECONCILER_KUBE_GROUP }),
    ]);
    expect(eksCalls(mark, 'AssociateAccessPolicy')).toBe(1);
    expect(entryOf('rbac-drift', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
  });
});

describe('a failing RBAC write', () => {
  it('fails the run and still removes cluster-admin; the next run finishes', async () => {
    await onboarded('rbac-fail');
    w.world.kube.deleteRbac('rbac-fail', 'clusterroles', RECONCILER_RBAC_NAME);
    w.world.kube.failNext('PATCH', `/clusterroles/${RECONCILER_RBAC_NAME}`, 500, 1000);
    const mark = w.world.log.mark();
    try {
      const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-fail' });
      expect(result.status).toBe('FAILED');
      expect(result.error?.message).toContain(`clusterroles/${RECONCILER_RBAC_NAME} answered 500`);
      expect(eksCalls(mark, 'AssociateAccessPolicy')).toBeGreaterThanOrEqual(1);
      expect(entryOf('rbac-fail', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
    } finally {
      w.world.kube.clearFaults();
    }
    const again = await runWorkflow(WORKFLOW, { clusterName: 'rbac-fail' });
    expect(again.status).toBe('SUCCEEDED');
    expect(w.world.kube.clusterRole('rbac-fail', RECONCILER_RBAC_NAME)?.rules).toEqual(RECONCILER_RULES);
    expect(entryOf('rbac-fail', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
  });
});

describe('a failing RBAC write on the first run, after the access entry was created', () => {
  it('names the entry and the RBAC objects applied in the error and the FAILED record, removes cluster-admin; the next run finishes', async () => {
    await createCluster(w, { name: 'rbac-first' });
    w.activateCluster('rbac-first');
    // Refused, not retried (an admission webhook, say): a retry would find the entry made and name only its own writes.
    w.world.kube.failNext('PATCH', `/clusterrolebindings/${RECONCILER_RBAC_NAME}`, 422, 1);
    try {
      const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-first' });
      expect(result.status).toBe('FAILED');
      const named = [
        `create access entry ${RECONCILER_PRINCIPAL} (on cluster rbac-first`,
        `create ClusterRole ${RECONCILER_RBAC_NAME}`,
        `create ClusterRole ${VIEW_NODES_RBAC_NAME}`,
        `create ClusterRoleBinding ${VIEW_NODES_RBAC_NAME}`,
      ];
      for (const text of named) expect(result.error?.message).toContain(text);
      expect(result.error?.message).not.toContain(`create ClusterRoleBinding ${RECONCILER_RBAC_NAME}`);
      // cluster-admin was removed before the failure was reported, so it is not named as left.
      expect(result.error?.message).not.toContain('associate access entry');
      const record = await readStatusRecord(STATUS_TABLE, 'rbac-first');
      expect(record?.status).toBe('FAILED');
      for (const text of named) expect(record?.error).toContain(text);
      expect(entryOf('rbac-first', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
      expect(w.world.kube.clusterRoleBinding('rbac-first', RECONCILER_RBAC_NAME)).toBeUndefined();
    } finally {
      w.world.kube.clearFaults();
    }
    const again = await runWorkflow(WORKFLOW, { clusterName: 'rbac-first' });
    expect(again.status).toBe('SUCCEEDED');
    expect(w.world.kube.clusterRoleBinding('rbac-first', RECONCILER_RBAC_NAME)?.subjects).toEqual([expect.objectContaining({ kind: 'Group', name: RECONCILER_KUBE_GROUP })]);
    expect(entryOf('rbac-first', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
    expect((await readStatusRecord(STATUS_TABLE, 'rbac-first'))?.status).toBe('ONBOARDED');
  });
});

describe('a failing RBAC write beside a failing cluster-group rule write', () => {
  it('the error names what both applied: the rules failure carries the access entry and RBAC objects too', async () => {
    await createCluster(w, { name: 'both-fail' });
    w.activateCluster('both-fail');
    const clusterGroupId = w.world.eks.cluster('both-fail')!.clusterSecurityGroupId!;
    w.world.kube.failNext('PATCH', `/clusterrolebindings/${RECONCILER_RBAC_NAME}`, 422, 1);
    w.world.log.faults.inject('ec2', 'AuthorizeSecurityGroupIngress', { kind: 'status', status: 400, code: 'RulesPerSecurityGroupLimitExceeded' }, 1, `&GroupId=${clusterGroupId}&`);
    try {
      const result = await runWorkflow(WORKFLOW, { clusterName: 'both-fail' });
      expect(result.status).toBe('FAILED');
      expect(result.error?.message).toMatch(/RulesPerSecurityGroupLimitExceeded/);
      for (const text of [`create access entry ${RECONCILER_PRINCIPAL} (on cluster both-fail`, `create ClusterRole ${RECONCILER_RBAC_NAME}`, `create ClusterRoleBinding ${VIEW_NODES_RBAC_NAME}`]) {
        expect(result.error?.message).toContain(text);
      }
    } finally {
      w.world.kube.clearFaults();
      w.world.log.faults.clear();
    }
    expect((await runWorkflow(WORKFLOW, { clusterName: 'both-fail' })).status).toBe('SUCCEEDED');
  });
});

describe('cluster-admin that cannot be removed after a failing RBAC write', () => {
  it('is named in the error as still associated, with what was applied; the next run removes it', async () => {
    await onboarded('rbac-stuck');
    w.world.kube.deleteRbac('rbac-stuck', 'clusterroles', RECONCILER_RBAC_NAME);
    w.world.kube.failNext('PATCH', `/clusterroles/${RECONCILER_RBAC_NAME}`, 422, 1);
    w.world.log.faults.inject('eks', 'DisassociateAccessPolicy', { kind: 'status', status: 400, code: 'AccessDeniedException' }, 1);
    try {
      const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-stuck' });
      expect(result.status).toBe('FAILED');
      expect(result.error?.message).toContain(`associate access entry ${RECONCILER_PRINCIPAL} (AmazonEKSClusterAdminPolicy, held for the RBAC write)`);
      expect(entryOf('rbac-stuck', RECONCILER_PRINCIPAL)?.policies.map((p) => p.policyArn)).toEqual([ADMIN]);
    } finally {
      w.world.kube.clearFaults();
      w.world.log.faults.clear();
    }
    const again = await runWorkflow(WORKFLOW, { clusterName: 'rbac-stuck' });
    expect(again.status).toBe('SUCCEEDED');
    expect(entryOf('rbac-stuck', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
  });
});

describe('cluster-admin left by an interrupted run', () => {
  it('is removed by the next run, which writes nothing else', async () => {
    await onboarded('rbac-leftover');
    const eks = new EKSClient({ region: w.world.region });
    try {
      await eks.send(new AssociateAccessPolicyCommand({ clusterName: 'rbac-leftover', principalArn: RECONCILER_PRINCIPAL, policyArn: ADMIN, accessScope: { type: 'cluster' } }));
    } finally {
      eks.destroy();
    }
    const mark = w.world.log.mark();
    const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-leftover' });
    expect(result.status).toBe('SUCCEEDED');
    expect(entryOf('rbac-leftover', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
    expect(w.world.log.writesSince(mark, 'eks').map((c) => c.action)).toEqual(['DisassociateAccessPolicy']);
  });
});

describe('an access entry made before (cluster-admin, no group)', () => {
  it('is put in the group and loses cluster-admin', async () => {
    await createCluster(w, { name: 'rbac-upgrade' });
    w.activateCluster('rbac-upgrade');
    const eks = new EKSClient({ region: w.world.region });
    try {
      await eks.send(new CreateAccessEntryCommand({ clusterName: 'rbac-upgrade', principalArn: RECONCILER_PRINCIPAL, kubernetesGroups: ['platform-team'], tags: { 'eks-aviatrix:managed': 'true' } }));
      await eks.send(new AssociateAccessPolicyCommand({ clusterName: 'rbac-upgrade', principalArn: RECONCILER_PRINCIPAL, policyArn: ADMIN, accessScope: { type: 'cluster' } }));
    } finally {
      eks.destroy();
    }
    const mark = w.world.log.mark();
    const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-upgrade' });
    expect(result.status).toBe('SUCCEEDED');
    const entry = entryOf('rbac-upgrade', RECONCILER_PRINCIPAL);
    // UpdateAccessEntry replaces the groups: the one someone else gave it is kept.
    expect(entry?.kubernetesGroups).toEqual(['platform-team', RECONCILER_KUBE_GROUP]);
    expect(entry?.policies).toEqual([]);
    expect(eksCalls(mark, 'UpdateAccessEntry')).toBe(1);
    expect(w.world.kube.eniConfigs('rbac-upgrade')).toHaveLength(2);
  });
});

describe('an access entry that takes a while to take effect', () => {
  it('keeps cluster-admin across the wait and removes it when the RBAC is written', async () => {
    await createCluster(w, { name: 'rbac-slow' });
    w.activateCluster('rbac-slow');
    // The entry takes effect only once the workflow waits for it (not after a window in milliseconds).
    w.world.kube.options.accessEntryPropagationMs = 3_600_000;
    try {
      const result = await runWorkflow(WORKFLOW, { clusterName: 'rbac-slow' }, {
        waitMs: 250,
        onEvent: (event) => {
          if (event.type === 'StateEntered' && event.state === 'WaitForAccessEntry') w.world.kube.options.accessEntryPropagationMs = 0;
        },
      });
      expect(result.error).toBeUndefined();
      expect(result.statesEntered).toContain('WaitForAccessEntry');
      expect(w.world.kube.clusterRole('rbac-slow', RECONCILER_RBAC_NAME)).toBeDefined();
      expect(entryOf('rbac-slow', RECONCILER_PRINCIPAL)?.policies).toEqual([]);
    } finally {
      w.world.kube.options.accessEntryPropagationMs = 0;
    }
  });
});

describe('our pod subnet re-associated by someone else', () => {
  it('is used as it is: no association is written, and the warning names it', async () => {
    const created = await createCluster(w, { name: 'rerouted', vpcCidr: '10.31.0.0/16' });
    w.activateCluster('rerouted');
    expect((await runWorkflow(WORKFLOW, { clusterName: 'rerouted' })).status).toBe('SUCCEEDED');
    const ec2 = w.world.ec2Direct;
    const tables = async () =>
      (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [created.vpc.vpcId] }] }))).RouteTables ?? [];
    const podSubnet = w.world.kube.eniConfigs('rerouted').find((e) => e.metadata.name === 'us-east-1a')!.spec.subnet as string;
    const association = (await tables()).flatMap((t) => t.Associations ?? []).find((a) => a.SubnetId === podSubnet)!;
    const { RouteTable } = await ec2.send(new CreateRouteTableCommand({ VpcId: created.vpc.vpcId }));
    await ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: association.RouteTableAssociationId!, RouteTableId: RouteTable!.RouteTableId! }));

    const mark = w.world.log.mark();
    const result = await runWorkflow(WORKFLOW, { clusterName: 'rerouted' });
    expect(result.status).toBe('SUCCEEDED');
    expect((result.output as { warnings: string[] }).warnings).toContainEqual(
      expect.stringContaining(`pod subnet ${podSubnet} (100.64.0.0/17) in us-east-1a was associated by someone else and uses route table ${RouteTable!.RouteTableId}`),
    );
    expect(w.world.log.writesSince(mark, 'ec2')).toEqual([]);
    expect((await tables()).find((t) => t.Associations?.some((a) => a.SubnetId === podSubnet))?.RouteTableId).toBe(RouteTable!.RouteTableId);
  });
});
