// Custom SNAT on one gateway (docs/aviatrix-controller-api.md section 3): the list is read from
// `get_gateway_info` and written whole; single-IP SNAT is switched off with `disable_snat`.
import { dedupePolicies, encodePolicyList, SnatPolicy } from '../policy-codec';
import { getGatewayInfo } from './gateways';
import { ControllerSession } from './session';

/** The gateway's custom SNAT rules (`snat_ip_port_list`), de-duplicated on all fields. */
export async function getSnatPolicies(session: ControllerSession, name: string): Promise<SnatPolicy[]> {
  const info = await getGatewayInfo(session, name);
  return dedupePolicies(Array.isArray(info.snat_ip_port_list) ? info.snat_ip_port_list : []);
}

/**
 * Replaces the gateway's whole custom SNAT list (`edit_gw_customized_snat_config`, mode=custom).
 * `enableNat` sends `enable_nat=yes`, only when custom SNAT is being switched on.
 */
export async function replaceSnatPolicies(
  session: ControllerSession,
  name: string,
  policies: SnatPolicy[] | null,
  options: { enableNat: boolean },
): Promise<void> {
  await session.v2(
    'edit_gw_customized_snat_config',
    {
      gateway_name: name,
      mode: 'custom',
      ...(options.enableNat ? { enable_nat: 'yes' } : {}),
      policy_list: encodePolicyList(policies),
      compress: 'true',
    },
    name,
    'form',
  );
}

/** Switches single-IP SNAT off (`disable_snat`). */
export async function disableSingleIpSnat(session: ControllerSession, name: string, cloudType: number): Promise<void> {
  await session.v2('disable_snat', { gateway_name: name, cloud_type: String(cloudType) }, name, 'form');
}
