// "Deploys" the stack into the local world: the Step Functions emulator with our state machines
// registered under the ARNs the real stack gives them, and a CloudFormation stack in moto named
// like the real one, with the same Outputs, so the CLI (and anything else reading the stack) finds
// everything through DescribeStacks exactly as it would in an account.
import fs from 'node:fs';
import path from 'node:path';
import { CloudFormationClient, CreateStackCommand, DeleteStackCommand } from '@aws-sdk/client-cloudformation';
import { OnboardingWorld, STATUS_TABLE } from './onboarding-world';
import { SfnEmulator, startSfnEmulator } from './sfn-emulator';

export const STACK_NAME = 'EksAviatrixOnboarding';

/** The environment variables the starter Lambdas read the state machine ARNs from. */
export const CLUSTER_STATE_MACHINE_ARN = 'CLUSTER_STATE_MACHINE_ARN';
export const NODEGROUP_STATE_MACHINE_ARN = 'NODEGROUP_STATE_MACHINE_ARN';
export const OFFBOARDING_STATE_MACHINE_ARN = 'OFFBOARDING_STATE_MACHINE_ARN';

/** The stack's Outputs, as the real stack declares them. */
export const STACK_OUTPUTS = ['ClusterStateMachineArn', 'NodegroupStateMachineArn', 'OffboardingStateMachineArn', 'StatusTableName'] as const;

const STATE_MACHINES_DIR = path.resolve(__dirname, '..', '..', 'state-machines');

export interface StateMachineArns {
  cluster: string;
  nodegroup: string;
  offboarding: string;
}

export interface DeployedStack {
  sfn: SfnEmulator;
  stackName: string;
  stateMachineArns: StateMachineArns;
  /** Which of the three ASL files exist and are registered with the emulator. */
  registered: (keyof StateMachineArns)[];
  /** Why a state machine is not registered (its ASL is missing or does not load); starting it answers StateMachineDoesNotExist. */
  unavailable: Partial<Record<keyof StateMachineArns, string>>;
  /** Waits (bounded) for running executions, stops the emulator and restores the environment. */
  stop(): Promise<void>;
}

const FILES: Record<keyof StateMachineArns, string> = {
  cluster: 'cluster-onboarding.asl.json',
  nodegroup: 'nodegroup-onboarding.asl.json',
  offboarding: 'cluster-offboarding.asl.json',
};

export function stateMachineArn(region: string, accountId: string, file: string): string {
  return `arn:aws:states:${region}:${accountId}:stateMachine:eks-aviatrix-${file.replace(/\.asl\.json$/, '')}`;
}

export async function deployStackLocally(w: OnboardingWorld, options: { waitMs?: number; retryMs?: number } = {}): Promise<DeployedStack> {
  const { region, accountId } = w.world;
  const sfn = await startSfnEmulator({ log: w.world.log, region, accountId, ...options });
  try {
    const stateMachineArns = Object.fromEntries(
      Object.entries(FILES).map(([key, file]) => [key, stateMachineArn(region, accountId, file)]),
    ) as unknown as StateMachineArns;
    const registered: (keyof StateMachineArns)[] = [];
    const unavailable: Partial<Record<keyof StateMachineArns, string>> = {};
    for (const [key, file] of Object.entries(FILES) as [keyof StateMachineArns, string][]) {
      if (key !== 'cluster' && !fs.existsSync(path.join(STATE_MACHINES_DIR, file))) {
        unavailable[key] = `${file} does not exist`;
        continue;
      }
      try {
        sfn.register(stateMachineArns[key], file);
        registered.push(key);
      } catch (error) {
        // A workflow still being written must not take the others down with it; the cluster one must load.
        if (key === 'cluster') throw error;
        unavailable[key] = error instanceof Error ? error.message : String(error);
      }
    }

    const outputs: Record<(typeof STACK_OUTPUTS)[number], string> = {
      ClusterStateMachineArn: stateMachineArns.cluster,
      NodegroupStateMachineArn: stateMachineArns.nodegroup,
      OffboardingStateMachineArn: stateMachineArns.offboarding,
      StatusTableName: STATUS_TABLE,
    };
    const template = {
      AWSTemplateFormatVersion: '2010-09-09',
      Description: 'Local stand-in for EksAviatrixOnboarding: only its Outputs are real',
      Resources: {
        // moto needs at least one resource it can create.
        DeploymentMarker: {
          Type: 'AWS::SSM::Parameter',
          Properties: { Name: '/eks-aviatrix/local-world/deployed', Type: 'String', Value: 'true' },
        },
      },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
    };
    const cfn = new CloudFormationClient({ endpoint: w.world.motoDirectEndpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    try {
      await cfn.send(new CreateStackCommand({ StackName: STACK_NAME, TemplateBody: JSON.stringify(template) }));
    } finally {
      cfn.destroy();
    }

    const env: Record<string, string> = {
      AWS_ENDPOINT_URL_SFN: sfn.url,
      AWS_ENDPOINT_URL_CLOUDFORMATION: w.world.motoEndpoint,
      [CLUSTER_STATE_MACHINE_ARN]: stateMachineArns.cluster,
      [NODEGROUP_STATE_MACHINE_ARN]: stateMachineArns.nodegroup,
      [OFFBOARDING_STATE_MACHINE_ARN]: stateMachineArns.offboarding,
    };
    const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);

    return {
      sfn,
      stackName: STACK_NAME,
      stateMachineArns,
      registered,
      unavailable,
      async stop() {
        for (const [key, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
        await sfn.stop();
        const client = new CloudFormationClient({ endpoint: w.world.motoDirectEndpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
        await client.send(new DeleteStackCommand({ StackName: STACK_NAME })).catch(() => undefined);
        client.destroy();
      },
    };
  } catch (error) {
    await sfn.stop();
    throw error;
  }
}
