// Offboarding side of design step 7 for the Aviatrix controller's role: its EKS access entry is
// deleted when this project created it (tag eks-aviatrix:managed=true, set by ensureAccessEntry),
// and only while the cluster still exists and is not being deleted (EKS removes the access entries
// of a deleted cluster itself). Not found counts as done; an untagged entry is someone else's.
import { DeleteAccessEntryCommand, DescribeAccessEntryCommand, DescribeClusterCommand, ResourceNotFoundException } from '../shared/sdk/eks';
import { eks } from '../shared/aws';
import { Change } from '../shared/workflow';
import { MANAGED_TAG } from '../domain/access-entries';

const notFound = (error: unknown) =>
  error instanceof ResourceNotFoundException || (error as Error).name === 'ResourceNotFoundException';

export async function removeControllerAccessEntry(
  clusterName: string,
  principalArn: string,
  dryRun: boolean,
): Promise<{ changes: Change[]; skipped?: string }> {
  let status: string | undefined;
  try {
    status = (await eks().send(new DescribeClusterCommand({ name: clusterName }))).cluster?.status;
  } catch (error) {
    if (notFound(error)) return { changes: [], skipped: 'the cluster no longer exists (its access entries went with it)' };
    throw error;
  }
  if (status === 'DELETING') return { changes: [], skipped: 'the cluster is being deleted (its access entries go with it)' };
  let tags: Record<string, string> = {};
  try {
    tags = (await eks().send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry?.tags ?? {};
  } catch (error) {
    if (notFound(error)) return { changes: [] };
    throw error;
  }
  if (tags[MANAGED_TAG] !== 'true') {
    return { changes: [], skipped: `the access entry of ${principalArn} lacks the ${MANAGED_TAG}=true tag: not created by this project, kept` };
  }
  const changes: Change[] = [{ resource: `access entry ${principalArn}`, action: 'delete', detail: `on cluster ${clusterName}` }];
  if (dryRun) return { changes };
  try {
    await eks().send(new DeleteAccessEntryCommand({ clusterName, principalArn }));
  } catch (error) {
    if (!notFound(error)) throw error;
  }
  return { changes };
}
