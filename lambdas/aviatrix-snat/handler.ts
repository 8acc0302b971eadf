// The controller's shared lists, one action per workflow state. Thin. With the workflow state:
//   { action: "preflight", state }  design step 2, reads only: controller, k8s feature, gateways;
//   { action: "exclude", state }    design step 3: the pod CIDR excluded on the transit;
//   the state itself                design step 8: custom SNAT on the spoke and its HA peer.
// And:
//   the workflow's failure path: { action: "release-leases", executionId[, gateways] }
//   offboarding (cluster deleted):  { action: "offboard", clusterName, executionId, dryRun? } (SNAT),
//     then { action: "offboard-exclusions", ..., cleanup } once the cleanup says whether the CIDR left the VPC.
import { controllerAccess } from '../aviatrix/access-account';
import { aviatrixClient, AviatrixClient } from '../aviatrix/client';
import { gatewayKey, GatewayLeases, Leases } from '../shared/lease';
import { claimantOf, OwnershipRegistry } from '../aviatrix/ownership';
import {
  ControllerPreflight,
  ExclusionResult,
  gatewayLeaseSeconds,
  offboardExclusions,
  OffboardExclusionsResult,
  offboardSnat,
  OffboardSnatResult,
  preflightController,
  reconcileExclusion,
  reconcileSnat,
  SnatResult,
} from '../aviatrix/snat';
import { preflightOf } from '../aviatrix/preflight-state';
import { chooseSmartGroupTemplate } from '../aviatrix/onboarding';
import { networkCluster, readyCluster } from '../shared/state';
import { OnboardingError } from '../shared/errors';
import { requireSetting, runtime } from '../shared/runtime';
import { beginInvocation, LambdaContextLike, runStep } from '../shared/step';
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
  action: 'offboard' | 'offboard-exclusions';
  clusterName: string;
  executionId: string;
  dryRun?: boolean;
  /** offboard-exclusions: the AWS cleanup's answer; its cidrKept keeps the exclusion. */
  cleanup?: { cidrKept?: { reason: string; retry: boolean } };
  /** offboard-exclusions of a run whose cluster was deleted or re-created (DropExclusion): the cluster it began with. */
  cluster?: { arn: string; createdAt?: string };
  /**
   * The offboarding's record: its identity. offboard: a record a re-created cluster took over is refused;
   * offboard-exclusions: only exclusion claims made for that cluster go.
   */
  record?: { identity?: string };
}

export interface ClusterStepEvent {
  action: 'preflight' | 'exclude';
  state: WorkflowState;
}

export type SnatHandlerInput = (WorkflowState & { executionId?: string; action?: undefined }) | ReleaseLeasesInput | OffboardSnatEvent | ClusterStepEvent;
type SnatHandlerResult = SnatResult | ReleaseLeasesResult | OffboardSnatResult | OffboardExclusionsResult | ControllerPreflight | ExclusionResult;


/**
 * Every action runs inside runStep: logged, unknown errors named with the step and cluster, AWS
 * throttling and 5xx turned into TransientError (which the ASL retries).
 */
export async function handler(event: SnatHandlerInput, context?: LambdaContextLike): Promise<SnatHandlerResult> {
  beginInvocation(event, context);
  if (event.action === 'release-leases') return runStep('release-leases', undefined, () => work(event));
  if (event.action === 'offboard' || event.action === 'offboard-exclusions') return runStep(`aviatrix-snat-${event.action}`, event.clusterName, () => work(event));
  if (event.action === 'preflight' || event.action === 'exclude') {
    return runStep(`aviatrix-${event.action}`, event.state?.resolve?.cluster?.name ?? event.state?.input?.clusterName, () => work(event));
  }
  const state = event as WorkflowState;
  return runStep('aviatrix-snat', state.resolve?.cluster?.name ?? state.input?.clusterName, () => work(event));
}

/**
 * Gateway leases that outlive one write of `client` in the worst case (gatewayLeaseSeconds). That
 * worst case is also the work reserved after acquiring: a wait ends early enough for one whole
 * read-modify-write of the gateway before the function's timeout (the next gateway's wait is bounded
 * again), so the function is never stopped holding a lease mid-write.
 */
const gatewayLeases = (tableName: string, client: AviatrixClient) => {
  const seconds = gatewayLeaseSeconds(client);
  return new GatewayLeases({ tableName, durationSeconds: seconds, workMs: seconds * 1000 });
};

