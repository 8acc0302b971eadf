// IPv4 CIDR arithmetic for the secondary CIDR, pod subnets and the overlap checks
// that moto does not perform (real EC2 rejects overlapping associations; moto accepts them).

export interface Ipv4Cidr {
  readonly network: number; // unsigned 32-bit network address
  readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "a.b.c.d/n"; returns undefined for anything that is not a canonical IPv4 CIDR. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const match = CIDR_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const network = (address & mask(prefix)) >>> 0;
  if (network !== address) return undefined; // host bits set: not a network address
  return { network, prefix };
}

export function parseCidrOrThrow(text: string, what: string): Ipv4Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`${what} "${text}" is not an IPv4 network in CIDR form (for example 100.64.0.0/16)`);
  return cidr;
}

export function formatCidr(cidr: Ipv4Cidr): string {
  const n = cidr.network;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${cidr.prefix}`;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function lastAddress(cidr: Ipv4Cidr): number {
  return (cidr.network | (~mask(cidr.prefix) >>> 0)) >>> 0;
}

export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** True when `outer` contains every address of `inner`. */
export function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  return outer.prefix <= inner.prefix && outer.network <= inner.network && lastAddress(inner) <= lastAddress(outer);
}

/** The first `count` consecutive blocks of size /prefix inside `parent`, in address order. */
export function splitCidr(parent: Ipv4Cidr, prefix: number, count: number): Ipv4Cidr[] {
  if (prefix < parent.prefix) throw new Error(`cannot carve /${prefix} subnets from ${formatCidr(parent)}`);
  const available = 2 ** (prefix - parent.prefix);
  if (count > available) {
    throw new Error(`${formatCidr(parent)} holds only ${available} subnets of /${prefix}, ${count} are needed`);
  }
  const size = 2 ** (32 - prefix);
  return Array.from({ length: count }, (_, i) => ({ network: (parent.network + i * size) >>> 0, prefix }));
}

/** Pod subnet size by AZ count: 2 AZs take two halves, 3-4 AZs a quarter each. */
export function podSubnetPrefix(parent: Ipv4Cidr, azCount: number, override?: number): number {
  if (override !== undefined) return override;
  if (azCount <= 2) return parent.prefix + 1;
  if (azCount <= 4) return parent.prefix + 2;
  return parent.prefix + 3;
}
