// Runs a cluster workflow on the locally deployed stack (the Step Functions emulator) to its end,
// and answers the EventBridge "Execution Status Change" detail the notify function receives.
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ExecutionStatusDetail } from '../../lambdas/domain/notification';
import { DeployedStack, deployStackLocally } from './deployed-stack';
import { OnboardingWorld, startOnboardingWorld } from './onboarding-world';
import { Inbox, startInbox, statusChangeEvent } from './notification-inbox';

export async function executeToEnd(w: OnboardingWorld, stack: DeployedStack, input: Record<string, unknown>): Promise<ExecutionStatusDetail> {
  const client = new SFNClient({ region: w.world.region });
  try {
    const { executionArn } = await client.send(new StartExecutionCommand({ stateMachineArn: stack.stateMachineArns.cluster, input: JSON.stringify(input) }));
    await stack.sfn.waitForIdle();
    return (await statusChangeEvent(w.world.region, executionArn!)).detail;
  } finally {
    client.destroy();
  }
}

/** The EventBridge event of an execution's end, as the notify function receives it. */
export const statusChange = (detail: ExecutionStatusDetail) => ({ 'detail-type': 'Step Functions Execution Status Change' as const, detail });

/** The local world with the stack deployed on it and an inbox subscribed to its notification topic. */
export interface NotifyingWorld {
  w: OnboardingWorld;
  stack: DeployedStack;
  mailbox: Inbox;
  stop(): Promise<void>;
}

export async function startNotifyingWorld(): Promise<NotifyingWorld> {
  const w = await startOnboardingWorld();
  let stack: DeployedStack | undefined;
  let mailbox: Inbox | undefined;
  const stop = async () => {
    mailbox?.stop();
    await stack?.stop();
    await w.stop();
  };
  try {
    stack = await deployStackLocally(w, { waitMs: 20, retryMs: 20 });
    mailbox = await startInbox(w);
    return { w, stack, mailbox, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
