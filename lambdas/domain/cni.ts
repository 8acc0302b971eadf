// Design steps 7 and 9, two stages of one reconciler, each writing only its own env keys:
// - custom networking (right after the pod network): the reconciler's own access entry, one
//   ENIConfig per AZ, then the VPC CNI switched to custom networking. ENIConfigs go first: a node
//   that starts with custom networking on and no ENIConfig for its AZ cannot give its pods addresses.
// - external SNAT (last): only once the SNAT policies are read back on the spoke and its HA peer,
//   the CNI stops SNATing pod traffic itself. Before that, pods on the pod subnets still egress
//   through the node's primary address, so a run that stops anywhere earlier leaves them working.
import {
  Addon,
  DescribeAddonCommand,
  DescribeUpdateCommand,
  InvalidRequestException,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateAddonCommand,
} from '../shared/sdk/eks';
import { OnboardingConfig } from '../../lib/config';
import { eks } from '../shared/aws';
import { appliedChangesOf, OnboardingError, withAppliedChanges } from '../shared/errors';
import { KubeClient } from '../shared/kube';
import { Change, CniResult, ClusterSummary, PodNetworkResult } from '../shared/workflow';
import { kubeClientFor } from './cluster';
import { findEarlyNodes } from './nodegroup';
import {
  checkPodSubnetsForPrefixes, clusterOptionWarnings, CNI_CLAIMS_TAG, CniSettings, desiredCniSettings, formatClaims, parseClaims, planOptionClaims,
  recordOptionClaims, refuseOldSelfManagedCni, withoutOptions,
} from './cni-options';
import { reconcilePodSecurityGroups, vpcResourceControllerWarnings } from './pod-security-groups';
import { readClusterGroups, reconcileClusterGroupRules } from './network';
import { ACCESS_PROPAGATION_MS, ensureKubernetesAccess, isAuthFailure, KubernetesAccess, RECONCILER_KUBE_GROUP, RECONCILER_RBAC_NAME } from './kube-access';

