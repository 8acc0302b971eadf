// Shared by the hub-and-member tests: a multi-account config, the member stack synthesized with
// cdk-nag, and a hub stack carrying the hub-side construct (lib/hub-access.ts) on roles named as
// CloudFormation names the hub's.
import { App, Aspects, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ALL_FUNCTIONS } from '../../lib/functions';
import { HubAccess } from '../../lib/hub-access';
import { MemberStack } from '../../lib/member-stack';
import { OnboardingConfig, parseConfig } from '../../lib/config';
import { TEST_RAW_CONFIG } from './fixtures';
import { Synthesized, synthesizedOnce } from './synth-cache';

export const HUB_ACCOUNT = '111122223333';
export const HUB_REGION = 'eu-west-1';
export const MEMBER_ACCOUNT = '444455556666';
export const ORG_ID = 'o-abcdefghij';
export const EXTERNAL_ID = 'eks-aviatrix-hub-7f3a';

export const MULTI_ACCOUNT_RAW_CONFIG = {
  ...TEST_RAW_CONFIG,
  hub: { account: HUB_ACCOUNT, region: HUB_REGION },
  members: { accounts: [MEMBER_ACCOUNT], organizationId: ORG_ID, regions: [HUB_REGION, 'us-east-1'], externalId: EXTERNAL_ID },
};

export function synthMember(raw: object = MULTI_ACCOUNT_RAW_CONFIG, env?: { account: string; region: string }): { app: App; stack: MemberStack } {
  const app = new App();
  const stack = new MemberStack(app, 'Member', { config: parseConfig(raw), ...(env ? { env } : {}) });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack };
}

/** A hub stack holding one role per Lambda role id, and HubAccess on them. */
export function synthHubAccess(raw: object = MULTI_ACCOUNT_RAW_CONFIG): { app: App; stack: Stack; config: OnboardingConfig } {
  const config = parseConfig(raw);
  const app = new App();
  const stack = new Stack(app, 'Hub', { env: { account: HUB_ACCOUNT, region: HUB_REGION } });
  const roles = Object.fromEntries(
    [...new Set(ALL_FUNCTIONS.map((f) => f.role))].map((id) => [id, new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') })]),
  );
  new HubAccess(stack, 'HubAccess', { config, roles });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack, config };
}

/** synthMember's template and annotations, once per run for each distinct config and environment (synth-cache.ts). */
export function synthesizedMember(raw: object = MULTI_ACCOUNT_RAW_CONFIG, env?: { account: string; region: string }): Synthesized {
  return synthesizedOnce({ builder: 'synthMember', raw, env: env ?? null }, () => synthMember(raw, env).stack);
}

/** synthHubAccess's template and annotations, once per run for each distinct config (synth-cache.ts). */
export function synthesizedHubAccess(raw: object = MULTI_ACCOUNT_RAW_CONFIG): Synthesized {
  return synthesizedOnce({ builder: 'synthHubAccess', raw }, () => synthHubAccess(raw).stack);
}
