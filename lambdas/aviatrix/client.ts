// The one entry point to the Aviatrix controller for the reconcilers: AviatrixClient is the session
// (controller/session.ts: login, CID, retries, TLS) with the calls of each resource module
// (controller/<resource>.ts, named like the sections of docs/aviatrix-controller-api.md) as methods.
import type { SnatPolicy } from './policy-codec';
import { getControllerFeature } from './controller/features';
import { getGateway, getGatewayInfo, GatewayInfo, GatewaySummary, listSpokeGateways } from './controller/gateways';
import { disableSingleIpSnat, getSnatPolicies, replaceSnatPolicies } from './controller/snat';
import { setExcludedAdvertisedCidrs } from './controller/exclusions';
import { createK8sCluster, deleteK8sCluster, getK8sCluster, K8sCluster, K8sClusterBody, listK8sClusters, updateK8sCluster } from './controller/k8s-clusters';
import { createSmartGroup, deleteSmartGroup, getSmartGroup, listSmartGroups, SmartGroup, SmartGroupBody, updateSmartGroup } from './controller/smartgroups';
import { AviatrixClientOptions, ControllerConnection, ControllerSession } from './controller/session';
import { keptWhileWarm } from '../shared/warm-state';

export { ControllerApiError } from './errors';
export type { SnatPolicy } from './policy-codec';
export { redact, resetAviatrixClientState } from './controller/session';
export type { AviatrixClientOptions, ControllerConnection } from './controller/session';
export { haGatewayName, haPeerNames, isCustomSnat, isHaPeer, isSingleIpSnat, vpcIdOf } from './controller/gateways';
export type { GatewayInfo, GatewaySummary, HaGatewayDetails } from './controller/gateways';
export type { K8sCluster, K8sClusterBody } from './controller/k8s-clusters';
export type { SelectorExpression, SmartGroup, SmartGroupBody } from './controller/smartgroups';

export class AviatrixClient extends ControllerSession {
  // ---- gateways (section 2), SNAT (3), transit exclusions (4), features ----------------------
  getGateway(name: string): Promise<GatewaySummary | undefined> {
    return getGateway(this, name);
  }
  listSpokeGateways(): Promise<GatewaySummary[]> {
    return listSpokeGateways(this);
  }
  getGatewayInfo(name: string): Promise<GatewayInfo> {
    return getGatewayInfo(this, name);
  }
  getSnatPolicies(name: string): Promise<SnatPolicy[]> {
    return getSnatPolicies(this, name);
  }
  replaceSnatPolicies(name: string, policies: SnatPolicy[] | null, options: { enableNat: boolean }): Promise<void> {
    return replaceSnatPolicies(this, name, policies, options);
  }
  disableSingleIpSnat(name: string, cloudType: number): Promise<void> {
    return disableSingleIpSnat(this, name, cloudType);
  }
  setExcludedAdvertisedCidrs(transit: string, cidrs: string[]): Promise<void> {
    return setExcludedAdvertisedCidrs(this, transit, cidrs);
  }
  getControllerFeature(feature: string): Promise<boolean> {
    return getControllerFeature(this, feature);
  }

  // ---- Kubernetes clusters (section 5) -------------------------------------------------------
  listK8sClusters(): Promise<K8sCluster[]> {
    return listK8sClusters(this);
  }
  getK8sCluster(id: string): Promise<K8sCluster | undefined> {
    return getK8sCluster(this, id);
  }
  createK8sCluster(body: K8sClusterBody): Promise<string> {
    return createK8sCluster(this, body);
  }
  updateK8sCluster(id: string, body: K8sClusterBody): Promise<void> {
    return updateK8sCluster(this, id, body);
  }
  deleteK8sCluster(id: string): Promise<void> {
    return deleteK8sCluster(this, id);
  }

  // ---- SmartGroups (section 6) ---------------------------------------------------------------
  listSmartGroups(): Promise<SmartGroup[]> {
    return listSmartGroups(this);
  }
  getSmartGroup(uuid: string): Promise<SmartGroup | undefined> {
    return getSmartGroup(this, uuid);
  }
  createSmartGroup(body: SmartGroupBody): Promise<string> {
    return createSmartGroup(this, body);
  }
  updateSmartGroup(uuid: string, body: SmartGroupBody): Promise<void> {
    return updateSmartGroup(this, uuid, body);
  }
  deleteSmartGroup(uuid: string, name = uuid): Promise<void> {
    return deleteSmartGroup(this, uuid, name);
  }
}

const clients = new Map<string, AviatrixClient>();
// A client keeps the Secrets Manager client it was made with (and so its endpoint).
keptWhileWarm(() => clients.clear());

/** One client per controller and secret for the life of the container. */
export function aviatrixClient(connection: ControllerConnection, options?: AviatrixClientOptions): AviatrixClient {
  const key = JSON.stringify([connection.controllerUrl, connection.credentialsSecretName, connection.caBundlePem ?? '', connection.verifyTls]);
  let client = clients.get(key);
  if (!client) {
    client = new AviatrixClient(connection, options);
    clients.set(key, client);
  }
  return client;
}
