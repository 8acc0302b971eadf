import { executionName } from '../../lambdas/domain/executions';

describe('executionName', () => {
  it('keeps names Step Functions accepts', () => {
    expect(executionName('CreateCluster', 'b3f8c2d1-4a1e-9c7b-0001')).toBe('CreateCluster-b3f8c2d1-4a1e-9c7b-0001');
    expect(executionName('drift', 'a.b', '202611241300')).toBe('drift-a-b-202611241300');
  });

  it('keeps long names unique within 80 characters', () => {
    const a = executionName('drift', 'x'.repeat(100), '202611241300');
    const b = executionName('drift', 'x'.repeat(100), '202611241900');
    expect(a).toHaveLength(80);
    expect(b).toHaveLength(80);
    expect(a).not.toBe(b);
  });
});
