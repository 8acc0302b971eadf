// Which Aviatrix access account holds the cluster's AWS account, and the role the controller reads
// the cluster with (its EKS access entry's principal). In the hub's own account and Region:
// aviatrix.controllerRoleArn, as before. In a member account: the access account mapped in
// onboarding.members.aviatrixAccounts (the controller API documents no account listing to discover
// it), and the role of the same name in that account: the controller reaches an account through its
// access account's role there (with use_csp_credentials it authenticates as that role).
import { OnboardingConfig } from '../../lib/config';
import { controllerRoleArnIn } from '../../lib/member-role-name';
import { OnboardingError } from '../shared/errors';
import { currentTarget, Target } from '../shared/target';

export interface ControllerAccess {
  /** The principal of the controller's access entry on the cluster. */
  roleArn: string;
  /** The access account that holds the cluster's AWS account (members only). */
  accessAccount?: string;
}

export function controllerAccess(config: OnboardingConfig, target: Target | undefined = currentTarget()): ControllerAccess {
  if (!target) return { roleArn: config.aviatrix.controllerRoleArn };
  const accessAccount = config.members?.aviatrixAccounts[target.account];
  if (!accessAccount) {
    throw new OnboardingError(
      'ControllerError',
      `AWS account ${target.account} has no Aviatrix access account in onboarding.members.aviatrixAccounts, so the controller cannot reach its clusters: ` +
        `onboard the account on the controller (Accounts > Access Accounts) and add {"${target.account}": "<access account name>"} there`,
    );
  }
  // Config checked it is a role ARN: the same role (path and name) in the cluster's account.
  return { roleArn: controllerRoleArnIn(config.aviatrix.controllerRoleArn, target.account), accessAccount };
}
