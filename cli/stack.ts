// Finds the deployed stack and reads what the CLI needs from its Outputs.
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Clients, explainAwsError } from './aws';
import { CliError } from './errors';

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
