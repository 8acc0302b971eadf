// One typed, validated configuration, read by the CDK app from cdk.json context (key "onboarding").
// The EksAviatrixOnboarding construct validates what it is given (parseConfig, idempotent on its
// own output) and hands the result to every Lambda as the ONBOARDING_CONFIG environment variable,
// stamped with its SHA-256 (lambdas/shared/config-stamp.ts): the Lambdas check the stamp and do not
// run this validator, which stays out of their bundles (they import only types and constants from
// here). An invalid value fails `cdk synth` with a message naming the key.
import { parseCidr } from '../lambdas/shared/cidr';

export type OptInRule = { mode: 'all' } | { mode: 'tag'; tagKey: string; tagValue: string };

/** The SmartGroup types a Kubernetes spec can ask for: the cluster's workloads or its nodes. */
export const KUBERNETES_SMARTGROUP_TYPES = ['k8s', 'k8s_node'] as const;

/**
 * One Kubernetes SmartGroup of a cluster (docs/aviatrix-controller-api.md, SmartGroups): the
 * controller's selector keys, with its client-side rules checked here (DNS-1123 names, a pod needs
 * a namespace and excludes a service, namespace labels exclude service and pod).
 */
export interface KubernetesSmartGroupSpec {
  /** SmartGroup name suffix; the full name is "<cluster>-<name>". */
  name: string;
  /** "k8s" (workloads, the default) or "k8s_node" (the cluster's nodes; no other selector). */
  type?: (typeof KUBERNETES_SMARTGROUP_TYPES)[number];
  namespace?: string;
  /** Workload labels that must all match. */
  labels?: Record<string, string>;
  /** Labels of the workload's namespace that must all match (not with service or pod). */
  namespaceLabels?: Record<string, string>;
  /** A Service's name: its endpoints. */
  service?: string;
  /** A pod's name (needs namespace, excludes service). */
  pod?: string;
}

export interface AviatrixConfig {
  /** The controller's https:// URL (its API is at /v2/api). */
  controllerUrl: string;
  /** Secrets Manager secret name (plain, no wildcard, no ARN) holding {"username": "...", "password": "..."}. */
  credentialsSecretName: string;
  /** Customer-managed KMS key encrypting that secret: the Aviatrix roles may decrypt with it via Secrets Manager only. */
  credentialsKmsKeyArn?: string;
  /** PEM CA bundle for a controller with a self-signed or private certificate. */
  caBundlePem?: string;
  /** Verify the controller's TLS certificate: always true (false is refused; a self-signed controller is pinned with caBundlePem). */
  verifyTls: boolean;
  /** Transit gateway whose advertised routes exclude the pod CIDR; discovered from the spoke when absent. */
  transitGatewayName?: string;
  /** Spoke gateway serving the cluster's VPC; discovered by VPC id when absent. */
  spokeGatewayName?: string;
  /** The Aviatrix controller's IAM role, granted AmazonEKSViewPolicy through an access entry. */
  controllerRoleArn: string;
  /** Switch a gateway from single-IP SNAT to custom SNAT instead of stopping. */
  allowDisableSingleIpSnat: boolean;
  /** Kubernetes SmartGroups of a cluster whose template tag is absent: [{"name", "type"?, "namespace"?, "labels"?, "namespaceLabels"?, "service"?, "pod"?}]. */
  kubernetesSmartGroups: KubernetesSmartGroupSpec[];
  /** Named lists of Kubernetes SmartGroups (same shape as kubernetesSmartGroups); a cluster picks one with its smartGroupTemplateTag. */
  smartGroupTemplates: Record<string, KubernetesSmartGroupSpec[]>;
  /** The cluster tag whose value names its template in smartGroupTemplates; an unknown name fails the run. */
  smartGroupTemplateTag: string;
  /** How the cluster's VPC SmartGroup matches its VPC: "id" (res_id, immutable) or "name" (the VPC's Name tag, as the Aviatrix blueprint does). */
  vpcSmartGroupMatch: 'id' | 'name';
}

