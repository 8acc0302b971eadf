// The arithmetic and version rules of lambdas/domain/cni-options.ts, against published numbers.
import { cniVersionProblems, formatClaims, freePrefixBlocks, ingressWarnings, maxPodsFor, parseClaims, planOptionClaims } from '../../lambdas/domain/cni-options';

const type = (enis: number, addresses: number, vcpus: number) => ({
  NetworkInfo: { MaximumNetworkInterfaces: enis, Ipv4AddressesPerInterface: addresses },
  VCpuInfo: { DefaultVCpus: vcpus },
});
const plain = { customNetworking: false, prefixDelegation: false, podEni: false };

describe('maxPodsFor', () => {
  test.each([
    // EKS AMI eni-max-pods.txt: ENIs x (addresses - 1) + 2
    ['m5.large', type(3, 10, 2), plain, 29],
    ['t3.medium', type(3, 6, 2), plain, 17],
    // custom networking: the primary ENI hosts no pods
    ['m5.large, custom networking', type(3, 10, 2), { ...plain, customNetworking: true }, 20],
    ['t3.medium, custom networking', type(3, 6, 2), { ...plain, customNetworking: true }, 12],
    // prefix delegation: 16 addresses per slot, capped at 110 below 30 vCPUs
    ['m5.large, custom networking + prefixes', type(3, 10, 2), { ...plain, customNetworking: true, prefixDelegation: true }, 110],
    // and at 250 from 30 vCPUs (m5.24xlarge: 15 ENIs of 50 addresses, 96 vCPUs)
    ['m5.24xlarge, prefixes', type(15, 50, 96), { ...plain, prefixDelegation: true }, 250],
    ['m5.24xlarge, custom networking', type(15, 50, 96), { ...plain, customNetworking: true }, 250],
    // security groups for pods: the trunk ENI takes a slot
    ['t3.medium, custom networking + trunk ENI', type(3, 6, 2), { ...plain, customNetworking: true, podEni: true }, 7],
  ])('%s', (_name, instance, options, expected) => {
    expect(maxPodsFor(instance, options)).toBe(expected);
  });

  test('unknown limits give no answer', () => {
    expect(maxPodsFor({}, plain)).toBeUndefined();
  });
});

describe('freePrefixBlocks', () => {
  test('a /26 keeps its two middle /28 blocks free: AWS reserves addresses in the first and the last', () => {
    expect(freePrefixBlocks('100.64.0.0/26', [])).toBe(2);
  });
  test('one address in a block takes the whole block; a delegated prefix takes its own', () => {
    expect(freePrefixBlocks('100.64.0.0/26', ['100.64.0.20'])).toBe(1);
    expect(freePrefixBlocks('100.64.0.0/26', ['100.64.0.20', '100.64.0.32/28'])).toBe(0);
  });
  test('addresses outside the subnet do not count', () => {
    expect(freePrefixBlocks('100.64.0.0/26', ['100.64.1.20'])).toBe(2);
  });
  test('a /17 pod subnet', () => {
    expect(freePrefixBlocks('100.64.0.0/17', [])).toBe(2048 - 2);
  });
});

describe('planOptionClaims', () => {
  const none = { env: {}, top: {} };
  const on = { env: { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '2' }, top: { enableNetworkPolicy: 'true' } };
  test('what it is about to write becomes ours; a value that was already there does not', () => {
    expect(planOptionClaims({ env: { ENABLE_PREFIX_DELEGATION: 'true' }, top: {} }, on, {})).toEqual({
      claims: { WARM_PREFIX_TARGET: '2', enableNetworkPolicy: 'true' },
      remove: [],
    });
  });
  test('switched off: ours goes while it holds our value; a value changed since, or never ours, stays', () => {
    expect(planOptionClaims({ env: { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '3' }, top: { enableNetworkPolicy: 'true' } }, none, { ENABLE_PREFIX_DELEGATION: 'true', WARM_PREFIX_TARGET: '2' })).toEqual({
      claims: {},
      remove: [{ key: 'ENABLE_PREFIX_DELEGATION', where: 'env' }],
    });
  });
  test('claims round-trip through the tag value', () => {
    expect(parseClaims(formatClaims({ enableNetworkPolicy: 'true', WARM_PREFIX_TARGET: '2' }))).toEqual({ enableNetworkPolicy: 'true', WARM_PREFIX_TARGET: '2' });
    expect(formatClaims(parseClaims(undefined))).toBe('');
  });
});

describe('cniVersionProblems', () => {
  const both = { networkPolicy: true, prefixDelegation: true };
  test('an add-on version or image tag at the minimum passes', () => {
    expect(cniVersionProblems('v1.14.0-eksbuild.3', both)).toEqual([]);
    expect(cniVersionProblems('v1.19.2', both)).toEqual([]);
    expect(cniVersionProblems('v2.0.0', both)).toEqual([]);
  });
  test('below it, each option names its minimum', () => {
    expect(cniVersionProblems('v1.13.4-eksbuild.1', both)).toEqual([expect.stringContaining('networkPolicy needs VPC CNI v1.14.0')]);
    expect(cniVersionProblems('v1.8.0', both)).toHaveLength(2);
  });
  test('an unreadable version is a problem only when an option is on', () => {
    expect(cniVersionProblems('latest', both)).toHaveLength(2);
    expect(cniVersionProblems('latest', { networkPolicy: false, prefixDelegation: false })).toEqual([]);
  });
});

describe('ingressWarnings', () => {
  const service = (name: string, annotations: Record<string, string>, spec: Record<string, unknown> = { type: 'LoadBalancer' }) => ({
    metadata: { name, namespace: 'web', annotations },
    spec,
  });
  test('IP targets, a loadBalancerClass with IP targets, and non-LoadBalancer Services pass', () => {
    expect(
      ingressWarnings('c', [
        service('nlb-ip', { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb-ip' }),
        service('ip', { 'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip' }, { type: 'LoadBalancer', loadBalancerClass: 'service.k8s.aws/nlb' }),
        service('cluster-ip', {}, { type: 'ClusterIP' }),
      ]),
    ).toEqual([]);
  });
  test('a classic load balancer and instance targets are named', () => {
    const warnings = ingressWarnings('c', [
      service('classic', {}),
      service('class-instance', {}, { type: 'LoadBalancer', loadBalancerClass: 'service.k8s.aws/nlb' }),
    ]);
    expect(warnings).toEqual([expect.stringContaining('Services web/classic'), expect.stringContaining('Services web/class-instance')]);
  });
});
