// Target of the EventBridge rules: starts one run per CloudTrail event, named after its event ID.
import { startForEvent } from '../domain/executions';
import { requireSetting } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';

export const handler = async (event: unknown, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  return runStep('start-workflow', undefined, () =>
    startForEvent(event, {
      cluster: requireSetting(process.env.CLUSTER_STATE_MACHINE_ARN, 'CLUSTER_STATE_MACHINE_ARN'),
      nodegroup: requireSetting(process.env.NODEGROUP_STATE_MACHINE_ARN, 'NODEGROUP_STATE_MACHINE_ARN'),
      offboarding: requireSetting(process.env.OFFBOARDING_STATE_MACHINE_ARN, 'OFFBOARDING_STATE_MACHINE_ARN'),
    }),
  );
};
