#!/usr/bin/env node
// The CDK app: validates the `onboarding` context (cdk.json, or `-c onboarding='{...}'`) and
// creates the stack. An invalid config stops `cdk synth` with a message naming each bad key.
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, OnboardingConfig, parseConfig } from '../lib/config';
import { MemberStack } from '../lib/member-stack';
import { OnboardingStack } from '../lib/onboarding-stack';

const CONTEXT_KEY = 'onboarding';

const app = new App();

function readConfig(): OnboardingConfig {
  let raw: unknown = app.node.tryGetContext(CONTEXT_KEY);
  // `-c onboarding=...` arrives as a string.
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch {
      throw new ConfigError([`${CONTEXT_KEY} must be a JSON object (could not parse the context value)`]);
    }
  }
  return parseConfig(raw, CONTEXT_KEY);
}

let config: OnboardingConfig;
try {
  config = readConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

new OnboardingStack(app, 'EksAviatrixOnboarding', {
  config,
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
