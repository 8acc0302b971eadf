// The Step Functions emulator, driven through the real @aws-sdk/client-sfn (AWS_ENDPOINT_URL_SFN),
// running the real cluster-onboarding workflow and handlers against the local world.
import {
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  GetExecutionHistoryCommand,
  HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DeployedStack, deployStackLocally, STACK_OUTPUTS } from '../local-world/deployed-stack';
import { createCluster, OnboardingWorld, startOnboardingWorld, STATUS_TABLE } from '../local-world/onboarding-world';

let w: OnboardingWorld;
let stack: DeployedStack;
let sfn: SFNClient;
let arn: string;

beforeAll(async () => {
  w = await startOnboardingWorld();
  stack = await deployStackLocally(w);
  arn = stack.stateMachineArns.cluster;
  sfn = new SFNClient({}); // endpoint, Region and credentials from the environment, as anywhere
});

afterAll(async () => {
  sfn?.destroy();
  await stack?.stop();
  await w?.stop();
});

async function errorOf(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  return promise.then(
    () => {
      throw new Error('expected an error, got success');
    },
    (error: Error) => error,
  );
}

async function history(executionArn: string, extra: { reverseOrder?: boolean; maxResults?: number } = {}): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken, ...extra }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

describe('the deployed stack', () => {
  it('has the real stack outputs in CloudFormation, reachable through AWS_ENDPOINT_URL_CLOUDFORMATION', async () => {
    const cfn = new CloudFormationClient({});
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: 'EksAviatrixOnboarding' }));
    cfn.destroy();
    const outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
    expect(Object.keys(outputs).sort()).toEqual([...STACK_OUTPUTS].sort());
    expect(outputs.ClusterStateMachineArn).toBe('arn:aws:states:us-east-1:123456789012:stateMachine:eks-aviatrix-cluster-onboarding');
    expect(outputs.StatusTableName).toBe(STATUS_TABLE);
    expect(process.env.CLUSTER_STATE_MACHINE_ARN).toBe(outputs.ClusterStateMachineArn);
    expect(process.env.NODEGROUP_STATE_MACHINE_ARN).toBe(outputs.NodegroupStateMachineArn);
    expect(process.env.OFFBOARDING_STATE_MACHINE_ARN).toBe(outputs.OffboardingStateMachineArn);
  });

  it('describes the state machine with its definition', async () => {
    const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(described.name).toBe('eks-aviatrix-cluster-onboarding');
    expect(described.type).toBe('STANDARD');
    expect(JSON.parse(described.definition!).StartAt).toBe('Start');
  });
});

describe('StartExecution', () => {
  it('runs the real workflow in the background to SUCCEEDED', async () => {
    await createCluster(w, { name: 'sfn-ok' });
    w.activateCluster('sfn-ok');
    const mark = w.world.log.mark();
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ clusterName: 'sfn-ok' }) }));
    expect(started.executionArn).toMatch(/^arn:aws:states:us-east-1:123456789012:execution:eks-aviatrix-cluster-onboarding:[0-9a-f-]{36}$/);
    expect(started.startDate).toBeInstanceOf(Date);
    // StartExecution answers at once: the run is still going.
    const early = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(early.status).toBe('RUNNING');
    expect(early.stopDate).toBeUndefined();

    await stack.sfn.waitForIdle();
    const done = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    expect(done).toMatchObject({ status: 'SUCCEEDED', name: started.executionArn!.split(':').pop(), stateMachineArn: arn, input: '{"clusterName":"sfn-ok"}' });
    expect(done.stopDate!.getTime()).toBeGreaterThanOrEqual(done.startDate!.getTime());
    const output = JSON.parse(done.output!) as { clusterName: string; status: string; changes: unknown[] };
    expect(output).toMatchObject({ clusterName: 'sfn-ok', status: 'ONBOARDED' });
    expect(output.changes.length).toBeGreaterThan(0);
    expect(w.world.log.since(mark).filter((c) => c.service === 'sfn').map((c) => [c.action, c.write])).toEqual([
      ['StartExecution', true],
      ['DescribeExecution', false],
      ['DescribeExecution', false],
    ]);

    const listed = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'SUCCEEDED' }));
    expect(listed.executions?.map((e) => e.executionArn)).toContain(started.executionArn);
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'RUNNING' }));
    expect(running.executions).toEqual([]);
  });

  it('is idempotent only for the same name and input while the first is RUNNING; otherwise ExecutionAlreadyExists', async () => {
    await createCluster(w, { name: 'sfn-dup' }); // CREATING: the run waits for it, so it stays RUNNING
    const input = JSON.stringify({ clusterName: 'sfn-dup' });
    const first = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input }));
    expect(first.executionArn).toBe('arn:aws:states:us-east-1:123456789012:execution:eks-aviatrix-cluster-onboarding:dup-1');

    const again = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input }));
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    expect(stack.sfn.executions().filter((e) => e.name === 'dup-1')).toHaveLength(1);

    const other = await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input: JSON.stringify({ clusterName: 'sfn-dup', dryRun: true }) })));
    expect(other.name).toBe('ExecutionAlreadyExists');
    expect(other.$metadata?.httpStatusCode).toBe(400);

    w.activateCluster('sfn-dup');
    await stack.sfn.waitForIdle();
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn: first.executionArn }))).status).toBe('SUCCEEDED');
    const afterEnd = await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'dup-1', input })));
    expect(afterEnd.name).toBe('ExecutionAlreadyExists');
    expect(afterEnd.message).toContain(first.executionArn);
  });

  it('answers the service errors for bad requests', async () => {
    expect((await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: `${arn}-nope` })))).name).toBe('StateMachineDoesNotExist');
    expect((await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: '{oops' })))).name).toBe('InvalidExecutionInput');
    expect((await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'has space' })))).name).toBe('InvalidName');
    expect((await errorOf(sfn.send(new StartExecutionCommand({ stateMachineArn: 'not-an-arn' })))).name).toBe('InvalidArn');
    expect((await errorOf(sfn.send(new DescribeExecutionCommand({ executionArn: `${arn.replace(':stateMachine:', ':execution:')}:nope` })))).name).toBe('ExecutionDoesNotExist');
  });
});

