// The AWS clients the CLI uses, configured by the SDK's own resolution (credential chain, Region,
// AWS_ENDPOINT_URL_<SERVICE>), and the translation of the SDK's errors into one clear line each.
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { CliError } from './errors';

export interface Clients {
  region: string;
  cloudformation: CloudFormationClient;
  sfn: SFNClient;
  dynamodb: DynamoDBClient;
  /** Whose account the named resources are in (GetCallerIdentity). */
  sts: STSClient;
  destroy(): void;
}

export const NO_CREDENTIALS = 'No AWS credentials found. Configure them (aws configure, AWS_PROFILE or environment variables) and try again.';
export const NO_REGION = 'No AWS Region configured. Pass --region, set AWS_REGION, or set one in your profile (aws configure).';

/** Creates the clients and resolves the Region (failing clearly when there is none). */
export async function createClients(region?: string): Promise<Clients> {
  const config = region ? { region } : {};
  const cloudformation = new CloudFormationClient(config);
  const sfn = new SFNClient(config);
  const dynamodb = new DynamoDBClient(config);
  const sts = new STSClient(config);
  const destroy = () => {
    cloudformation.destroy();
    sfn.destroy();
    dynamodb.destroy();
    sts.destroy();
  };
  let resolved: string;
  try {
    resolved = await cloudformation.config.region();
  } catch (error) {
    destroy();
    throw explainAwsError(error);
  }
  if (!resolved) {
    destroy();
    throw new CliError(NO_REGION);
  }
  return { region: resolved, cloudformation, sfn, dynamodb, sts, destroy };
}

type AwsError = Error & { $metadata?: { httpStatusCode?: number }; Code?: string };

/** An SDK error as the one line a person needs; CliErrors pass through. */
export function explainAwsError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const e = (error instanceof Error ? error : new Error(String(error))) as AwsError;
  if (e.name === 'CredentialsProviderError') return new CliError(NO_CREDENTIALS);
  if (/Region is missing/i.test(e.message) || /Region not accepted: region=""/.test(e.message)) return new CliError(NO_REGION);
  if (/Region not accepted/.test(e.message)) return new CliError(`Invalid AWS Region: ${oneLine(e.message)}`);
  if (/^(ExpiredToken|ExpiredTokenException|RequestExpired)$/.test(e.name)) {
    return new CliError(`Your AWS credentials have expired (${e.name}). Refresh them and try again.`);
  }
  if (/^(InvalidClientTokenId|UnrecognizedClientException|SignatureDoesNotMatch|InvalidSignatureException)$/.test(e.name)) {
    return new CliError(`AWS rejected your credentials (${e.name}). Check them (aws sts get-caller-identity) and try again.`);
  }
  if (/AccessDenied/.test(e.name)) return new CliError(`Access denied: ${oneLine(e.message)}`);
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EAI_AGAIN'].includes((e as { code?: string }).code ?? '')) {
    return new CliError(`Cannot reach AWS (${(e as { code?: string }).code}): ${oneLine(e.message)}`);
  }
  return new CliError(`${e.name}: ${oneLine(e.message)}`);
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