export interface OnboardingConfig {
  /** Non-routable secondary CIDR for pods (RFC 6598 by default). */
  secondaryCidr: string;
  /** Pod subnet prefix length; by default derived from the AZ count (2 AZs: +1, 3-4 AZs: +2). */
  podSubnetPrefixLength?: number;
  /** The VPC's quota of IPv4 CIDR blocks ("IPv4 CIDR blocks per VPC", 5 unless raised). */
  maxVpcCidrBlocks: number;
  /** How long to wait for a cluster to become ACTIVE. */
  clusterActiveTimeoutSeconds: number;
  /** How long to wait for a vpc-cni add-on update to finish. */
  addonUpdateTimeoutSeconds: number;
  /** How long to wait for a node group to become ACTIVE, and for a node replacement to finish. */
  nodegroupActiveTimeoutSeconds: number;
  /** Which clusters are onboarded: {"mode": "all"}, or {"mode": "tag", "tagKey", "tagValue"} for tagged clusters only (enforced in IAM too). */
  optIn: OptInRule;
  /** EventBridge schedule expression for drift repair. */
  driftSchedule: string;
  /** Replace nodes that launched before their AZ's ENIConfig existed. */
  allowNodeReplacement: boolean;
  /**
   * A pod subnet's route table whose default or RFC 1918 route bypasses the spoke (an internet or
   * NAT gateway): "refuse" stops the run before any write, "warn" only reports it.
   */
  routeCheck: 'refuse' | 'warn';
  /** Kubernetes network policies enforced by the VPC CNI (add-on `enableNetworkPolicy`, its node agent). */
  networkPolicy: boolean;
  /** /28 prefixes per ENI slot instead of single addresses (VPC CNI `ENABLE_PREFIX_DELEGATION`). */
  prefixDelegation: boolean;
  /** With prefixDelegation: free /28 prefixes each node keeps ready (VPC CNI `WARM_PREFIX_TARGET`; the CNI's default 1 when unset; WARM_IP_TARGET or MINIMUM_IP_TARGET on the add-on take precedence). */
  warmPrefixTarget?: number;
  /**
   * Pods with their own security groups (SecurityGroupPolicy) miss the pod security group's rules:
   * "report" names them, "reconcile" adds the rules to groups tagged eks-aviatrix:managed=true,
   * "reconcile-all" to every group a policy names.
   */
  podSecurityGroups: 'report' | 'reconcile' | 'reconcile-all';
  /** Routable subnets tagged for the AWS Load Balancer Controller (kubernetes.io/role/elb, .../internal-elb); ours are untagged at offboarding. */
  loadBalancerSubnets: { public: string[]; internal: string[] };
  aviatrix: AviatrixConfig;
  operations: OperationsConfig;
  /** The hub deployment that member accounts forward events to and whose roles assume theirs (lib/multi-account.ts). */
  hub?: HubConfig;
  /** Member accounts/Regions served by this hub; absent: this account and Region only (no member stack). */
  members?: MembersConfig;
  /** Where the functions that call the Kubernetes API run to reach private-only cluster endpoints. */
  privateEndpointAccess?: PrivateEndpointAccessConfig;
}

/** Subnets and security groups (of a VPC that reaches the clusters' private endpoints) for the Kubernetes-writing functions. */
export interface PrivateEndpointAccessConfig {
  /** The VPC of those subnets; required when securityGroupIds is absent (the stack makes the functions' group there). */
  vpcId?: string;
  /** At least two subnets (two AZs) that route to the clusters' private endpoints. */
  subnetIds: string[];
  /** Security groups of the Kubernetes-writing functions; absent: the stack makes one (egress 443 only). */
  securityGroupIds?: string[];
  /**
   * Source of the 443 rule on a private-only cluster's security group: these CIDRs (the functions'
   * subnets or their VPC) instead of the functions' security group. Needed for clusters reached through
   * the Aviatrix transit or in another account: a security group rule can name a group of the same or a peered VPC only.
   */
  sourceCidrs?: string[];
}

/** The hub: where the workflows, tables and controller credentials live. */
export interface HubConfig {
  /** The hub's AWS account id (runs the workflows, holds the controller credentials). */
  account: string;
  /** The hub's Region. */
  region: string;
  /** The bus the hub's CloudTrail rules read (the default bus unless changed). */
  eventBusName: string;
  /** The hub construct's naming prefix (its namePrefix): its Lambda roles are named "<namePrefix>-hub-<RoleId>-<region>". */
  namePrefix: string;
}

/** Which accounts and Regions hold member stacks, and how their roles trust the hub. */
export interface MembersConfig {
  /** Member account ids; with organizationId alone, every account of the Organization. */
  accounts: string[];
  /** AWS Organization id (o-...): the member trust requires aws:PrincipalOrgID, the hub accepts the org's events. */
  organizationId?: string;
  /** Regions with member stacks (default: the hub's Region). */
  regions: string[];
  /** Identifier (not a secret) the hub passes when it assumes member roles: their trust requires it (sts:ExternalId). */
  externalId?: string;
  /** Member role names are "<roleNamePrefix>-<hub role id without Role>-<region>". */
  roleNamePrefix: string;
  /**
   * The Aviatrix access account that holds each member AWS account ({"<account id>": "<access account name>"}):
   * a member's cluster is onboarded only when its account has one. The controller reads it through the
   * role named as in aviatrix.controllerRoleArn, in the member account.
   */
  aviatrixAccounts: Record<string, string>;
}

/** AWS Chatbot channels that receive the notification topic (each needs the workspace authorized in Chatbot once). */
export interface ChatbotConfig {
  /** A Slack channel (authorize the workspace in AWS Chatbot once). */
  slack?: { workspaceId: string; channelId: string };
  /** A Microsoft Teams channel (authorize the team in AWS Chatbot once). */
  teams?: { teamId: string; channelId: string; tenantId: string };
}

