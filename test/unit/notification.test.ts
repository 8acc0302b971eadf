// lambdas/domain/notification.ts on histories and records the local world does not produce on
// demand: a run that timed out or was stopped, a retried step, node-group warnings, long names.
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { failedStepOf, renderExecutionNotice, ExecutionStatusDetail } from '../../lambdas/domain/notification';

let id = 0;
const entered = (type: string, name: string): HistoryEvent => ({ id: ++id, timestamp: new Date(), type: `${type}StateEntered` as never, stateEnteredEventDetails: { name } });
const exited = (type: string, name: string): HistoryEvent => ({ id: ++id, timestamp: new Date(), type: `${type}StateExited` as never, stateExitedEventDetails: { name } });
const event = (type: string): HistoryEvent => ({ id: ++id, timestamp: new Date(), type: type as never });

const ARN = 'arn:aws:states:eu-west-1:111122223333:execution:ClusterOnboarding-abc:run-1';
const detail = (over: Partial<ExecutionStatusDetail>): ExecutionStatusDetail => ({
  executionArn: ARN,
  stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:ClusterOnboarding-abc',
  name: 'run-1',
  status: 'FAILED',
  input: '{"clusterName":"prod-a","trigger":"CreateCluster","eventId":"e-1"}',
  ...over,
});

describe('failedStepOf', () => {
  it('a retried failure that then succeeded is not the failed step; the caught one is', () => {
    const history = [
      entered('Task', 'PodNetwork'), event('LambdaFunctionScheduled'), event('LambdaFunctionFailed'), event('LambdaFunctionScheduled'), exited('Task', 'PodNetwork'),
      entered('Task', 'VpcCni'), event('LambdaFunctionScheduled'), event('LambdaFunctionFailed'), exited('Task', 'VpcCni'),
      entered('Task', 'RecordFailure'), event('LambdaFunctionFailed'), exited('Task', 'RecordFailure'),
    ];
    expect(failedStepOf(history)).toBe('VpcCni');
  });

  it('a run that timed out or was stopped: the step it was still in (a Wait counts)', () => {
    expect(failedStepOf([entered('Task', 'ResolveCluster'), exited('Task', 'ResolveCluster'), entered('Wait', 'WaitForCluster')])).toBe('WaitForCluster');
    expect(failedStepOf([entered('Parallel', 'ConfigureController'), entered('Task', 'OnboardToController'), entered('Task', 'ConfigureGatewaySnat'), exited('Task', 'ConfigureGatewaySnat')]))
      .toBe('OnboardToController');
    expect(failedStepOf([])).toBeUndefined();
  });
});

describe('renderExecutionNotice', () => {
  it('a timed-out run: no failure record, the step it was in, and redrive offered', () => {
    const notice = renderExecutionNotice(detail({ status: 'TIMED_OUT', error: null, cause: null }), { workflow: 'onboarding', failedStep: 'WaitForCni' })!;
    expect(notice.subject).toBe('[eks-aviatrix] prod-a: onboarding TIMED_OUT at WaitForCni: States.Timeout');
    expect(notice.message).toContain('The onboarding workflow for EKS cluster "prod-a" timed out.');
    expect(notice.message).toContain('Message:     the execution ran longer than its TimeoutSeconds and was ended by Step Functions');
    expect(notice.message).toContain('  not recorded: the run ended before its failure record; the execution history shows each step\'s result');
    expect(notice.message).toContain(`aws stepfunctions redrive-execution --execution-arn ${ARN}`);
  });

  it('an aborted offboarding: re-run with the aws CLI on its state machine', () => {
    const notice = renderExecutionNotice(detail({ status: 'ABORTED', error: null, cause: null }), { workflow: 'offboarding' })!;
    expect(notice.message).toContain('someone or something stopped the execution (StopExecution)');
    expect(notice.message).toContain(
      'Run again:   aws stepfunctions start-execution --state-machine-arn arn:aws:states:eu-west-1:111122223333:stateMachine:ClusterOnboarding-abc --input \'{"clusterName":"prod-a"}\'',
    );
  });

  it('a node-group run that reports nodes to replace; a plain success says nothing', () => {
    const input = '{"clusterName":"prod-a","nodegroupName":"ng-1","trigger":"CreateNodegroup"}';
    const record = { clusterName: 'prod-a', executionId: ARN, changes: '[]', warnings: JSON.stringify(['node ip-10-0-1-5 started before ENIConfig us-east-1a: replace it']) };
    const notice = renderExecutionNotice(detail({ status: 'SUCCEEDED', input }), { workflow: 'nodegroup', record })!;
    expect(notice.subject).toBe('[eks-aviatrix] prod-a: 1 to act on');
    expect(notice.message).toContain('To act on (nodes to replace, pod capacity):\n  - node ip-10-0-1-5 started before ENIConfig us-east-1a: replace it');
    expect(notice.message).toContain('Run again:   npx eks-aviatrix run prod-a --nodegroup ng-1');
    expect(renderExecutionNotice(detail({ status: 'SUCCEEDED', input }), { workflow: 'nodegroup', record: { ...record, warnings: '' } })).toBeUndefined();
    expect(renderExecutionNotice(detail({ status: 'SUCCEEDED', input }), { workflow: 'nodegroup' })).toBeUndefined();
  });

  it('subjects stay within SNS\'s 100 characters', () => {
    const long = 'c'.repeat(100);
    const notice = renderExecutionNotice(detail({ input: `{"clusterName":"${long}"}`, error: 'ControllerError', cause: 'x' }), { workflow: 'onboarding' })!;
    expect(notice.subject).toHaveLength(100);
    expect(notice.subject.endsWith('...')).toBe(true);
  });
});
