// Design steps 9-10: custom SNAT policies for a cluster's pods and nodes on the spoke gateway of its
// VPC and, separately, on the spoke's HA peer (each with its own private IP), and the pod CIDR in the
// transit's excluded advertised spoke routes. Both lists are replaced whole by every write, so each
// read-modify-write holds that gateway's lease: acquire, re-read, merge, renew the lease, write only
// if different, read back to confirm, release. The renewal right before each write (conditional on
// still holding an unexpired lease) stops a write whose lease ran out during slow reads and may now
// be held by another workflow, which would otherwise lose that workflow's update. Foreign policies and exclusions are kept exactly.
// What a cluster added is claimed in the ownership registry (ownership.ts): a policy the cluster
// claimed and no longer wants (a node group's subnet gone, offboarding) is removed, unless another
// live cluster claims it too; a policy nobody claims is never removed.
import { AviatrixConfig } from '../../lib/config';
import { Change, StepResult } from '../shared/workflow';
import { OnboardingError } from '../shared/errors';
import { logger } from '../shared/logger';
import {
  AviatrixClient,
  GatewaySummary,
  haPeerNames,
  isCustomSnat,
  isHaPeer,
  isSingleIpSnat,
  vpcIdOf,
} from './client';
import { GatewayLeases, joinWithoutLease, planThenLease } from '../shared/lease';
import { requireKubernetesFeature } from './onboarding';
import { ClusterOwnership, OwnershipRegistry, refuseIfTakenOver } from './ownership';
import { dedupePolicies, missingPolicies, policyKey, SnatPolicy } from './policy-codec';

export interface SnatInput {
  clusterName: string;
  vpcId: string;
  podCidr: string;
  /** CIDRs of the node subnets (each gets an internet-egress rule). */
  nodeSubnetCidrs: string[];
  /**
   * CIDRs of the VPC's other subnets whose default route goes to the spoke: they rely on single-IP
   * SNAT, so switching it off (allowDisableSingleIpSnat) gives each an internet-egress rule of its
   * own, unclaimed (it belongs to the VPC, not the cluster, and outlives the cluster's offboarding).
   */
  spokeRoutedSubnetCidrs?: string[];
  /** The gateways the preflight found, so they are not looked up again. */
  gateways?: ControllerPreflight;
  dryRun: boolean;
  /** Lease holder: the workflow's execution id. */
  holder: string;
}

export interface SnatDeps {
  client: AviatrixClient;
  config: Pick<AviatrixConfig, 'spokeGatewayName' | 'transitGatewayName' | 'allowDisableSingleIpSnat'>;
  /** Required unless dryRun. */
  leases?: GatewayLeases;
  /** What each cluster added on the controller (the status table). */
  ownership: OwnershipRegistry;
}

export interface GatewaySnatOutcome {
  gateway: string;
  /** 'former': a gateway the cluster claims policies on but no longer uses (or offboarding). */
  role: 'primary' | 'ha' | 'former';
  snatIp: string;
  /** The gateway's public IP (its EIP), as the controller reports it. */
  publicIp?: string;
  /** Our policies that were missing (written, or planned in a dry run). */
  added: number;
  /** Policies this cluster added and no longer needs, removed (or planned). */
  removed: number;
  /** Policies this cluster no longer needs, kept because another cluster claims them. */
  keptForOthers: number;
  /** Policies on the gateway after the step (or planned). */
  total: number;
}

export interface SnatResult extends StepResult {
  spokeGateway: string;
  /** The first HA peer (the one `hagw_details` names). */
  haGateway?: string;
  /** Every HA peer, each of which got the cluster's policies with its own SNAT IP. */
  haGateways: string[];
  transitGateway: string;
  gateways: GatewaySnatOutcome[];
}

/** What the read-only controller preflight found: the gateways every later controller step uses. */
export interface ControllerPreflight {
  spokeGateway: string;
  spokeSnatIp: string;
  spokePublicIp?: string;
  /** The first HA peer (the one `hagw_details` names), as before several HA peers existed. */
  haGateway?: string;
  haSnatIp?: string;
  /** Every HA peer of the spoke, with its own SNAT IP. */
  haPeers?: GatewayAddress[];
  transitGateway: string;
  /** Gateways in single-IP SNAT mode that the SNAT step will switch off (allowed by config). */
  singleIpSnat: string[];
}

export interface ExclusionInput {
  clusterName: string;
  /** claimantOf the cluster: the exclusion is claimed for it. */
  claimant?: string;
  podCidr: string;
  transitGateway: string;
  dryRun: boolean;
  holder: string;
}

export interface ExclusionResult extends StepResult {
  transitGateway: string;
  cidr: string;
  added: boolean;
  /** Exclusions this cluster added on transits it no longer uses, removed. */
  removed: string[];
}

