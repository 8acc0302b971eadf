// The Lambda functions: which handler, construct ids, role, timeout and (for the ones the state
// machines invoke) the ASL substitution that stands for the function's ARN. Read by the CDK stack
// and by the local workflow runner, so adding a function is one edit. Free of CDK imports.

/**
 * The Kubernetes-facing steps (vpc-cni: ENIConfig and aws-node; nodegroup: nodes) share ONE role
 * on purpose: EKS maps an IAM principal to one Kubernetes identity through one access entry (in
 * the group whose RBAC allows what both steps do, lambdas/domain/kube-access.ts), so one role means
 * one identity and one access entry per cluster to create, audit and remove. Its policy is the
 * union of both steps' needs.
 */
export const KUBE_RECONCILER_ROLE_ID = 'KubeReconcilerRole';

export interface FunctionSpec {
  /** lambdas/<name>/handler.ts */
  name: string;
  /** Construct id of the function (its log group is `${id}Logs`). */
  id: string;
  /** Construct id of its role; functions sharing a role share the id. */
  role: string;
  timeoutSeconds: number;
}

/** The step groups the state machines invoke: `${substitution}` in the ASL is the function's ARN. */
export const STEP_FUNCTIONS = [
  { name: 'resolve-cluster', id: 'ResolveCluster', role: 'ResolveClusterRole', substitution: 'ResolveClusterFunctionArn', timeoutSeconds: 60 },
  { name: 'pod-network', id: 'PodNetwork', role: 'PodNetworkRole', substitution: 'PodNetworkFunctionArn', timeoutSeconds: 120 },
  { name: 'vpc-cni', id: 'VpcCni', role: KUBE_RECONCILER_ROLE_ID, substitution: 'VpcCniFunctionArn', timeoutSeconds: 120 },
  { name: 'nodegroup', id: 'Nodegroup', role: KUBE_RECONCILER_ROLE_ID, substitution: 'NodegroupFunctionArn', timeoutSeconds: 120 },
  { name: 'record-outcome', id: 'RecordOutcome', role: 'RecordOutcomeRole', substitution: 'RecordOutcomeFunctionArn', timeoutSeconds: 60 },
  // Controller calls have a 30 s per-request timeout and retry 5xx: more than 2 min is plausible.
  { name: 'aviatrix-onboard', id: 'AviatrixOnboard', role: 'AviatrixOnboardRole', substitution: 'AviatrixOnboardFunctionArn', timeoutSeconds: 240 },
  // Waits up to 4 min for a per-gateway lease (lambdas/shared/lease.ts), then read-modify-writes
  // two gateways and the transit: killed at 2 min it would die holding a lease mid-write.
  { name: 'aviatrix-snat', id: 'AviatrixSnat', role: 'AviatrixSnatRole', substitution: 'AviatrixSnatFunctionArn', timeoutSeconds: 540 },
  // Several EC2 deletes in a row (rule revoke, subnets, SG, CIDR) under the cluster lease.
  { name: 'cleanup', id: 'Cleanup', role: 'CleanupRole', substitution: 'CleanupFunctionArn', timeoutSeconds: 180 },
] as const satisfies readonly (FunctionSpec & { substitution: string })[];

/** Functions started by EventBridge, not by a state machine. */
export const SERVICE_FUNCTIONS = [
  { name: 'start-workflow', id: 'StartWorkflow', role: 'StartWorkflowRole', timeoutSeconds: 60 },
  { name: 'drift-repair', id: 'DriftRepair', role: 'DriftRepairRole', timeoutSeconds: 120 },
  // Started by the workflows' status changes (lib/observability.ts): reads, renders, publishes.
  { name: 'notify', id: 'Notify', role: 'NotifyRole', timeoutSeconds: 60 },
] as const satisfies readonly FunctionSpec[];

export const ALL_FUNCTIONS: readonly FunctionSpec[] = [...STEP_FUNCTIONS, ...SERVICE_FUNCTIONS];

export type StepName = (typeof STEP_FUNCTIONS)[number]['name'];
export type FunctionName = StepName | (typeof SERVICE_FUNCTIONS)[number]['name'];

/** The timeout of aviatrix-snat, the one function that writes SNAT and exclusion claims. */
export function claimWriterTimeoutSeconds(): number {
  return ALL_FUNCTIONS.find((f) => f.name === 'aviatrix-snat')!.timeoutSeconds;
}
