// No standing cluster-admin. The kube reconciler's access entry has NO access policy: it puts the
// role in the Kubernetes group RECONCILER_KUBE_GROUP, and a ClusterRole bound to that group allows
// exactly what the Kubernetes steps read and write (RECONCILER_RULES). Writing that RBAC needs
// cluster-admin, so the entry holds AmazonEKSClusterAdminPolicy only while it writes those two
// objects and loses it right after, also when the write fails; a grant left by a Lambda that was
// killed mid-way is removed by the next run. A second run finds the RBAC in place (it may read its
// own two objects) and writes nothing. Why this and not cluster-admin for the step: docs/kubernetes-access.md.
import { OnboardingError, settleAll, withAppliedChanges } from '../shared/errors';
import { KubeApiError, KubeClient } from '../shared/kube';
import { logger } from '../shared/logger';
import { Change, ClusterSummary } from '../shared/workflow';
import { addKubernetesGroup, associateClusterPolicy, CLUSTER_ADMIN_POLICY, createAccessEntry, disassociatePolicy, observeAccessEntry } from './access-entries';
import { kubeClientFor } from './cluster';
import { RECONCILER_KUBE_GROUP, RECONCILER_RBAC_NAME, RECONCILER_RULES, VIEW_NODES_KUBE_GROUP, VIEW_NODES_RBAC_NAME, VIEW_NODES_RULES } from '../shared/kube-rbac';

export { RECONCILER_KUBE_GROUP, RECONCILER_RBAC_NAME } from '../shared/kube-rbac';

/** How long fresh access (a new entry, group or policy) may answer 401/403 before we call it a refusal. */
export const ACCESS_PROPAGATION_MS = 2 * 60_000;

const RBAC_API = '/apis/rbac.authorization.k8s.io/v1';
const RBAC_VERSION = 'rbac.authorization.k8s.io/v1';

/** A ClusterRole and a ClusterRoleBinding of the same name granting its rules to one Kubernetes group. */
function rbacPair(name: string, rules: readonly object[], group: string) {
  return [
    {
      path: `${RBAC_API}/clusterroles/${name}`,
      body: { apiVersion: RBAC_VERSION, kind: 'ClusterRole', metadata: { name }, rules },
      compared: ['rules'],
      group,
    },
    {
      path: `${RBAC_API}/clusterrolebindings/${name}`,
      body: {
        apiVersion: RBAC_VERSION,
        kind: 'ClusterRoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
      },
      compared: ['roleRef', 'subjects'],
      group,
    },
  ];
}

// The controller's view-nodes RBAC rides on the reconciler's bootstrap (written always, not only with
// k8s_node SmartGroups): a template change would otherwise need cluster-admin again, and the role
// only lets the controller read nodes, which the blueprint always grants. It leaves with the cluster.
const RBAC_OBJECTS = [
  ...rbacPair(RECONCILER_RBAC_NAME, RECONCILER_RULES, RECONCILER_KUBE_GROUP),
  ...rbacPair(VIEW_NODES_RBAC_NAME, VIEW_NODES_RULES, VIEW_NODES_KUBE_GROUP),
];
type RbacObject = (typeof RBAC_OBJECTS)[number];

export function isAuthFailure(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && (error.status === 401 || error.status === 403);
}

export interface KubernetesAccess {
  changes: Change[];
  /** The reconciler's group and RBAC are in place (false only in a dry run that would set them up). */
  ready: boolean;
  /** Since when: Kubernetes may refuse for a few seconds after that (ACCESS_PROPAGATION_MS). */
  since?: Date;
  /** Set when cluster-admin, just granted for the RBAC write, does not answer yet: call again after a wait. */
  waiting?: string;
}

