// Step 7: EKS access entries (API authentication mode; the aws-auth ConfigMap is never edited).
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  ListAssociatedAccessPoliciesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateAccessEntryCommand,
} from '../shared/sdk/eks';
import { eks } from '../shared/aws';
import { Change } from '../shared/workflow';

export const CLUSTER_ADMIN_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
/** Marks what this project created (its later writes and IAM depend on it). */
export const MANAGED_TAG = 'eks-aviatrix:managed';
export const VIEW_POLICY = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

export interface AccessEntryState {
  exists: boolean;
  /** When EKS created the entry: access takes a few seconds to take effect after that. */
  createdAt?: Date;
  /** When the entry was last changed (its Kubernetes groups): that too takes a few seconds. */
  modifiedAt?: Date;
  kubernetesGroups: string[];
  /** The entry's tags: eks-aviatrix:managed=true marks one this project created. */
  tags: Record<string, string>;
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
      tags: accessEntry?.tags ?? {},
      policyAssociated: association !== undefined,
      ...(association?.associatedAt ? { policyAssociatedAt: association.associatedAt } : {}),
    };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return { exists: false, kubernetesGroups: [], tags: {}, policyAssociated: false };
    throw error;
  }
}

/**
 * Makes sure `principalArn` has an access entry with `policyArn` at cluster scope and in
 * `kubernetesGroup` when one is given. The group is added only to an entry this project created
 * (eks-aviatrix:managed tag); someone else's entry is left as it is, with a warning naming the fix.
 * Not read back: EKS answers the writes only once they are made (an error otherwise), and no later
 * step of the run reads this entry; the next run's plan reads it again.
 */
export async function ensureAccessEntry(
  clusterName: string,
  principalArn: string,
  policyArn: string,
  dryRun: boolean,
  kubernetesGroup?: string,
): Promise<{ changes: Change[]; warnings: string[] }> {
  const state = await observeAccessEntry(clusterName, principalArn, policyArn);
  const changes: Change[] = [];
  const warnings: string[] = [];
  const policyName = policyArn.split('/').pop();
  const resource = `access entry ${principalArn}`;
  const missingGroup = kubernetesGroup !== undefined && state.exists && !state.kubernetesGroups.includes(kubernetesGroup);
  const ours = state.tags[MANAGED_TAG] === 'true';
  if (!state.exists) changes.push({ resource, action: 'create', detail: `on cluster ${clusterName}${kubernetesGroup ? `, Kubernetes group ${kubernetesGroup}` : ''}` });
  if (missingGroup && ours) changes.push({ resource, action: 'update', detail: `Kubernetes group ${kubernetesGroup}` });
  if (missingGroup && !ours) {
    warnings.push(
      `the access entry of ${principalArn} on cluster ${clusterName} was not created by this project (no ${MANAGED_TAG}=true tag), so it is not ` +
        `put in the Kubernetes group ${kubernetesGroup}: add that group to it, or the controller cannot read nodes (k8s_node SmartGroups)`,
    );
  }
  if (!state.policyAssociated) changes.push({ resource, action: 'associate', detail: `${policyName} (cluster scope)` });
  if (dryRun || changes.length === 0) return { changes, warnings };

  if (!state.exists) await createAccessEntry(clusterName, principalArn, kubernetesGroup ? [kubernetesGroup] : []);
  if (missingGroup && ours) await addKubernetesGroup(clusterName, principalArn, state.kubernetesGroups, kubernetesGroup);
  if (!state.policyAssociated) await associateClusterPolicy(clusterName, principalArn, policyArn);
  return { changes, warnings };
}

/** UpdateAccessEntry replaces the groups: the ones someone else gave the entry are kept. */
export async function addKubernetesGroup(clusterName: string, principalArn: string, current: string[], group: string): Promise<void> {
  await eks().send(new UpdateAccessEntryCommand({ clusterName, principalArn, kubernetesGroups: [...current, group] }));
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
        tags: { [MANAGED_TAG]: 'true' },
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