export interface ClusterGateways {
  spoke: GatewaySummary;
  /** Every HA peer of the spoke (none, one, or several on newer controllers). */
  ha: GatewaySummary[];
  transit: GatewaySummary;
}

/** A gateway and the addresses the cluster's traffic leaves it with. */
export interface GatewayAddress {
  gateway: string;
  snatIp: string;
  publicIp?: string;
}

const SINGLE_IP_KEY = 'onboarding.aviatrix.allowDisableSingleIpSnat';

/** The rules one gateway needs for a cluster, with that gateway's own private IP as SNAT address. */
export function desiredPolicies(podCidr: string, nodeSubnetCidrs: string[], transitName: string, snatIp: string): SnatPolicy[] {
  const rule = (src: string, via: { connection: string } | { interface: string }): SnatPolicy => ({
    src_ip: src,
    dst_ip: '0.0.0.0/0',
    protocol: 'all',
    ...via,
    new_src_ip: snatIp,
    apply_route_entry: true,
  });
  const rules = [rule(podCidr, { connection: transitName }), rule(podCidr, { interface: 'eth0' })];
  for (const cidr of [...new Set(nodeSubnetCidrs)]) rules.push(rule(cidr, { interface: 'eth0' }));
  return rules;
}

/** Finds the spoke serving the VPC, its HA peers and the transit. Reads only. */
export async function resolveGateways(
  client: AviatrixClient,
  config: SnatDeps['config'],
  vpcId: string,
  clusterName: string,
): Promise<ClusterGateways> {
  let spoke: GatewaySummary | undefined;
  // One listing gives the spoke and its HA peers (each HA created on its own names its primary).
  const listed = await client.listSpokeGateways();
  if (config.spokeGatewayName) {
    const name = config.spokeGatewayName;
    spoke = listed.find((g) => g.vpc_name === name) ?? (await client.getGateway(name));
    if (!spoke) {
      throw new OnboardingError(
        'GatewayNotFound',
        `spoke gateway ${config.spokeGatewayName} (onboarding.aviatrix.spokeGatewayName) does not exist on the controller; ` +
          'fix the name or remove the setting to discover the spoke by VPC',
      );
    }
    if (vpcIdOf(spoke) !== vpcId) {
      throw new OnboardingError(
        'GatewayConflict',
        `spoke gateway ${spoke.vpc_name} (onboarding.aviatrix.spokeGatewayName) serves VPC ${vpcIdOf(spoke) || 'unknown'}, ` +
          `not ${vpcId} of cluster ${clusterName}; fix the setting or remove it to discover the spoke by VPC`,
      );
    }
  } else {
    const candidates = listed.filter((g) => vpcIdOf(g) === vpcId && !isHaPeer(g, listed));
    if (candidates.length === 0) {
      throw new OnboardingError(
        'GatewayNotFound',
        `no Aviatrix spoke gateway serves VPC ${vpcId} of cluster ${clusterName}; deploy a spoke gateway in that VPC ` +
          '(or name it with onboarding.aviatrix.spokeGatewayName) and run the workflow again',
      );
    }
    if (candidates.length > 1) {
      throw new OnboardingError(
        'GatewayConflict',
        `several spoke gateways serve VPC ${vpcId} (${candidates.map((g) => g.vpc_name).join(', ')}); ` +
          'name the one to use with onboarding.aviatrix.spokeGatewayName',
      );
    }
    spoke = candidates[0];
  }

  const ha: GatewaySummary[] = [];
  for (const haName of haPeerNames(spoke, listed)) {
    // The listing carries the HA peers' summaries too (read one only when it is not there).
    const peer = listed.find((g) => g.vpc_name === haName) ?? (await client.getGateway(haName));
    if (!peer) {
      throw new OnboardingError('GatewayNotFound', `HA gateway ${haName} of spoke ${spoke.vpc_name} is not listed by the controller`);
    }
    ha.push(peer);
  }

  const transitName = config.transitGatewayName ?? (spoke.transit_gw_name || undefined);
  if (!transitName) {
    throw new OnboardingError(
      'GatewayNotFound',
      `spoke gateway ${spoke.vpc_name} is not attached to a transit gateway and onboarding.aviatrix.transitGatewayName is not set; ` +
        'attach the spoke or set the transit gateway name',
    );
  }
  if (config.transitGatewayName && spoke.transit_gw_name !== config.transitGatewayName) {
    throw new OnboardingError(
      'GatewayConflict',
      `spoke gateway ${spoke.vpc_name} is attached to ${spoke.transit_gw_name || 'no transit'}, not to transit ${config.transitGatewayName} ` +
        '(onboarding.aviatrix.transitGatewayName), so excluding the pod CIDR there would not keep it out of the fabric; ' +
        'attach the spoke to that transit, or fix or remove the setting',
    );
  }
  const transit = await client.getGateway(transitName);
  if (!transit) {
    const source = config.transitGatewayName ? 'onboarding.aviatrix.transitGatewayName' : `the attachment of spoke ${spoke.vpc_name}`;
    throw new OnboardingError(
      'GatewayNotFound',
      `transit gateway ${transitName} (from ${source}) does not exist on the controller; fix the name and run again`,
    );
  }
  for (const g of [spoke, ...ha]) {
    if (!g.private_ip) {
      throw new OnboardingError('GatewayConflict', `gateway ${g.vpc_name} reports no private_ip; its SNAT address is unknown`);
    }
  }
  return { spoke, ha, transit };
}

