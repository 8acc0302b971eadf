// EKS emits no native cluster or node-group events: the trigger is CloudTrail's management event
// for the API call, delivered to the default bus as "AWS API Call via CloudTrail". Only calls that
// succeeded start a workflow (`errorCode` absent). Each rule's target has its own bounded retry
// and its own dead-letter queue, so a failed start is kept, not lost, and can be redriven.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export type EksApiCall = 'CreateCluster' | 'CreateNodegroup' | 'DeleteCluster' | 'DeleteNodegroup';

export interface EksApiTriggerProps {
  /** The EKS API calls that start the workflow. */
  eventNames: EksApiCall[];
  /** The state machine started with the whole CloudTrail event as its input. */
  stateMachine: sfn.IStateMachine;
  description: string;
}

/** Builds the CloudTrail event pattern for successful EKS API calls. */
export function eksApiCallPattern(eventNames: EksApiCall[]): events.EventPattern {
  return {
    source: ['aws.eks'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['eks.amazonaws.com'],
      eventName: eventNames,
      errorCode: events.Match.doesNotExist(),
    },
  };
}

/** One EventBridge rule on successful EKS API calls, targeting a state machine, with a DLQ. */
export class EksApiTrigger extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EksApiTriggerProps) {
    super(scope, id);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue IS a dead-letter queue: it receives the events EventBridge could not deliver to the state ' +
          'machine after its retries. A DLQ of a DLQ would only move the same messages one hop further.',
      },
    ]);

    this.rule = new events.Rule(this, 'Rule', {
      description: props.description,
      eventPattern: eksApiCallPattern(props.eventNames),
    });
    // The whole event is the input; the workflow's first state normalizes it to one shape
    // (requestParameters.name or .clusterName, nodegroupName, eventID) together with manual runs.
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        deadLetterQueue: this.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(1),
      }),
    );
  }
}
