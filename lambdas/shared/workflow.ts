// The shapes that flow through the Step Functions workflows. Each step group's Lambda receives the
// whole state and returns only its own part, which the ASL stores under that step's ResultPath.

/** One input shape for EventBridge events, the console and the CLI. `clusterName` alone is valid. */
export interface WorkflowInput {
  clusterName: string;
  /** The cluster's account and Region, both set only outside the hub's own (lambdas/shared/target.ts). */
  account?: string;
  region?: string;
  nodegroupName?: string;
  dryRun: boolean;
  trigger: string;
  eventId?: string;
}

export interface ClusterSummary {
  name: string;
  arn: string;
  status: string;
  region: string;
  accountId: string;
  version?: string;
  vpcId: string;
  /** The EKS-created cluster security group (attached to the control plane and managed nodes). */
  clusterSecurityGroupId: string;
  /** Additional security groups given at creation; the control plane's ENIs carry them. */
  controlPlaneSecurityGroupIds: string[];
  /** The subnets given at cluster creation: the node subnets of the cluster workflow. */
  subnetIds: string[];
  endpoint?: string;
  /** The cluster CA (base64 PEM, public): later steps reach the Kubernetes API without DescribeCluster. */
  certificateAuthority?: string;
  /** The API endpoint is private only: its security group must admit the functions on 443 (lambdas/domain/api-access.ts). */
  privateEndpointOnly?: boolean;
  tags: Record<string, string>;
  /** The cluster's IAM role (security groups for pods need AmazonEKSVPCResourceController on it). */
  roleArn?: string;
  /** When EKS created it (ISO): with the ARN, tells this cluster from one re-created under its name. */
  createdAt?: string;
  /** When the resolve step saw the cluster ACTIVE (ready results only). */
  activeSeenAt?: string;
}

/** One planned or applied change, phrased for a person. */
export interface Change {
  resource: string;
  action: 'create' | 'update' | 'delete' | 'associate' | 'tag';
  detail: string;
}

export interface StepResult {
  dryRun: boolean;
  changes: Change[];
}

export interface PodSubnet {
  availabilityZone: string;
  /** Absent only in a dry-run plan for a subnet that does not exist yet. */
  subnetId?: string;
  cidr: string;
  routeTableId: string;
}

export interface NodeSubnet {
  subnetId: string;
  availabilityZone: string;
  cidr: string;
  routeTableId: string;
}

export interface PodNetworkResult extends StepResult {
  vpcId: string;
  podCidr: string;
  /** Things a person should look at that did not stop the step (a foreign pod subnet's routing). */
  warnings?: string[];
  podSubnets: PodSubnet[];
  /** The subnets the cluster's nodes use: given at creation, of node groups, and where its nodes run. */
  nodeSubnets: NodeSubnet[];
  /** CIDRs of the VPC's other subnets whose default route goes to an instance (the spoke), see SnatInput. */
  spokeRoutedSubnets?: string[];
  /** Every security group the cluster's nodes carry (the pod security group's node sources). */
  nodeSecurityGroupIds?: string[];
  /** Absent only in a dry-run plan for a security group that does not exist yet. */
  podSecurityGroupId?: string;
  /** Groups that got the pod rules for SecurityGroupPolicies (podSecurityGroups), from the cluster group's rules. */
  podPolicyGroupIds?: string[];
}

/**
 * The resolve step's answer: `pending` while the cluster is not ACTIVE yet; `early` for a CREATING
 * cluster whose network is wired before it is ACTIVE (the workflow then waits and looks again).
 */
export interface ResolveResult {
  phase: 'pending' | 'early' | 'ready' | 'skipped';
  reason?: string;
  /** The normalized input; the workflow lifts it to `input` once the cluster is ready. */
  input?: WorkflowInput;
  cluster?: ClusterSummary;
  /** While pending: how long the workflow waits before looking again (WaitForCluster). */
  waitSeconds?: number;
}

/**
 * A pending answer that AWS settles in seconds (an access entry taking effect): the workflow looks
 * again after a short wait of its own, not after the poll interval.
 */
export interface ShortWait {
  shortWait?: boolean;
}

/** A reconciler that has to wait for AWS answers `pending`; the ASL waits and calls it again. */
export interface CniResult extends StepResult, ShortWait {
  phase: 'pending' | 'done';
  reason?: string;
  mode: 'addon' | 'self-managed';
  /** The vpc-cni update this step started and is waiting for. */
  updateId?: string;
  /** When this step began waiting, for its bounded wait. */
  waitingSince?: string;
  eniConfigs: { name: string; subnetId?: string; securityGroups: string[] }[];
  /** When this run saw custom networking switched on (nodes older than that are early). */
  customNetworkingSince?: string;
  /** External SNAT stage: nodes of any launcher that started before custom networking took effect. */
  earlyNodes?: string[];
  /** The CNI option values this step recorded as ours (the cluster tag eks-aviatrix:cni-options), for its later calls. */
  optionClaims?: string;
  warnings?: string[];
}

export interface WorkflowState {
  /** Absent only before the cluster is ready (then see resolve.input). */
  input: WorkflowInput;
  startedAt: string;
  /** Set once the input is normalized: holds leases for this run. */
  executionId?: string;
  resolve?: ResolveResult;
  network?: PodNetworkResult;
  cni?: CniResult;
  [step: string]: unknown;
}

/** Which cluster a run began with: a later look must find the same one (lambdas/domain/cluster.ts). */
export type ClusterIdentity = Pick<ClusterSummary, 'name' | 'arn' | 'vpcId' | 'createdAt'>;
