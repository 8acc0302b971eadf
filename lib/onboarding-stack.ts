// The stack `cdk deploy` creates (bin/app.ts): the EksAviatrixOnboarding construct and the Outputs
// the CLI falls back on when the stack was deployed with a naming prefix it was not told about.
import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { EksAviatrixOnboarding, EksAviatrixOnboardingProps } from './eks-aviatrix-onboarding';
import { STATE_MACHINES } from './workflows';

export { ALL_FUNCTIONS, KUBE_RECONCILER_ROLE_ID, SERVICE_FUNCTIONS, STEP_FUNCTIONS } from './functions';
export type { FunctionName, StepName } from './functions';
export { MAX_CONFIG_ENV_BYTES } from './onboarding-functions';
export { aslSubstitutionNames, STATE_MACHINES } from './workflows';
export type { MachineId } from './workflows';

/** The construct's id in the stack: its resources' logical ids start with it. */
export const CONSTRUCT_ID = 'Onboarding';

export type OnboardingStackProps = StackProps & EksAviatrixOnboardingProps;

export class OnboardingStack extends Stack {
  readonly onboarding: EksAviatrixOnboarding;

  constructor(scope: Construct, id: string, props: OnboardingStackProps) {
    super(scope, id, props);
    this.onboarding = new EksAviatrixOnboarding(this, CONSTRUCT_ID, props);
    for (const m of STATE_MACHINES) {
      new CfnOutput(this, m.output, { value: this.onboarding.stateMachines[m.id].stateMachineArn, description: `${m.id} state machine` });
    }
    new CfnOutput(this, 'StatusTableName', { value: this.onboarding.statusTable.tableName, description: 'Onboarding status records' });
  }
}
