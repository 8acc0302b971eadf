// lib/config.ts: defaults, every invalid key named, opt-in rule, Kubernetes SmartGroups.
import { ConfigError, DEFAULTS, parseConfig } from '../lib/config';

const minimal = () => ({
  aviatrix: {
    controllerUrl: 'https://controller.example.internal',
    credentialsSecretName: 'aviatrix/controller/api',
    controllerRoleArn: 'arn:aws:iam::111122223333:role/aviatrix-role-app',
  },
});

function problems(raw: unknown, prefix?: string): string[] {
  try {
    parseConfig(raw, prefix);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  test('a minimal config is filled with the defaults', () => {
    expect(parseConfig(minimal())).toEqual({
      secondaryCidr: '100.64.0.0/16',
      maxVpcCidrBlocks: 5,
      clusterActiveTimeoutSeconds: 45 * 60,
      addonUpdateTimeoutSeconds: 20 * 60,
      nodegroupActiveTimeoutSeconds: 60 * 60,
      optIn: { mode: 'all' },
      driftSchedule: 'rate(6 hours)',
      allowNodeReplacement: false,
      routeCheck: 'refuse',
      networkPolicy: false,
      prefixDelegation: false,
      podSecurityGroups: 'report',
      loadBalancerSubnets: { public: [], internal: [] },
      aviatrix: {
        ...minimal().aviatrix,
        verifyTls: true,
        allowDisableSingleIpSnat: false,
        kubernetesSmartGroups: [],
        smartGroupTemplates: {},
        smartGroupTemplateTag: 'eks-aviatrix:smartgroup-template',
        vpcSmartGroupMatch: 'id',
      },
      operations: { notificationEmails: [], logRetentionDays: 30, metricsNamespace: 'EksAviatrixOnboarding' },
    });
    expect(DEFAULTS.secondaryCidr).toBe('100.64.0.0/16');
  });

  test('optional keys are absent, not undefined, when unset (the config survives JSON round trips)', () => {
    const config = parseConfig(minimal());
    expect(Object.keys(config)).not.toContain('podSubnetPrefixLength');
    expect(Object.keys(config.aviatrix)).not.toEqual(expect.arrayContaining(['caBundlePem', 'transitGatewayName', 'spokeGatewayName']));
    expect(parseConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
  });

  test('explicit values win over defaults', () => {
    const config = parseConfig({
      ...minimal(),
      secondaryCidr: '100.65.0.0/20',
      podSubnetPrefixLength: 22,
      clusterActiveTimeoutSeconds: 600,
      allowNodeReplacement: true,
      aviatrix: { ...minimal().aviatrix, transitGatewayName: 'transit-1', credentialsKmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' },
    });
    expect(config).toMatchObject({ secondaryCidr: '100.65.0.0/20', podSubnetPrefixLength: 22, clusterActiveTimeoutSeconds: 600, allowNodeReplacement: true });
    expect(config.aviatrix).toMatchObject({ transitGatewayName: 'transit-1', credentialsKmsKeyArn: expect.stringMatching(/^arn:aws:kms:/) });
  });

  test('the cdk.json context is valid', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const cdkJson = require('../cdk.json') as { context: { onboarding: unknown } };
    expect(() => parseConfig(cdkJson.context.onboarding)).not.toThrow();
  });
});

describe('each invalid key is named', () => {
  test.each<[string, (raw: ReturnType<typeof minimal> & Record<string, unknown>) => unknown]>([
    ['onboarding.secondaryCidr', (r) => ({ ...r, secondaryCidr: 'not-a-cidr' })],
    ['onboarding.secondaryCidr', (r) => ({ ...r, secondaryCidr: '10.0.0.0/8' })],
    ['onboarding.podSubnetPrefixLength', (r) => ({ ...r, secondaryCidr: '100.64.0.0/16', podSubnetPrefixLength: 16 })],
    ['onboarding.podSubnetPrefixLength', (r) => ({ ...r, podSubnetPrefixLength: 17.5 })],
    ['onboarding.maxVpcCidrBlocks', (r) => ({ ...r, maxVpcCidrBlocks: 0 })],
    ['onboarding.networkPolicy', (r) => ({ ...r, networkPolicy: 'yes' })],
    ['onboarding.prefixDelegation', (r) => ({ ...r, prefixDelegation: 1 })],
    ['onboarding.podSecurityGroups', (r) => ({ ...r, podSecurityGroups: 'all' })],
    ['onboarding.loadBalancerSubnets.public', (r) => ({ ...r, loadBalancerSubnets: { public: ['10.0.0.0/24'] } })],
    ['onboarding.loadBalancerSubnets', (r) => ({ ...r, loadBalancerSubnets: { public: ['subnet-0123abcd'], internal: ['subnet-0123abcd'] } })],
    ['onboarding.loadBalancerSubnets.routable', (r) => ({ ...r, loadBalancerSubnets: { routable: [] } })],
    ['onboarding.podSubnetPrefixLength', (r) => ({ ...r, prefixDelegation: true, podSubnetPrefixLength: 27 })],
    ['onboarding.warmPrefixTarget', (r) => ({ ...r, prefixDelegation: true, warmPrefixTarget: 0 })],
    ['onboarding.warmPrefixTarget', (r) => ({ ...r, prefixDelegation: true, warmPrefixTarget: '2' })],
    ['onboarding.warmPrefixTarget', (r) => ({ ...r, warmPrefixTarget: 2 })],
    ['onboarding.clusterActiveTimeoutSeconds', (r) => ({ ...r, clusterActiveTimeoutSeconds: '45m' })],
    ['onboarding.addonUpdateTimeoutSeconds', (r) => ({ ...r, addonUpdateTimeoutSeconds: 99999 })],
    ['onboarding.driftSchedule', (r) => ({ ...r, driftSchedule: 'every 6 hours' })],
    ['onboarding.allowNodeReplacement', (r) => ({ ...r, allowNodeReplacement: 'yes' })],
    ['onboarding.optIn.mode', (r) => ({ ...r, optIn: { mode: 'some' } })],
    ['onboarding.aviatrix', (r) => ({ ...r, aviatrix: undefined })],
    ['onboarding.aviatrix.controllerUrl', (r) => ({ ...r, aviatrix: { ...r.aviatrix, controllerUrl: 'http://controller' } })],
    ['onboarding.aviatrix.controllerUrl', (r) => ({ ...r, aviatrix: { ...r.aviatrix, controllerUrl: undefined } })],
    ['onboarding.aviatrix.credentialsSecretName', (r) => ({ ...r, aviatrix: { ...r.aviatrix, credentialsSecretName: ' ' } })],
    ['onboarding.aviatrix.controllerRoleArn', (r) => ({ ...r, aviatrix: { ...r.aviatrix, controllerRoleArn: 'aviatrix-role-app' } })],
    ['onboarding.aviatrix.caBundlePem', (r) => ({ ...r, aviatrix: { ...r.aviatrix, caBundlePem: 'not pem' } })],
    ['onboarding.aviatrix.verifyTls', (r) => ({ ...r, aviatrix: { ...r.aviatrix, verifyTls: 'false' } })],
    ['onboarding.aviatrix.credentialsSecretName', (r) => ({ ...r, aviatrix: { ...r.aviatrix, credentialsSecretName: '*' } })],
    ['onboarding.aviatrix.credentialsSecretName', (r) => ({ ...r, aviatrix: { ...r.aviatrix, credentialsSecretName: 'aviatrix/*' } })],
    ['onboarding.aviatrix.credentialsSecretName', (r) => ({ ...r, aviatrix: { ...r.aviatrix, credentialsSecretName: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:x' } })],
    ['onboarding.aviatrix.credentialsKmsKeyArn', (r) => ({ ...r, aviatrix: { ...r.aviatrix, credentialsKmsKeyArn: 'alias/aviatrix' } })],
    ['onboarding.aviatrix.allowDisableSingleIpSnat', (r) => ({ ...r, aviatrix: { ...r.aviatrix, allowDisableSingleIpSnat: 1 } })],
    ['onboarding.aviatrix.transitGatewayName', (r) => ({ ...r, aviatrix: { ...r.aviatrix, transitGatewayName: '' } })],
  ])('%s', (key, mutate) => {
    const found = problems(mutate(minimal()));
    expect(found.some((p) => p.startsWith(key))).toBe(true);
    // The error message (what `cdk synth` prints) names it too.
    expect(() => parseConfig(mutate(minimal()))).toThrow(key);
  });

  test('verifyTls: false is refused, naming the key and the safer caBundlePem', () => {
    const found = problems({ ...minimal(), aviatrix: { ...minimal().aviatrix, verifyTls: false } });
    expect(found).toEqual([expect.stringMatching(/^onboarding\.aviatrix\.verifyTls: false is refused .*onboarding\.aviatrix\.caBundlePem/)]);
    expect(parseConfig({ ...minimal(), aviatrix: { ...minimal().aviatrix, verifyTls: true } }).aviatrix.verifyTls).toBe(true);
  });

  test('all problems are reported at once', () => {
    const found = problems({
      secondaryCidr: 'x',
      driftSchedule: 'y',
      aviatrix: { controllerUrl: 'http://a', credentialsSecretName: 'n', controllerRoleArn: 'r' },
    });
    expect(found.map((p) => p.split(' ')[0])).toEqual(
      expect.arrayContaining(['onboarding.secondaryCidr', 'onboarding.driftSchedule', 'onboarding.aviatrix.controllerUrl', 'onboarding.aviatrix.controllerRoleArn']),
    );
  });

  test('the root must be an object; the prefix is configurable', () => {
    expect(problems(undefined)[0]).toMatch(/^onboarding must be an object \(it is missing\)/);
    expect(problems([], 'ONBOARDING_CONFIG')[0]).toMatch(/^ONBOARDING_CONFIG must be an object/);
  });
});

describe('opt-in rule', () => {
  test('absent means all clusters', () => {
    expect(parseConfig(minimal()).optIn).toEqual({ mode: 'all' });
    expect(parseConfig({ ...minimal(), optIn: { mode: 'all' } }).optIn).toEqual({ mode: 'all' });
  });

  test('tag mode needs tagKey and tagValue', () => {
    expect(parseConfig({ ...minimal(), optIn: { mode: 'tag', tagKey: 'aviatrix.com/onboard', tagValue: 'true' } }).optIn).toEqual({
      mode: 'tag',
      tagKey: 'aviatrix.com/onboard',
      tagValue: 'true',
    });
    const found = problems({ ...minimal(), optIn: { mode: 'tag' } });
    expect(found.some((p) => p.startsWith('onboarding.optIn.tagKey'))).toBe(true);
    expect(found.some((p) => p.startsWith('onboarding.optIn.tagValue'))).toBe(true);
  });

  test('optIn must be an object', () => {
    expect(problems({ ...minimal(), optIn: 'all' }).some((p) => p.startsWith('onboarding.optIn must be an object'))).toBe(true);
  });
});

describe('kubernetesSmartGroups', () => {
  const withGroups = (groups: unknown) => ({ ...minimal(), aviatrix: { ...minimal().aviatrix, kubernetesSmartGroups: groups } });

  test('valid groups are kept, optional fields only when set', () => {
    const config = parseConfig(withGroups([{ name: 'payments', namespace: 'pay', labels: { app: 'api' } }, { name: 'all-pods' }]));
    expect(config.aviatrix.kubernetesSmartGroups).toEqual([
      { name: 'payments', namespace: 'pay', labels: { app: 'api' } },
      { name: 'all-pods' },
    ]);
  });

  test.each<[string, unknown]>([
    ['onboarding.aviatrix.kubernetesSmartGroups must be a list', { name: 'x' }],
    ['onboarding.aviatrix.kubernetesSmartGroups[0] must be an object', ['x']],
    ['onboarding.aviatrix.kubernetesSmartGroups[0].name is required', [{ namespace: 'a' }]],
    ['onboarding.aviatrix.kubernetesSmartGroups[1].name must be a DNS-1123 label', [{ name: 'ok' }, { name: 'Not_OK' }]],
    ['onboarding.aviatrix.kubernetesSmartGroups[0].namespace must be a non-empty string', [{ name: 'a', namespace: 3 }]],
    ['onboarding.aviatrix.kubernetesSmartGroups[0].labels must map label keys to label values', [{ name: 'a', labels: { app: 1 } }]],
  ])('%s', (message, groups) => {
    expect(problems(withGroups(groups)).some((p) => p.startsWith(message))).toBe(true);
  });
});

describe('unknown keys', () => {
  test('a misspelt key is named instead of being ignored', () => {
    const raw = { ...minimal(), clusterActiveTimeoutMinutes: 45, aviatrix: { ...minimal().aviatrix, verifyTLS: false } };
    expect(() => parseConfig(raw)).toThrow(/onboarding\.clusterActiveTimeoutMinutes is not a known setting/);
    expect(() => parseConfig(raw)).toThrow(/onboarding\.aviatrix\.verifyTLS is not a known setting/);
  });
});

describe('operations (notifications, logs, metrics)', () => {
  test('all of it is optional; given values are kept', () => {
    const config = parseConfig({
      ...minimal(),
      operations: {
        notificationEmails: ['oncall@example.com', 'platform@example.org'],
        notificationTopicArn: 'arn:aws:sns:eu-west-1:111122223333:platform-alerts',
        chatbot: { slack: { workspaceId: 'T0123', channelId: 'C0456' }, teams: { teamId: 't', channelId: 'c', tenantId: 'n' } },
        logRetentionDays: 90,
        metricsNamespace: 'Platform/EksAviatrix',
      },
    });
    expect(config.operations).toEqual({
      notificationEmails: ['oncall@example.com', 'platform@example.org'],
      notificationTopicArn: 'arn:aws:sns:eu-west-1:111122223333:platform-alerts',
      chatbot: { slack: { workspaceId: 'T0123', channelId: 'C0456' }, teams: { teamId: 't', channelId: 'c', tenantId: 'n' } },
      logRetentionDays: 90,
      metricsNamespace: 'Platform/EksAviatrix',
    });
    expect(Object.keys(parseConfig(minimal()).operations)).toEqual(['notificationEmails', 'logRetentionDays', 'metricsNamespace']);
  });

  test.each<[string, Record<string, unknown>]>([
    ['onboarding.operations.notificationEmails', { notificationEmails: 'oncall@example.com' }],
    ['onboarding.operations.notificationEmails', { notificationEmails: ['not an address'] }],
    ['onboarding.operations.notificationTopicArn', { notificationTopicArn: 'platform-alerts' }],
    ['onboarding.operations.logRetentionDays', { logRetentionDays: 31 }],
    ['onboarding.operations.metricsNamespace', { metricsNamespace: 'AWS/Lambda' }],
    ['onboarding.operations.metricsNamespace', { metricsNamespace: 'has space' }],
    ['onboarding.operations.chatbot', { chatbot: {} }],
    ['onboarding.operations.chatbot.slack.channelId', { chatbot: { slack: { workspaceId: 'T0123' } } }],
    ['onboarding.operations.chatbot.teams.tenantId', { chatbot: { teams: { teamId: 't', channelId: 'c' } } }],
    ['onboarding.operations.chatbot.slack.channel', { chatbot: { slack: { workspaceId: 'T', channelId: 'C', channel: 'x' } } }],
    ['onboarding.operations.emails', { emails: [] }],
  ])('%s is named when invalid', (key, operations) => {
    expect(problems({ ...minimal(), operations }).some((p) => p.startsWith(key))).toBe(true);
  });
});
