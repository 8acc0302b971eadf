// SmartGroups (docs/aviatrix-controller-api.md section 6, v2.5 `app-domains`).
import { ControllerSession, undefinedIfNotFound } from './session';

export type SelectorExpression = Record<string, string>;

export interface SmartGroupBody {
  name: string;
  selector: { any: { all: SelectorExpression }[] };
}

export interface SmartGroup extends SmartGroupBody {
  uuid: string;
}

const groupPath = (uuid: string) => `app-domains/${encodeURIComponent(uuid)}`;

export async function listSmartGroups(session: ControllerSession): Promise<SmartGroup[]> {
  const data = (await session.v25('GET', 'app-domains', undefined, 'SmartGroups')) as { app_domains?: unknown } | undefined;
  return Array.isArray(data?.app_domains) ? (data.app_domains as SmartGroup[]) : [];
}

export function getSmartGroup(session: ControllerSession, uuid: string): Promise<SmartGroup | undefined> {
  return undefinedIfNotFound(session.v25('GET', groupPath(uuid), undefined, uuid) as Promise<SmartGroup>);
}

/** Creates once: a create whose answer was lost is found by name, not sent again (see createOnce). */
export function createSmartGroup(session: ControllerSession, body: SmartGroupBody): Promise<string> {
  return session.createResource('app-domains', body, body.name, 'uuid', async () => (await listSmartGroups(session)).find((g) => g.name === body.name)?.uuid);
}

export async function updateSmartGroup(session: ControllerSession, uuid: string, body: SmartGroupBody): Promise<void> {
  await session.v25('PUT', groupPath(uuid), body, body.name);
}

export async function deleteSmartGroup(session: ControllerSession, uuid: string, name = uuid): Promise<void> {
  await session.v25('DELETE', groupPath(uuid), undefined, name);
}