/** Key-order-independent JSON, so the API server's rendering compares equal to ours. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The RBAC objects that are missing or differ, read as the reconciler itself; unreadable counts as missing. */
async function rbacToWrite(clusterName: string, known?: ClusterSummary): Promise<{ object: RbacObject; change: Change }[]> {
  const kube = await kubeClientFor(clusterName, known);
  // Read side by side: in series they would lengthen the path to the first ENIConfig.
  const actuals = await Promise.all(
    RBAC_OBJECTS.map((object) =>
      kube.get<Record<string, unknown>>(object.path).catch((error: unknown) => {
        if (isAuthFailure(error)) return undefined;
        throw error;
      }),
    ),
  );
  const result: { object: RbacObject; change: Change }[] = [];
  RBAC_OBJECTS.forEach((object, i) => {
    const actual = actuals[i];
    if (!actual) {
      result.push({ object, change: rbacCreate(object) });
    } else if (object.compared.some((field) => canonical(actual[field]) !== canonical((object.body as Record<string, unknown>)[field]))) {
      result.push({ object, change: { resource: rbacResource(object), action: 'update', detail: `${object.compared.join(', ')} changed by someone else` } });
    }
  });
  return result;
}

const rbacResource = (object: RbacObject) => `${object.body.kind} ${object.body.metadata.name}`;
const rbacCreate = (object: RbacObject): Change => ({ resource: rbacResource(object), action: 'create', detail: `for Kubernetes group ${object.group}` });

/**
 * Makes sure `principalArn` may do what the Kubernetes steps do on the cluster, through its group's
 * RBAC and with no access policy left on its entry.
 */
export async function ensureKubernetesAccess(
  clusterName: string,
  principalArn: string,
  dryRun: boolean,
  known?: ClusterSummary,
  /** A check run beside this one: no write before it passed (its failure is this call's). */
  writesAfter?: Promise<unknown>,
): Promise<KubernetesAccess> {
  const entry = await observeAccessEntry(clusterName, principalArn, CLUSTER_ADMIN_POLICY);
  const inGroup = inGroupOf(entry);
  const changes: Change[] = [];
  const resource = `access entry ${principalArn}`;
  if (!entry.exists) {
    changes.push({ resource, action: 'create', detail: `on cluster ${clusterName}, Kubernetes group ${RECONCILER_KUBE_GROUP}, no access policy` });
  } else if (!inGroup) {
    changes.push({ resource, action: 'update', detail: `Kubernetes group ${RECONCILER_KUBE_GROUP}` });
  }
  const toWrite = entry.exists && inGroup
    ? await rbacToWrite(clusterName, known)
    : RBAC_OBJECTS.map((object) => ({ object, change: rbacCreate(object) }));
  const leftover = entry.policyAssociated && toWrite.length === 0;
  if (leftover) changes.push({ resource, action: 'delete', detail: 'AmazonEKSClusterAdminPolicy left by an interrupted run' });
  if (dryRun) {
    // Reading works once the reconciler's own RBAC is in place (the controller's may still be missing).
    const ownRbac = toWrite.every((w) => w.object.group !== RECONCILER_KUBE_GROUP);
    return { changes: [...changes, ...toWrite.map((w) => w.change)], ready: entry.exists && inGroup && ownRbac };
  }

  if (writesAfter && (changes.length > 0 || toWrite.length > 0)) await writesAfter;
  // What this call has written so far: a failure names it (the entry, RBAC objects already applied,
  // cluster-admin while it is still associated), so nothing half-done goes unrecorded.
  const applied: Change[] = [];
  try {
    return await writeKubernetesAccess(clusterName, principalArn, known, entry, { changes, toWrite, leftover, applied });
  } catch (error) {
    throw withAppliedChanges(error, applied);
  }
}

