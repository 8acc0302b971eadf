// Kubernetes clusters onboarded to the controller (docs/aviatrix-controller-api.md section 5, v2.5).
import { ControllerSession, undefinedIfNotFound } from './session';

export interface K8sClusterBody {
  cluster_id: string;
  credential: { use_csp_credentials: boolean; kube_config?: string };
  gateway_tunnel_enabled?: boolean;
  intra_cluster_inspection_enabled?: boolean;
  [key: string]: unknown;
}

export interface K8sCluster extends K8sClusterBody {
  id: string;
}

const clusterPath = (id: string) => `k8s/clusters/${encodeURIComponent(id)}`;

/**
 * Lists onboarded clusters with `GET /v2.5/api/k8s/clusters`, whose answer's shape is not documented;
 * needed to find a cluster's controller id from its ARN on a fresh run.
 * Accepts a bare array or an object holding one array.
 */
export async function listK8sClusters(session: ControllerSession): Promise<K8sCluster[]> {
  const data = await session.v25('GET', 'k8s/clusters', undefined, 'k8s clusters');
  if (Array.isArray(data)) return data as K8sCluster[];
  if (data && typeof data === 'object') {
    const list = Object.values(data as Record<string, unknown>).find(Array.isArray);
    if (list) return list as K8sCluster[];
  }
  return [];
}

export function getK8sCluster(session: ControllerSession, id: string): Promise<K8sCluster | undefined> {
  return undefinedIfNotFound(session.v25('GET', clusterPath(id), undefined, id) as Promise<K8sCluster>);
}

/** Creates once: a create whose answer was lost is found by cluster_id, not sent again (see createOnce). */
export function createK8sCluster(session: ControllerSession, body: K8sClusterBody): Promise<string> {
  return session.createResource('k8s/clusters', body, body.cluster_id, 'id', async () => (await listK8sClusters(session)).find((c) => c.cluster_id === body.cluster_id)?.id);
}

export async function updateK8sCluster(session: ControllerSession, id: string, body: K8sClusterBody): Promise<void> {
  await session.v25('PUT', clusterPath(id), body, body.cluster_id);
}

export async function deleteK8sCluster(session: ControllerSession, id: string): Promise<void> {
  await session.v25('DELETE', clusterPath(id), undefined, id);
}
