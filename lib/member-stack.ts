// The member stack, one per member account and Region: forwards the EKS CloudTrail events to the
// hub's event bus and creates the roles the hub's Lambdas assume there, each with exactly the
// member-account rows of the permission table (lib/multi-account.ts). No secret, no code, no asset:
// synthesized without the bootstrap stack so it deploys as a CloudFormation StackSet as well as by
// `cdk deploy` into an account that was never bootstrapped.
import { Arn, Aws, BootstraplessSynthesizer, CfnCondition, CfnResource, Fn, Stack, StackProps } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { HubConfig, MembersConfig, OnboardingConfig } from './config';
import { deadLetterQueue, EKS_API_CALLS, eksApiCallPattern } from './eks-api-trigger';
import { hubRoleArnPattern, memberPermissionTable, memberRoleName, requireMultiAccount } from './multi-account';
import { rowsRole } from './policy-rows';

export interface MemberStackProps extends Omit<StackProps, 'synthesizer'> {
  /** Validated config with `hub` and `members` set (lib/config.ts). */
  config: OnboardingConfig;
}

/** The hub's event bus, where its CloudTrail rules match the forwarded events as they do local ones. */
export function hubEventBusArn(hub: HubConfig): string {
  return Arn.format({ partition: Aws.PARTITION, service: 'events', region: hub.region, account: hub.account, resource: 'event-bus', resourceName: hub.eventBusName });
}

/**
 * Who may assume a member role: the hub role of the same id (by name pattern), in the hub account,
 * presenting the external id and/or from the Organization.
 */
export function memberTrust(hub: HubConfig, members: MembersConfig, roleId: string): iam.IPrincipal {
  return new iam.PrincipalWithConditions(new iam.AccountPrincipal(hub.account), {
    ArnLike: { 'aws:PrincipalArn': hubRoleArnPattern(hub, roleId) },
    // lib/config.ts requires at least one of the two.
    StringEquals: {
      ...(members.externalId ? { 'sts:ExternalId': members.externalId } : {}),
      ...(members.organizationId ? { 'aws:PrincipalOrgID': members.organizationId } : {}),
    },
  });
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * `Fn::Join` of literals and pseudo parameters as the shorter, equivalent `Fn::Sub`
 * ("arn:${AWS::Partition}:eks:..."): ARNs are most of the member template, which must stay under
 * the 51,200-byte TemplateBody. Anything else (or a literal holding "${") is left as it is.
 */
export function joinsAsSub(value: Json): Json {
  if (Array.isArray(value)) return value.map(joinsAsSub);
  if (value === null || typeof value !== 'object') return value;
  const join = value['Fn::Join'];
  if (Object.keys(value).length === 1 && Array.isArray(join) && join[0] === '' && Array.isArray(join[1])) {
    const parts: Json[] = join[1];
    const pseudo = (p: Json) => typeof p === 'object' && p !== null && Object.keys(p).length === 1 && typeof p.Ref === 'string' && p.Ref.startsWith('AWS::');
    if (parts.every((p) => (typeof p === 'string' && !p.includes('${')) || pseudo(p))) {
      return { 'Fn::Sub': parts.map((p) => (typeof p === 'string' ? p : `\${${p.Ref}}`)).join('') };
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, joinsAsSub(v)]));
}

export class MemberStack extends Stack {
  /** Member role per hub role id. */
  readonly roles: Record<string, iam.Role> = {};
  readonly forwardRule: events.Rule;

  constructor(scope: Construct, id: string, props: MemberStackProps) {
    super(scope, id, { ...props, synthesizer: new BootstraplessSynthesizer() });
    // Construct paths in every resource's metadata would cost ~5 KB of the 51,200-byte template.
    this.node.setContext('aws:cdk:enable-path-metadata', false);
    const { hub, members } = requireMultiAccount(props.config);

    // --- Events: every EKS call the hub's triggers match, forwarded as is --------------------------
    // A role on the target is what allows delivery to a bus in another Region.
    const forwarding = new Construct(this, 'ForwardToHub');
    const hubBus = events.EventBus.fromEventBusArn(forwarding, 'HubEventBus', hubEventBusArn(hub));
    const forwarder = new iam.Role(forwarding, 'Role', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
      description: 'EventBridge delivers this account\'s EKS CloudTrail events to the onboarding hub\'s bus',
    });
    this.forwardRule = new events.Rule(forwarding, 'Rule', {
      description: 'Successful EKS Create/Delete Cluster/Nodegroup calls (CloudTrail) go to the onboarding hub',
      eventPattern: eksApiCallPattern([...EKS_API_CALLS]),
    });
    this.forwardRule.addTarget(
      new targets.EventBus(hubBus, {
        role: forwarder,
        deadLetterQueue: deadLetterQueue(forwarding, 'DeadLetterQueue', 'the EKS events EventBridge could not deliver to the hub\'s event bus after its retries'),
      }),
    );
    // In the hub's own account and Region the rule would forward the bus's events to itself.
    const notHub = new CfnCondition(this, 'NotTheHubAccountAndRegion', {
      expression: Fn.conditionNot(Fn.conditionAnd(Fn.conditionEquals(Aws.ACCOUNT_ID, hub.account), Fn.conditionEquals(Aws.REGION, hub.region))),
    });
    for (const child of forwarding.node.findAll()) {
      if (child instanceof CfnResource) child.cfnOptions.condition = notHub;
    }

    // --- Roles: one per hub role, with that role's member-account rows -----------------------------
    const roleName = (roleId: string) => memberRoleName(members, roleId, Aws.REGION);
    const table = memberPermissionTable(props.config, {
      account: Aws.ACCOUNT_ID,
      region: Aws.REGION,
      roleName,
      roleArn: (roleId) => `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${roleName(roleId)}`,
    });
    for (const [roleId, rows] of Object.entries(table)) {
      this.roles[roleId] = rowsRole(this, roleId, { roleName: roleName(roleId), assumedBy: memberTrust(hub, members, roleId) }, rows);
    }
  }

  protected _toCloudFormation(): Json {
    return joinsAsSub(super._toCloudFormation());
  }
}
