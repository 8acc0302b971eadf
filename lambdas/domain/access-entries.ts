// Step 7: EKS access entries (API authentication mode; the aws-auth ConfigMap is never edited).
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DescribeAccessEntryCommand,
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
  policyAssociated: boolean;
}

export async function observeAccessEntry(clusterName: string, principalArn: string, policyArn: string): Promise<AccessEntryState> {
  try {
    const { accessEntry } = await eks().send(new DescribeAccessEntryCommand({ clusterName, principalArn }));
    const { associatedAccessPolicies = [] } = await eks().send(
      new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn }),
    );
    const policyAssociated = associatedAccessPolicies.some(
      (p) => p.policyArn === policyArn && p.accessScope?.type === 'cluster',
    );
    return { exists: true, ...(accessEntry?.createdAt ? { createdAt: accessEntry.createdAt } : {}), policyAssociated };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return { exists: false, policyAssociated: false };
    throw error;
  }
}

/** Makes sure `principalArn` has an access entry with `policyArn` at cluster scope. */
export async function ensureAccessEntry(
  clusterName: string,
  principalArn: string,
  policyArn: string,
  dryRun: boolean,
): Promise<{ changes: Change[]; state: AccessEntryState }> {
  const state = await observeAccessEntry(clusterName, principalArn, policyArn);
  const changes: Change[] = [];
  const policyName = policyArn.split('/').pop();
  if (!state.exists) changes.push({ resource: `access entry ${principalArn}`, action: 'create', detail: `on cluster ${clusterName}` });
  if (!state.policyAssociated) {
    changes.push({ resource: `access entry ${principalArn}`, action: 'associate', detail: `${policyName} (cluster scope)` });
  }
  if (dryRun || changes.length === 0) return { changes, state };

  if (!state.exists) {
    try {
      await eks().send(
        new CreateAccessEntryCommand({ clusterName, principalArn, type: 'STANDARD', tags: { 'eks-aviatrix:managed': 'true' } }),
      );
    } catch (error) {
      // Another run created it in the meantime: that is the state we want.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  if (!state.policyAssociated) {
    await eks().send(new AssociateAccessPolicyCommand({ clusterName, principalArn, policyArn, accessScope: { type: 'cluster' } }));
  }
  return { changes, state: await observeAccessEntry(clusterName, principalArn, policyArn) };
}
