import { eksApiCallPattern } from '../../lib/eks-api-trigger';
import { matchesPattern, renderPattern } from '../local-world/event-pattern';

const event = (detail: Record<string, unknown>) => ({
  id: 'e-1',
  source: 'aws.eks',
  'detail-type': 'AWS API Call via CloudTrail',
  detail: { eventSource: 'eks.amazonaws.com', requestParameters: { name: 'prod-a' }, ...detail },
});

describe('the EKS API call rule pattern', () => {
  const pattern = renderPattern(eksApiCallPattern(['CreateCluster', 'CreateNodegroup']));

  it('renders as EventBridge receives it', () => {
    expect(pattern).toEqual({
      source: ['aws.eks'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['eks.amazonaws.com'], eventName: ['CreateCluster', 'CreateNodegroup'], errorCode: [{ exists: false }] },
    });
  });

  it('matches successful calls of the named APIs only', () => {
    expect(matchesPattern(pattern, event({ eventName: 'CreateCluster' }))).toBe(true);
    expect(matchesPattern(pattern, event({ eventName: 'CreateNodegroup' }))).toBe(true);
    expect(matchesPattern(pattern, event({ eventName: 'DeleteCluster' }))).toBe(false);
    expect(matchesPattern(pattern, event({ eventName: 'CreateCluster', errorCode: 'AccessDenied' }))).toBe(false);
    expect(matchesPattern(pattern, { ...event({ eventName: 'CreateCluster' }), source: 'aws.ec2' })).toBe(false);
  });
});
