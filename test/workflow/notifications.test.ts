// The notification a person receives, rendered from REAL executions of the local world (the real
// ASL on the Step Functions emulator, the real handlers, the status table in moto) and delivered
// through SNS (moto) to a subscribed SQS queue, as the deployed topic would deliver it.
import { aviatrixClient } from '../../lambdas/aviatrix/client';
import { handler as notify } from '../../lambdas/notify/handler';
import { ExecutionStatusDetail } from '../../lambdas/domain/notification';
import { createCluster, OnboardingWorld } from '../local-world/onboarding-world';
import { DeployedStack } from '../local-world/deployed-stack';
import { Inbox } from '../local-world/notification-inbox';
import { executeToEnd, NotifyingWorld, startNotifyingWorld, statusChange } from '../local-world/execute';

let w: OnboardingWorld;
let stack: DeployedStack;
let mailbox: Inbox;

let world: NotifyingWorld;

beforeAll(async () => {
  world = await startNotifyingWorld();
  ({ w, stack, mailbox } = world);
}, 120_000);

afterAll(async () => {
  await world?.stop();
});


/** Runs a workflow on the emulator and returns the EventBridge status-change detail of its end. */
const execute = (input: Record<string, unknown>) => executeToEnd(w, stack, input);

const inbox = () => mailbox.receive();
const event = statusChange;

describe('a failed onboarding (someone else\'s SmartGroup has the cluster\'s VPC group name)', () => {
  it('publishes one message with the cluster, workflow, failed step, error, what was applied, the console link and the re-run command', async () => {
    await createCluster(w, { name: 'notify-fail' });
    w.activateCluster('notify-fail');
    await aviatrixClient(w.config.aviatrix as never).createSmartGroup({ name: 'notify-fail-vpc', selector: { any: [{ all: { type: 'vpc', res_id: 'vpc-someone-else' } }] } });
    const detail = await execute({ clusterName: 'notify-fail' });
    expect(detail.status).toBe('FAILED');

    const result = await notify(event(detail));
    expect(result.published).toBe(true);
    const [message, ...others] = await inbox();
    expect(others).toEqual([]);
    expect(message.Subject).toBe('[eks-aviatrix] notify-fail: onboarding FAILED at OnboardToController: GatewayConflict');
    const lines = message.Message.split('\n');
    expect(lines[0]).toBe('The onboarding workflow for EKS cluster "notify-fail" failed.');
    expect(lines).toContain('Cluster:     notify-fail');
    expect(lines).toContain('Workflow:    onboarding (trigger Manual)');
    expect(lines).toContain(`Execution:   ${detail.executionArn.split(':').pop()}`);
    expect(lines).toContain('Status:      FAILED');
    expect(lines).toContain('Failed step: OnboardToController');
    expect(lines).toContain('Error:       GatewayConflict');
    expect(lines.find((l) => l.startsWith('Message:'))).toContain('cluster notify-fail\'s ownership record does not claim it');
    // What the run had applied before the failure: the pod network, the ENIConfigs, the gateway SNAT.
    const from = lines.indexOf('Applied before the failure:') + 1;
    const applied = lines.slice(from, lines.indexOf('', from));
    expect(applied).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}- associate vpc-\w+ \(secondary CIDR 100\.64\.0\.0\/16\)$/),
      expect.stringMatching(/^ {2}- create ENIConfig us-east-1a /),
      expect.stringMatching(/^ {2}- create ENIConfig us-east-1b /),
    ]));
    expect(lines).toContain(
      `Console:     https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${detail.executionArn}`,
    );
    expect(lines).toContain('Run again:   npx eks-aviatrix run notify-fail');
    // Every error is caught into the failure record: a redrive would only fail again.
    expect(message.Message).not.toContain('redrive-execution');
  });
});

describe('a run the preflight stopped (the controller\'s Kubernetes feature is off)', () => {
  it('says it was refused, with the reason and the fix, and that nothing was changed', async () => {
    await createCluster(w, { name: 'notify-k8s-off' });
    w.activateCluster('notify-k8s-off');
    w.controller.setFeature('k8s', false);
    let detail: ExecutionStatusDetail;
    try {
      detail = await execute({ clusterName: 'notify-k8s-off' });
    } finally {
      w.controller.setFeature('k8s', true);
    }
    await notify(event(detail));
    const [message] = await inbox();
    expect(message.Subject).toBe('[eks-aviatrix] notify-k8s-off refused: onboarding');
    expect(message.Message).toContain('Failed step: ControllerPreflight');
    expect(message.Message).toContain('Reason, fix: the Aviatrix controller\'s Kubernetes feature ("k8s") is disabled, so cluster notify-k8s-off cannot be onboarded; enable it');
    expect(message.Message).toContain('Applied before the failure:\n  nothing: a refusal is decided before any write');
  });
});

describe('a refused cluster', () => {
  it('says it was refused, with the reason and the fix, and that nothing was changed', async () => {
    await createCluster(w, { name: 'notify-configmap', authenticationMode: 'CONFIG_MAP' });
    w.activateCluster('notify-configmap');
    const detail = await execute({ clusterName: 'notify-configmap' });
    await notify(event(detail));
    const [message] = await inbox();
    expect(message.Subject).toBe('[eks-aviatrix] notify-configmap refused: onboarding');
    expect(message.Message).toContain('The onboarding workflow for EKS cluster "notify-configmap" was REFUSED');
    expect(message.Message).toContain('Failed step: ResolveCluster');
    expect(message.Message).toContain(
      'Reason, fix: EKS cluster "notify-configmap" uses authentication mode CONFIG_MAP, which does not allow access entries; switch it with ' +
        '"aws eks update-cluster-config --name notify-configmap --access-config authenticationMode=API_AND_CONFIG_MAP" and run again',
    );
    expect(message.Message).toContain('Applied before the failure:\n  nothing: a refusal is decided before any write');
  });
});

describe('successful runs', () => {
  it('an onboarding that needs nothing from anyone publishes nothing; drift repair that changed something does', async () => {
    await createCluster(w, { name: 'notify-drift' });
    w.activateCluster('notify-drift');
    const first = await execute({ clusterName: 'notify-drift' });
    expect(first.status).toBe('SUCCEEDED');
    expect(await notify(event(first))).toEqual({ published: false });

    // A drift-repair run with nothing to repair is silent too.
    const quiet = await execute({ clusterName: 'notify-drift', trigger: 'DriftRepair' });
    expect(await notify(event(quiet))).toEqual({ published: false });
    expect(await inbox()).toEqual([]);

    w.world.kube.deleteEniConfig('notify-drift', 'us-east-1b');
    const repair = await execute({ clusterName: 'notify-drift', trigger: 'DriftRepair' });
    expect(repair.status).toBe('SUCCEEDED');
    await notify(event(repair));
    const [message] = await inbox();
    expect(message.Subject).toBe('[eks-aviatrix] notify-drift: drift repaired (1)');
    expect(message.Message).toContain('Drift repaired (1 changes made by hand were undone):\n  - create ENIConfig us-east-1b');
  });
});

describe('bad input', () => {
  it('refuses an execution of a state machine that is not one of the stack\'s', async () => {
    const detail: ExecutionStatusDetail = {
      executionArn: 'arn:aws:states:us-east-1:123456789012:execution:other:x',
      stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:other',
      name: 'x',
      status: 'FAILED',
      input: '{"clusterName":"a"}',
    };
    await expect(notify(event(detail))).rejects.toThrow(
      'state machine arn:aws:states:us-east-1:123456789012:stateMachine:other is not one of this stack\'s workflows',
    );
  });
});