export const VPC_CNI_ADDON = 'vpc-cni';
export const CUSTOM_NETWORKING_ENV: Readonly<Record<string, string>> = {
  AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true',
  ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
};
export const EXTERNAL_SNAT_ENV: Readonly<Record<string, string>> = { AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true' };

export type CniStage = 'custom-networking' | 'external-snat';
const STAGE_ENV: Record<CniStage, Readonly<Record<string, string>>> = {
  'custom-networking': CUSTOM_NETWORKING_ENV,
  'external-snat': EXTERNAL_SNAT_ENV,
};
export const ENICONFIG_PATH = '/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs';
export const AWS_NODE_PATH = '/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node';

interface EniConfig {
  metadata?: { name?: string };
  spec?: { subnet?: string; securityGroups?: string[] };
}

interface DaemonSet {
  spec?: { template?: { spec?: { containers?: { name: string; image?: string; env?: { name: string; value?: string }[] }[] } } };
}

const awsNodeContainer = (daemonSet: DaemonSet | undefined) => daemonSet?.spec?.template?.spec?.containers?.find((c) => c.name === 'aws-node');
const awsNodeEnv = (daemonSet: DaemonSet | undefined) => new Map((awsNodeContainer(daemonSet)?.env ?? []).map((e) => [e.name, e.value]));

export interface CniInput {
  /** Default custom-networking. */
  stage?: CniStage;
  /** When done (not in a plan), report the cluster's nodes that started before custom networking took effect. */
  earlyNodes?: { customNetworkingSince?: string };
  cluster: ClusterSummary;
  network: PodNetworkResult;
  dryRun: boolean;
  reconcilerRoleArn: string;
  /** This step's previous answer when the workflow calls it again after a wait. */
  previous?: CniResult;
  /**
   * External-SNAT stage of a run that is not a dry run: the custom-networking stage of the same
   * run has made sure of the access (group and RBAC), so this stage and its plan rely on it.
   */
  accessEnsured?: boolean;
}

type Progress = Pick<CniResult, 'changes' | 'eniConfigs' | 'optionClaims'> & { mode: CniResult['mode'] };

function pending(input: CniInput, progress: Progress, reason: string, extra: Partial<CniResult> = {}): CniResult {
  return {
    phase: 'pending',
    reason,
    dryRun: input.dryRun,
    ...progress,
    waitingSince: input.previous?.waitingSince ?? new Date().toISOString(),
    ...extra,
  };
}

function checkWaitBound(input: CniInput, config: OnboardingConfig, what: string): void {
  const since = input.previous?.waitingSince;
  if (!since) return;
  const waited = Math.round((Date.now() - Date.parse(since)) / 1000);
  if (waited >= config.addonUpdateTimeoutSeconds) {
    throw new OnboardingError(
      'WaitTimedOut',
      `${what} on EKS cluster "${input.cluster.name}" did not finish within ${waited} s (limit onboarding.addonUpdateTimeoutSeconds = ` +
        `${config.addonUpdateTimeoutSeconds}); check the vpc-cni add-on in the EKS console, then run the workflow again`,
    );
  }
}

function desiredEniConfigs(network: PodNetworkResult): CniResult['eniConfigs'] {
  const groups = network.podSecurityGroupId ? [network.podSecurityGroupId] : [];
  return network.podSubnets.map((s) => ({
    name: s.availabilityZone,
    ...(s.subnetId ? { subnetId: s.subnetId } : {}),
    securityGroups: groups,
  }));
}

const sameEniConfig = (actual: EniConfig | undefined, desired: CniResult['eniConfigs'][number]) =>
  actual?.spec?.subnet === desired.subnetId &&
  JSON.stringify([...(actual?.spec?.securityGroups ?? [])].sort()) === JSON.stringify([...desired.securityGroups].sort());

/** Each AZ's ENIConfig is independent of the others': all are compared and applied at once (ENIConfig-first latency). */
async function reconcileEniConfigs(kube: KubeClient, input: CniInput, changes: Change[]): Promise<void> {
  const settled = await Promise.allSettled(
    desiredEniConfigs(input.network).map(async (desired): Promise<Change | undefined> => {
      const path = `${ENICONFIG_PATH}/${desired.name}`;
      const actual = await kube.get<EniConfig>(path);
      if (sameEniConfig(actual, desired)) return undefined;
      if (!input.dryRun) {
        await kube.apply(path, {
          apiVersion: 'crd.k8s.amazonaws.com/v1alpha1',
          kind: 'ENIConfig',
          metadata: { name: desired.name, labels: { 'app.kubernetes.io/managed-by': 'eks-aviatrix-onboarding' } },
          spec: { subnet: desired.subnetId, securityGroups: desired.securityGroups },
        });
      }
      return {
        resource: `ENIConfig ${desired.name}`,
        action: actual ? 'update' : 'create',
        detail: `subnet ${desired.subnetId ?? '(new pod subnet)'}, security groups ${desired.securityGroups.join(', ') || '(new pod security group)'}`,
      };
    }),
  );
  // What was written is on record before a failure of another AZ's write is reported.
  for (const s of settled) if (s.status === 'fulfilled' && s.value) changes.push(s.value);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}

function parseConfigurationValues(addon: Addon, clusterName: string): Record<string, unknown> {
  const text = addon.configurationValues?.trim();
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through to the refusal below
  }
  throw new OnboardingError(
    'ClusterRefused',
    `the vpc-cni add-on of EKS cluster "${clusterName}" has configuration values that are not a JSON object; ` +
      'rewrite them as JSON (aws eks update-addon --configuration-values) and run again',
  );
}

const envOf = (configuration: Record<string, unknown>) => (configuration.env && typeof configuration.env === 'object' ? configuration.env : {}) as Record<string, unknown>;

/** The add-on configuration with our env (and top-level keys) merged in, or undefined when it already holds them. */
export function mergedAddonConfiguration(
  current: Record<string, unknown>,
  wanted: Readonly<Record<string, string>> = CUSTOM_NETWORKING_ENV,
  top: Readonly<Record<string, string>> = {},
): Record<string, unknown> | undefined {
  const env = envOf(current);
  const missing = [...Object.entries(wanted).filter(([key, value]) => env[key] !== value), ...Object.entries(top).filter(([key, value]) => current[key] !== value)];
  if (missing.length === 0) return undefined;
  return { ...current, ...top, env: { ...env, ...wanted } };
}