/** Notifications, alarms, metrics and logs (lib/observability.ts). Nothing here is required. */
export interface OperationsConfig {
  /** Addresses subscribed to the notification topic (each confirms by email once). */
  notificationEmails: string[];
  /** An existing SNS topic to notify instead of the stack's own. */
  notificationTopicArn?: string;
  chatbot?: ChatbotConfig;
  /** Retention of every log group, in days (a CloudWatch Logs retention value). */
  logRetentionDays: number;
  /** CloudWatch namespace of the workflows' metrics. */
  metricsNamespace: string;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export const DEFAULT_METRICS_NAMESPACE = 'EksAviatrixOnboarding';

export const DEFAULTS = {
  secondaryCidr: '100.64.0.0/16',
  clusterActiveTimeoutSeconds: 45 * 60,
  addonUpdateTimeoutSeconds: 20 * 60,
  nodegroupActiveTimeoutSeconds: 60 * 60,
  driftSchedule: 'rate(6 hours)',
  maxVpcCidrBlocks: 5,
  logRetentionDays: 30,
  smartGroupTemplateTag: 'eks-aviatrix:smartgroup-template',
} as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid onboarding config:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Raw = Record<string, unknown>;

const ROOT_KEYS = [
  'secondaryCidr', 'podSubnetPrefixLength', 'maxVpcCidrBlocks', 'clusterActiveTimeoutSeconds', 'addonUpdateTimeoutSeconds',
  'nodegroupActiveTimeoutSeconds', 'optIn', 'driftSchedule', 'allowNodeReplacement', 'routeCheck', 'networkPolicy', 'prefixDelegation',
  'warmPrefixTarget', 'podSecurityGroups', 'loadBalancerSubnets', 'aviatrix', 'operations', 'hub', 'members', 'privateEndpointAccess',
] as const;
const AVIATRIX_KEYS = [
  'controllerUrl', 'credentialsSecretName', 'credentialsKmsKeyArn', 'caBundlePem', 'verifyTls', 'transitGatewayName', 'spokeGatewayName',
  'controllerRoleArn', 'allowDisableSingleIpSnat', 'kubernetesSmartGroups', 'smartGroupTemplates', 'smartGroupTemplateTag', 'vpcSmartGroupMatch',
] as const;

const POD_SECURITY_GROUP_MODES = ['report', 'reconcile', 'reconcile-all'] as const;

/** Secrets Manager's name characters; a name cannot contain IAM wildcards. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Validates raw config (cdk.json context, or an adopter's object given to the construct) and fills defaults; its own output parses to itself. */
export function parseConfig(raw: unknown, prefix = 'onboarding'): OnboardingConfig {
  const problems: string[] = [];
  const root = asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(root, ROOT_KEYS, prefix, problems);

  const secondaryCidr = optionalString(root, 'secondaryCidr', key, problems) ?? DEFAULTS.secondaryCidr;
  const parsedCidr = parseCidr(secondaryCidr);
  if (!parsedCidr) {
    problems.push(`${key('secondaryCidr')} must be an IPv4 network in CIDR form, got "${secondaryCidr}"`);
  } else if (parsedCidr.prefix < 16 || parsedCidr.prefix > 28) {
    problems.push(`${key('secondaryCidr')} must be between /16 and /28 (an AWS VPC CIDR block), got "${secondaryCidr}"`);
  }

  const podSubnetPrefixLength = optionalInteger(root, 'podSubnetPrefixLength', key, problems, 16, 28);
  if (parsedCidr && podSubnetPrefixLength !== undefined && podSubnetPrefixLength <= parsedCidr.prefix) {
    problems.push(`${key('podSubnetPrefixLength')} must be longer than the secondary CIDR's /${parsedCidr.prefix}`);
  }

  const maxVpcCidrBlocks = optionalInteger(root, 'maxVpcCidrBlocks', key, problems, 1, 50) ?? DEFAULTS.maxVpcCidrBlocks;
  const clusterActiveTimeoutSeconds =
    optionalInteger(root, 'clusterActiveTimeoutSeconds', key, problems, 1, 4 * 3600) ?? DEFAULTS.clusterActiveTimeoutSeconds;
  const addonUpdateTimeoutSeconds =
    optionalInteger(root, 'addonUpdateTimeoutSeconds', key, problems, 1, 3600) ?? DEFAULTS.addonUpdateTimeoutSeconds;

  const nodegroupActiveTimeoutSeconds =
    optionalInteger(root, 'nodegroupActiveTimeoutSeconds', key, problems, 1, 4 * 3600) ?? DEFAULTS.nodegroupActiveTimeoutSeconds;
  const driftSchedule = optionalString(root, 'driftSchedule', key, problems) ?? DEFAULTS.driftSchedule;
  if (!/^(rate|cron)\(.+\)$/.test(driftSchedule)) {
    problems.push(`${key('driftSchedule')} must be an EventBridge schedule such as "rate(6 hours)", got "${driftSchedule}"`);
  }

  const allowNodeReplacement = optionalBoolean(root, 'allowNodeReplacement', key, problems) ?? false;
  const routeCheck = optionalString(root, 'routeCheck', key, problems) ?? 'refuse';
  if (routeCheck !== 'refuse' && routeCheck !== 'warn') problems.push(`${key('routeCheck')} must be "refuse" or "warn", got "${routeCheck}"`);
  const networkPolicy = optionalBoolean(root, 'networkPolicy', key, problems) ?? false;
  const prefixDelegation = optionalBoolean(root, 'prefixDelegation', key, problems) ?? false;
  // AWS reserves the first four and the last address of a subnet, so a /27 pod subnet holds one free /28 prefix.
  if (prefixDelegation && podSubnetPrefixLength !== undefined && podSubnetPrefixLength > 26) {
    problems.push(`${key('podSubnetPrefixLength')} must be /26 or larger with ${key('prefixDelegation')} (pods get /28 prefixes), got /${podSubnetPrefixLength}`);
  }
  const warmPrefixTarget = optionalInteger(root, 'warmPrefixTarget', key, problems, 1, 64);
  if (warmPrefixTarget !== undefined && !prefixDelegation) {
    problems.push(`${key('warmPrefixTarget')} applies only with ${key('prefixDelegation')}: true (the VPC CNI ignores WARM_PREFIX_TARGET without prefixes)`);
  }
  const podSecurityGroups = optionalString(root, 'podSecurityGroups', key, problems) ?? 'report';
  if (!POD_SECURITY_GROUP_MODES.includes(podSecurityGroups as never)) {
    problems.push(`${key('podSecurityGroups')} must be one of ${POD_SECURITY_GROUP_MODES.map((m) => `"${m}"`).join(', ')}, got "${podSecurityGroups}"`);
  }
  const loadBalancerSubnets = parseLoadBalancerSubnets(root.loadBalancerSubnets, key('loadBalancerSubnets'), problems);
  const optIn = parseOptIn(root.optIn, key('optIn'), problems);
  const aviatrix = parseAviatrix(root.aviatrix, key('aviatrix'), problems);
  const operations = parseOperations(root.operations, key('operations'), problems);
  const multiAccount = parseMultiAccount(root, prefix, problems);
  const privateEndpointAccess = root.privateEndpointAccess === undefined ? undefined : parsePrivateEndpointAccess(root.privateEndpointAccess, key('privateEndpointAccess'), problems);

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    secondaryCidr,
    ...(podSubnetPrefixLength !== undefined ? { podSubnetPrefixLength } : {}),
    maxVpcCidrBlocks,
    clusterActiveTimeoutSeconds,
    addonUpdateTimeoutSeconds,
    nodegroupActiveTimeoutSeconds,
    optIn,
    driftSchedule,
    allowNodeReplacement,
    routeCheck: routeCheck === 'warn' ? 'warn' : 'refuse',
    networkPolicy,
    prefixDelegation,
    ...(warmPrefixTarget !== undefined ? { warmPrefixTarget } : {}),
    podSecurityGroups: podSecurityGroups as OnboardingConfig['podSecurityGroups'],
    loadBalancerSubnets,
    aviatrix,
    operations,
    ...multiAccount,
    ...(privateEndpointAccess ? { privateEndpointAccess } : {}),
  };
}

