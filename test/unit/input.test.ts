import { normalizeInput } from '../../lambdas/domain/input';
import { OnboardingError } from '../../lambdas/shared/errors';

const cloudTrailEvent = (detail: Record<string, unknown>) => ({
  version: '0',
  id: 'evt-1',
  'detail-type': 'AWS API Call via CloudTrail',
  source: 'aws.eks',
  detail: { eventSource: 'eks.amazonaws.com', eventID: 'ct-123', ...detail },
});

function refusal(raw: unknown): OnboardingError {
  try {
    normalizeInput(raw);
  } catch (error) {
    if (error instanceof OnboardingError) return error;
    throw error;
  }
  throw new Error('expected the input to be refused');
}

describe('normalizeInput', () => {
  it('accepts clusterName alone as a manual run', () => {
    expect(normalizeInput({ clusterName: 'prod-a' })).toEqual({ clusterName: 'prod-a', dryRun: false, trigger: 'Manual' });
  });

  it('keeps the optional manual fields', () => {
    expect(normalizeInput({ clusterName: 'prod-a', nodegroupName: 'ng-1', dryRun: true, trigger: 'CLI', eventId: 'e' })).toEqual({
      clusterName: 'prod-a',
      nodegroupName: 'ng-1',
      dryRun: true,
      trigger: 'CLI',
      eventId: 'e',
    });
  });

  it.each([
    ['name', { name: 'prod-a' }],
    ['clusterName', { clusterName: 'prod-a' }],
  ])('reads the cluster from requestParameters.%s of a CloudTrail event', (_, requestParameters) => {
    expect(normalizeInput(cloudTrailEvent({ eventName: 'CreateCluster', requestParameters }))).toEqual({
      clusterName: 'prod-a',
      dryRun: false,
      trigger: 'CreateCluster',
      eventId: 'ct-123',
    });
  });

  it('reads the node group of a CreateNodegroup event', () => {
    const input = normalizeInput(cloudTrailEvent({ eventName: 'CreateNodegroup', requestParameters: { name: 'prod-a', nodegroupName: 'ng-1' } }));
    expect(input).toMatchObject({ clusterName: 'prod-a', nodegroupName: 'ng-1', trigger: 'CreateNodegroup' });
  });

  it('refuses an event that records a failed call, naming the cluster and the error code', () => {
    const error = refusal(cloudTrailEvent({ eventName: 'CreateCluster', errorCode: 'ResourceInUseException', requestParameters: { name: 'prod-a' } }));
    expect(error.name).toBe('InvalidInput');
    expect(error.message).toContain('"prod-a"');
    expect(error.message).toContain('ResourceInUseException');
  });

  it.each([
    ['a non-object', 'prod-a', 'must be a JSON object'],
    ['a missing clusterName', {}, 'needs "clusterName"'],
    ['an invalid name', { clusterName: 'bad name!' }, 'is not a valid EKS name'],
    ['a typo in a key', { clusterName: 'a', dryrun: true }, 'unknown keys dryrun'],
    ['a non-boolean dryRun', { clusterName: 'a', dryRun: 'yes' }, 'dryRun must be true or false'],
    ['another detail-type', { 'detail-type': 'EC2 Instance State-change Notification', detail: {} }, 'is not an "AWS API Call via CloudTrail" event'],
    ['another API call', cloudTrailEvent({ eventName: 'UpdateClusterConfig', requestParameters: { name: 'a' } }), 'this workflow handles'],
    ['an event without a cluster name', cloudTrailEvent({ eventName: 'CreateCluster', requestParameters: {} }), 'requestParameters.name undefined'],
  ])('refuses %s with one clear message', (_, raw, text) => {
    const error = refusal(raw);
    expect(error.name).toBe('InvalidInput');
    expect(error.message).toContain(text);
  });
});
