// Normalizes the workflow input and observes the cluster (pending until ACTIVE, then checked).
import { normalizeInput } from '../domain/input';
import { resolveCluster } from '../domain/cluster';
import { runtime } from '../shared/runtime';
import { runStep } from '../shared/step';
import { ResolveResult, WorkflowInput } from '../shared/workflow';

export interface ResolveEvent {
  request: unknown;
  startedAt: string;
}

export const handler = async (event: ResolveEvent): Promise<ResolveResult & { input: WorkflowInput }> => {
  const input = normalizeInput(event.request);
  return runStep('resolve-cluster', input.clusterName, async () => ({
    input,
    ...(await resolveCluster(input.clusterName, event.startedAt, runtime().config, Date.now(), input.nodegroupName)),
  }));
};