function parsePrivateEndpointAccess(raw: unknown, prefix: string, problems: string[]): PrivateEndpointAccessConfig {
  const obj = asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(obj, ['vpcId', 'subnetIds', 'securityGroupIds', 'sourceCidrs'], prefix, problems);
  const vpcId = optionalString(obj, 'vpcId', key, problems);
  if (vpcId !== undefined && !/^vpc-[0-9a-f]{8,17}$/.test(vpcId)) problems.push(`${key('vpcId')} must be a VPC id (vpc-...), got "${vpcId}"`);
  const subnetIds = stringList(obj, 'subnetIds', key, problems, /^subnet-[0-9a-f]{8,17}$/, 'a list of subnet ids (subnet-...)');
  // Lambda spreads over the subnets' AZs: one subnet would make one AZ's outage stop every run.
  if (subnetIds.length < 2) problems.push(`${key('subnetIds')} must list at least two subnets (in different AZs) of a VPC that reaches the clusters' private endpoints`);
  const securityGroupIds = obj.securityGroupIds === undefined ? undefined : stringList(obj, 'securityGroupIds', key, problems, /^sg-[0-9a-f]{8,17}$/, 'a list of security group ids (sg-...)');
  if (securityGroupIds?.length === 0) problems.push(`${key('securityGroupIds')} must list the security group the functions use (clusters' security groups admit 443 from it), or be left out for the stack to make one`);
  if (securityGroupIds === undefined && vpcId === undefined) problems.push(`${key('vpcId')} is required without ${key('securityGroupIds')}: the stack makes the functions' security group in that VPC`);
  const sourceCidrs = obj.sourceCidrs === undefined ? undefined : stringList(obj, 'sourceCidrs', key, problems, /^[\d./]+$/, 'a list of IPv4 CIDRs');
  for (const cidr of sourceCidrs ?? []) if (!parseCidr(cidr)) problems.push(`${key('sourceCidrs')} holds "${cidr}", which is not an IPv4 CIDR`);
  if (sourceCidrs?.length === 0) problems.push(`${key('sourceCidrs')} must list at least one CIDR, or be left out to admit the functions' security group`);
  return { ...(vpcId ? { vpcId } : {}), subnetIds, ...(securityGroupIds ? { securityGroupIds } : {}), ...(sourceCidrs ? { sourceCidrs } : {}) };
}

export const DEFAULT_HUB_NAME_PREFIX = 'eks-aviatrix';
export const DEFAULT_MEMBER_ROLE_NAME_PREFIX = 'eks-aviatrix-member';
/** Member role names end "-<hub role id>-<region>" (up to 30 characters): the prefix keeps them within IAM's 64. */
const MAX_ROLE_NAME_PREFIX = 30;
const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** IAM role name characters (no wildcards: the prefixes become ARN patterns in trust and assume policies). */
const ROLE_NAME_PREFIX = /^[A-Za-z0-9+=,.@_-]+$/;

function parseMultiAccount(root: Raw, prefix: string, problems: string[]): { hub?: HubConfig; members?: MembersConfig } {
  if (root.hub === undefined && root.members === undefined) return {};
  const hubKey = `${prefix}.hub`;
  const membersKey = `${prefix}.members`;
  if (root.members === undefined) problems.push(`${hubKey} is set but ${membersKey} is not: list the member accounts (or organizationId) and Regions, or remove ${hubKey}`);
  if (root.hub === undefined) problems.push(`${membersKey} is set but ${hubKey} is not: give the hub's account and region`);
  const hub = parseHub(root.hub ?? {}, hubKey, problems);
  const members = parseMembers(root.members ?? {}, membersKey, hub, problems);
  return { hub, members };
}

