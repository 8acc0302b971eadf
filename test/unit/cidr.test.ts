import { contains, formatCidr, overlaps, parseCidr, podSubnetPrefix, splitCidr } from '../../lambdas/shared/cidr';

const cidr = (text: string) => {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`bad test CIDR ${text}`);
  return parsed;
};

describe('cidr', () => {
  it('parses and formats canonical networks only', () => {
    expect(formatCidr(cidr('100.64.0.0/16'))).toBe('100.64.0.0/16');
    expect(parseCidr('100.64.0.1/16')).toBeUndefined();
    expect(parseCidr('300.0.0.0/8')).toBeUndefined();
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('fd00::/8')).toBeUndefined();
  });

  it('detects overlap and containment', () => {
    expect(overlaps(cidr('100.64.0.0/16'), cidr('100.64.128.0/17'))).toBe(true);
    expect(overlaps(cidr('100.64.0.0/16'), cidr('100.65.0.0/16'))).toBe(false);
    expect(contains(cidr('100.64.0.0/16'), cidr('100.64.128.0/17'))).toBe(true);
    expect(contains(cidr('100.64.128.0/17'), cidr('100.64.0.0/16'))).toBe(false);
    expect(contains(cidr('0.0.0.0/0'), cidr('100.64.0.0/16'))).toBe(true);
  });

  it('carves pod subnets by AZ count as the design says', () => {
    const parent = cidr('100.64.0.0/16');
    expect(podSubnetPrefix(parent, 2)).toBe(17);
    expect(podSubnetPrefix(parent, 3)).toBe(18);
    expect(podSubnetPrefix(parent, 4)).toBe(18);
    expect(podSubnetPrefix(parent, 3, 20)).toBe(20);
    expect(splitCidr(parent, 17, 2).map(formatCidr)).toEqual(['100.64.0.0/17', '100.64.128.0/17']);
    expect(splitCidr(parent, 18, 3).map(formatCidr)).toEqual(['100.64.0.0/18', '100.64.64.0/18', '100.64.128.0/18']);
    expect(() => splitCidr(parent, 17, 3)).toThrow('holds only 2 subnets of /17');
  });
});
