// Who the kube reconciler is inside a cluster: its Kubernetes group and the RBAC that group gets.
// Pure data, read by lambdas/domain/kube-access.ts (which writes it) and lib/permissions.ts (which
// lets the reconciler's access entry carry only this group).

export const RECONCILER_KUBE_GROUP = 'eks-aviatrix-reconciler';
/** Name of both the ClusterRole and its ClusterRoleBinding. */
export const RECONCILER_RBAC_NAME = 'eks-aviatrix-reconciler';

/**
 * The Aviatrix controller reads nodes for its k8s_node SmartGroups, which AmazonEKSViewPolicy does
 * not cover: its access entry carries this group, bound to a ClusterRole (and binding) of the same
 * name allowing get/list/watch on nodes, as the Aviatrix blueprint's `view-nodes` does. Prefixed so
 * a hand-made `view-nodes` is never ours.
 */
export const VIEW_NODES_KUBE_GROUP = 'eks-aviatrix-view-nodes';
export const VIEW_NODES_RBAC_NAME = 'eks-aviatrix-view-nodes';
export const VIEW_NODES_RULES = [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }];

/** What the Kubernetes steps do, and nothing more (ENIConfigs are cluster-scoped custom resources). */
export const RECONCILER_RULES = [
  { apiGroups: ['crd.k8s.amazonaws.com'], resources: ['eniconfigs'], verbs: ['get', 'list', 'create', 'patch'] },
  // A self-managed VPC CNI gets the custom-networking env on its DaemonSet; the add-on's is read back.
  { apiGroups: ['apps'], resources: ['daemonsets'], resourceNames: ['aws-node'], verbs: ['get', 'patch'] },
  // The nodegroup step finds nodes that started before their AZ's ENIConfig.
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
  // Read-only checks: pods with their own security groups, load balancers that cannot reach pod addresses.
  { apiGroups: ['vpcresources.k8s.aws'], resources: ['securitygrouppolicies'], verbs: ['list'] },
  { apiGroups: [''], resources: ['services'], verbs: ['list'] },
  // Each run checks its own RBAC and the controller's view-nodes RBAC without cluster-admin.
  { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'clusterrolebindings'], resourceNames: [RECONCILER_RBAC_NAME, VIEW_NODES_RBAC_NAME], verbs: ['get'] },
];
