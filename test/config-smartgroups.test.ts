// lib/config.ts, SmartGroups: the Kubernetes selector specs with the controller's client-side rules,
// the templates chosen by a cluster tag, and how the VPC SmartGroup matches its VPC.
import { ConfigError, parseConfig } from '../lib/config';

const aviatrix = {
  controllerUrl: 'https://controller.example.internal',
  credentialsSecretName: 'aviatrix/controller/api',
  controllerRoleArn: 'arn:aws:iam::111122223333:role/aviatrix-role-app',
};
const withAviatrix = (extra: Record<string, unknown>) => ({ aviatrix: { ...aviatrix, ...extra } });
const withGroups = (groups: unknown) => withAviatrix({ kubernetesSmartGroups: groups });

/** The problems a refused config names (a config that passes fails the test). */
const problems = (raw: unknown): string[] => {
  const error = (() => { try { parseConfig(raw); return undefined; } catch (e) { return e; } })();
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).problems;
};

const G = 'onboarding.aviatrix.kubernetesSmartGroups';

test('every selector the contract documents is kept as given', () => {
  const groups = [
    { name: 'web', namespace: 'shop', labels: { app: 'web', 'app.kubernetes.io/tier': 'front' } },
    { name: 'prod-ns', namespaceLabels: { env: 'prod' }, labels: { app: 'api' } },
    { name: 'checkout', namespace: 'shop', service: 'checkout' },
    { name: 'one-pod', namespace: 'shop', pod: 'web-0.cache' },
    { name: 'nodes', type: 'k8s_node' },
    { name: 'workloads', type: 'k8s' },
  ];
  expect(parseConfig(withGroups(groups)).aviatrix.kubernetesSmartGroups).toEqual([
    groups[0], groups[1], groups[2], groups[3], { name: 'nodes', type: 'k8s_node' }, { name: 'workloads' },
  ]);
});

test.each<[string, unknown[], string]>([
  ['a service account (no such selector key)', [{ name: 'sa', namespace: 'shop', serviceAccount: 'checkout' }],
    `${G}[0].serviceAccount is not supported: the Aviatrix SmartGroup selector has no service-account key (only namespace, labels, namespaceLabels, service, pod); select those workloads by a label their pods carry instead`],
  ['a pod without its namespace', [{ name: 'p', pod: 'web-0' }], `${G}[0].pod needs ${G}[0].namespace (a pod is named within its namespace)`],
  ['a pod with a service', [{ name: 'p', namespace: 'shop', pod: 'web-0', service: 'web' }], `${G}[0]: pod and service exclude each other`],
  ['namespace labels with a service', [{ name: 'n', namespaceLabels: { env: 'prod' }, service: 'web' }], `${G}[0].namespaceLabels cannot be combined with service or pod`],
  ['namespace labels with a pod', [{ name: 'n', namespace: 'shop', namespaceLabels: { env: 'prod' }, pod: 'web-0' }], `${G}[0].namespaceLabels cannot be combined with service or pod`],
  ['a namespace that is not DNS-1123', [{ name: 'n', namespace: 'Shop_1' }], `${G}[0].namespace must be a DNS-1123 label (lowercase letters, digits and -, up to 63), got "Shop_1"`],
  ['a service that is not DNS-1123', [{ name: 'n', service: 'web.svc' }], `${G}[0].service must be a DNS-1123 label (lowercase letters, digits and -, up to 63), got "web.svc"`],
  ['a pod that is not DNS-1123', [{ name: 'n', namespace: 'shop', pod: 'Web_0' }], `${G}[0].pod must be a DNS-1123 subdomain, got "Web_0"`],
  ['an empty label value (the controller drops it, matching any value)', [{ name: 'n', labels: { app: '' } }],
    `${G}[0].labels.app must be a non-empty Kubernetes label value (up to 63 letters, digits, -_., alphanumeric at both ends), got ""`],
  ['a label key that is not one', [{ name: 'n', labels: { 'bad key': 'x' } }], `${G}[0].labels: "bad key" is not a Kubernetes label key ([prefix/]name, name up to 63 letters, digits, -_.)`],
  ['no labels at all', [{ name: 'n', namespaceLabels: {} }], `${G}[0].namespaceLabels must map label keys to label values (at least one)`],
  ['an unknown type', [{ name: 'n', type: 'vm' }], `${G}[0].type must be "k8s" or "k8s_node", got "vm"`],
  ['nodes with a workload selector', [{ name: 'n', type: 'k8s_node', namespace: 'shop' }], `${G}[0]: type "k8s_node" selects all of the cluster's nodes and takes no namespace`],
  ['a name used twice', [{ name: 'n' }, { name: 'n', namespace: 'a' }], `${G} names SmartGroup "n" more than once`],
])('refuses %s, naming the key and the rule', (_what, groups, message) => {
  expect(problems(withGroups(groups))).toEqual([message]);
});

describe('smartGroupTemplates', () => {
  test('named lists of specs, validated like kubernetesSmartGroups, and the tag that picks one', () => {
    const config = parseConfig(withAviatrix({
      smartGroupTemplates: { payments: [{ name: 'api', namespace: 'pay' }], 'edge.v2': [{ name: 'nodes', type: 'k8s_node' }] },
      smartGroupTemplateTag: 'team/sg-template',
    }));
    expect(config.aviatrix.smartGroupTemplates).toEqual({ payments: [{ name: 'api', namespace: 'pay' }], 'edge.v2': [{ name: 'nodes', type: 'k8s_node' }] });
    expect(config.aviatrix.smartGroupTemplateTag).toBe('team/sg-template');
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['a spec breaking a rule inside a template', { smartGroupTemplates: { payments: [{ name: 'p', pod: 'web-0' }] } },
      'onboarding.aviatrix.smartGroupTemplates.payments[0].pod needs onboarding.aviatrix.smartGroupTemplates.payments[0].namespace (a pod is named within its namespace)'],
    ['a template that is not a list', { smartGroupTemplates: { payments: { name: 'p' } } }, 'onboarding.aviatrix.smartGroupTemplates.payments must be a list'],
    ['a template name no tag value can be', { smartGroupTemplates: { 'pay ments': [] } },
      'onboarding.aviatrix.smartGroupTemplates: template name "pay ments" must be 1-63 letters, digits or ._- (a cluster tag value names it)'],
    ['an AWS-reserved tag key', { smartGroupTemplateTag: 'aws:sg' },
      'onboarding.aviatrix.smartGroupTemplateTag must be an EKS tag key (1-128 letters, digits, spaces or _.:/=+-@, not aws:), got "aws:sg"'],
  ])('refuses %s', (_what, extra, message) => {
    expect(problems(withAviatrix(extra))).toEqual([message]);
  });
});

test('vpcSmartGroupMatch is "id" or "name"', () => {
  expect(parseConfig(withAviatrix({ vpcSmartGroupMatch: 'name' })).aviatrix.vpcSmartGroupMatch).toBe('name');
  expect(problems(withAviatrix({ vpcSmartGroupMatch: 'tag' }))).toEqual(['onboarding.aviatrix.vpcSmartGroupMatch must be "id" or "name", got "tag"']);
});