function parseHub(raw: unknown, prefix: string, problems: string[]): HubConfig {
  const obj = asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(obj, ['account', 'region', 'eventBusName', 'namePrefix'], prefix, problems);
  const account = requiredString(obj, 'account', key, problems);
  if (account && !ACCOUNT_ID.test(account)) problems.push(`${key('account')} must be a 12-digit AWS account id, got "${account}"`);
  const region = requiredString(obj, 'region', key, problems);
  if (region && !REGION.test(region)) problems.push(`${key('region')} must be an AWS Region name such as "eu-west-1", got "${region}"`);
  const eventBusName = optionalString(obj, 'eventBusName', key, problems) ?? 'default';
  if (!/^[A-Za-z0-9._\-/]{1,256}$/.test(eventBusName)) problems.push(`${key('eventBusName')} must be an event bus name (not an ARN), got "${eventBusName}"`);
  const namePrefix = optionalString(obj, 'namePrefix', key, problems) ?? DEFAULT_HUB_NAME_PREFIX;
  if (!ROLE_NAME_PREFIX.test(namePrefix) || namePrefix.length > 40) {
    problems.push(`${key('namePrefix')} must be 1-40 IAM name characters (letters, digits, +=,.@_-), got "${namePrefix}"`);
  }
  return { account, region, eventBusName, namePrefix };
}

function parseMembers(raw: unknown, prefix: string, hub: HubConfig, problems: string[]): MembersConfig {
  const obj = asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(obj, ['accounts', 'organizationId', 'regions', 'externalId', 'roleNamePrefix', 'aviatrixAccounts'], prefix, problems);
  const accounts = stringList(obj, 'accounts', key, problems, ACCOUNT_ID, 'a list of 12-digit AWS account ids');
  const organizationId = optionalString(obj, 'organizationId', key, problems);
  if (organizationId !== undefined && !/^o-[a-z0-9]{10,32}$/.test(organizationId)) {
    problems.push(`${key('organizationId')} must be an AWS Organization id (o- and 10-32 lowercase letters or digits), got "${organizationId}"`);
  }
  if (accounts.length === 0 && organizationId === undefined) problems.push(`${prefix} must list accounts or give organizationId (which accounts may send events and hold member roles)`);
  const regions = obj.regions === undefined ? [hub.region] : stringList(obj, 'regions', key, problems, REGION, 'a list of AWS Region names such as "eu-west-1"');
  const externalId = optionalString(obj, 'externalId', key, problems);
  if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
    problems.push(`${key('externalId')} must be 2-1224 letters, digits or +=,.@:/-_, got "${externalId}"`);
  }
  // Without one of them the member trust would rest on the role name alone.
  if (externalId === undefined && organizationId === undefined) {
    problems.push(`${prefix} needs externalId or organizationId: the member roles' trust requires sts:ExternalId or aws:PrincipalOrgID besides the hub's role names`);
  }
  const roleNamePrefix = optionalString(obj, 'roleNamePrefix', key, problems) ?? DEFAULT_MEMBER_ROLE_NAME_PREFIX;
  if (!ROLE_NAME_PREFIX.test(roleNamePrefix) || roleNamePrefix.length > MAX_ROLE_NAME_PREFIX) {
    problems.push(`${key('roleNamePrefix')} must be 1-${MAX_ROLE_NAME_PREFIX} IAM name characters (letters, digits, +=,.@_-), got "${roleNamePrefix}"`);
  }
  if (roleNamePrefix.startsWith(`${hub.namePrefix}-hub-`)) {
    problems.push(`${key('roleNamePrefix')} must not start with the hub's "${hub.namePrefix}-hub-": member roles would match the hub role names the member trust admits`);
  }
  const aviatrixAccounts = obj.aviatrixAccounts ?? {};
  const validMap = isStringMap(aviatrixAccounts) && Object.entries(aviatrixAccounts).every(([id, name]) => ACCOUNT_ID.test(id) && /^[\w.-]{1,64}$/.test(name));
  if (!validMap) {
    problems.push(`${key('aviatrixAccounts')} must map 12-digit AWS account ids to Aviatrix access account names, such as {"222222222222": "prod-b"}, got ${JSON.stringify(aviatrixAccounts)}`);
  }
  return {
    accounts, ...(organizationId !== undefined ? { organizationId } : {}), regions, ...(externalId !== undefined ? { externalId } : {}), roleNamePrefix,
    aviatrixAccounts: validMap ? (aviatrixAccounts as Record<string, string>) : {},
  };
}

function stringList(obj: Raw, name: string, key: (k: string) => string, problems: string[], item: RegExp, what: string): string[] {
  const value = obj[name] ?? [];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && item.test(v))) return [...new Set(value as string[])];
  problems.push(`${key(name)} must be ${what}, got ${JSON.stringify(value)}`);
  return [];
}

