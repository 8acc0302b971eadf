// What starts the workflows: one CloudTrail-based EventBridge rule per EKS API call (each with its
// own DLQ) targeting start-workflow, and the drift-repair schedule. Both functions keep their failed
// asynchronous invocations in a queue of their own.
import * as events from 'aws-cdk-lib/aws-events';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { deadLetterQueue, EksApiCall, EksApiTrigger, EksApiTriggerProps, functionTarget, TARGET_MAX_EVENT_AGE } from './eks-api-trigger';
import { MachineId, STATE_MACHINES } from './workflows';

/** One rule per EKS API call, each with its own DLQ, all targeting start-workflow. */
const TRIGGERS: { id: string; call: EksApiCall; description: string }[] = [
  { id: 'CreateClusterTrigger', call: 'CreateCluster', description: 'Successful eks:CreateCluster (CloudTrail) starts the cluster onboarding workflow' },
  { id: 'CreateNodegroupTrigger', call: 'CreateNodegroup', description: 'Successful eks:CreateNodegroup (CloudTrail) starts the node-group onboarding workflow' },
  { id: 'DeleteClusterTrigger', call: 'DeleteCluster', description: 'Successful eks:DeleteCluster (CloudTrail) starts the offboarding workflow' },
  { id: 'DeleteNodegroupTrigger', call: 'DeleteNodegroup', description: 'Successful eks:DeleteNodegroup (CloudTrail) starts the offboarding workflow for the node group' },
];

export interface TriggersProps {
  startWorkflow: lambda.Function;
  driftRepair: lambda.Function;
  stateMachines: Record<MachineId, sfn.IStateMachine>;
  /** EventBridge schedule expression (onboarding.driftSchedule). */
  driftSchedule: string;
}

export class Triggers extends Construct {
  readonly triggers: EksApiTrigger[] = [];
  readonly driftRepairRule: events.Rule;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    const { startWorkflow, driftRepair, stateMachines } = props;
    for (const m of STATE_MACHINES) startWorkflow.addEnvironment(m.env, stateMachines[m.id].stateMachineArn);
    this.keepFailedInvocations(startWorkflow, 'StartWorkflowFailures');
    for (const trigger of TRIGGERS) {
      this.addTrigger(trigger.id, { eventNames: [trigger.call], target: startWorkflow, description: trigger.description });
    }

    driftRepair.addEnvironment('CLUSTER_STATE_MACHINE_ARN', stateMachines.ClusterOnboarding.stateMachineArn);
    driftRepair.addEnvironment('OFFBOARDING_STATE_MACHINE_ARN', stateMachines.ClusterOffboarding.stateMachineArn);
    this.keepFailedInvocations(driftRepair, 'DriftRepairFailures');
    this.driftRepairRule = new events.Rule(this, 'DriftRepairSchedule', {
      description: 'Re-runs the cluster onboarding workflow for every onboarded cluster (drift repair)',
      schedule: events.Schedule.expression(props.driftSchedule),
    });
    this.driftRepairRule.addTarget(
      functionTarget(
        driftRepair,
        deadLetterQueue(this, 'DriftRepairDeadLetterQueue', 'the schedule events EventBridge could not deliver to the drift-repair function after its retries'),
      ),
    );
  }

  /** Wires one CloudTrail-based EKS API rule (with its own DLQ) to a function. */
  addTrigger(id: string, props: EksApiTriggerProps): EksApiTrigger {
    const trigger = new EksApiTrigger(this, id, props);
    this.triggers.push(trigger);
    return trigger;
  }

  /**
   * EventBridge invokes functions asynchronously: its retry policy and DLQ cover delivery only. An
   * error inside the function is retried by Lambda (twice) and then lands here, not nowhere.
   */
  private keepFailedInvocations(fn: lambda.Function, queueId: string): void {
    const queue = deadLetterQueue(this, queueId, `the events whose ${fn.node.id} invocation still failed after Lambda's asynchronous retries`);
    fn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: TARGET_MAX_EVENT_AGE,
      onFailure: new destinations.SqsDestination(queue),
    });
  }
}