async function writeKubernetesAccess(
  clusterName: string,
  principalArn: string,
  known: ClusterSummary | undefined,
  entry: Awaited<ReturnType<typeof observeAccessEntry>>,
  plan: { changes: Change[]; toWrite: { object: RbacObject; change: Change }[]; leftover: boolean; applied: Change[] },
): Promise<KubernetesAccess> {
  const { changes, toWrite, leftover, applied } = plan;
  let since = [entry.createdAt, entry.modifiedAt].filter((d): d is Date => d !== undefined).sort((a, b) => b.getTime() - a.getTime())[0];
  if (!entry.exists) {
    await createAccessEntry(clusterName, principalArn, [RECONCILER_KUBE_GROUP]);
    since = new Date();
  } else if (!inGroupOf(entry)) {
    await addKubernetesGroup(clusterName, principalArn, entry.kubernetesGroups, RECONCILER_KUBE_GROUP);
    since = new Date();
  }
  applied.push(...changes.filter((c) => c.action !== 'delete'));
  if (toWrite.length === 0) {
    if (leftover) await disassociatePolicy(clusterName, principalArn, CLUSTER_ADMIN_POLICY);
    return { changes, ready: true, ...(since ? { since } : {}) };
  }

  // The RBAC write, the one moment the entry holds cluster-admin.
  const grant: Change = { resource: `access entry ${principalArn}`, action: 'associate', detail: `AmazonEKSClusterAdminPolicy, held for the RBAC write` };
  if (!entry.policyAssociated) await associateClusterPolicy(clusterName, principalArn, CLUSTER_ADMIN_POLICY);
  applied.push(grant);
  const grantedAt = entry.policyAssociatedAt?.getTime() ?? Date.now();
  let keepGrant = false;
  try {
    const kube = await kubeClientFor(clusterName, known);
    // A ClusterRoleBinding may name its ClusterRole before that exists: both are applied at once,
    // and both settle before the grant is judged or removed.
    await settleAll(toWrite.map(({ object, change }) => kube.apply(object.path, object.body).then(() => applied.push(change))));
  } catch (error) {
    if (isAuthFailure(error) && Date.now() - grantedAt < ACCESS_PROPAGATION_MS) {
      // Access takes a few seconds: the grant stays for the next call of this step, which removes it.
      keepGrant = true;
      return { changes, ready: false, waiting: `waiting for the access entry of ${principalArn} to take effect` };
    }
    if (isAuthFailure(error)) {
      throw new OnboardingError(
        'ClusterRefused',
        `the Kubernetes API of EKS cluster "${clusterName}" refused ${principalArn} the ClusterRole ${RECONCILER_RBAC_NAME} even with ` +
          `AmazonEKSClusterAdminPolicy associated (${error.status}: ${error.reason}); check the cluster's authentication mode and endpoint access`,
      );
    }
    throw error;
  } finally {
    if (!keepGrant) {
      await disassociatePolicy(clusterName, principalArn, CLUSTER_ADMIN_POLICY);
      applied.splice(applied.indexOf(grant), 1);
      logger.info('cluster-admin of the reconciler removed after the RBAC write', { clusterName });
    }
  }
  return { changes: [...changes, ...toWrite.map((w) => w.change)], ready: true, ...(since ? { since } : {}) };
}

const inGroupOf = (entry: { kubernetesGroups: string[] }) => entry.kubernetesGroups.includes(RECONCILER_KUBE_GROUP);

export type WithAccess<T> = { changes: Change[]; waiting: string } | { changes: Change[]; result: T };

/**
 * Runs `work` with a Kubernetes client for the cluster once the reconciler's access is in place.
 * In a dry run before the first real run there is no access yet: `work` gets no client and plans
 * without reading. A refusal while fresh access propagates answers `waiting` (call again later).
 */
export async function withKubernetesAccess<T>(
  clusterName: string,
  principalArn: string,
  dryRun: boolean,
  work: (kube: KubeClient | undefined) => Promise<T>,
): Promise<WithAccess<T>> {
  const access = await ensureKubernetesAccess(clusterName, principalArn, dryRun);
  if (access.waiting) return { changes: access.changes, waiting: access.waiting };
  const kube = access.ready ? await kubeClientFor(clusterName) : undefined;
  try {
    return { changes: access.changes, result: await work(kube) };
  } catch (error) {
    if (isAuthFailure(error) && Date.now() - (access.since?.getTime() ?? 0) < ACCESS_PROPAGATION_MS) {
      return { changes: access.changes, waiting: `waiting for the access entry of ${principalArn} to take effect` };
    }
    throw error;
  }
}