function parseOperations(raw: unknown, prefix: string, problems: string[]): OperationsConfig {
  const obj = raw === undefined ? {} : asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(obj, ['notificationEmails', 'notificationTopicArn', 'chatbot', 'logRetentionDays', 'metricsNamespace'], prefix, problems);
  const emails = obj.notificationEmails ?? [];
  if (!Array.isArray(emails) || !emails.every((e) => typeof e === 'string' && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(e))) {
    problems.push(`${key('notificationEmails')} must be a list of email addresses, got ${JSON.stringify(emails)}`);
  }
  const notificationTopicArn = optionalString(obj, 'notificationTopicArn', key, problems);
  if (notificationTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/.test(notificationTopicArn)) {
    problems.push(`${key('notificationTopicArn')} must be an SNS topic ARN, got "${notificationTopicArn}"`);
  }
  const logRetentionDays = obj.logRetentionDays ?? DEFAULTS.logRetentionDays;
  if (!(LOG_RETENTION_DAYS as readonly unknown[]).includes(logRetentionDays)) {
    problems.push(`${key('logRetentionDays')} must be one of CloudWatch Logs' retention periods (${LOG_RETENTION_DAYS.join(', ')}), got ${JSON.stringify(logRetentionDays)}`);
  }
  const metricsNamespace = optionalString(obj, 'metricsNamespace', key, problems) ?? DEFAULT_METRICS_NAMESPACE;
  if (!/^[\w.\-/#:]{1,255}$/.test(metricsNamespace) || metricsNamespace.startsWith('AWS/')) {
    problems.push(`${key('metricsNamespace')} must be 1-255 letters, digits or . - _ / # : and not start with "AWS/", got "${metricsNamespace}"`);
  }
  const chatbot = obj.chatbot === undefined ? undefined : parseChatbot(obj.chatbot, key('chatbot'), problems);
  return {
    notificationEmails: Array.isArray(emails) ? (emails as string[]) : [],
    ...(notificationTopicArn !== undefined ? { notificationTopicArn } : {}),
    ...(chatbot ? { chatbot } : {}),
    logRetentionDays: logRetentionDays as number,
    metricsNamespace,
  };
}

function parseChatbot(raw: unknown, prefix: string, problems: string[]): ChatbotConfig {
  const obj = asObject(raw, prefix, problems);
  rejectUnknownKeys(obj, ['slack', 'teams'], prefix, problems);
  const channel = <K extends string>(name: string, keys: readonly K[]): Record<K, string> | undefined => {
    if (obj[name] === undefined) return undefined;
    const entry = asObject(obj[name], `${prefix}.${name}`, problems);
    rejectUnknownKeys(entry, keys, `${prefix}.${name}`, problems);
    return Object.fromEntries(keys.map((k) => [k, requiredString(entry, k, (x) => `${prefix}.${name}.${x}`, problems)])) as Record<K, string>;
  };
  const slack = channel('slack', ['workspaceId', 'channelId'] as const);
  const teams = channel('teams', ['teamId', 'channelId', 'tenantId'] as const);
  if (!slack && !teams) problems.push(`${prefix} must name a "slack" or "teams" channel (or be left out)`);
  return { ...(slack ? { slack } : {}), ...(teams ? { teams } : {}) };
}

function parseLoadBalancerSubnets(raw: unknown, prefix: string, problems: string[]): OnboardingConfig['loadBalancerSubnets'] {
  const obj = raw === undefined ? {} : asObject(raw, prefix, problems);
  rejectUnknownKeys(obj, ['public', 'internal'], prefix, problems);
  const list = (name: 'public' | 'internal'): string[] => {
    const value = obj[name] ?? [];
    if (Array.isArray(value) && value.every((id) => typeof id === 'string' && /^subnet-[0-9a-f]{8,17}$/.test(id))) return value as string[];
    problems.push(`${prefix}.${name} must be a list of subnet ids (subnet-0123abcd...), got ${JSON.stringify(value)}`);
    return [];
  };
  const result = { public: list('public'), internal: list('internal') };
  const both = result.public.filter((id) => result.internal.includes(id));
  if (both.length > 0) problems.push(`${prefix}: ${both.join(', ')} cannot be both public and internal`);
  return result;
}

function parseOptIn(raw: unknown, prefix: string, problems: string[]): OptInRule {
  if (raw === undefined) return { mode: 'all' };
  const obj = asObject(raw, prefix, problems);
  rejectUnknownKeys(obj, obj.mode === 'tag' ? ['mode', 'tagKey', 'tagValue'] : ['mode'], prefix, problems);
  if (obj.mode === 'all') return { mode: 'all' };
  if (obj.mode === 'tag') {
    const key = (k: string) => `${prefix}.${k}`;
    const tagKey = requiredString(obj, 'tagKey', key, problems);
    const tagValue = requiredString(obj, 'tagValue', key, problems);
    return { mode: 'tag', tagKey, tagValue };
  }
  problems.push(`${prefix}.mode must be "all" or "tag", got ${JSON.stringify(obj.mode)}`);
  return { mode: 'all' };
}

function parseAviatrix(raw: unknown, prefix: string, problems: string[]): AviatrixConfig {
  const obj = asObject(raw, prefix, problems);
  const key = (k: string) => `${prefix}.${k}`;
  rejectUnknownKeys(obj, AVIATRIX_KEYS, prefix, problems);
  const controllerUrl = requiredString(obj, 'controllerUrl', key, problems);
  if (controllerUrl && !/^https:\/\/[^/\s]+/.test(controllerUrl)) {
    problems.push(`${key('controllerUrl')} must be an https:// URL, got "${controllerUrl}"`);
  }
  const controllerRoleArn = requiredString(obj, 'controllerRoleArn', key, problems);
  if (controllerRoleArn && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(controllerRoleArn)) {
    problems.push(`${key('controllerRoleArn')} must be an IAM role ARN, got "${controllerRoleArn}"`);
  }
  const caBundlePem = optionalString(obj, 'caBundlePem', key, problems);
  if (caBundlePem !== undefined && !caBundlePem.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push(`${key('caBundlePem')} must hold PEM certificates (-----BEGIN CERTIFICATE-----)`);
  }
  // The name becomes the IAM resource of GetSecretValue: a wildcard there would grant other secrets.
  const credentialsSecretName = requiredString(obj, 'credentialsSecretName', key, problems);
  if (credentialsSecretName && !SECRET_NAME.test(credentialsSecretName)) {
    problems.push(
      `${key('credentialsSecretName')} must be a plain Secrets Manager secret name (letters, digits and /_+=.@-, no ARN, ` +
        `no * or ?), got "${credentialsSecretName}": give the exact name of the one secret holding the controller credentials`,
    );
  }
  const credentialsKmsKeyArn = optionalString(obj, 'credentialsKmsKeyArn', key, problems);
  if (credentialsKmsKeyArn !== undefined && !KMS_KEY_ARN.test(credentialsKmsKeyArn)) {
    problems.push(`${key('credentialsKmsKeyArn')} must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), got "${credentialsKmsKeyArn}"`);
  }
  // Switching verification off would hand the admin password to whoever answers.
  const verifyTls = optionalBoolean(obj, 'verifyTls', key, problems) ?? true;
  if (!verifyTls) {
    problems.push(
      `${key('verifyTls')}: false is refused (it would send the controller's credentials to an unverified peer); ` +
        `for a self-signed or private certificate set ${key('caBundlePem')} to its CA (pinning) instead`,
    );
  }
  const kubernetesSmartGroups = parseSmartGroupSpecs(obj.kubernetesSmartGroups, key('kubernetesSmartGroups'), problems);
  const smartGroupTemplates: Record<string, KubernetesSmartGroupSpec[]> = {};
  const templates = obj.smartGroupTemplates === undefined ? {} : asObject(obj.smartGroupTemplates, key('smartGroupTemplates'), problems);
  for (const [name, specs] of Object.entries(templates)) {
    // The name is a tag value, compared exactly.
    if (!TEMPLATE_NAME.test(name)) problems.push(`${key('smartGroupTemplates')}: template name "${name}" must be 1-63 letters, digits or ._- (a cluster tag value names it)`);
    smartGroupTemplates[name] = parseSmartGroupSpecs(specs, `${key('smartGroupTemplates')}.${name}`, problems);
  }
  const smartGroupTemplateTag = optionalString(obj, 'smartGroupTemplateTag', key, problems) ?? DEFAULTS.smartGroupTemplateTag;
  if (!/^[\w .:/=+\-@]{1,128}$/.test(smartGroupTemplateTag) || smartGroupTemplateTag.startsWith('aws:')) {
    problems.push(`${key('smartGroupTemplateTag')} must be an EKS tag key (1-128 letters, digits, spaces or _.:/=+-@, not aws:), got "${smartGroupTemplateTag}"`);
  }
  const vpcSmartGroupMatch = optionalString(obj, 'vpcSmartGroupMatch', key, problems) ?? 'id';
  if (vpcSmartGroupMatch !== 'id' && vpcSmartGroupMatch !== 'name') problems.push(`${key('vpcSmartGroupMatch')} must be "id" or "name", got "${vpcSmartGroupMatch}"`);
  const transitGatewayName = optionalString(obj, 'transitGatewayName', key, problems);
  const spokeGatewayName = optionalString(obj, 'spokeGatewayName', key, problems);
  return {
    controllerUrl,
    credentialsSecretName,
    ...(credentialsKmsKeyArn !== undefined ? { credentialsKmsKeyArn } : {}),
    ...(caBundlePem !== undefined ? { caBundlePem } : {}),
    verifyTls,
    ...(transitGatewayName !== undefined ? { transitGatewayName } : {}),
    ...(spokeGatewayName !== undefined ? { spokeGatewayName } : {}),
    controllerRoleArn,
    allowDisableSingleIpSnat: optionalBoolean(obj, 'allowDisableSingleIpSnat', key, problems) ?? false,
    kubernetesSmartGroups,
    smartGroupTemplates,
    smartGroupTemplateTag,
    vpcSmartGroupMatch: vpcSmartGroupMatch === 'name' ? 'name' : 'id',
  };
}

const TEMPLATE_NAME = /^[A-Za-z0-9._-]{1,63}$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label key's name part and a label value (Kubernetes: 63 characters, alphanumeric at both ends). */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const SMARTGROUP_SPEC_KEYS = ['name', 'type', 'namespace', 'labels', 'namespaceLabels', 'service', 'pod'] as const;

const isDns1123Label = (value: string) => value.length <= 63 && DNS1123_LABEL.test(value);

function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  return LABEL_NAME.test(key.slice(slash + 1)) && (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix)));
}