function addressOf(g: GatewaySummary): GatewayAddress {
  return { gateway: g.vpc_name, snatIp: String(g.private_ip), ...(g.public_ip ? { publicIp: g.public_ip } : {}) };
}

function singleIpConflict(gateway: string): OnboardingError {
  return new OnboardingError(
    'GatewayConflict',
    `gateway ${gateway} uses single-IP SNAT, which custom SNAT would replace; switch it off on the controller, ` +
      `or set ${SINGLE_IP_KEY}=true to let the workflow switch it off`,
  );
}

/**
 * Design step 2, the controller half: reads only. Logging in proves the controller is reachable
 * over verified TLS and the credentials are valid; then the `k8s` feature, the VPC's spoke (and HA
 * peer), the transit it is attached to, and their SNAT mode. Anything wrong stops the run here,
 * before the first write anywhere.
 */
export async function preflightController(
  client: AviatrixClient,
  config: SnatDeps['config'],
  input: { vpcId: string; clusterName: string },
): Promise<ControllerPreflight> {
  await requireKubernetesFeature(client, input.clusterName);
  const gateways = await resolveGateways(client, config, input.vpcId, input.clusterName);
  const single = [gateways.spoke, ...gateways.ha].filter(isSingleIpSnat);
  if (single.length > 0 && !config.allowDisableSingleIpSnat) throw singleIpConflict(single[0].vpc_name);
  const haPeers = gateways.ha.map(addressOf);
  return {
    spokeGateway: gateways.spoke.vpc_name,
    spokeSnatIp: String(gateways.spoke.private_ip),
    ...(gateways.spoke.public_ip ? { spokePublicIp: gateways.spoke.public_ip } : {}),
    ...(haPeers.length > 0 ? { haGateway: haPeers[0].gateway, haSnatIp: haPeers[0].snatIp, haPeers } : {}),
    transitGateway: gateways.transit.vpc_name,
    singleIpSnat: single.map((g) => g.vpc_name),
  };
}

/** What one reconcile or offboard run is working on; shared by the per-gateway steps. */
interface RunContext {
  client: AviatrixClient;
  config: SnatDeps['config'];
  ownership: OwnershipRegistry;
  clusterName: string;
  dryRun: boolean;
  changes: Change[];
  /**
   * The cluster of that name this run is for (claimantOf): exclusion claims are recorded as its, and another's are left alone.
   * Null: a run that knows no identity (an offboarding begun from a record kept before identities were) leaves every claim
   * recorded for a cluster, as its outcome leaves a record with an identity.
   */
  claimant?: string | null;
  /**
   * Gateway summaries read once per run (shared by the lease-less probe and the pass inside the
   * lease): what they give a SNAT sync (the SNAT mode, that the gateway exists) changes only by
   * hand; the rules themselves are re-read inside the lease. A transit's exclusions are not cached.
   */
  summaries: Map<string, Promise<GatewaySummary | undefined>>;
  /**
   * Set inside a gateway lease: renews it, or throws LeaseLostError (nothing written). Called right
   * before every whole-list write; absent outside a lease, where a write is a bug.
   */
  beforeWrite?: (what: string) => Promise<void>;
}

/** A gateway's summary, read at most once per run. */
function summaryOf(ctx: RunContext, name: string): Promise<GatewaySummary | undefined> {
  let summary = ctx.summaries.get(name);
  if (!summary) {
    summary = ctx.client.getGateway(name);
    ctx.summaries.set(name, summary);
    summary.catch(() => ctx.summaries.delete(name));
  }
  return summary;
}

/** Right before a whole-list write: the lease must still be ours (renewed), else nothing is written. */
async function guardWrite(ctx: RunContext, what: string): Promise<void> {
  if (!ctx.beforeWrite) throw new Error(`${what} attempted outside a gateway lease`);
  await ctx.beforeWrite(what);
}

