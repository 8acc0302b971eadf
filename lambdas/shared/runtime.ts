// What a Lambda learns from its environment: the config CDK validated at synth and the resources it
// made. The config is trusted by its stamp (./config-stamp.ts), not validated again, once per
// container; a config without its stamp, or changed since, fails the invocation naming the variable.
import type { OnboardingConfig } from '../../lib/config';
import { CONFIG_VARIABLE, DIGEST_VARIABLE, openStampedConfig } from './config-stamp';
import { OnboardingError } from './errors';
import { runningFunctionName } from './target';

export interface Runtime {
  config: OnboardingConfig;
  statusTableName?: string;
  leaseTableName?: string;
  /** The IAM role the vpc-cni step runs as; it grants itself an EKS access entry. */
  reconcilerRoleArn?: string;
}

let cached: { text?: string; stamp?: string; runtime: Runtime } | undefined;

export function runtime(): Runtime {
  const text = process.env[CONFIG_VARIABLE];
  const stamp = process.env[DIGEST_VARIABLE];
  if (cached && cached.text === text && cached.stamp === stamp) return cached.runtime;
  const opened = openStampedConfig(text, stamp, runningFunctionName());
  if ('problem' in opened) throw new OnboardingError('ConfigError', opened.problem);
  const parsed: Runtime = {
    config: opened.config as OnboardingConfig,
    statusTableName: process.env.STATUS_TABLE_NAME || undefined,
    leaseTableName: process.env.LEASE_TABLE_NAME || undefined,
    reconcilerRoleArn: process.env.RECONCILER_ROLE_ARN || undefined,
  };
  cached = { text, stamp, runtime: parsed };
  return parsed;
}

export function requireSetting(value: string | undefined, name: string): string {
  if (!value) throw new OnboardingError('ConfigError', `${name} is not set on this function; redeploy the stack with \`cdk deploy\``);
  return value;
}