describe('ListExecutions', () => {
  it('lists newest first and pages with nextToken', async () => {
    const names = ['list-a', 'list-b', 'list-c'];
    for (const name of names) {
      await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify({ clusterName: 'no-such-cluster-list' }) }));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await stack.sfn.waitForIdle();
    const first = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'FAILED', maxResults: 2 }));
    expect(first.executions?.map((e) => e.name)).toEqual(['list-c', 'list-b']);
    expect(first.nextToken).toBeDefined();
    const second = await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, statusFilter: 'FAILED', maxResults: 2, nextToken: first.nextToken }));
    expect(second.executions?.map((e) => e.name)).toEqual(['list-a']);
    expect(second.nextToken).toBeUndefined();
  });
});

describe('GetExecutionHistory', () => {
  it('records the states entered and exited and the failure, with error and cause', async () => {
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name: 'history-1', input: JSON.stringify({ clusterName: 'ghost' }) }));
    await stack.sfn.waitForIdle();
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(described.status).toBe('FAILED');
    expect(described.error).toBe('ClusterNotFound');
    expect(JSON.parse(described.cause!)).toMatchObject({ errorType: 'ClusterNotFound', errorMessage: expect.stringContaining('"ghost" does not exist in us-east-1') });

    const events = await history(executionArn!, { maxResults: 3 });
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]).toMatchObject({ type: 'ExecutionStarted', executionStartedEventDetails: { input: '{"clusterName":"ghost"}' } });
    const summary = events.map((e) => [e.type, e.stateEnteredEventDetails?.name ?? e.stateExitedEventDetails?.name]);
    expect(summary).toEqual(
      expect.arrayContaining([
        ['PassStateEntered', 'Start'],
        ['PassStateExited', 'Start'],
        ['TaskStateEntered', 'ResolveCluster'],
        ['TaskStateEntered', 'RecordFailure'],
        ['FailStateEntered', 'Failed'],
      ]),
    );
    const lambdaFailed = events.find((e) => e.type === 'LambdaFunctionFailed');
    expect(lambdaFailed?.lambdaFunctionFailedEventDetails?.error).toBe('ClusterNotFound');
    const last = events[events.length - 1];
    expect(last.type).toBe('ExecutionFailed');
    expect(last.executionFailedEventDetails).toEqual({ error: 'ClusterNotFound', cause: described.cause });
    expect(last.timestamp).toBeInstanceOf(Date);

    const reversed = await history(executionArn!, { reverseOrder: true });
    expect(reversed.map((e) => e.id)).toEqual(events.map((e) => e.id).reverse());
  });

  it('ends a successful run with ExecutionSucceeded carrying the output', async () => {
    await createCluster(w, { name: 'sfn-hist' });
    w.activateCluster('sfn-hist');
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: arn, input: JSON.stringify({ clusterName: 'sfn-hist', dryRun: true }) }));
    await stack.sfn.waitForIdle();
    const events = await history(executionArn!);
    const entered = events.filter((e) => e.type?.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails!.name);
    expect(entered).toEqual(expect.arrayContaining(['ResolveCluster', 'PodNetwork', 'VpcCni', 'ConfigureController', 'OnboardToController', 'ConfigureGatewaySnat', 'RecordOutcome', 'Done']));
    expect(events.find((e) => e.stateEnteredEventDetails?.name === 'ConfigureController')?.type).toBe('ParallelStateEntered');
    const last = events[events.length - 1];
    expect(last.type).toBe('ExecutionSucceeded');
    expect(JSON.parse(last.executionSucceededEventDetails!.output!)).toMatchObject({ clusterName: 'sfn-hist', status: 'PLANNED' });
  });
});
