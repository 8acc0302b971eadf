// Steps 9-10: custom SNAT on the spoke and its HA, and the pod CIDR excluded on the transit. Thin.
// Also serves the workflow's failure path: { action: "release-leases", executionId[, gateways] }.
import { aviatrixClient } from '../aviatrix/client';
import { GatewayLeases } from '../aviatrix/lease';
import { reconcileSnat, SnatResult } from '../aviatrix/snat';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { WorkflowState } from '../shared/workflow';

export interface ReleaseLeasesInput {
  action: 'release-leases';
  executionId: string;
  /** Gateways to release; all of the holder's leases when absent. */
  gateways?: string[];
}

export interface ReleaseLeasesResult {
  released: string[];
}

export type SnatHandlerInput = (WorkflowState & { executionId?: string }) | ReleaseLeasesInput;

function isRelease(event: SnatHandlerInput): event is ReleaseLeasesInput {
  return (event as ReleaseLeasesInput).action === 'release-leases';
}

export async function handler(event: SnatHandlerInput): Promise<SnatResult | ReleaseLeasesResult> {
  const rt = runtime();
  if (isRelease(event)) {
    if (!event.executionId) throw new OnboardingError('InvalidInput', 'release-leases needs executionId');
    const leases = new GatewayLeases({ tableName: requireSetting(rt.leaseTableName, 'LEASE_TABLE_NAME') });
    return { released: await leases.releaseAll(event.executionId, event.gateways) };
  }
  const state = event;
  const cluster = state.resolve?.cluster;
  const network = state.network;
  if (!cluster?.vpcId || !network?.podCidr) {
    throw new OnboardingError('InvalidInput', 'aviatrix-snat needs state.resolve.cluster (vpcId) and state.network (podCidr, nodeSubnets)');
  }
  const dryRun = state.input?.dryRun === true;
  const holder = typeof state.executionId === 'string' && state.executionId ? state.executionId : undefined;
  if (!dryRun && !holder) throw new OnboardingError('InvalidInput', 'aviatrix-snat needs state.executionId (the lease holder)');
  const config = rt.config.aviatrix;
  return reconcileSnat(
    {
      client: aviatrixClient(config),
      config,
      ...(dryRun ? {} : { leases: new GatewayLeases({ tableName: requireSetting(rt.leaseTableName, 'LEASE_TABLE_NAME') }) }),
    },
    {
      clusterName: cluster.name,
      vpcId: cluster.vpcId,
      podCidr: network.podCidr,
      nodeSubnetCidrs: (network.nodeSubnets ?? []).map((s) => s.cidr),
      dryRun,
      holder: holder ?? 'dry-run',
    },
  );
}
