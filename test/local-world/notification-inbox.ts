// The notification topic of the local world: an SNS topic in moto with an SQS queue subscribed, so
// a test or the demo reads exactly what the notify function published (Subject and Message), and
// the EventBridge "Step Functions Execution Status Change" event of an emulated execution.
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ExecutionStatusEvent } from '../../lambdas/notify/handler';
import type { ExecutionStatusDetail } from '../../lambdas/domain/notification';
import { OnboardingWorld } from './onboarding-world';

export interface Inbox {
  topicArn: string;
  /** The messages delivered since the last call (each SNS envelope's Subject and Message). */
  receive(): Promise<{ Subject: string; Message: string }[]>;
  /** Unsets NOTIFICATION_TOPIC_ARN and closes the client. */
  stop(): void;
}

/** Creates the topic and the subscribed queue, and points the notify function (NOTIFICATION_TOPIC_ARN) at the topic. */
export async function startInbox(w: OnboardingWorld): Promise<Inbox> {
  const direct = { endpoint: w.world.motoDirectEndpoint, region: w.world.region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const sns = new SNSClient(direct);
  const sqs = new SQSClient(direct);
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'eks-aviatrix-notifications' }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'eks-aviatrix-inbox' }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes!.QueueArn }));
  sns.destroy();
  process.env.NOTIFICATION_TOPIC_ARN = TopicArn;
  return {
    topicArn: TopicArn!,
    async receive() {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
      return Messages.map((m) => JSON.parse(m.Body!) as { Subject: string; Message: string });
    },
    stop() {
      delete process.env.NOTIFICATION_TOPIC_ARN;
      sqs.destroy();
    },
  };
}

/** The event EventBridge delivers when an execution ends: its detail carries these DescribeExecution fields. */
export async function statusChangeEvent(region: string, executionArn: string): Promise<ExecutionStatusEvent> {
  const client = new SFNClient({ region });
  try {
    const e = await client.send(new DescribeExecutionCommand({ executionArn }));
    const detail: ExecutionStatusDetail = {
      executionArn: e.executionArn!,
      stateMachineArn: e.stateMachineArn!,
      name: e.name!,
      status: e.status as ExecutionStatusDetail['status'],
      input: e.input ?? null,
      error: e.error ?? null,
      cause: e.cause ?? null,
    };
    return { 'detail-type': 'Step Functions Execution Status Change', detail };
  } finally {
    client.destroy();
  }
}
