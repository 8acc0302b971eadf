// The three Standard state machines, loaded from state-machines/*.asl.json (cluster onboarding,
// node-group onboarding, cluster offboarding) and named from the naming prefix (lib/names.ts).
// Each machine's role may invoke only the functions its own ASL references.
import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { OnboardingConfig } from './config';
import { FunctionName, STEP_FUNCTIONS } from './functions';
import { ResourceNames, WORKFLOW_SUFFIXES } from './names';
import { ASL_DIR } from './package-root';

/** The workflows. `output` is a stack output the CLI can read; `env` is how start-workflow finds it. */
export const STATE_MACHINES = [
  { id: 'ClusterOnboarding', file: `${WORKFLOW_SUFFIXES.ClusterOnboarding}.asl.json`, output: 'ClusterStateMachineArn', env: 'CLUSTER_STATE_MACHINE_ARN' },
  { id: 'NodegroupOnboarding', file: `${WORKFLOW_SUFFIXES.NodegroupOnboarding}.asl.json`, output: 'NodegroupStateMachineArn', env: 'NODEGROUP_STATE_MACHINE_ARN' },
  { id: 'ClusterOffboarding', file: `${WORKFLOW_SUFFIXES.ClusterOffboarding}.asl.json`, output: 'OffboardingStateMachineArn', env: 'OFFBOARDING_STATE_MACHINE_ARN' },
] as const;

export type MachineId = (typeof STATE_MACHINES)[number]['id'];

export const aslPath = (machine: { file: string }): string => path.join(ASL_DIR, machine.file);

/** `${Name}` placeholders of an ASL file. */
export function aslSubstitutionNames(aslText: string): string[] {
  return [...new Set([...aslText.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]))];
}

/** The config-bounded waits each workflow must outlast, with the keys that bound them. */
export function machineWaits(id: MachineId, c: OnboardingConfig): { seconds: number; keys: string[] } {
  switch (id) {
    case 'ClusterOnboarding':
      return {
        seconds: c.clusterActiveTimeoutSeconds + c.addonUpdateTimeoutSeconds,
        keys: ['onboarding.clusterActiveTimeoutSeconds', 'onboarding.addonUpdateTimeoutSeconds'],
      };
    case 'NodegroupOnboarding':
      // The cluster is ACTIVE before a node group can exist, but its vpc-cni step may still wait
      // for an add-on update; then the node group to be ACTIVE and, when allowed, the replacement.
      return {
        seconds: c.addonUpdateTimeoutSeconds + c.nodegroupActiveTimeoutSeconds * (c.allowNodeReplacement ? 2 : 1),
        keys: [
          'onboarding.addonUpdateTimeoutSeconds',
          `onboarding.nodegroupActiveTimeoutSeconds${c.allowNodeReplacement ? ' x2 (allowNodeReplacement)' : ''}`,
        ],
      };
    case 'ClusterOffboarding':
      return { seconds: 0, keys: [] };
  }
}

export interface WorkflowsProps {
  config: OnboardingConfig;
  names: ResourceNames;
  functions: Record<FunctionName, lambda.IFunction>;
  pollIntervalSeconds: number;
  logRetention: logs.RetentionDays;
}

export class Workflows extends Construct {
  readonly stateMachines: Record<MachineId, sfn.StateMachine>;

  constructor(scope: Construct, id: string, props: WorkflowsProps) {
    super(scope, id);
    this.stateMachines = Object.fromEntries(STATE_MACHINES.map((m) => [m.id, this.stateMachine(m, props)])) as Record<MachineId, sfn.StateMachine>;
  }

  private stateMachine(m: (typeof STATE_MACHINES)[number], props: WorkflowsProps): sfn.StateMachine {
    const id = m.id;
    const file = aslPath(m);
    const stateMachineName = props.names.stateMachines[id];
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      logGroupName: props.names.stateMachineLogGroup(stateMachineName),
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('states.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
      description: `eks-aviatrix-onboarding ${id} state machine: invokes exactly the functions its ASL references`,
    });
    // The same substitution map for every machine; each machine's role may invoke only the
    // functions its own ASL references (read from the file, unqualified ARNs, no `:*` versions).
    const substitutions: Record<string, string> = {
      ...Object.fromEntries(STEP_FUNCTIONS.map((step) => [step.substitution, props.functions[step.name].functionArn])),
      PollIntervalSeconds: String(props.pollIntervalSeconds),
    };
    const used = aslSubstitutionNames(fs.readFileSync(file, 'utf8'));
    const unknown = used.filter((name) => !(name in substitutions));
    if (unknown.length > 0) {
      Annotations.of(role).addError(
        `${m.file} uses ${unknown.map((n) => `\${${n}}`).join(', ')}, which the stack does not substitute ` +
          `(known: ${Object.keys(substitutions).join(', ')})`,
      );
    }
    const invoked = STEP_FUNCTIONS.filter((step) => used.includes(step.substitution));
    if (invoked.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'InvokeStepFunctions',
          actions: ['lambda:InvokeFunction'],
          resources: invoked.map((step) => props.functions[step.name].functionArn),
        }),
      );
    }
    const machine = new sfn.StateMachine(this, id, {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromFile(file),
      definitionSubstitutions: substitutions,
      role,
      // ALL gives every state transition; execution data stays out: state inputs/outputs carry the
      // CloudTrail event (caller identity, source IP) and step results, and a log group is read by
      // more people than the execution history. Failures are still visible through error/cause.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      // No `timeout` here: CDK applies it only to chain-built definitions and ignores it for
      // DefinitionBody.fromFile. The machine's TimeoutSeconds lives in the ASL (checked below).
    });
    checkMachineTimeout(machine, file, machineWaits(id, props.config));
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Added by CDK for Step Functions logging and tracing: logs:*LogDelivery/PutResourcePolicy/Describe* and ' +
            'xray:PutTraceSegments/GetSampling* are account-level APIs with no resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
    return machine;
  }
}

/**
 * A machine-wide TimeoutSeconds lives in the ASL file; it must leave room for the waits the config
 * allows, or long-but-legal waits end as a timeout.
 */
function checkMachineTimeout(machine: sfn.StateMachine, file: string, needed: { seconds: number; keys: string[] }): void {
  const text = fs.readFileSync(file, 'utf8').replace(/\$\{\w+\}/g, '0');
  let timeout: unknown;
  try {
    timeout = (JSON.parse(text) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  } catch (error) {
    Annotations.of(machine).addError(`${path.basename(file)} is not valid JSON: ${(error as Error).message}`);
    return;
  }
  if (typeof timeout !== 'number') {
    Annotations.of(machine).addError(`${path.basename(file)} has no numeric top-level TimeoutSeconds`);
  } else if (timeout <= needed.seconds) {
    Annotations.of(machine).addError(
      `${path.basename(file)} TimeoutSeconds (${timeout}) must exceed ${needed.keys.join(' + ')} ` +
        `(${needed.seconds}); lower those or raise the machine's TimeoutSeconds`,
    );
  }
}
