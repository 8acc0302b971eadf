// Turns a finished workflow execution (EventBridge "Step Functions Execution Status Change") into
// one readable message on the notification topic, when a person needs it. Thin: the message is
// rendered by lambdas/domain/notification.ts.
import { GetExecutionHistoryCommand, HistoryEvent } from '../shared/sdk/sfn';
import { PublishCommand } from '../shared/sdk/sns';
import { ExecutionStatusDetail, failedStepOf, renderExecutionNotice } from '../domain/notification';
import { workflowName } from '../domain/run-metrics';
import { readStatusRecord } from '../domain/status-record';
import { sfn, sns } from '../shared/aws';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
import { targetOfRequest, withTarget } from '../shared/target';

export interface ExecutionStatusEvent {
  'detail-type': 'Step Functions Execution Status Change';
  detail: ExecutionStatusDetail;
}

/** The whole history, oldest first, without inputs and outputs (the record says what was applied). */
async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn().send(new GetExecutionHistoryCommand({ executionArn, includeExecutionData: false, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** Which workflow a state machine runs, from the ARNs the stack hands this function. */
function workflowOf(detail: ExecutionStatusDetail) {
  const input = JSON.parse(detail.input || '{}') as { nodegroupName?: string };
  if (detail.stateMachineArn === process.env.OFFBOARDING_STATE_MACHINE_ARN) return workflowName(input, 'offboarding');
  if ([process.env.CLUSTER_STATE_MACHINE_ARN, process.env.NODEGROUP_STATE_MACHINE_ARN].includes(detail.stateMachineArn)) return workflowName(input);
  throw new OnboardingError('InvalidInput', `state machine ${detail.stateMachineArn} is not one of this stack's workflows; check the notify rule's pattern`);
}

export const handler = async (event: ExecutionStatusEvent, context?: LambdaContextLike) => {
  beginInvocation(event, context);
  const detail = event.detail;
  const request = JSON.parse(detail.input || '{}') as { clusterName?: string };
  const clusterName = request.clusterName;
  // The record of a member account's cluster is keyed by its account and Region (lambdas/shared/target.ts).
  return withTarget(targetOfRequest(request), () => runStep('notify', clusterName, async () => {
    const workflow = workflowOf(detail);
    const tableName = requireSetting(runtime().statusTableName, 'STATUS_TABLE_NAME');
    const found = clusterName ? await readStatusRecord(tableName, clusterName) : undefined;
    // The record is one per cluster: only this execution's own record says what this run applied.
    const record = found?.executionId === detail.executionArn ? found : undefined;
    const failedStep = detail.status === 'SUCCEEDED' ? undefined : failedStepOf(await history(detail.executionArn));
    const notice = renderExecutionNotice(detail, { workflow, ...(record ? { record } : {}), ...(failedStep ? { failedStep } : {}) });
    if (!notice) return { published: false };
    const topicArn = requireSetting(process.env.NOTIFICATION_TOPIC_ARN, 'NOTIFICATION_TOPIC_ARN');
    const { MessageId } = await sns().send(new PublishCommand({ TopicArn: topicArn, Subject: notice.subject, Message: notice.message }));
    return { published: true, messageId: MessageId, subject: notice.subject };
  }));
};
