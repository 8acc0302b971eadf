// The name of the member role a hub role assumes in one account's Region. Free of CDK imports:
// lib/multi-account.ts builds the roles with it, and the Lambdas (lambdas/shared/aws.ts) assume them by it.
import { MembersConfig } from './config';

/** `AviatrixOnboardRole` -> `AviatrixOnboard`: keeps member role names within IAM's 64 characters. */
export const shortRoleId = (roleId: string): string => roleId.replace(/Role$/, '');

/** The member role a hub role assumes in one account's Region (IAM names are per account, so the Region is part of it). */
export function memberRoleName(members: Pick<MembersConfig, 'roleNamePrefix'>, roleId: string, region: string): string {
  return `${members.roleNamePrefix}-${shortRoleId(roleId)}-${region}`;
}

/**
 * aviatrix.controllerRoleArn's role (same path and name) in another account: the role the controller
 * acts as there through that account's access account. The member IAM condition and the access entry
 * the Lambdas create both name it, so both derive it here.
 */
export const controllerRoleArnIn = (controllerRoleArn: string, account: string): string =>
  controllerRoleArn.replace(/:iam::\d{12}:/, `:iam::${account}:`);
