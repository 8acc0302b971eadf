// The claim index: which clusters claim each gateway's SNAT policies and each transit's excluded
// CIDRs, so that "does another live cluster need this?" reads one partition instead of scanning
// every status record (docs/claim-index.md). The claims themselves stay in each cluster's status
// record (ownership.ts); the claim table mirrors them, one item per (resource, claimant):
//   resource  S   "snat#<gateway>" or "exclusion#<transit>"
//   claimant  S   the claiming cluster's status-record key
//   keys      SS  what it claims there: policy keys (policyKey) or CIDRs
// Every claim write puts all of its record's items in the same transaction (and deletes those it
// drops), so each write also repairs what its record's items lack. Records written while the table
// had no items are mirrored once, by a reader after the settle time (OwnershipRegistry.indexTrusted).
import { AttributeValue, TransactWriteItem } from '../shared/sdk/dynamodb';
import { policyKey, SnatPolicy } from './policy-codec';

export type ClaimKind = 'snat' | 'exclusion';

/**
 * The item that says when the index may be built (settledAt), who is building it (building: until
 * when) and that it is built. Its key names the index's format: a version that writes index items
 * differently (another policyKey, another resource name) must change it, so that its first reader
 * settles and rebuilds rather than trusting items of the other format.
 */
export const BUILT_MARKER: Record<string, AttributeValue> = { resource: { S: '#index' }, claimant: { S: '#format-1' } };

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

/**
 * The claim-table writes of one claimant whose claims go from `before` to `after`: every entry of
 * `after` is put (unchanged ones too: an item a write of the version before left out is restored
 * by the record's next write), and the resources it no longer claims are deleted.
 */
export function indexWrites(tableName: string, claimant: string, before: Map<string, string[]>, after: Map<string, string[]>): TransactWriteItem[] {
  const writes: TransactWriteItem[] = [];
  for (const [resource, keys] of after) {
    writes.push({ Put: { TableName: tableName, Item: { resource: { S: resource }, claimant: { S: claimant }, keys: { SS: keys } } } });
  }
  for (const resource of before.keys()) {
    if (!after.has(resource)) writes.push({ Delete: { TableName: tableName, Key: { resource: { S: resource }, claimant: { S: claimant } } } });
  }
  return writes;
}
