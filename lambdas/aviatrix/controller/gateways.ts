// Reading gateways (docs/aviatrix-controller-api.md section 2): `list_vpcs_summary` for the summary
// (VPC, private IP, SNAT mode, HA peer, a transit's exclusions) and `get_gateway_info` for details.
import { ControllerApiError } from '../errors';
import type { SnatPolicy } from '../policy-codec';
import { ControllerSession } from './session';

export interface HaGatewayDetails {
  vpc_name?: string;
  private_ip?: string;
  public_ip?: string;
  vpc_size?: string;
  cloud_type?: number;
  [key: string]: unknown;
}

/** A `list_vpcs_summary` element (docs/aviatrix-controller-api.md section 2). */
export interface GatewaySummary {
  vpc_name: string;
  cloud_type?: number;
  vpc_id?: string;
  vpc_region?: string;
  private_ip?: string;
  public_ip?: string;
  vpc_size?: string;
  account_name?: string;
  transit_gw_name?: string;
  enable_nat?: string;
  nat_enabled?: boolean;
  snat_target?: string;
  hagw_details?: HaGatewayDetails | null;
  /** On an HA gateway created on its own (`create_multicloud_ha_gateway`): its primary's name. */
  primary_gw_name?: string;
  exclude_cidr_list?: string[] | null;
  [key: string]: unknown;
}

/** A `get_gateway_info` result. */
export interface GatewayInfo {
  vpc_name: string;
  snat_ip_port_list?: SnatPolicy[] | null;
  transit_gw_name?: string;
  [key: string]: unknown;
}

/** The VPC id of a gateway: AWS answers `<vpc-id>~~<other>`; the part before `~~` is the VPC. */
export function vpcIdOf(gateway: GatewaySummary): string {
  return String(gateway.vpc_id ?? '').split('~~')[0];
}

/** The HA peer's name, when the gateway has one (`hagw_details.vpc_size` non-empty). */
export function haGatewayName(gateway: GatewaySummary): string | undefined {
  const ha = gateway.hagw_details;
  if (!ha || !ha.vpc_size || !ha.vpc_name) return undefined;
  return ha.vpc_name;
}

/**
 * Every HA peer of `primary`: the one `hagw_details` names, and each gateway of the listing that
 * names it as `primary_gw_name` (newer controllers allow several HA gateways on a spoke, created
 * one by one with any name; see docs/aviatrix-controller-api.md section 2).
 */
export function haPeerNames(primary: GatewaySummary, listed: GatewaySummary[]): string[] {
  const names = [haGatewayName(primary), ...listed.filter((g) => g.primary_gw_name === primary.vpc_name).map((g) => g.vpc_name)];
  return [...new Set(names.filter((n): n is string => !!n))];
}

/** Whether the gateway is some spoke's HA peer in this listing. */
export function isHaPeer(gateway: GatewaySummary, listed: GatewaySummary[]): boolean {
  return !!gateway.primary_gw_name || listed.some((g) => haGatewayName(g) === gateway.vpc_name);
}

/** Single-IP SNAT: `enable_nat == "yes"` and `snat_target == "primary"`. */
export function isSingleIpSnat(gateway: GatewaySummary): boolean {
  return gateway.enable_nat === 'yes' && gateway.snat_target === 'primary';
}

/** Customized SNAT active: `nat_enabled` and `snat_target == "customized"`. */
export function isCustomSnat(gateway: GatewaySummary): boolean {
  return gateway.nat_enabled === true && gateway.snat_target === 'customized';
}

/** `list_vpcs_summary gateway_name=<name>`; undefined when the controller has no such gateway. */
export async function getGateway(session: ControllerSession, name: string): Promise<GatewaySummary | undefined> {
  let results: unknown;
  try {
    results = await session.v2('list_vpcs_summary', { gateway_name: name }, name, 'query');
  } catch (error) {
    if (error instanceof ControllerApiError && error.status !== undefined && error.status < 500 && error.isNotFound) return undefined;
    throw error;
  }
  const list = Array.isArray(results) ? (results as GatewaySummary[]) : [];
  return list.find((g) => g && g.vpc_name === name);
}

/** `list_vpcs_summary spoke_only=true`: every spoke gateway (HA peers may be listed too). */
export async function listSpokeGateways(session: ControllerSession): Promise<GatewaySummary[]> {
  const results = await session.v2('list_vpcs_summary', { spoke_only: 'true' }, 'spoke gateways', 'query');
  return Array.isArray(results) ? (results as GatewaySummary[]) : [];
}

/** `get_gateway_info`; a `vpc_name` mismatch counts as not found. */
export async function getGatewayInfo(session: ControllerSession, name: string): Promise<GatewayInfo> {
  const results = (await session.v2('get_gateway_info', { gateway_name: name }, name, 'query')) as GatewayInfo | undefined;
  if (!results || typeof results !== 'object' || results.vpc_name !== name) {
    throw new ControllerApiError({ action: 'get_gateway_info', target: name, reason: `gateway ${name} not found` });
  }
  return results;
}
