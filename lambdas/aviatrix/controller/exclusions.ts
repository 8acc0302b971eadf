// Transit exclusions (docs/aviatrix-controller-api.md section 4): read from the transit's
// `list_vpcs_summary` (gateways.ts), written whole with `edit_gateway_advertised_cidr`.
import { ControllerSession } from './session';

/** Replaces a transit's excluded advertised spoke routes (`edit_gateway_advertised_cidr`, whole list). */
export async function setExcludedAdvertisedCidrs(session: ControllerSession, transit: string, cidrs: string[]): Promise<void> {
  await session.v2('edit_gateway_advertised_cidr', { gateway_name: transit, cidr: cidrs.join(',') }, transit, 'form');
}
