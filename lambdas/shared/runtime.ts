// What a Lambda learns from its environment: the validated config and the resources CDK made.
// Parsed once per container; a bad value fails the invocation with the config key named.
import { OnboardingConfig, parseConfig } from '../../lib/config';
import { OnboardingError } from './errors';

export interface Runtime {
  config: OnboardingConfig;
  statusTableName?: string;
  leaseTableName?: string;
  /** The IAM role the vpc-cni step runs as; it grants itself an EKS access entry. */
  reconcilerRoleArn?: string;
}

let cached: { text: string; runtime: Runtime } | undefined;

export function runtime(): Runtime {
  const text = process.env.ONBOARDING_CONFIG;
  if (cached && cached.text === text) return cached.runtime;
  if (!text) {
    throw new OnboardingError('ConfigError', 'ONBOARDING_CONFIG is not set on this function; redeploy the stack with `cdk deploy`');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OnboardingError('ConfigError', 'ONBOARDING_CONFIG is not valid JSON; redeploy the stack with `cdk deploy`');
  }
  const parsed: Runtime = {
    config: parseConfig(raw),
    statusTableName: process.env.STATUS_TABLE_NAME || undefined,
    leaseTableName: process.env.LEASE_TABLE_NAME || undefined,
    reconcilerRoleArn: process.env.RECONCILER_ROLE_ARN || undefined,
  };
  cached = { text, runtime: parsed };
  return parsed;
}

export function requireSetting(value: string | undefined, name: string): string {
  if (!value) throw new OnboardingError('ConfigError', `${name} is not set on this function; redeploy the stack with \`cdk deploy\``);
  return value;
}
