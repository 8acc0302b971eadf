// Controller features: `get_controller_feature` (v2, JSON body).
import { ControllerSession } from './session';

/** Whether a controller feature such as `k8s` is enabled. */
export async function getControllerFeature(session: ControllerSession, feature: string): Promise<boolean> {
  const results = (await session.v2('get_controller_feature', { feature }, `feature ${feature}`, 'json')) as { enabled?: unknown } | undefined;
  return results?.enabled === true || results?.enabled === 'true';
}
