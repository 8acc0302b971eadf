// The deployed names, from one prefix: the CLI, the README's console steps and the local world use
// them without looking anything up. Free of CDK imports (the CLI reads it).

export const DEFAULT_NAME_PREFIX = 'eks-aviatrix';

/** Lowercase, so every name below is valid for each service (Lambda's 64 characters is the shortest limit). */
const PREFIX = /^[a-z][a-z0-9-]{0,29}[a-z0-9]$/;

/** The ASL file of each workflow is `${suffix}.asl.json`; its machine is `${prefix}-${suffix}`. */
export const WORKFLOW_SUFFIXES = {
  ClusterOnboarding: 'cluster-onboarding',
  NodegroupOnboarding: 'nodegroup-onboarding',
  ClusterOffboarding: 'cluster-offboarding',
} as const;

export interface ResourceNames {
  prefix: string;
  stateMachines: Record<keyof typeof WORKFLOW_SUFFIXES, string>;
  statusTable: string;
  leaseTable: string;
  /** Who claims each controller object: an index of the status records' claims (lambdas/aviatrix/claim-index.ts). */
  claimTable: string;
  /** A Lambda function's name; its log group is `/aws/lambda/<name>`. */
  function(step: string): string;
  /** A Lambda role's name (IAM: at most 64 characters). */
  role(roleId: string, region: string): string;
  /** A state machine's log group. */
  stateMachineLogGroup(machineName: string): string;
}

/** Why a prefix is unusable, or undefined. */
export function namePrefixProblem(prefix: string): string | undefined {
  return PREFIX.test(prefix)
    ? undefined
    : `naming prefix "${prefix}" must be 2-31 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen`;
}

export function resourceNames(prefix: string = DEFAULT_NAME_PREFIX): ResourceNames {
  const problem = namePrefixProblem(prefix);
  if (problem) throw new Error(problem);
  return {
    prefix,
    stateMachines: {
      ClusterOnboarding: `${prefix}-${WORKFLOW_SUFFIXES.ClusterOnboarding}`,
      NodegroupOnboarding: `${prefix}-${WORKFLOW_SUFFIXES.NodegroupOnboarding}`,
      ClusterOffboarding: `${prefix}-${WORKFLOW_SUFFIXES.ClusterOffboarding}`,
    },
    statusTable: `${prefix}-status`,
    leaseTable: `${prefix}-leases`,
    claimTable: `${prefix}-claims`,
    function: (step) => `${prefix}-${step}`,
    // IAM names are account-wide: the Region keeps two Regions' copies apart; a member's trust matches `<prefix>-hub-<roleId>-*`.
    role: (roleId, region) => `${prefix}-hub-${roleId}-${region}`,
    // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing per machine.
    stateMachineLogGroup: (machineName) => `/aws/vendedlogs/states/${machineName}`,
  };
}
