// Design step 9's guard, apart from the workflow order that normally makes it hold: external SNAT
// is refused, before any call to EKS or Kubernetes, unless the SNAT step confirmed its policies on
// the spoke and (when there is one) its HA peer.
import { parseConfig } from '../../lib/config';
import { GatewaySnatReport, reconcileExternalSnat } from '../../lambdas/domain/cni';
import { OnboardingError } from '../../lambdas/shared/errors';
import { TEST_RAW_CONFIG } from '../cdk/fixtures';

const config = parseConfig(TEST_RAW_CONFIG);
const input = (snat: GatewaySnatReport | undefined) => ({
  cluster: {
    name: 'guarded', arn: 'arn:aws:eks:us-east-1:123456789012:cluster/guarded', status: 'ACTIVE', region: 'us-east-1', accountId: '123456789012',
    vpcId: 'vpc-1', clusterSecurityGroupId: 'sg-1', controlPlaneSecurityGroupIds: [], subnetIds: [], tags: {},
  },
  network: { dryRun: false, changes: [], vpcId: 'vpc-1', podCidr: '100.64.0.0/16', podSubnets: [], nodeSubnets: [] },
  dryRun: false,
  // No endpoint is reachable from here: a call past the guard would fail with another error.
  reconcilerRoleArn: 'arn:aws:iam::123456789012:role/reconciler',
  snat,
  reportEarlyNodes: true,
});

const refusal = (snat: GatewaySnatReport | undefined) => reconcileExternalSnat(input(snat), config).then(() => undefined, (e: unknown) => e);

test.each([
  ['no SNAT step result', undefined, 'the spoke gateway and its HA peer'],
  ['a failed SNAT branch', { failed: true }, 'the spoke gateway and its HA peer'],
  ['the HA peer not confirmed', { spokeGateway: 'spoke-a', haGateway: 'spoke-a-hagw', gateways: [{ gateway: 'spoke-a', role: 'primary' }] }, 'spoke-a-hagw'],
  ['neither gateway confirmed', { spokeGateway: 'spoke-a', haGateway: 'spoke-a-hagw', gateways: [] }, 'spoke-a and spoke-a-hagw'],
  ['a second HA peer not confirmed', {
    spokeGateway: 'spoke-a', haGateway: 'spoke-a-hagw', haGateways: ['spoke-a-hagw', 'spoke-a-ha2'],
    gateways: [{ gateway: 'spoke-a', role: 'primary' }, { gateway: 'spoke-a-hagw', role: 'ha' }],
  }, 'spoke-a-ha2'],
  ['only a former gateway', { spokeGateway: 'spoke-a', gateways: [{ gateway: 'spoke-a', role: 'former' }] }, 'spoke-a'],
])('refused with %s, naming what is missing', async (_name, snat, missing) => {
  const error = await refusal(snat as GatewaySnatReport | undefined);
  expect(error).toBeInstanceOf(OnboardingError);
  expect((error as Error).message).toBe(
    `external SNAT stays off on EKS cluster "guarded": the SNAT step has not confirmed its policies on ${missing}; ` +
      'the CNI keeps SNATing pod traffic. Run the workflow from its first state',
  );
});
