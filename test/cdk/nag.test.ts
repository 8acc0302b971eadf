// cdk-nag AwsSolutions: every finding is either fixed or acknowledged with a reason; and the
// stack's own synth-time guards (machine timeout vs configured waits, Lambda environment size).
import { Match } from 'aws-cdk-lib/assertions';
import { synthesized } from './fixtures';

test.each([
  ['the default config', {}],
  ['node replacement allowed', { allowNodeReplacement: true }],
  ['every optional operations setting', {
    operations: {
      notificationEmails: ['oncall@example.com'],
      chatbot: { slack: { workspaceId: 'T0123', channelId: 'C0456' }, teams: { teamId: 'team', channelId: 'chan', tenantId: 'tenant' } },
    },
  }],
  ['an existing notification topic', { operations: { notificationTopicArn: 'arn:aws:sns:eu-west-1:111122223333:platform-alerts' } }],
])('no unsuppressed AwsSolutions errors or warnings: %s', (_name, overrides) => {
  const { parseConfig } = jest.requireActual('../../lib/config') as typeof import('../../lib/config');
  const { TEST_RAW_CONFIG } = jest.requireActual('./fixtures') as typeof import('./fixtures');
  const { annotations } = synthesized({ config: parseConfig({ ...TEST_RAW_CONFIG, ...overrides }) });
  const errors = annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
  const warnings = annotations.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*'));
  expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split('\n')[0]}`)).toEqual([]);
  expect(warnings.map((w) => `${w.id}: ${String(w.entry.data).split('\n')[0]}`)).toEqual([]);
  // Nor any other synth error (e.g. the machine timeout check).
  expect(annotations.findError('*', Match.anyValue())).toEqual([]);
});

test('no unsuppressed AwsSolutions errors with an environment-agnostic stack (account and Region as tokens)', () => {
  const errors = synthesized({ agnostic: true }).annotations.findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
  expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split('\n')[0]}`)).toEqual([]);
});

test('a machine TimeoutSeconds shorter than the configured waits is a synth error', () => {
  const { parseConfig } = jest.requireActual('../../lib/config') as typeof import('../../lib/config');
  const { TEST_RAW_CONFIG } = jest.requireActual('./fixtures') as typeof import('./fixtures');
  const config = parseConfig({ ...TEST_RAW_CONFIG, clusterActiveTimeoutSeconds: 4 * 3600, addonUpdateTimeoutSeconds: 3600 });
  const errors = synthesized({ config }).annotations.findError('*', Match.stringLikeRegexp('TimeoutSeconds'));
  expect(errors).toHaveLength(1);
  expect(String(errors[0].entry.data)).toContain('onboarding.clusterActiveTimeoutSeconds');
});

test('the node-group machine must outlast the add-on wait plus the node-group waits (two with node replacement)', () => {
  const { parseConfig } = jest.requireActual('../../lib/config') as typeof import('../../lib/config');
  const { TEST_RAW_CONFIG } = jest.requireActual('./fixtures') as typeof import('./fixtures');
  const config = parseConfig({ ...TEST_RAW_CONFIG, nodegroupActiveTimeoutSeconds: 3 * 3600, allowNodeReplacement: true });
  const errors = synthesized({ config }).annotations.findError('*', Match.stringLikeRegexp('TimeoutSeconds'));
  expect(errors).toHaveLength(1);
  expect(String(errors[0].entry.data)).toMatch(/^nodegroup-onboarding\.asl\.json .*onboarding\.nodegroupActiveTimeoutSeconds x2/);
});

test('a config too large for the 4 KB Lambda environment is a synth error naming the keys', () => {
  const { parseConfig } = jest.requireActual('../../lib/config') as typeof import('../../lib/config');
  const { TEST_RAW_CONFIG } = jest.requireActual('./fixtures') as typeof import('./fixtures');
  const pem = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(4000)}\n-----END CERTIFICATE-----\n`;
  const config = parseConfig({ ...TEST_RAW_CONFIG, aviatrix: { ...TEST_RAW_CONFIG.aviatrix, caBundlePem: pem } });
  const errors = synthesized({ config }).annotations.findError('*', Match.stringLikeRegexp('4 KB'));
  expect(errors).toHaveLength(1);
  expect(String(errors[0].entry.data)).toContain('onboarding.aviatrix.caBundlePem');
});

test('the config\'s digest counts toward the 4 KB: a config that fits only without it is a synth error', () => {
  const { parseConfig } = jest.requireActual('../../lib/config') as typeof import('../../lib/config');
  const { TEST_RAW_CONFIG } = jest.requireActual('./fixtures') as typeof import('./fixtures');
  const { MAX_CONFIG_ENV_BYTES } = jest.requireActual('../../lib/onboarding-functions') as typeof import('../../lib/onboarding-functions');
  const withPem = (length: number) =>
    parseConfig({ ...TEST_RAW_CONFIG, aviatrix: { ...TEST_RAW_CONFIG.aviatrix, caBundlePem: `-----BEGIN CERTIFICATE-----\n${'A'.repeat(length)}\n-----END CERTIFICATE-----\n` } });
  // Keys and values: ONBOARDING_CONFIG=<the JSON> and ONBOARDING_CONFIG_SHA256=<64 hex digits>.
  const stampBytes = (length: number) => 'ONBOARDING_CONFIG'.length + JSON.stringify(withPem(length)).length + 'ONBOARDING_CONFIG_SHA256'.length + 64;
  const length = MAX_CONFIG_ENV_BYTES + 1 - stampBytes(0);
  expect(JSON.stringify(withPem(length)).length).toBeLessThan(MAX_CONFIG_ENV_BYTES); // the JSON alone would fit
  const errors = synthesized({ config: withPem(length) }).annotations.findError('*', Match.stringLikeRegexp('4 KB'));
  expect(errors.map((e) => String(e.entry.data))).toEqual([expect.stringContaining(`onboarding config takes ${MAX_CONFIG_ENV_BYTES + 1} bytes of the Lambda environment`)]);
});