/** A list of Kubernetes SmartGroup specs, with the controller's client-side selector rules. */
function parseSmartGroupSpecs(raw: unknown, path: string, problems: string[]): KubernetesSmartGroupSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${path} must be a list`);
    return [];
  }
  const specs = raw.map((group, i) => parseSmartGroupSpec(group, `${path}[${i}]`, problems));
  const names = specs.map((s) => s.name).filter((n) => n !== '');
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`${path} names SmartGroup "${name}" more than once`);
  return specs;
}

function parseSmartGroupSpec(raw: unknown, path: string, problems: string[]): KubernetesSmartGroupSpec {
  const entry = asObject(raw, path, problems);
  const key = (k: string) => `${path}.${k}`;
  // The controller's selector has no service-account key: refused by name rather than invented.
  if ('serviceAccount' in entry) {
    problems.push(
      `${key('serviceAccount')} is not supported: the Aviatrix SmartGroup selector has no service-account key (only namespace, ` +
        'labels, namespaceLabels, service, pod); select those workloads by a label their pods carry instead',
    );
  }
  const { serviceAccount: _refusedAbove, ...rest } = entry;
  rejectUnknownKeys(rest, SMARTGROUP_SPEC_KEYS, path, problems);
  const name = requiredString(entry, 'name', key, problems);
  if (name && !isDns1123Label(name)) problems.push(`${key('name')} must be a DNS-1123 label, got "${name}"`);
  const type = optionalString(entry, 'type', key, problems) ?? 'k8s';
  if (!(KUBERNETES_SMARTGROUP_TYPES as readonly string[]).includes(type)) {
    problems.push(`${key('type')} must be ${KUBERNETES_SMARTGROUP_TYPES.map((t) => `"${t}"`).join(' or ')}, got "${type}"`);
  }
  const namespace = optionalString(entry, 'namespace', key, problems);
  const service = optionalString(entry, 'service', key, problems);
  const pod = optionalString(entry, 'pod', key, problems);
  for (const [field, value] of [['namespace', namespace], ['service', service]] as const) {
    if (value !== undefined && !isDns1123Label(value)) problems.push(`${key(field)} must be a DNS-1123 label (lowercase letters, digits and -, up to 63), got "${value}"`);
  }
  if (pod !== undefined && !(pod.length <= 253 && DNS1123_SUBDOMAIN.test(pod))) problems.push(`${key('pod')} must be a DNS-1123 subdomain, got "${pod}"`);
  const labels = labelMap(entry, 'labels', key, problems);
  const namespaceLabels = labelMap(entry, 'namespaceLabels', key, problems);
  if (pod !== undefined && namespace === undefined) problems.push(`${key('pod')} needs ${key('namespace')} (a pod is named within its namespace)`);
  if (pod !== undefined && service !== undefined) problems.push(`${path}: pod and service exclude each other`);
  if (namespaceLabels && (service !== undefined || pod !== undefined)) problems.push(`${key('namespaceLabels')} cannot be combined with service or pod`);
  const selectors = { namespace, service, pod, labels, namespaceLabels };
  const withNodes = Object.keys(selectors).filter((k) => selectors[k as keyof typeof selectors] !== undefined);
  if (type === 'k8s_node' && withNodes.length > 0) {
    problems.push(`${path}: type "k8s_node" selects all of the cluster's nodes and takes no ${withNodes.join(', ')}`);
  }
  return {
    name,
    ...(type === 'k8s_node' ? { type } : {}),
    ...(namespace !== undefined ? { namespace } : {}),
    ...(labels ? { labels } : {}),
    ...(namespaceLabels ? { namespaceLabels } : {}),
    ...(service !== undefined ? { service } : {}),
    ...(pod !== undefined ? { pod } : {}),
  };
}