/**
 * The gateway lease duration (seconds). The lease is renewed right before each write, so it must
 * outlive one write in the worst case. One controller call takes at most client.worstCaseCallMs():
 * maxAttempts × timeoutMs plus the backoff between attempts (4 × 30 s + 3.5 s = 123.5 s with the
 * defaults). A write that meets an expired session is answered at once, then takes a re-login
 * (get_api_token, login) and the write again: up to 3 such calls. So 3 × that + 60 s margin for
 * DynamoDB and clock skew = 431 s with the defaults,
 * inside the function's 9 min timeout. The failure path releases a dead holder's lease early.
 */
export function gatewayLeaseSeconds(client: Pick<AviatrixClient, 'worstCaseCallMs'>): number {
  return Math.ceil((3 * client.worstCaseCallMs()) / 1000) + 60;
}

/** A sync step's answer, and whether it wrote (or would write) anything, controller or claims. */
interface Synced<T> {
  value: T;
  dirty: boolean;
}

const sameKeys = (a: string[], b: string[]) => {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((k) => sb.has(k));
};

/**
 * Runs a sync step under the gateway's lease, unless a lease-less probe (the same step as a dry run,
 * reads only) finds nothing to change: a converged gateway then costs no lease write at all. What
 * the probe saw is re-read inside the lease before anything is written.
 */
