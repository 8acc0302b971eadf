// Custom SNAT policy lists: the wire encoding of `policy_list` (base64 of a zlib stream of the JSON
// array, docs/aviatrix-controller-api.md 3.1) and set semantics for comparing what the controller echoes back
// (it may return duplicates, reorder, or spell "no connection" as "None", section 3.2).
import zlib from 'node:zlib';

/** One rule as the controller reads and writes it (JSON keys of section 3.1). */
export interface SnatPolicy {
  src_ip?: string;
  src_port?: string;
  dst_ip?: string;
  dst_port?: string;
  protocol?: string;
  interface?: string;
  connection?: string;
  mark?: string;
  new_src_ip?: string;
  new_src_port?: string;
  exclude_rtb?: string;
  apply_route_entry?: boolean;
  [extra: string]: unknown;
}

/** base64(zlib(JSON)); `null` encodes the "remove custom SNAT" list. */
export function encodePolicyList(policies: SnatPolicy[] | null): string {
  return zlib.deflateSync(Buffer.from(JSON.stringify(policies), 'utf8')).toString('base64');
}

export function decodePolicyList(encoded: string): SnatPolicy[] | null {
  const json = zlib.inflateSync(Buffer.from(encoded, 'base64')).toString('utf8');
  const value: unknown = JSON.parse(json);
  if (value === null) return null;
  if (!Array.isArray(value)) throw new Error('policy_list is not a JSON array');
  return value as SnatPolicy[];
}

const STRING_FIELDS = [
  'src_ip', 'src_port', 'dst_ip', 'dst_port', 'protocol', 'interface', 'connection', 'mark',
  'new_src_ip', 'new_src_port', 'exclude_rtb',
] as const;

/**
 * A canonical identity over every string field: empty values and the controller's "None" connection
 * count as absent, protocol defaults to "all". apply_route_entry is part of the identity too.
 */
export function policyKey(policy: SnatPolicy): string {
  const parts: string[] = [];
  for (const field of STRING_FIELDS) {
    let value = policy[field];
    if (typeof value !== 'string') value = '';
    value = value.trim();
    if (field === 'connection' && value === 'None') value = '';
    if (field === 'protocol' && value === '') value = 'all';
    parts.push(`${field}=${value}`);
  }
  parts.push(`apply_route_entry=${policy.apply_route_entry === false ? 'false' : 'true'}`);
  return parts.join('|');
}

/** Drops later duplicates, keeping the first occurrence's object exactly as read. */
export function dedupePolicies(policies: SnatPolicy[]): SnatPolicy[] {
  const seen = new Set<string>();
  const out: SnatPolicy[] = [];
  for (const policy of policies) {
    const key = policyKey(policy);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(policy);
  }
  return out;
}

export function samePolicySet(a: SnatPolicy[], b: SnatPolicy[]): boolean {
  const ka = new Set(a.map(policyKey));
  const kb = new Set(b.map(policyKey));
  return ka.size === kb.size && [...ka].every((k) => kb.has(k));
}

/** Policies of `wanted` that `have` lacks (by identity). */
export function missingPolicies(have: SnatPolicy[], wanted: SnatPolicy[]): SnatPolicy[] {
  const keys = new Set(have.map(policyKey));
  return wanted.filter((p) => !keys.has(policyKey(p)));
}

/** Existing policies first, as read (de-duplicated), then the wanted ones they lack. */
export function mergePolicies(existing: SnatPolicy[], wanted: SnatPolicy[]): SnatPolicy[] {
  const kept = dedupePolicies(existing);
  return [...kept, ...dedupePolicies(missingPolicies(kept, wanted))];
}