/** The lease holder of a writing run: the workflow's execution id (a dry run holds nothing). */
function holderOf(executionId: unknown, dryRun: boolean, step: string): string {
  if (typeof executionId === 'string' && executionId) return executionId;
  if (dryRun) return 'dry-run';
  throw new OnboardingError('InvalidInput', `${step} needs the workflow's executionId (the lease holder); start the workflow from its first state`);
}

async function work(event: SnatHandlerInput): Promise<SnatHandlerResult> {
  const rt = runtime();
  const config = rt.config.aviatrix;
  const leaseTable = () => requireSetting(rt.leaseTableName, 'LEASE_TABLE_NAME');
  const ownership = () => new OwnershipRegistry({ tableName: requireSetting(rt.statusTableName, 'STATUS_TABLE_NAME') });

  if (event.action === 'release-leases') {
    if (!event.executionId) throw new OnboardingError('InvalidInput', 'release-leases needs executionId');
    const leases = new Leases({ tableName: leaseTable() });
    return { released: await leases.releaseAll(event.executionId, event.gateways?.map(gatewayKey)) };
  }

  if (event.action === 'offboard' || event.action === 'offboard-exclusions') {
    if (!event.clusterName) throw new OnboardingError('InvalidInput', `${event.action} needs clusterName`);
    const dryRun = event.dryRun === true;
    const client = aviatrixClient(config);
    const deps = { client, config, ownership: ownership(), ...(dryRun ? {} : { leases: gatewayLeases(leaseTable(), client) }) };
    const input = { clusterName: event.clusterName, dryRun, holder: holderOf(event.executionId, dryRun, event.action) };
    const identity = event.record?.identity;
    if (event.action === 'offboard') return offboardSnat(deps, { ...input, ...(identity ? { identity } : {}) });
    // Only claims made for the cluster the run began with go: DropExclusion's cluster, or the offboarding record's
    // identity (a cluster re-created and onboarded after CleanupAws's last look has claimed the exclusion again);
    // a record without one: only claims recorded for no cluster.
    const claimant = event.cluster ? claimantOf(event.cluster) : event.record ? identity ?? null : undefined;
    const kept = event.cleanup?.cidrKept;
    return offboardExclusions(deps, { ...input, ...(claimant !== undefined ? { claimant } : {}), ...(kept ? { cidrKept: kept } : {}) });
  }

  const state = event.action === 'preflight' || event.action === 'exclude' ? (event as ClusterStepEvent).state : (event as WorkflowState);
  // The preflight and the exclusion run while a new cluster is still CREATING (phase early).
  const cluster = event.action === 'preflight' || event.action === 'exclude' ? networkCluster(state) : readyCluster(state);
  const dryRun = state.input?.dryRun === true;
  const client = aviatrixClient(config);
  if (event.action === 'preflight') {
    // A template tag naming no template stops the run here, before its first write.
    chooseSmartGroupTemplate(cluster, config);
    controllerAccess(runtime().config); // a member account's cluster needs its Aviatrix access account: refused before any write
    return preflightController(client, config, { vpcId: cluster.vpcId, clusterName: cluster.name });
  }

  const holder = holderOf(state.executionId, dryRun, `aviatrix-${event.action ?? 'snat'}`);
  const deps = { client, config, ownership: ownership(), ...(dryRun ? {} : { leases: gatewayLeases(leaseTable(), client) }) };
  const gateways = preflightOf(state);
  const podCidr = state.network?.podCidr ?? rt.config.secondaryCidr;
  if (event.action === 'exclude') {
    if (!gateways) throw new OnboardingError('InvalidInput', 'aviatrix-exclude needs state.preflight.controller (the Preflight step output); start the workflow from its first state');
    return reconcileExclusion(deps, { clusterName: cluster.name, claimant: claimantOf(cluster), podCidr, transitGateway: gateways.transitGateway, dryRun, holder });
  }
  const network = state.network;
  if (!network?.podCidr) {
    throw new OnboardingError('InvalidInput', 'aviatrix-snat needs state.network (podCidr, nodeSubnets); start the workflow from its first state');
  }
  return reconcileSnat(deps, {
    clusterName: cluster.name,
    vpcId: cluster.vpcId,
    podCidr: network.podCidr,
    nodeSubnetCidrs: (network.nodeSubnets ?? []).map((subnet) => subnet.cidr),
    spokeRoutedSubnetCidrs: network.spokeRoutedSubnets ?? [],
    ...(gateways ? { gateways } : {}),
    dryRun,
    holder,
  });
}
