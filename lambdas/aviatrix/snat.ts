// Design steps 9-10: custom SNAT policies for a cluster's pods and nodes on the spoke gateway of its
// VPC and, separately, on the spoke's HA peer (each with its own private IP), and the pod CIDR in the
// transit's excluded advertised spoke routes. Both lists are replaced whole by every write, so each
// read-modify-write holds that gateway's lease: acquire, re-read, merge, write only if different,
// read back to confirm, release. Foreign policies and exclusions are kept exactly.
import { AviatrixConfig } from '../../lib/config';
import { Change, StepResult } from '../shared/workflow';
import { OnboardingError } from '../shared/errors';
import { logger } from '../shared/logger';
import {
  AviatrixClient,
  GatewaySummary,
  haGatewayName,
  isCustomSnat,
  isSingleIpSnat,
  vpcIdOf,
} from './client';
import { GatewayLeases } from './lease';
import { mergePolicies, missingPolicies, policyKey, SnatPolicy } from './policy-codec';

export interface SnatInput {
  clusterName: string;
  vpcId: string;
  podCidr: string;
  /** CIDRs of the node subnets (each gets an internet-egress rule). */
  nodeSubnetCidrs: string[];
  dryRun: boolean;
  /** Lease holder: the workflow's execution id. */
  holder: string;
}

export interface SnatDeps {
  client: AviatrixClient;
  config: Pick<AviatrixConfig, 'spokeGatewayName' | 'transitGatewayName' | 'allowDisableSingleIpSnat'>;
  /** Required unless dryRun. */
  leases?: GatewayLeases;
}

export interface GatewaySnatOutcome {
  gateway: string;
  role: 'primary' | 'ha';
  snatIp: string;
  /** Our policies that were missing (written, or planned in a dry run). */
  added: number;
  /** Policies on the gateway after the step (or planned). */
  total: number;
}

export interface SnatResult extends StepResult {
  spokeGateway: string;
  haGateway?: string;
  transitGateway: string;
  gateways: GatewaySnatOutcome[];
  exclusion: { transitGateway: string; cidr: string; added: boolean };
}