/** The stage's settings: the custom-networking stage also carries the configured CNI options. */
const stageSettings = (input: CniInput, config: OnboardingConfig): CniSettings =>
  (input.stage ?? 'custom-networking') === 'custom-networking' ? desiredCniSettings(CUSTOM_NETWORKING_ENV, config) : { env: STAGE_ENV[input.stage ?? 'custom-networking'], top: {} };
const describeEnv = (env: Readonly<Record<string, string>>) => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(', ');
const describeSettings = (settings: CniSettings) =>
  `env ${describeEnv(settings.env)}${Object.keys(settings.top).length ? `, ${describeEnv(settings.top)}` : ''}`;

async function describeVpcCniAddon(clusterName: string): Promise<Addon | undefined> {
  try {
    return (await eks().send(new DescribeAddonCommand({ clusterName, addonName: VPC_CNI_ADDON }))).addon;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/**
 * The add-on update an earlier call of this run started: the id of one still in progress (the
 * add-on itself is not read meanwhile: it changes only when the update ends), undefined once it
 * succeeded; a failed or cancelled update is refused.
 */
async function updateStillRunning(input: CniInput, config: OnboardingConfig, updateId: string): Promise<string | undefined> {
  const clusterName = input.cluster.name;
  const { update } = await eks().send(new DescribeUpdateCommand({ name: clusterName, updateId, addonName: VPC_CNI_ADDON }));
  if (update?.status === 'InProgress') {
    checkWaitBound(input, config, 'the vpc-cni add-on update');
    return update.id ?? updateId;
  }
  if (update?.status === 'Failed' || update?.status === 'Cancelled') {
    const why = (update.errors ?? []).map((e) => `${e.errorCode}: ${e.errorMessage}`).join('; ') || 'no details';
    throw new OnboardingError(
      'ClusterRefused',
      `the vpc-cni add-on update ${update.id} on EKS cluster "${clusterName}" ended ${update.status} (${why}); fix the add-on and run again`,
    );
  }
  return undefined;
}

async function reconcileAddon(input: CniInput, config: OnboardingConfig, addon: Addon, progress: Progress): Promise<CniResult | undefined> {
  const clusterName = input.cluster.name;
  if (addon.status === 'CREATING' || addon.status === 'UPDATING') {
    checkWaitBound(input, config, 'the vpc-cni add-on');
    // Still the update this run started, when there is one: the next call keeps following it.
    return pending(input, progress, `vpc-cni add-on is ${addon.status}`, input.previous?.updateId ? { updateId: input.previous.updateId } : {});
  }
  if (addon.status === 'DELETING' || addon.status === 'CREATE_FAILED' || addon.status === 'DELETE_FAILED') {
    throw new OnboardingError('ClusterRefused', `the vpc-cni add-on of EKS cluster "${clusterName}" is ${addon.status}; repair it in the EKS console and run again`);
  }
  const settings = stageSettings(input, config);
  const current = parseConfigurationValues(addon, clusterName);
  // The custom-networking stage owns the options: what it wrote is claimed, what is switched off and ours is removed.
  const options = (input.stage ?? 'custom-networking') === 'custom-networking'
    ? planOptionClaims({ env: envOf(current) as Record<string, string>, top: current as Record<string, string> }, settings, parseClaims(progress.optionClaims ?? input.cluster.tags[CNI_CLAIMS_TAG]))
    : undefined;
  const base = options?.remove.length ? withoutOptions(current, options.remove) : current;
  const merged = mergedAddonConfiguration(base, settings.env, settings.top) ?? (options?.remove.length ? base : undefined);
  if (options) {
    const claimed = await recordOptionClaims(input.cluster, progress.optionClaims ?? input.cluster.tags[CNI_CLAIMS_TAG], options.claims, input.dryRun);
    if (claimed) {
      progress.changes.push(claimed);
      progress.optionClaims = formatClaims(options.claims);
    }
  }
  if (!merged) return undefined;
  const removed = options?.remove.length ? `; removes ${options.remove.map((r) => r.key).join(', ')} (set by onboarding, option now off)` : '';
  const change: Change = { resource: `add-on ${VPC_CNI_ADDON}`, action: 'update', detail: `${describeSettings(settings)} (other settings kept)${removed}` };
  if (input.dryRun) {
    progress.changes.push(change);
    return undefined;
  }
  try {
    const { update } = await eks().send(
      new UpdateAddonCommand({
        clusterName,
        addonName: VPC_CNI_ADDON,
        configurationValues: JSON.stringify(merged),
        resolveConflicts: 'PRESERVE',
      }),
    );
    progress.changes.push(change);
    return pending(input, progress, 'vpc-cni add-on update started', { ...(update?.id ? { updateId: update.id } : {}) });
  } catch (error) {
    // Someone else's update is running: wait for it, then merge again on top of its result.
    if (error instanceof ResourceInUseException || (error instanceof InvalidRequestException && /conflict/i.test(error.message))) {
      checkWaitBound(input, config, 'the vpc-cni add-on');
      return pending(input, progress, `vpc-cni add-on is busy: ${error.message}`);
    }
    throw error;
  }
}

/** The self-managed VPC CNI's DaemonSet; a cluster with neither it nor the add-on is refused. */
async function requireAwsNode(kube: KubeClient, input: CniInput): Promise<DaemonSet> {
  const daemonSet = await kube.get<DaemonSet>(AWS_NODE_PATH);
  if (daemonSet) return daemonSet;
  throw new OnboardingError(
    'ClusterRefused',
    `EKS cluster "${input.cluster.name}" has neither the vpc-cni add-on nor an aws-node DaemonSet; this design needs the Amazon VPC CNI ` +
      `(aws eks create-addon --cluster-name ${input.cluster.name} --addon-name vpc-cni)`,
  );
}

async function reconcileAwsNodeDaemonSet(kube: KubeClient, daemonSet: DaemonSet, input: CniInput, config: OnboardingConfig, progress: Progress): Promise<void> {
  const env = awsNodeEnv(daemonSet);
  const missing = Object.entries(stageSettings(input, config).env).filter(([key, value]) => env.get(key) !== value);
  if (missing.length === 0) return;
  if (!input.dryRun) {
    await kube.strategicMerge(AWS_NODE_PATH, {
      spec: { template: { spec: { containers: [{ name: 'aws-node', env: missing.map(([name, value]) => ({ name, value })) }] } } },
    });
  }
  progress.changes.push({
    resource: 'DaemonSet kube-system/aws-node',
    action: 'update',
    detail: `env ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}`,
  });
}

export async function reconcileCni(input: CniInput, config: OnboardingConfig): Promise<CniResult> {
  const clusterName = input.cluster.name;
  const changesSoFar = () => [...(input.previous?.changes ?? [])];
  const eniConfigs = desiredEniConfigs(input.network);
  // Which option values earlier calls of this run recorded as ours (cni-options.ts).
  const claims = input.previous?.optionClaims !== undefined ? { optionClaims: input.previous.optionClaims } : {};
  if (input.previous?.updateId) {
    const running = await updateStillRunning(input, config, input.previous.updateId);
    if (running) return pending(input, { mode: 'addon', changes: changesSoFar(), eniConfigs, ...claims }, `vpc-cni update ${running} is in progress`, { updateId: running });
  }
  const customNetworkingStage = (input.stage ?? 'custom-networking') === 'custom-networking';
  // Prefix delegation needs free /28 blocks in the pod subnets: refused before this step writes anything
  // (its first call; the later calls of the same stage wait for the add-on update it started).
  const warnings = customNetworkingStage && config.prefixDelegation && !input.previous ? await checkPodSubnetsForPrefixes(clusterName, input.network.podSubnets) : [];
  let awsNode: DaemonSet | undefined;

  // The custom-networking stage of the same run has just made sure of the access (group and RBAC):
  // the external-SNAT stage relies on it, except in a dry-run workflow, which must look again to know.
  // A call waiting for the add-on update an earlier call of this run started: that call made sure
  // of the access and wrote the ENIConfigs, so this one only follows the update (and reads aws-node back).
  const resumed = Boolean(input.previous?.updateId);
  const trustAccess = (input.stage === 'external-snat' && input.accessEnsured === true) || resumed;
  // The add-on is read while the access is made sure of (neither depends on the other): one round
  // trip less before the ENIConfigs. Both settle before either's failure is reported.
  // The cluster security group's rules (EKS may report the group only once ACTIVE) go beside them,
  // once per run; a private-only endpoint admits this function only through them, so there they
  // come before the access, whose RBAC write is the first Kubernetes call.
  // The cluster security group is refused (EC2 does not show it) before the access entry is written.
  const groups = customNetworkingStage && !resumed ? readClusterGroups(input.cluster, input.network.podSecurityGroupId) : undefined;
  const rules = groups ? reconcileClusterGroupRules(input.cluster, input.network.podSecurityGroupId, config, input.dryRun, groups) : undefined;
  if (input.cluster.privateEndpointOnly && rules) {
    const first = await rules;
    // A plan that would add the functions' rule cannot reach the API to look further (a run writes it first).
    if (input.dryRun && first.changes.length > 0) {
      return {
        phase: 'done', dryRun: true, mode: (await describeVpcCniAddon(clusterName)) ? 'addon' : 'self-managed', changes: [...changesSoFar(), ...first.changes], eniConfigs, ...claims,
        warnings: [`the private API endpoint of EKS cluster "${clusterName}" admits the onboarding functions only once the rules above are written: the plan of its Kubernetes side stops here`],
      };
    }
  }
  const [addonRead, accessMade, rulesMade] = await Promise.allSettled([
    describeVpcCniAddon(clusterName),
    trustAccess ? Promise.resolve<KubernetesAccess>({ changes: [], ready: true }) : ensureKubernetesAccess(clusterName, input.reconcilerRoleArn, input.dryRun, input.cluster, groups),
    rules,
  ]);
  // The first failure (which names its own partial writes) also names what the writes beside it applied.
  if (rulesMade.status === 'rejected' || accessMade.status === 'rejected' || addonRead.status === 'rejected') {
    const failed = [rulesMade, accessMade, addonRead].find((s): s is PromiseRejectedResult => s.status === 'rejected');
    // A write beside it that failed too has its own list: it is named as well, not dropped with its error.
    const appliedBeside = [rulesMade, accessMade].flatMap((s) => (s.status === 'fulfilled' ? s.value?.changes ?? [] : s === failed ? [] : appliedChangesOf(s.reason)));
    throw withAppliedChanges(failed?.reason, input.dryRun ? [] : appliedBeside);
  }
  const access = accessMade.value;
  const ruleChanges = rulesMade.value?.changes ?? [];
  const addon = addonRead.value;
  // The pod rules for SecurityGroupPolicies are found on the cluster group, read just now.
  if (rulesMade.value?.podPolicyGroupIds) input = { ...input, network: { ...input.network, podPolicyGroupIds: rulesMade.value.podPolicyGroupIds } };
  const progress: Progress = {
    mode: addon ? 'addon' : 'self-managed',
    changes: changesSoFar(),
    eniConfigs,
    ...claims,
  };
  // What this call itself changed (earlier calls' changes are already on record): named on failure.
  const changedNow = () => (input.dryRun ? [] : progress.changes.slice(input.previous?.changes.length ?? 0));
  // A plan names the access changes once: the custom-networking stage makes them.
  if (input.stage !== 'external-snat') progress.changes.push(...access.changes, ...ruleChanges);
  if (access.waiting) return pending(input, progress, access.waiting, { shortWait: true });

  let kube: KubeClient | undefined;
  if (!access.ready) {
    // Without access the Kubernetes API cannot be read yet: every ENIConfig is to be written.
    for (const e of input.stage === 'external-snat' ? [] : progress.eniConfigs) {
      progress.changes.push({ resource: `ENIConfig ${e.name}`, action: 'create', detail: `subnet ${e.subnetId ?? '(new pod subnet)'}` });
    }
  } else {
    kube = await kubeClientFor(clusterName, input.cluster);
    try {
      awsNode = addon ? undefined : await requireAwsNode(kube, input);
      if (customNetworkingStage && !resumed) {
        if (awsNode) refuseOldSelfManagedCni(clusterName, awsNodeContainer(awsNode)?.image, config);
        await reconcileEniConfigs(kube, input, progress.changes);
      }
      if (awsNode) await reconcileAwsNodeDaemonSet(kube, awsNode, input, config, progress);
    } catch (error) {
      if (isAuthFailure(error) && Date.now() - (access.since?.getTime() ?? 0) < ACCESS_PROPAGATION_MS) {
        return pending(input, progress, `waiting for the access entry of ${input.reconcilerRoleArn} to take effect`, { shortWait: true });
      }
      if (isAuthFailure(error)) {
        throw withAppliedChanges(new OnboardingError(
          'ClusterRefused',
          `the Kubernetes API of EKS cluster "${clusterName}" refused ${input.reconcilerRoleArn} (${error.status}: ${error.reason}); ` +
            `check that its access entry is in the Kubernetes group ${RECONCILER_KUBE_GROUP} and the ClusterRole and ClusterRoleBinding ` +
            `${RECONCILER_RBAC_NAME} are as this project writes them (run again to restore them)`,
        ), changedNow());
      }
      throw withAppliedChanges(error, changedNow());
    }
  }

  if (addon) {
    try {
      const planned = progress.changes.length;
      const waiting = await reconcileAddon(input, config, addon, progress);
      if (waiting) return waiting;
      // Once the add-on holds our env, aws-node is read back; a plan reads it too (and refuses as the
      // run would), so a plan without changes means the run writes nothing and takes no lease.
      if (kube && progress.changes.length === planned) await verifyAwsNodeEnv(kube, clusterName, stageSettings(input, config).env);
    } catch (error) {
      throw withAppliedChanges(error, changedNow());
    }
  }
  // Once per run (the stage's last call): what custom networking breaks, and the pod rules for SecurityGroupPolicies.
  if (customNetworkingStage && kube) {
    try {
      warnings.push(...(await reconcileCniOptionChecks(kube, input, config, addon, awsNode, progress)));
    } catch (error) {
      throw withAppliedChanges(error, changedNow());
    }
  }
  // A switch made by an earlier (real) call counts in a plan too: a converged call answers with its plan.
  const switched = progress.changes.some(isSwitch) && (!input.dryRun || (input.previous?.dryRun === false && input.previous.changes.some(isSwitch)));
  const since = input.previous?.customNetworkingSince ?? (switched && input.stage !== 'external-snat' ? new Date().toISOString() : undefined);
  const done: CniResult = {
    phase: 'done',
    dryRun: input.dryRun,
    ...progress,
    ...(since ? { customNetworkingSince: since } : {}),
    ...(warnings.length ? { warnings } : {}),
  };
  // Reads only: a run's plan that changes nothing reports them too (a converged stage answers with its plan).
  const converged = progress.changes.length === (input.previous?.changes.length ?? 0);
  const reportEarly = input.earlyNodes && kube && (!input.dryRun || (trustAccess && converged));
  return reportEarly && kube ? withEarlyNodes(done, kube, input.cluster.name, input.earlyNodes?.customNetworkingSince) : done;
}

/** A change that switches the CNI's settings (the add-on's configuration, or the self-managed aws-node's env). */
const isSwitch = (c: Change) => c.resource === `add-on ${VPC_CNI_ADDON}` || c.resource === 'DaemonSet kube-system/aws-node';

/**
 * The custom-networking stage of a run (not a dry run) switched the CNI's settings: the env it
 * read back then is without external SNAT, which only the next stage sets, so that stage knows it
 * will write and skips its lease-less plan (it re-reads under the cluster lease all the same).
 */
export const switchedCni = (result: CniResult | undefined) => result?.dryRun === false && result.changes.some(isSwitch);

async function reconcileCniOptionChecks(
  kube: KubeClient, input: CniInput, config: OnboardingConfig, addon: Addon | undefined, awsNode: DaemonSet | undefined, progress: Progress,
): Promise<string[]> {
  const clusterName = input.cluster.name;
  const env = addon ? new Map(Object.entries(envOf(parseConfigurationValues(addon, clusterName))).map(([k, v]) => [k, String(v)])) : awsNodeEnv(awsNode);
  const checks = await clusterOptionWarnings(kube, clusterName, config, env, input.network.podSecurityGroupId);
  const podGroups = await reconcilePodSecurityGroups({ cluster: input.cluster, network: input.network, report: checks.podSecurityGroups, config, dryRun: input.dryRun });
  const controllerPolicy = await vpcResourceControllerWarnings(input.cluster, checks.podSecurityGroups);
  progress.changes.push(...podGroups.changes);
  const selfManagedPolicy = !addon && config.networkPolicy
    ? [
        `onboarding.networkPolicy: EKS cluster "${clusterName}" runs a self-managed VPC CNI, whose network policy agent this project does not configure; ` +
          'start it with --enable-network-policy=true (aws-network-policy-agent container) and set enable-network-policy-controller: "true" in the amazon-vpc-cni ConfigMap',
      ]
    : [];
  return [...checks.warnings, ...podGroups.warnings, ...controllerPolicy, ...selfManagedPolicy];
}

/** The cluster's nodes (any launcher) that started before custom networking took effect, as a warning. */
async function withEarlyNodes(result: CniResult, kube: KubeClient, clusterName: string, customNetworkingSince?: string): Promise<CniResult> {
  const { early } = await findEarlyNodes(kube, undefined, customNetworkingSince);
  if (early.length === 0) return result;
  const warning =
    `nodes ${early.join(', ')} of EKS cluster "${clusterName}" registered before custom networking took effect in their AZ, ` +
    'so their pods use addresses of the node subnet; replace them (drain and terminate, or an instance refresh of their group)';
  return { ...result, earlyNodes: early, warnings: [warning] };
}

/** What the SNAT step reported for each gateway of the cluster. */
export interface GatewaySnatReport {
  spokeGateway?: string;
  haGateway?: string;
  /** Every HA peer (several on newer controllers): each must be confirmed. */
  haGateways?: string[];
  gateways?: { gateway: string; role: string }[];
  failed?: boolean;
}

/**
 * Design step 9: the CNI stops SNATing only once the SNAT step has written and read back the
 * policies on the spoke and on each of its HA peers. Then the cluster's nodes, whatever
 * launched them, are checked for having started before custom networking took effect.
 */
export async function reconcileExternalSnat(
  input: CniInput & {
    snat: GatewaySnatReport | undefined;
    customNetworkingSince?: string;
    /** A node-group run checks (and may replace) its own nodes in its node-group step instead. */
    reportEarlyNodes: boolean;
  },
  config: OnboardingConfig,
): Promise<CniResult> {
  const snat = input.snat;
  const confirmed = new Set((snat?.gateways ?? []).filter((g) => g.role === 'primary' || g.role === 'ha').map((g) => g.gateway));
  const needed = [...new Set([snat?.spokeGateway, snat?.haGateway, ...(snat?.haGateways ?? [])])].filter((g): g is string => Boolean(g));
  const missing = needed.filter((g) => !confirmed.has(g));
  if (!snat || snat.failed || needed.length === 0 || missing.length > 0) {
    throw new OnboardingError(
      'InvalidInput',
      `external SNAT stays off on EKS cluster "${input.cluster.name}": the SNAT step has not confirmed its policies on ` +
        `${missing.length > 0 ? missing.join(' and ') : 'the spoke gateway and its HA peer'}; the CNI keeps SNATing pod traffic. ` +
        'Run the workflow from its first state',
    );
  }
  // The early-node check reads through the same Kubernetes client as the stage itself.
  const since = input.customNetworkingSince;
  return reconcileCni({ ...input, stage: 'external-snat', ...(input.reportEarlyNodes ? { earlyNodes: since ? { customNetworkingSince: since } : {} } : {}) }, config);
}

/**
 * Reads back what the nodes will run: the add-on update keeps (PRESERVE) env values someone set on
 * aws-node outside EKS, so the add-on can hold our settings while the DaemonSet does not.
 */
async function verifyAwsNodeEnv(kube: KubeClient, clusterName: string, wanted: Readonly<Record<string, string>>): Promise<void> {
  const env = awsNodeEnv(await kube.get<DaemonSet>(AWS_NODE_PATH));
  const differing = Object.entries(wanted).filter(([key, value]) => env.get(key) !== value);
  if (differing.length === 0) return;
  throw new OnboardingError(
    'ClusterRefused',
    `the vpc-cni add-on of EKS cluster "${clusterName}" holds ${describeEnv(wanted)}, but its aws-node DaemonSet runs with ` +
      `${differing.map(([key]) => `${key}=${env.get(key) ?? '(unset)'}`).join(', ')}, set outside EKS and kept by the add-on update; ` +
      `let EKS take those fields over (aws eks update-addon --cluster-name ${clusterName} --addon-name vpc-cni ` +
      '--resolve-conflicts OVERWRITE, with the add-on\'s current configuration values), then run again',
  );
}
