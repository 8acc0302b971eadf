// Hub and members: which rows of the permission table a member account's roles carry, and how the
// roles on both sides are named so each side can limit the other by name pattern. Free of CDK
// constructs (Aws tokens only), like lib/permissions.ts.
import { Aws } from 'aws-cdk-lib';
import { HubConfig, MembersConfig, OnboardingConfig } from './config';
import { memberRoleName, shortRoleId } from './member-role-name';
import { PermissionContext, PermissionRow, permissionTable } from './permissions';

/**
 * Services whose resources live in the cluster's account and Region: their rows go to the member
 * roles. Everything else (tables, the controller secret, state machines, the topic) stays in the hub.
 */
const MEMBER_SERVICES = ['eks', 'ec2', 'autoscaling', 'iam'];

/** Stands in for hub-only resources in the member context; a member row holding it is a bug. */
const HUB_ONLY = 'hub-only-resource';

export { memberRoleName };

/** Every member role of one hub role, in any Region of `account` ('*': any account). */
export function memberRoleArnPattern(members: MembersConfig, roleId: string, account: string): string {
  return `arn:${Aws.PARTITION}:iam::${account}:role/${members.roleNamePrefix}-${shortRoleId(roleId)}-*`;
}

/**
 * The hub Lambda role of a role id. CloudFormation names a role "<stack name>-<logical id>-<suffix>",
 * and the logical id starts with the construct id: the hub's name prefix is its stack name.
 */
export function hubRoleArnPattern(hub: HubConfig, roleId: string): string {
  return `arn:${Aws.PARTITION}:iam::${hub.account}:role/${hub.namePrefix}-hub-${roleId}-*`;
}

/** Config with the multi-account keys set, or a message naming what is missing. */
export function requireMultiAccount(config: OnboardingConfig): { hub: HubConfig; members: MembersConfig } {
  if (!config.hub || !config.members) {
    throw new Error('the member stack needs onboarding.hub (account, region) and onboarding.members (accounts or organizationId, externalId or organizationId)');
  }
  return { hub: config.hub, members: config.members };
}

const isMemberRow = (row: PermissionRow): boolean => row.actions.every((a) => MEMBER_SERVICES.includes(a.split(':')[0]));

/**
 * The member-account rows of the permission table, per hub role id (roles without any are left
 * out). In a member account the Kubernetes identity and the access entries are the member roles'
 * own, so `roleArn`/`roleName` name member roles.
 */
export function memberPermissionTable(
  config: OnboardingConfig,
  member: { account: string; region: string; roleArn(roleId: string): string; roleName(roleId: string): string },
): Record<string, PermissionRow[]> {
  const ctx: PermissionContext = {
    config,
    ...member,
    controllerRoleInThisAccount: true,
    statusTableArn: HUB_ONLY,
    leaseTableArn: HUB_ONLY,
    claimTableArn: HUB_ONLY,
    clusterStateMachineArn: HUB_ONLY,
    stateMachineArns: [HUB_ONLY],
    offboardingStateMachineArn: HUB_ONLY,
    executionArnPatterns: [HUB_ONLY],
    notificationTopicArn: HUB_ONLY,
  };
  const table: Record<string, PermissionRow[]> = {};
  for (const [roleId, rows] of Object.entries(permissionTable(ctx))) {
    const memberRows = rows.filter(isMemberRow);
    for (const row of memberRows) {
      if (row.resources.includes(HUB_ONLY)) throw new Error(`lib/permissions.ts ${roleId} ${row.sid}: a member-account row names a hub resource`);
    }
    if (memberRows.length > 0) table[roleId] = memberRows;
  }
  return table;
}

/** The hub roles that assume member roles (those with member-account rows). */
export function memberRoleIds(config: OnboardingConfig): string[] {
  return Object.keys(memberPermissionTable(config, { account: HUB_ONLY, region: HUB_ONLY, roleArn: () => HUB_ONLY, roleName: () => HUB_ONLY }));
}