export interface ClusterGateways {
  spoke: GatewaySummary;
  ha?: GatewaySummary;
  transit: GatewaySummary;
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

/** Finds the spoke serving the VPC, its HA peer and the transit. Reads only. */
export async function resolveGateways(
  client: AviatrixClient,
  config: SnatDeps['config'],
  vpcId: string,
  clusterName: string,
): Promise<ClusterGateways> {
  let spoke: GatewaySummary | undefined;
  if (config.spokeGatewayName) {
    spoke = await client.getGateway(config.spokeGatewayName);
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
    const spokes = await client.listSpokeGateways();
    const haNames = new Set(spokes.map(haGatewayName).filter((n): n is string => n !== undefined));
    const candidates = spokes.filter((g) => vpcIdOf(g) === vpcId && !haNames.has(g.vpc_name));
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

  let ha: GatewaySummary | undefined;
  const haName = haGatewayName(spoke);
  if (haName) {
    ha = await client.getGateway(haName);
    if (!ha) {
      throw new OnboardingError('GatewayNotFound', `HA gateway ${haName} of spoke ${spoke.vpc_name} is not listed by the controller`);
    }
  }

  const transitName = config.transitGatewayName ?? (spoke.transit_gw_name || undefined);
  if (!transitName) {
    throw new OnboardingError(
      'GatewayNotFound',
      `spoke gateway ${spoke.vpc_name} is not attached to a transit gateway and onboarding.aviatrix.transitGatewayName is not set; ` +
        'attach the spoke or set the transit gateway name',
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
  for (const g of [spoke, ha]) {
    if (g && !g.private_ip) {
      throw new OnboardingError('GatewayConflict', `gateway ${g.vpc_name} reports no private_ip; its SNAT address is unknown`);
    }
  }
  return { spoke, ...(ha ? { ha } : {}), transit };
}

function singleIpConflict(gateway: string): OnboardingError {
  return new OnboardingError(
    'GatewayConflict',
    `gateway ${gateway} uses single-IP SNAT, which custom SNAT would replace; switch it off on the controller, ` +
      `or set ${SINGLE_IP_KEY}=true to let the workflow switch it off`,
  );
}

export async function reconcileSnat(deps: SnatDeps, input: SnatInput): Promise<SnatResult> {
  const { client, config } = deps;
  const gateways = await resolveGateways(client, config, input.vpcId, input.clusterName);
  const transitName = gateways.transit.vpc_name;

  // Refuse before any write.
  for (const g of [gateways.spoke, gateways.ha]) {
    if (g && isSingleIpSnat(g) && !config.allowDisableSingleIpSnat) throw singleIpConflict(g.vpc_name);
  }
  if (!input.dryRun && !deps.leases) throw new Error('reconcileSnat needs leases unless dryRun');

  const changes: Change[] = [];
  const outcomes: GatewaySnatOutcome[] = [];
  const targets: { gateway: GatewaySummary; role: 'primary' | 'ha' }[] = [{ gateway: gateways.spoke, role: 'primary' }];
  if (gateways.ha) targets.push({ gateway: gateways.ha, role: 'ha' });

  for (const { gateway, role } of targets) {
    const name = gateway.vpc_name;
    const snatIp = String(gateway.private_ip);
    const wanted = desiredPolicies(input.podCidr, input.nodeSubnetCidrs, transitName, snatIp);
    const step = async (): Promise<GatewaySnatOutcome> => {
      const current = await client.getGateway(name);
      if (!current) throw new OnboardingError('GatewayNotFound', `gateway ${name} disappeared from the controller during the update`);
      const single = isSingleIpSnat(current);
      if (single && !config.allowDisableSingleIpSnat) throw singleIpConflict(name);
      const existing = await client.getSnatPolicies(name);
      const missing = missingPolicies(existing, wanted);
      const enabling = !isCustomSnat(current);
      const merged = mergePolicies(existing, wanted);
      if (missing.length === 0 && !enabling) return { gateway: name, role, snatIp, added: 0, total: existing.length };
      if (single) {
        changes.push({ resource: `aviatrix gateway ${name}`, action: 'update', detail: 'switch single-IP SNAT off (allowed by config)' });
        if (!input.dryRun) await client.disableSingleIpSnat(name, Number(current.cloud_type ?? 1));
      }
      changes.push({
        resource: `aviatrix gateway ${name}`,
        action: 'update',
        detail: `add ${missing.length} custom SNAT polic${missing.length === 1 ? 'y' : 'ies'} for cluster ${input.clusterName} (SNAT IP ${snatIp}), keeping ${existing.length} existing`,
      });
      if (input.dryRun) return { gateway: name, role, snatIp, added: missing.length, total: merged.length };
      await client.replaceSnatPolicies(name, merged, { enableNat: enabling });
      const after = await client.getSnatPolicies(name);
      const lost = missingPolicies(after, merged);
      if (lost.length > 0) {
        throw new OnboardingError(
          'ControllerError',
          `after writing custom SNAT on gateway ${name}, the controller reports ${lost.length} of the ${merged.length} policies missing ` +
            `(e.g. ${describePolicy(lost[0])}); the write did not take effect`,
        );
      }
      logger.info('Custom SNAT policies written', { gateway: name, added: missing.length, total: after.length });
      return { gateway: name, role, snatIp, added: missing.length, total: after.length };
    };
    outcomes.push(input.dryRun ? await step() : await deps.leases!.withLease(name, input.holder, step));
  }

  const exclusionStep = async (): Promise<boolean> => {
    const transit = await client.getGateway(transitName);
    if (!transit) throw new OnboardingError('GatewayNotFound', `transit gateway ${transitName} disappeared from the controller during the update`);
    const existing = (transit.exclude_cidr_list ?? []).map((c) => c.trim()).filter((c) => c !== '');
    if (existing.includes(input.podCidr)) return false;
    changes.push({
      resource: `aviatrix transit ${transitName}`,
      action: 'update',
      detail: `exclude pod CIDR ${input.podCidr} from advertised spoke routes, keeping ${existing.length} existing`,
    });
    if (input.dryRun) return true;
    const wanted = [...new Set(existing), input.podCidr];
    await client.setExcludedAdvertisedCidrs(transitName, wanted);
    const after = await client.getGateway(transitName);
    const now = new Set((after?.exclude_cidr_list ?? []).map((c) => c.trim()));
    const lost = wanted.filter((c) => !now.has(c));
    if (lost.length > 0) {
      throw new OnboardingError(
        'ControllerError',
        `after writing excluded advertised routes on transit ${transitName}, the controller lacks ${lost.join(', ')}; the write did not take effect`,
      );
    }
    return true;
  };
  const added = input.dryRun ? await exclusionStep() : await deps.leases!.withLease(transitName, input.holder, exclusionStep);

  return {
    dryRun: input.dryRun,
    changes,
    spokeGateway: gateways.spoke.vpc_name,
    ...(gateways.ha ? { haGateway: gateways.ha.vpc_name } : {}),
    transitGateway: transitName,
    gateways: outcomes,
    exclusion: { transitGateway: transitName, cidr: input.podCidr, added },
  };
}

/**
 * Removes a cluster's policies (identified exactly as `desiredPolicies` builds them) from the spoke
 * and its HA, under each gateway's lease. The transit exclusion is left to the caller, which knows
 * whether another cluster in the VPC still needs it.
 */
export async function removeClusterPolicies(
  deps: SnatDeps & { leases: GatewayLeases },
  input: Omit<SnatInput, 'dryRun'> & { dryRun?: boolean },
): Promise<StepResult> {
  const { client, config } = deps;
  const gateways = await resolveGateways(client, config, input.vpcId, input.clusterName);
  const changes: Change[] = [];
  for (const gateway of [gateways.spoke, gateways.ha]) {
    if (!gateway) continue;
    const name = gateway.vpc_name;
    const ours = new Set(
      desiredPolicies(input.podCidr, input.nodeSubnetCidrs, gateways.transit.vpc_name, String(gateway.private_ip)).map(policyKey),
    );
    const step = async () => {
      const existing = await client.getSnatPolicies(name);
      const kept = existing.filter((p) => !ours.has(policyKey(p)));
      if (kept.length === existing.length) return;
      changes.push({ resource: `aviatrix gateway ${name}`, action: 'delete', detail: `remove ${existing.length - kept.length} custom SNAT policies of cluster ${input.clusterName}` });
      if (input.dryRun) return;
      await client.replaceSnatPolicies(name, kept.length > 0 ? kept : null, { enableNat: false });
    };
    if (input.dryRun) await step();
    else await deps.leases.withLease(name, input.holder, step);
  }
  return { dryRun: input.dryRun ?? false, changes };
}

function describePolicy(policy: SnatPolicy): string {
  const via = policy.connection && policy.connection !== 'None' ? `connection ${policy.connection}` : `interface ${policy.interface ?? ''}`;
  return `${policy.src_ip ?? '*'} -> ${policy.dst_ip ?? '*'} via ${via}`;
}
