// EKS emits no native cluster or node-group events: the trigger is CloudTrail's management event
// for the API call, delivered to the default bus as "AWS API Call via CloudTrail". Only calls that
// succeeded start a workflow (`errorCode` absent). Each rule's target has its own bounded retry
// and its own dead-letter queue, so an event that could not be delivered is kept, not lost, and
// can be redriven.
//
// The target is the start-workflow function (not a state machine): it picks the workflow for the
// call and names the execution after the CloudTrail event ID, so a duplicate delivery is a no-op.
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/** Every EKS API call that starts a workflow (a member account forwards all of them to the hub). */
export const EKS_API_CALLS = ['CreateCluster', 'CreateNodegroup', 'DeleteCluster', 'DeleteNodegroup'] as const;
export type EksApiCall = (typeof EKS_API_CALLS)[number];

export interface EksApiTriggerProps {
  /** The EKS API calls that start a workflow. */
  eventNames: EksApiCall[];
  /** The function invoked with the whole CloudTrail event as its input (start-workflow). */
  target: lambda.IFunction;
  description: string;
}

/** EventBridge's delivery retry on every target of this stack. */
export const TARGET_RETRY_ATTEMPTS = 8;
export const TARGET_MAX_EVENT_AGE = Duration.hours(1);

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

/** An SSE-SQS, TLS-only queue keeping undelivered (or, for a function, failed) events for 14 days. */
export function deadLetterQueue(scope: Construct, id: string, holds: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    enforceSSL: true,
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    retentionPeriod: Duration.days(14),
  });
  NagSuppressions.addResourceSuppressions(queue, [
    {
      id: 'AwsSolutions-SQS3',
      reason:
        `This queue IS a dead-letter queue: it receives ${holds}. ` +
        'A DLQ of a DLQ would only move the same messages one hop further.',
    },
  ]);
  return queue;
}

/** A Lambda target with the stack's delivery retry policy and the given dead-letter queue. */
export function functionTarget(fn: lambda.IFunction, dlq: sqs.IQueue): targets.LambdaFunction {
  return new targets.LambdaFunction(fn, {
    deadLetterQueue: dlq,
    retryAttempts: TARGET_RETRY_ATTEMPTS,
    maxEventAge: TARGET_MAX_EVENT_AGE,
  });
}

/** One EventBridge rule on successful EKS API calls, targeting a function, with its own DLQ. */
export class EksApiTrigger extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EksApiTriggerProps) {
    super(scope, id);

    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      `the ${props.eventNames.join('/')} events EventBridge could not deliver to the start-workflow function after its retries`,
    );
    this.rule = new events.Rule(this, 'Rule', {
      description: props.description,
      eventPattern: eksApiCallPattern(props.eventNames),
    });
    // The whole event is the input; start-workflow reads the cluster (requestParameters.name or
    // .clusterName), the node group and the event ID from it.
    this.rule.addTarget(functionTarget(props.target, this.deadLetterQueue));
  }
}