async function underLease<T>(
  ctx: RunContext,
  leases: GatewayLeases | undefined,
  gateway: string,
  holder: string,
  step: (ctx: RunContext) => Promise<Synced<T>>,
  /** Settles a dirty probe without the lease when that is safe (see joinExclusion): true when it did. */
  settleWithoutLease?: (probe: Synced<T>, leases: GatewayLeases) => Promise<boolean>,
): Promise<T> {
  if (ctx.dryRun) return (await step(ctx)).value;
  const lease = leases!;
  let probe: Synced<T> | undefined;
  const synced = await planThenLease(
    false,
    async (dryRun) => {
      if (!dryRun) return step({ ...ctx, beforeWrite: (what) => lease.renewOrThrow(gateway, holder, what) });
      probe = await step({ ...ctx, dryRun, changes: [] });
      return probe;
    },
    (plan) => plan.dirty,
    async (apply) => (settleWithoutLease && probe && (await settleWithoutLease(probe, lease)) ? probe : lease.withLease(gateway, holder, apply)),
  );
  return synced.value;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * One gateway's custom SNAT list, brought to: every `wanted` policy present, this cluster's stale
 * claims (owned − wanted) removed unless another live cluster claims them, everything else kept
 * exactly as read. Call inside the gateway's lease (or for a dry run). Reads the gateway and the
 * cluster's claim afresh; records the claim before the write (intent) and settles it after.
 * `wanted` empty = removal only (offboarding, or a gateway the cluster no longer uses).
 */
async function syncGatewaySnat(
  ctx: RunContext,
  name: string,
  wanted: SnatPolicy[],
  role?: 'primary' | 'ha',
  address?: GatewayAddress,
  /** Added unclaimed, only when this write switches single-IP SNAT off (see SnatInput). */
  baseline: SnatPolicy[] = [],
): Promise<Synced<GatewaySnatOutcome>> {
  const { client, config, ownership, clusterName, dryRun } = ctx;
  const snatIp = address?.snatIp;
  const outcome = (added: number, removed: number, total: number, keptForOthers = 0, dirty = added + removed > 0): Synced<GatewaySnatOutcome> => ({
    value: {
      gateway: name,
      role: role ?? 'former',
      snatIp: snatIp ?? '',
      ...(address?.publicIp ? { publicIp: address.publicIp } : {}),
      added,
      removed,
      keptForOthers,
      total,
    },
    dirty,
  });
  // Two independent reads: the claim and the gateway, at once.
  const [owned, current] = await Promise.all([ownership.read(clusterName), summaryOf(ctx, name)]);
  const mine = owned.snat[name] ?? [];
  if (!current) {
    if (wanted.length > 0) throw new OnboardingError('GatewayNotFound', `gateway ${name} disappeared from the controller during the update`);
    // Gone, and with it whatever we had added there: only the claim is left to drop.
    if (!dryRun) await ownership.setSnat(clusterName, name, []);
    return outcome(0, 0, 0, 0, mine.length > 0);
  }
  const single = isSingleIpSnat(current);
  if (wanted.length > 0 && single && !config.allowDisableSingleIpSnat) throw singleIpConflict(name);
  const existing = await client.getSnatPolicies(name);

  const wantedKeys = new Set(wanted.map(policyKey));
  const mineKeys = new Set(mine.map(policyKey));
  const existingKeys = new Set(existing.map(policyKey));
  const staleHere = mine.filter((p) => !wantedKeys.has(policyKey(p)) && existingKeys.has(policyKey(p)));
  const presentUnclaimedByUs = wanted.filter((p) => existingKeys.has(policyKey(p)) && !mineKeys.has(policyKey(p)));
  const others = await ownership.othersClaiming(clusterName, 'snat', name, [...staleHere, ...presentUnclaimedByUs].map(policyKey), dryRun);

  const removeKeys = new Set(staleHere.map(policyKey).filter((k) => !others.has(k)));
  const keptForOthers = staleHere.filter((p) => others.has(policyKey(p)));
  const replacingSingleIp = single && wanted.length > 0;
  const missing = dedupePolicies(missingPolicies(existing, replacingSingleIp ? [...wanted, ...baseline] : wanted));
  // We claim what we add, what we already claimed, and what another cluster of ours added; a policy
  // that was there before and that nobody claims is someone else's: relied on, never claimed.
  const claim = wanted.filter((p) => !existingKeys.has(policyKey(p)) || mineKeys.has(policyKey(p)) || others.has(policyKey(p)));
  const final = [...existing.filter((p) => !removeKeys.has(policyKey(p))), ...missing];
  // An empty list means custom SNAT is off (section 3.1), whatever the run's summary said earlier.
  const enabling = wanted.length > 0 && (!isCustomSnat(current) || existing.length === 0);

  if (missing.length > 0 || removeKeys.size > 0 || enabling) {
    if (replacingSingleIp) {
      const kept = baseline.length > 0 ? `; internet egress kept for the VPC's other subnets through ${plural(baseline.length, 'policy', 'policies')} of their own` : '';
      ctx.changes.push({ resource: `aviatrix gateway ${name}`, action: 'update', detail: `switch single-IP SNAT off (allowed by config)${kept}` });
      if (!dryRun) {
        await guardWrite(ctx, `switching single-IP SNAT off on gateway ${name}`);
        await client.disableSingleIpSnat(name, Number(current.cloud_type ?? 1));
      }
    }
    if (missing.length > 0 || enabling) {
      ctx.changes.push({
        resource: `aviatrix gateway ${name}`,
        action: 'update',
        detail: `add ${plural(missing.length, 'custom SNAT policy', 'custom SNAT policies')} for cluster ${clusterName} (SNAT IP ${snatIp}), keeping ${existing.length} existing`,
      });
    }
    if (removeKeys.size > 0) {
      const removed = existing.filter((p) => removeKeys.has(policyKey(p)));
      ctx.changes.push({
        resource: `aviatrix gateway ${name}`,
        action: 'delete',
        detail:
          `remove ${plural(removeKeys.size, 'custom SNAT policy', 'custom SNAT policies')} cluster ${clusterName} added and no longer needs ` +
          `(${removed.map(describePolicy).join('; ')})${final.length === 0 ? '; the list is then empty, which switches custom SNAT off' : ''}`,
      });
    }
    if (dryRun) return outcome(missing.length, removeKeys.size, final.length, keptForOthers.length, true);

    // Intent first: claim what we are about to add (and keep claiming what we are about to remove).
    await ownership.setSnat(clusterName, name, [...mine, ...claim]);
    await guardWrite(ctx, `writing the custom SNAT list of gateway ${name}`);
    await client.replaceSnatPolicies(name, final.length > 0 ? final : null, { enableNat: enabling });
    const after = await client.getSnatPolicies(name);
    const lost = missingPolicies(after, final);
    if (lost.length > 0) {
      throw new OnboardingError(
        'ControllerError',
        `after writing custom SNAT on gateway ${name}, the controller reports ${lost.length} of the ${final.length} policies missing ` +
          `(e.g. ${describePolicy(lost[0])}); the write did not take effect`,
      );
    }
    const lingering = after.filter((p) => removeKeys.has(policyKey(p)));
    if (lingering.length > 0) {
      throw new OnboardingError(
        'ControllerError',
        `after writing custom SNAT on gateway ${name}, the controller still lists ${describePolicy(lingering[0])}, which was removed; the write did not take effect`,
      );
    }
    logger.info('Custom SNAT policies written', { gateway: name, added: missing.length, removed: removeKeys.size, total: after.length });
    await ownership.setSnat(clusterName, name, claim);
    return outcome(missing.length, removeKeys.size, after.length, keptForOthers.length, true);
  }
  if (!dryRun) await ownership.setSnat(clusterName, name, claim);
  return outcome(0, 0, existing.length, keptForOthers.length, !sameKeys(mine.map(policyKey), claim.map(policyKey)));
}

/**
 * The exclusion claims are recorded for another cluster of this name than the run's (`claimant`;
 * null: a run that knows no identity, for which any recorded cluster is another). Undefined: no comparison.
 */
function claimedForAnother(owned: ClusterOwnership, claimant: string | null | undefined): boolean {
  return claimant !== undefined && owned.exclusionsOf !== undefined && owned.exclusionsOf !== claimant;
}

/** The transit's exclusions, by the same rules as syncGatewaySnat. Call inside the transit's lease. */
async function syncExclusions(
  ctx: RunContext,
  transitName: string,
  wanted: string[],
): Promise<Synced<{ added: string[]; removed: string[]; join?: string[]; claimedFor?: string }>> {
  const { client, ownership, clusterName, dryRun } = ctx;
  const claimant = ctx.claimant ?? undefined;
  const [owned, transit] = await Promise.all([ownership.read(clusterName), client.getGateway(transitName)]);
  // Claims another cluster of this name made (one deleted, or re-created since this run began), read under the lease:
  // a removal leaves them and the transit alone; a run that wants the CIDR takes them over under the lease.
  const othersClaims = claimedForAnother(owned, ctx.claimant);
  if (othersClaims && wanted.length === 0) return { value: { added: [], removed: [], claimedFor: owned.exclusionsOf! }, dirty: false };
  const mine = new Set(owned.exclusions[transitName] ?? []);
  if (!transit) {
    if (wanted.length > 0) throw new OnboardingError('GatewayNotFound', `transit gateway ${transitName} disappeared from the controller during the update`);
    if (!dryRun) await ownership.setExclusions(clusterName, transitName, [], claimant);
    return { value: { added: [], removed: [] }, dirty: mine.size > 0 };
  }
  const existing = [...new Set((transit.exclude_cidr_list ?? []).map((c) => c.trim()).filter((c) => c !== ''))];
  const existingSet = new Set(existing);
  const wantedSet = new Set(wanted);
  const staleHere = [...mine].filter((c) => !wantedSet.has(c) && existingSet.has(c));
  const presentUnclaimedByUs = wanted.filter((c) => existingSet.has(c) && !mine.has(c));
  const others = await ownership.othersClaiming(clusterName, 'exclusion', transitName, [...staleHere, ...presentUnclaimedByUs], dryRun);
  const removed = staleHere.filter((c) => !others.has(c));
  const added = wanted.filter((c) => !existingSet.has(c));
  const claim = wanted.filter((c) => !existingSet.has(c) || mine.has(c) || others.has(c));
  const final = [...existing.filter((c) => !removed.includes(c)), ...added];
  // Only claims to add, on CIDRs the transit lists for other clusters: joinable without the lease.
  // Not when taking over another cluster of this name's claims: that is serialized with its removal under the lease.
  const joinOnly = !othersClaims && added.length === 0 && staleHere.length === 0 && [...mine].every((c) => claim.includes(c)) && claim.length > mine.size;

  if (added.length > 0 || removed.length > 0) {
    if (added.length > 0) {
      ctx.changes.push({
        resource: `aviatrix transit ${transitName}`,
        action: 'update',
        detail: `exclude pod CIDR ${added.join(', ')} from advertised spoke routes, keeping ${existing.length} existing`,
      });
    }
    if (removed.length > 0) {
      ctx.changes.push({
        resource: `aviatrix transit ${transitName}`,
        action: 'delete',
        detail: `stop excluding ${removed.join(', ')} from advertised spoke routes (cluster ${clusterName} added it; no other cluster claims it)`,
      });
    }
    if (dryRun) return { value: { added, removed }, dirty: true };
    await ownership.setExclusions(clusterName, transitName, [...mine, ...claim], claimant);
    await guardWrite(ctx, `writing the excluded advertised routes of transit ${transitName}`);
    await client.setExcludedAdvertisedCidrs(transitName, final);
    const after = await client.getGateway(transitName);
    const now = new Set((after?.exclude_cidr_list ?? []).map((c) => c.trim()));
    const lost = final.filter((c) => !now.has(c));
    const lingering = removed.filter((c) => now.has(c));
    if (lost.length > 0 || lingering.length > 0) {
      throw new OnboardingError(
        'ControllerError',
        `after writing excluded advertised routes on transit ${transitName}, the controller ` +
          `${lost.length > 0 ? `lacks ${lost.join(', ')}` : `still lists ${lingering.join(', ')}`}; the write did not take effect`,
      );
    }
  }
  if (!dryRun) await ownership.setExclusions(clusterName, transitName, claim, claimant);
  return { value: { added, removed, ...(joinOnly ? { join: claim } : {}) }, dirty: added.length + removed.length > 0 || !sameKeys([...mine], claim) || othersClaims };
}

/**
 * A pod CIDR the transit already excludes for other onboarded clusters is joined without the
 * transit's lease (which every cluster behind that transit would otherwise queue for): our claim
 * first, then the lease seen free (waiting while it is held), then the transit still listing the
 * CIDR (joinWithoutLease); a CIDR gone: the caller takes the lease. An
 * offboarding removes an exclusion only under that lease, after reading every claim, and renews
 * the lease right before its write, so it never writes past its lease.
 */
function joinExclusion(ctx: RunContext, leases: GatewayLeases, transitName: string, holder: string, claim: string[]): Promise<boolean> {
  return joinWithoutLease(
    () => ctx.ownership.setExclusions(ctx.clusterName, transitName, claim, ctx.claimant ?? undefined),
    () => leases.awaitFree(transitName, holder),
    async () => {
      const listed = new Set(((await ctx.client.getGateway(transitName))?.exclude_cidr_list ?? []).map((c) => c.trim()));
      return claim.every((c) => listed.has(c));
    },
  );
}

/** A run's context, and its sync of one gateway's list under that gateway's lease (none in a dry run). */
function controllerRun(deps: SnatDeps, input: { clusterName: string; dryRun: boolean; holder: string; claimant?: string | null }, what: string) {
  if (!input.dryRun && !deps.leases) throw new Error(`${what} needs leases unless dryRun`);
  const ctx: RunContext = {
    client: deps.client, config: deps.config, ownership: deps.ownership, clusterName: input.clusterName, dryRun: input.dryRun, changes: [], summaries: new Map(),
    ...(input.claimant !== undefined ? { claimant: input.claimant } : {}),
  };
  const sync = <T>(gateway: string, step: (c: RunContext) => Promise<Synced<T>>, settle?: (probe: Synced<T>, leases: GatewayLeases) => Promise<boolean>) =>
    underLease(ctx, deps.leases, gateway, input.holder, step, settle);
  return { ctx, sync };
}

/** Every HA peer; a preflight answer from before several HA peers existed names one at most. */
function haPeersOf(found: ControllerPreflight): GatewayAddress[] {
  if (found.haPeers) return found.haPeers;
  return found.haGateway && found.haSnatIp ? [{ gateway: found.haGateway, snatIp: found.haSnatIp }] : [];
}

/** The gateways to write, from the preflight's answer when the workflow passes it, else read now. */
async function targetsOf(deps: SnatDeps, input: SnatInput): Promise<ControllerPreflight> {
  if (input.gateways) return input.gateways;
  return preflightController(deps.client, deps.config, { vpcId: input.vpcId, clusterName: input.clusterName });
}

/** Design step 8: the cluster's custom SNAT policies on the spoke and, separately, its HA peer. */
export async function reconcileSnat(deps: SnatDeps, input: SnatInput): Promise<SnatResult> {
  const found = await targetsOf(deps, input);
  const { ctx, sync } = controllerRun(deps, input, 'reconcileSnat');

  const outcomes: GatewaySnatOutcome[] = [];
  const haPeers = haPeersOf(found);
  const targets: (GatewayAddress & { role: 'primary' | 'ha' })[] = [
    { gateway: found.spokeGateway, snatIp: found.spokeSnatIp, ...(found.spokePublicIp ? { publicIp: found.spokePublicIp } : {}), role: 'primary' },
    ...haPeers.map((peer) => ({ ...peer, role: 'ha' as const })),
  ];
  for (const { role, ...address } of targets) {
    const { gateway: name, snatIp } = address;
    const wanted = desiredPolicies(input.podCidr, input.nodeSubnetCidrs, found.transitGateway, snatIp);
    const baseline = (input.spokeRoutedSubnetCidrs ?? []).map((cidr) => desiredPolicies(cidr, [], found.transitGateway, snatIp)[1]);
    outcomes.push(await sync(name, (c) => syncGatewaySnat(c, name, wanted, role, address, baseline)));
  }

  // Gateways this cluster claims policies on but no longer uses (the spoke was renamed, or set
  // differently in config): remove what only it needed there.
  const owned = await deps.ownership.read(input.clusterName);
  const used = new Set(targets.map((t) => t.gateway));
  for (const name of Object.keys(owned.snat).filter((g) => !used.has(g))) {
    outcomes.push(await sync(name, (c) => syncGatewaySnat(c, name, [])));
  }

  return {
    dryRun: input.dryRun,
    changes: ctx.changes,
    spokeGateway: found.spokeGateway,
    ...(found.haGateway ? { haGateway: found.haGateway } : {}),
    haGateways: haPeers.map((peer) => peer.gateway),
    transitGateway: found.transitGateway,
    gateways: outcomes,
  };
}

/**
 * Design step 3: the pod CIDR in the transit's excluded advertised spoke routes, before the VPC
 * carries the CIDR. Exclusions this cluster made on transits it no longer uses go.
 */
export async function reconcileExclusion(deps: SnatDeps, input: ExclusionInput): Promise<ExclusionResult> {
  const { ctx, sync } = controllerRun(deps, input, 'reconcileExclusion');
  const current = await sync(
    input.transitGateway,
    (c) => syncExclusions(c, input.transitGateway, [input.podCidr]),
    async (probe, leases) => probe.value.join !== undefined && joinExclusion(ctx, leases, input.transitGateway, input.holder, probe.value.join),
  );
  const removed = [...current.removed];
  const owned = await deps.ownership.read(input.clusterName);
  for (const name of Object.keys(owned.exclusions).filter((t) => t !== input.transitGateway)) {
    removed.push(...(await sync(name, (c) => syncExclusions(c, name, []))).removed);
  }
  return { dryRun: input.dryRun, changes: ctx.changes, transitGateway: input.transitGateway, cidr: input.podCidr, added: current.added.length > 0, removed };
}

export interface OffboardSnatInput {
  clusterName: string;
  /**
   * offboardExclusions: only claims made for this cluster (claimantOf) go (a run of a cluster deleted and re-created under its name);
   * null: the run knows no identity, only claims recorded for no cluster go.
   */
  claimant?: string | null;
  /** offboardSnat: the identity the offboarding began with (its record's); a record taken over by a re-created cluster is refused. */
  identity?: string;
  dryRun: boolean;
  /** Lease holder: the workflow's execution id. */
  holder: string;
}

export interface OffboardSnatResult extends StepResult {
  gateways: GatewaySnatOutcome[];
}

export interface OffboardExclusionsResult extends StepResult {
  exclusions: { transitGateway: string; removed: string[] }[];
  /** Why the exclusions were kept, when they were. */
  warnings?: string[];
}


/**
 * Removes the cluster's SNAT policies on every gateway it claims, unless another live cluster
 * claims them too; each under that gateway's lease; then drops its claims. The transit exclusion is
 * not touched here: it goes only after the CIDR left the VPC (offboardExclusions).
 * Needs no cluster, VPC or network state (the cluster may be gone): the claims say where to look.
 * A cluster with no record or no claims: no reads of the controller, no writes at all.
 */
export async function offboardSnat(deps: SnatDeps, input: OffboardSnatInput): Promise<OffboardSnatResult> {
  const { ctx, sync } = controllerRun(deps, input, 'offboarding the controller side');
  const owned = await deps.ownership.read(input.clusterName);
  refuseIfTakenOver(input.clusterName, owned, input.identity);
  const gateways: GatewaySnatOutcome[] = [];
  for (const name of Object.keys(owned.snat)) gateways.push(await sync(name, (c) => syncGatewaySnat(c, name, [])));
  return { dryRun: input.dryRun, changes: ctx.changes, gateways };
}

/**
 * The last controller write of an offboarding: the cluster's transit exclusions, removed unless
 * another onboarded cluster claims them, and only once its pod CIDR has left the VPC. When the
 * cleanup kept the CIDR (`cidrKept`), the exclusion stays: with its claim while our association
 * waits for leftovers to go (the offboarding runs again), without it when the CIDR is someone else's.
 */
export async function offboardExclusions(
  deps: SnatDeps,
  input: OffboardSnatInput & { cidrKept?: { reason: string; retry: boolean } },
): Promise<OffboardExclusionsResult> {
  const owned = await deps.ownership.read(input.clusterName);
  if (input.cidrKept) {
    // Claims made for another cluster of this name (re-created since this run began) are its own, as in syncExclusions.
    if (!input.cidrKept.retry && !input.dryRun && !claimedForAnother(owned, input.claimant)) {
      for (const name of Object.keys(owned.exclusions)) await deps.ownership.setExclusions(input.clusterName, name, []);
    }
    const why = `the pod CIDR is still in the VPC (${input.cidrKept.reason}), so it stays excluded from the transit`;
    return { dryRun: input.dryRun, changes: [], exclusions: [], warnings: [why] };
  }
  const { ctx, sync } = controllerRun(deps, input, 'offboarding the controller side');
  const exclusions: OffboardExclusionsResult['exclusions'] = [];
  const warnings: string[] = [];
  for (const name of Object.keys(owned.exclusions)) {
    const { removed, claimedFor } = await sync(name, (c) => syncExclusions(c, name, []));
    exclusions.push({ transitGateway: name, removed });
    if (claimedFor) {
      warnings.push(
        `the exclusions on transit ${name} are claimed for EKS cluster "${input.clusterName}" re-created under its name (${claimedFor}), ` +
          `not for the cluster this run is for (${input.claimant ?? 'no identity on record'}): they stay for it`,
      );
    }
  }
  return { dryRun: input.dryRun, changes: ctx.changes, exclusions, ...(warnings.length > 0 ? { warnings } : {}) };
}

function describePolicy(policy: SnatPolicy): string {
  const via = policy.connection && policy.connection !== 'None' ? `connection ${policy.connection}` : `interface ${policy.interface ?? ''}`;
  return `${policy.src_ip ?? '*'} -> ${policy.dst_ip ?? '*'} via ${via}`;
}
