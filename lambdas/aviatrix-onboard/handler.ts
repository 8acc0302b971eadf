// Step 8: onboard the cluster to the Aviatrix controller and keep its SmartGroups. Thin: the
// domain module does the work; this reads config, builds the client and validates the input.
import { aviatrixClient } from '../aviatrix/client';
import { OnboardResult, reconcileOnboarding } from '../aviatrix/onboarding';
import { OnboardingError } from '../shared/errors';
import { runtime } from '../shared/runtime';
import { WorkflowState } from '../shared/workflow';

export async function handler(state: WorkflowState): Promise<OnboardResult> {
  const cluster = state.resolve?.cluster;
  if (!cluster?.arn || !cluster.vpcId) {
    throw new OnboardingError('InvalidInput', 'aviatrix-onboard needs state.resolve.cluster with arn and vpcId (the resolve step output)');
  }
  const { config } = runtime();
  return reconcileOnboarding(aviatrixClient(config.aviatrix), config.aviatrix, {
    cluster: { name: cluster.name, arn: cluster.arn, vpcId: cluster.vpcId },
    dryRun: state.input?.dryRun === true,
  });
}
