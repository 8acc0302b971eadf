#!/usr/bin/env node
// The CDK app: validates the `onboarding` context (cdk.json, or `-c onboarding='{...}'`) and
// creates the stack, a thin user of the EksAviatrixOnboarding construct. An invalid config, or one
// still holding the shipped example values, stops `cdk synth` with a message naming each bad key.
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, OnboardingConfig, parseConfig } from '../lib/config';
import { MemberStack } from '../lib/member-stack';
import { OnboardingStack } from '../lib/onboarding-stack';
import { placeholderProblems } from '../lib/placeholders';

const CONTEXT_KEY = 'onboarding';
/** `-c allowExampleValues=true` lets the shipped example synthesize (this repository's own checks). */
const ALLOW_EXAMPLES_KEY = 'allowExampleValues';

function readConfig(app: App): OnboardingConfig {
  let raw: unknown = app.node.tryGetContext(CONTEXT_KEY);
  // `-c onboarding=...` arrives as a string.
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      throw new ConfigError([`${CONTEXT_KEY} must be a JSON object (could not parse the context value)`]);
    }
  }
  const config = parseConfig(raw, CONTEXT_KEY);
  const allowExamples = String(app.node.tryGetContext(ALLOW_EXAMPLES_KEY)) === 'true';
  const examples = allowExamples ? [] : placeholderProblems(raw, CONTEXT_KEY);
  if (examples.length > 0) throw new ConfigError(examples);
  return config;
}

/**
 * Adds the stacks the context asks for to `app` and returns 0; a bad config instead writes the
 * message naming each key to `stderr` and returns 1 (the exit code). Exported for the tests, which
 * run it in-process.
 */
export function main(app: App, stderr: (text: string) => void = (text) => process.stderr.write(text)): number {
  let config: OnboardingConfig;
  try {
    config = readConfig(app);
  } catch (error) {
    if (error instanceof ConfigError) {
      stderr(`${error.message}\n`);
      return 1;
    }
    throw error;
  }

  const namePrefix = app.node.tryGetContext('namePrefix') as string | undefined;
  new OnboardingStack(app, 'EksAviatrixOnboarding', {
    config,
    ...(namePrefix ? { namePrefix } : {}),
    description: 'Onboards new EKS clusters to the Aviatrix fabric (CloudTrail -> EventBridge -> Step Functions -> Lambda)',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });

  // With members configured, the member template too (deployed per member account/Region, or as a StackSet).
  if (config.members) {
    new MemberStack(app, 'EksAviatrixOnboardingMember', {
      config,
      description: 'Forwards EKS CloudTrail events to the onboarding hub and holds the roles the hub assumes in this account and Region',
    });
  }

  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return 0;
}

if (require.main === module) {
  const code = main(new App());
  if (code !== 0) process.exit(code);
}
