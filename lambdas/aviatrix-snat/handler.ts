// Steps 9-10: custom SNAT on the spoke and its HA, and the pod CIDR excluded on the transit. Thin.
// Also serves:
//   the workflow's failure path: { action: "release-leases", executionId[, gateways] }
//   offboarding (cluster deleted):  { action: "offboard", clusterName, executionId, dryRun? }
import { aviatrixClient, AviatrixClient } from '../aviatrix/client';
import { gatewayKey, GatewayLeases, Leases } from '../shared/lease';
import { OwnershipRegistry } from '../aviatrix/ownership';
import { gatewayLeaseSeconds, offboardSnat, OffboardSnatResult, reconcileSnat, SnatResult } from '../aviatrix/snat';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { runStep } from '../shared/step';
import { WorkflowState } from '../shared/workflow';

export interface ReleaseLeasesInput {
  action: 'release-leases';
  executionId: string;
  /** Gateways to release; every lease the execution holds (gateway and cluster leases) when absent. */
  gateways?: string[];
}

export interface ReleaseLeasesResult {
  /** Lease keys released ("gateway#<name>", "cluster#<name>"). */
  released: string[];
}

export interface OffboardSnatEvent {
  action: 'offboard';
  clusterName: string;
  executionId: string;
  dryRun?: boolean;
}

export type SnatHandlerInput = (WorkflowState & { executionId?: string; action?: undefined }) | ReleaseLeasesInput | OffboardSnatEvent;

/**
 * Every action runs inside runStep: logged, unknown errors named with the step and cluster, AWS
 * throttling and 5xx turned into TransientError (which the ASL retries).
 */
export async function handler(event: SnatHandlerInput): Promise<SnatResult | ReleaseLeasesResult | OffboardSnatResult> {
  if (event.action === 'release-leases') return runStep('release-leases', undefined, () => work(event));
  if (event.action === 'offboard') return runStep('aviatrix-snat-offboard', event.clusterName, () => work(event));
  return runStep('aviatrix-snat', event.resolve?.cluster?.name ?? event.input?.clusterName, () => work(event));
}

/** Gateway leases that outlive one write of `client` in the worst case (gatewayLeaseSeconds). */
const gatewayLeases = (tableName: string, client: AviatrixClient) =>
  new GatewayLeases({ tableName, durationSeconds: gatewayLeaseSeconds(client) });

async function work(event: SnatHandlerInput): Promise<SnatResult | ReleaseLeasesResult | OffboardSnatResult> {
  const rt = runtime();
  const config = rt.config.aviatrix;
  const leaseTable = () => requireSetting(rt.leaseTableName, 'LEASE_TABLE_NAME');
  const ownership = () => new OwnershipRegistry({ tableName: requireSetting(rt.statusTableName, 'STATUS_TABLE_NAME') });

  if (event.action === 'release-leases') {
    if (!event.executionId) throw new OnboardingError('InvalidInput', 'release-leases needs executionId');
    const leases = new Leases({ tableName: leaseTable() });
    return { released: await leases.releaseAll(event.executionId, event.gateways?.map(gatewayKey)) };
  }

  if (event.action === 'offboard') {
    if (!event.clusterName) throw new OnboardingError('InvalidInput', 'offboard needs clusterName');
    const dryRun = event.dryRun === true;
    if (!dryRun && !event.executionId) throw new OnboardingError('InvalidInput', 'offboard needs executionId (the lease holder)');
    const client = aviatrixClient(config);
    return offboardSnat(
      { client, config, ownership: ownership(), ...(dryRun ? {} : { leases: gatewayLeases(leaseTable(), client) }) },
      { clusterName: event.clusterName, dryRun, holder: event.executionId || 'dry-run' },
    );
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
  const client = aviatrixClient(config);
  return reconcileSnat(
    {
      client,
      config,
      ownership: ownership(),
      ...(dryRun ? {} : { leases: gatewayLeases(leaseTable(), client) }),
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
