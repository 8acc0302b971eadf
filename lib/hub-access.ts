// The hub side of hub and members: the hub's event bus accepts events from the member accounts, and
// each hub Lambda role may assume its own member role of this deployment, and no other role. With
// no `members` in config it adds nothing (one account, one Region, as before).
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { OnboardingConfig } from './config';
import { hubEventBusArn } from './member-stack';
import { memberRoleArnPattern, memberRoleIds } from './multi-account';
import { rowPolicy } from './policy-rows';

export interface HubAccessProps {
  config: OnboardingConfig;
  /** The hub's Lambda roles by construct id (lib/functions.ts). */
  roles: Record<string, iam.IRole>;
}

export class HubAccess extends Construct {
  readonly busPolicy?: events.CfnEventBusPolicy;

  constructor(scope: Construct, id: string, props: HubAccessProps) {
    super(scope, id);
    const { hub, members } = props.config;
    if (!hub || !members) return;

    // Accounts listed by id, or any principal of the Organization.
    this.busPolicy = new events.CfnEventBusPolicy(this, 'MemberEvents', {
      eventBusName: hub.eventBusName,
      statementId: 'OnboardingMembersPutEvents',
      statement: {
        Effect: 'Allow',
        Principal: members.accounts.length > 0 ? { AWS: members.accounts } : '*',
        Action: 'events:PutEvents',
        Resource: hubEventBusArn(hub),
        ...(members.organizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': members.organizationId } } } : {}),
      },
    });

    for (const roleId of memberRoleIds(props.config)) {
      const role = props.roles[roleId];
      if (!role) throw new Error(`lib/permissions.ts has member rows for ${roleId}, which the hub does not have (lib/functions.ts)`);
      const accounts = members.accounts.length > 0 ? members.accounts : ['*'];
      rowPolicy(this, `${roleId}AssumeMemberRole`, role, {
        sid: 'AssumeMemberRole',
        actions: ['sts:AssumeRole'],
        resources: accounts.map((account) => memberRoleArnPattern(members, roleId, account)),
        ...(members.organizationId ? { conditions: { StringEquals: { 'aws:ResourceOrgID': members.organizationId } } } : {}),
        reason: `Its own member role (${members.roleNamePrefix}-<role>-<region>) in each member Region (Regions are part of the name), in the member accounts${members.organizationId ? ' of the Organization' : ''} only.`,
      });
    }
  }
}
