// The VPC's Name tag, for a VPC SmartGroup matched by name (onboarding.aviatrix.vpcSmartGroupMatch).
import { DescribeVpcsCommand } from '../shared/sdk/ec2';
import { ec2 } from '../shared/aws';
import { OnboardingError } from '../shared/errors';

/** Absent when the VPC carries no Name tag (or an empty one). */
export async function vpcNameTag(vpcId: string): Promise<string | undefined> {
  const { Vpcs = [] } = await ec2().send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
  return Vpcs[0]?.Tags?.find((t) => t.Key === 'Name')?.Value || undefined;
}

/**
 * The VPC's Name for a VPC SmartGroup matched by name, or the refusal naming the VPC and the fix.
 * The network preflight asks first, so a VPC without a Name stops the run before its first write.
 */
export function requireVpcName(cluster: { name: string; vpcId: string }, vpcName: string | undefined): string {
  if (vpcName) return vpcName;
  throw new OnboardingError(
    'ClusterRefused',
    `VPC ${cluster.vpcId} of EKS cluster "${cluster.name}" has no Name tag, and onboarding.aviatrix.vpcSmartGroupMatch is "name" ` +
      '(the VPC SmartGroup matches the VPC by its Name tag): tag the VPC with a Name unique on the controller, or set vpcSmartGroupMatch to "id"',
  );
}
