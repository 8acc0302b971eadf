// Normalizes the workflow input and observes the cluster (early while CREATING with its VPC known,
// pending until ACTIVE, then checked).
import { normalizeInput } from '../domain/input';
import { resolveCluster } from '../domain/cluster';
import { runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { ClusterIdentity, ResolveResult, WorkflowInput } from '../shared/workflow';

export interface ResolveEvent {
  request: unknown;
  startedAt: string;
  /** For the logs: the run's lines carry it. */
  executionId?: string;
  /** The deployed poll interval (the state machine's pollSeconds). */
  pollSeconds?: number;
  /** The cluster the run wired the network for while it was CREATING, now awaited ACTIVE (AwaitActive). */
  expected?: ClusterIdentity;
}

export const handler = async (event: ResolveEvent, context?: LambdaContextLike): Promise<ResolveResult & { input: WorkflowInput }> => {
  beginInvocation(event, context);
  const input = normalizeInput(event.request);
  return runStep('resolve-cluster', input.clusterName, async () => ({
    input,
    ...(await resolveCluster(input.clusterName, event.startedAt, runtime().config, Date.now(), input.nodegroupName, event.pollSeconds, event.expected)),
  }));
};