/** Kubernetes labels; an empty value is refused because the controller drops it (matching any value). */
function labelMap(entry: Raw, name: string, key: (k: string) => string, problems: string[]): Record<string, string> | undefined {
  const value = entry[name];
  if (value === undefined) return undefined;
  if (!isStringMap(value) || Object.keys(value).length === 0) {
    problems.push(`${key(name)} must map label keys to label values (at least one)`);
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) {
    if (!isLabelKey(k)) problems.push(`${key(name)}: "${k}" is not a Kubernetes label key ([prefix/]name, name up to 63 letters, digits, -_.)`);
    if (!LABEL_NAME.test(v)) problems.push(`${key(name)}.${k} must be a non-empty Kubernetes label value (up to 63 letters, digits, -_., alphanumeric at both ends), got "${v}"`);
  }
  return value;
}

/** A misspelt key would otherwise be ignored silently, leaving its default in force. */
function rejectUnknownKeys(obj: Raw, known: readonly string[], path: string, problems: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) problems.push(`${path}.${key} is not a known setting (known: ${known.join(', ')})`);
  }
}

function asObject(raw: unknown, path: string, problems: string[]): Raw {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) return raw as Raw;
  problems.push(`${path} must be an object${raw === undefined ? ' (it is missing)' : ''}`);
  return {};
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) &&
    Object.values(value as Raw).every((v) => typeof v === 'string')
  );
}

function requiredString(obj: Raw, name: string, key: (k: string) => string, problems: string[]): string {
  const value = obj[name];
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.push(`${key(name)} is required and must be a non-empty string`);
  return '';
}

function optionalString(obj: Raw, name: string, key: (k: string) => string, problems: string[]): string | undefined {
  const value = obj[name];
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.trim() !== '') return value;
  problems.push(`${key(name)} must be a non-empty string`);
  return undefined;
}

function optionalBoolean(obj: Raw, name: string, key: (k: string) => string, problems: string[]): boolean | undefined {
  const value = obj[name];
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value;
  problems.push(`${key(name)} must be true or false, got ${JSON.stringify(value)}`);
  return undefined;
}

function optionalInteger(
  obj: Raw, name: string, key: (k: string) => string, problems: string[], min: number, max: number,
): number | undefined {
  const value = obj[name];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${key(name)} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return undefined;
}
