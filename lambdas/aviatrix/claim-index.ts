// The claim index: which clusters claim each gateway's SNAT policies and each transit's excluded
// CIDRs, so that "does another live cluster need this?" reads one partition instead of scanning
// every status record (docs/claim-index.md). The claims themselves stay in each cluster's status
// record (ownership.ts); the claim table mirrors them, one item per (resource, claimant):
//   resource  S   "snat#<gateway>" or "exclusion#<transit>"
//   claimant  S   the claiming cluster's status-record key
//   keys      SS  what it claims there: policy keys (policyKey) or CIDRs
// Items are written in the same transaction as the record's claim, and a record whose claims are
// mirrored carries INDEXED_ATTRIBUTE. Records that predate the index are mirrored once, by the first
// reader that finds no BUILT_MARKER (OwnershipRegistry.ensureIndexBuilt).
import { AttributeValue, TransactWriteItem } from '../shared/sdk/dynamodb';
import { policyKey, SnatPolicy } from './policy-codec';

export type ClaimKind = 'snat' | 'exclusion';

/** Set on a status record whose claims the claim table mirrors. */
export const INDEXED_ATTRIBUTE = 'claimsIndexed';

/** The item that says every record's claims are mirrored (written once, after the first build). */
export const BUILT_MARKER: Record<string, AttributeValue> = { resource: { S: '#index' }, claimant: { S: '#built' } };

export const claimResource = (kind: ClaimKind, name: string): string => `${kind}#${name}`;

/** What a record claims, per resource: its gateway → policies and transit → CIDRs maps. */
export function claimEntries(snat: Record<string, SnatPolicy[]>, exclusions: Record<string, string[]>): Map<string, string[]> {
  const entries = new Map<string, string[]>();
  for (const [gateway, policies] of Object.entries(snat)) {
    if (policies.length > 0) entries.set(claimResource('snat', gateway), [...new Set(policies.map(policyKey))].sort());
  }
  for (const [transit, cidrs] of Object.entries(exclusions)) {
    if (cidrs.length > 0) entries.set(claimResource('exclusion', transit), [...new Set(cidrs)].sort());
  }
  return entries;
}

const sameKeys = (a: string[] | undefined, b: string[] | undefined) => a?.length === b?.length && (a ?? []).every((k, i) => k === b?.[i]);

/**
 * The claim-table writes that take the index from `before` to `after` for one claimant; `before`
 * undefined: the record was not mirrored yet, so every entry of `after` is written.
 */
export function indexWrites(tableName: string, claimant: string, before: Map<string, string[]> | undefined, after: Map<string, string[]>): TransactWriteItem[] {
  const writes: TransactWriteItem[] = [];
  for (const [resource, keys] of after) {
    if (before && sameKeys(before.get(resource), keys)) continue;
    writes.push({ Put: { TableName: tableName, Item: { resource: { S: resource }, claimant: { S: claimant }, keys: { SS: keys } } } });
  }
  for (const resource of before?.keys() ?? []) {
    if (!after.has(resource)) writes.push({ Delete: { TableName: tableName, Key: { resource: { S: resource }, claimant: { S: claimant } } } });
  }
  return writes;
}
