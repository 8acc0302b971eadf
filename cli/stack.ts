// Finds the deployed onboarding: by default from its names (the naming prefix, lib/names.ts, and the
// caller's account), with no lookup; with --stack, from that stack's Outputs (a deployment whose
// prefix the user does not know, or one from before the names were stable).
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { DEFAULT_NAME_PREFIX, resourceNames } from '../lib/names';
import { Clients, explainAwsError } from './aws';
import { CliError, EXIT_USAGE } from './errors';

export const DEFAULT_STACK = 'EksAviatrixOnboarding';

/** The Outputs the stack declares, by what the CLI calls them. */
export const OUTPUTS = {
  clusterStateMachineArn: 'ClusterStateMachineArn',
  nodegroupStateMachineArn: 'NodegroupStateMachineArn',
  offboardingStateMachineArn: 'OffboardingStateMachineArn',
  statusTableName: 'StatusTableName',
} as const;

export type OutputName = keyof typeof OUTPUTS;

export interface DeployedStack {
  name: string;
  region: string;
  outputs: Record<string, string>;
  /** An output's value, or a clear error naming the missing output. */
  require(output: OutputName): string;
}

export function stackName(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EKS_AVIATRIX_STACK || DEFAULT_STACK);
}

/** --stack or $EKS_AVIATRIX_STACK: read that stack's Outputs instead of computing the names. */
export function usesStackOutputs(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return flag !== undefined || Boolean(env.EKS_AVIATRIX_STACK);
}

export function namePrefix(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.EKS_AVIATRIX_PREFIX || DEFAULT_NAME_PREFIX);
}

/** The deployment named from `prefix` in the caller's account and the Region. */
export async function namedDeployment(clients: Clients, prefix: string): Promise<DeployedStack> {
  let names: ReturnType<typeof resourceNames>;
  try {
    names = resourceNames(prefix);
  } catch (error) {
    throw new CliError(`--prefix: ${(error as Error).message}`, EXIT_USAGE);
  }
  let callerArn: string;
  try {
    callerArn = (await clients.sts.send(new GetCallerIdentityCommand({}))).Arn ?? '';
  } catch (error) {
    throw explainAwsError(error);
  }
  const [, partition, , , account] = callerArn.split(':');
  const machineArn = (name: string) => `arn:${partition}:states:${clients.region}:${account}:stateMachine:${name}`;
  const outputs: Record<string, string> = {
    [OUTPUTS.clusterStateMachineArn]: machineArn(names.stateMachines.ClusterOnboarding),
    [OUTPUTS.nodegroupStateMachineArn]: machineArn(names.stateMachines.NodegroupOnboarding),
    [OUTPUTS.offboardingStateMachineArn]: machineArn(names.stateMachines.ClusterOffboarding),
    [OUTPUTS.statusTableName]: names.statusTable,
  };
  return { name: prefix, region: clients.region, outputs, require: (output) => outputs[OUTPUTS[output]] };
}

export async function readStack(clients: Clients, name: string): Promise<DeployedStack> {
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: name }));
    const stack = Stacks?.[0];
    if (!stack || stack.StackStatus === 'DELETE_COMPLETE') throw notDeployed(name, clients.region);
    outputs = Object.fromEntries((stack.Outputs ?? []).filter((o) => o.OutputKey && o.OutputValue).map((o) => [o.OutputKey!, o.OutputValue!]));
  } catch (error) {
    const e = error as Error;
    if (e.name === 'ValidationError' && /does not exist/.test(e.message)) throw notDeployed(name, clients.region);
    throw explainAwsError(error);
  }
  return {
    name,
    region: clients.region,
    outputs,
    require(output) {
      const key = OUTPUTS[output];
      const value = outputs[key];
      if (!value) {
        throw new CliError(`Stack ${name} in ${clients.region} has no output ${key}: it is from an older version or not fully deployed. Deploy it again with \`npx cdk deploy\`.`);
      }
      return value;
    },
  };
}

function notDeployed(name: string, region: string): CliError {
  return new CliError(`Stack ${name} is not deployed in ${region}. Deploy it with \`npx cdk deploy\`, or pass --stack NAME.`);
}
