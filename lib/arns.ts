// ARN patterns used by the IAM policies. Built from CloudFormation pseudo parameters (never from
// the synth-time env) so the rendered policy, and therefore every cdk-nag `appliesTo` string, is
// the same whether or not CDK_DEFAULT_ACCOUNT/REGION are set.
import { Aws } from 'aws-cdk-lib';

const eks = (resource: string): string => `arn:${Aws.PARTITION}:eks:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;

/** Every EKS cluster in this account and region (clusters are created by others, not by this stack). */
export const eksClusterArnPattern = (): string => eks('cluster/*');

/** The `vpc-cni` add-on of any cluster: `addon/<cluster>/vpc-cni/<uuid>`. */
export const vpcCniAddonArnPattern = (): string => eks('addon/*/vpc-cni/*');

/** Every managed node group of any cluster: `nodegroup/<cluster>/<node group>/<uuid>`. */
export const eksNodegroupArnPattern = (): string => eks('nodegroup/*/*/*');

/** Access entries of one IAM role on any cluster: `access-entry/<cluster>/role/<account>/<role name>/<uuid>`. */
export const roleAccessEntryArnPattern = (roleAccount: string, roleName: string): string =>
  eks(`access-entry/*/role/${roleAccount}/${roleName}/*`);

/** `cluster-access-policy` ARNs live in the `aws` account with no region. */
export const eksAccessPolicyArn = (policyName: string): string =>
  `arn:${Aws.PARTITION}:eks::aws:cluster-access-policy/${policyName}`;

/** Auto Scaling groups EKS makes for managed node groups (`eks-<node group>-<uuid>`). */
export const nodegroupAutoScalingGroupArnPattern = (): string =>
  `arn:${Aws.PARTITION}:autoscaling:${Aws.REGION}:${Aws.ACCOUNT_ID}:autoScalingGroup:*:autoScalingGroupName/eks-*`;

/** Every IAM role of this account (an EKS cluster's role is named by whoever made the cluster). */
export const iamRoleArnPattern = (): string => `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/*`;

export const ec2Arn = (resource: string): string => `arn:${Aws.PARTITION}:ec2:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;

/**
 * The Secrets Manager secret named in config (a plain name, lib/config.ts), as an ARN pattern with
 * the six random characters Secrets Manager appends (`-??????`).
 */
export function secretArnPattern(name: string): string {
  return `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${name}-??????`;
}

/** Splits `arn:aws:iam::123456789012:role/path/name` into its account and role name (last path segment). */
export function parseRoleArn(roleArn: string): { account: string; roleName: string } {
  const match = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!match) throw new Error(`not an IAM role ARN: ${roleArn}`);
  return { account: match[1], roleName: match[2] };
}
