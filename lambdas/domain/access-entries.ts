// Step 7: EKS access entries (API authentication mode; the aws-auth ConfigMap is never edited).
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  ListAssociatedAccessPoliciesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from '../shared/sdk/eks';
import { eks } from '../shared/aws';
import { Change } from '../shared/workflow';

export const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
export const VIEW_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

export interface AccessEntryState {
  exists: boolean;
  /** When EKS created the entry: access takes a few seconds to take effect after that. */
  createdAt?: Date;
  /** When the entry was last changed (its Kubernetes groups): that too takes a few seconds. */
  modifiedAt?: Date;
  kubernetesGroups: string[];
  policyAssociated: boolean;
  /** When the policy was associated, if it is. */
  policyAssociatedAt?: Date;
}

export async function observeAccessEntry(clusterName: string, principalArn: string, policyArn: string): Promise<AccessEntryState> {
  try {
    const { accessEntry } = await eks().send(new DescribeAccessEntryCommand({ clusterName, principalArn }));
    const { associatedAccessPolicies = [] } = await eks().send(
      new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn }),
    );
    const association = associatedAccessPolicies.find((p) => p.policyArn === policyArn && p.accessScope?.type === 'cluster');
    return {
      exists: true,
      ...(accessEntry?.createdAt ? { createdAt: accessEntry.createdAt } : {}),
      ...(accessEntry?.modifiedAt ? { modifiedAt: accessEntry.modifiedAt } : {}),
      kubernetesGroups: accessEntry?.kubernetesGroups ?? [],
      policyAssociated: association !== undefined,
      ...(association?.associatedAt ? { policyAssociatedAt: association.associatedAt } : {}),
    };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return { exists: false, kubernetesGroups: [], policyAssociated: false };
    throw error;
  }
}

/**
 * Makes sure `principalArn` has an access entry with `policyArn` at cluster scope. Not read back:
 * EKS answers both writes only once they are made (an error otherwise), and no later step of the
 * run reads this entry; the next run's plan reads it again.
 */
export async function ensureAccessEntry(
  clusterName: string,
  principalArn: string,
  policyArn: string,
  dryRun: boolean,
): Promise<{ changes: Change[] }> {
  const state = await observeAccessEntry(clusterName, principalArn, policyArn);
  const changes: Change[] = [];
  const policyName = policyArn.split('/').pop();
  if (!state.exists) changes.push({ resource: `access entry ${principalArn}`, action: 'create', detail: `on cluster ${clusterName}` });
  if (!state.policyAssociated) {
    changes.push({ resource: `access entry ${principalArn}`, action: 'associate', detail: `${policyName} (cluster scope)` });
  }
  if (dryRun || changes.length === 0) return { changes };

  if (!state.exists) await createAccessEntry(clusterName, principalArn, []);
  if (!state.policyAssociated) await associateClusterPolicy(clusterName, principalArn, policyArn);
  return { changes };
}

/** A STANDARD entry tagged as ours (IAM lets later writes touch only entries with that tag). */
export async function createAccessEntry(clusterName: string, principalArn: string, kubernetesGroups: string[]): Promise<void> {
  try {
    await eks().send(
      new CreateAccessEntryCommand({
        clusterName,
        principalArn,
        type: 'STANDARD',
        ...(kubernetesGroups.length > 0 ? { kubernetesGroups } : {}),
        tags: { 'eks-aviatrix:managed': 'true' },
      }),
    );
  } catch (error) {
    // Another run created it in the meantime: that is the state we want.
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

export async function associateClusterPolicy(clusterName: string, principalArn: string, policyArn: string): Promise<void> {
  await eks().send(new AssociateAccessPolicyCommand({ clusterName, principalArn, policyArn, accessScope: { type: 'cluster' } }));
}

/** Removes the association; one already gone is what we want. */
export async function disassociatePolicy(clusterName: string, principalArn: string, policyArn: string): Promise<void> {
  try {
    await eks().send(new DisassociateAccessPolicyCommand({ clusterName, principalArn, policyArn }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
}
