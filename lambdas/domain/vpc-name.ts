// The VPC's Name tag, for a VPC SmartGroup matched by name (onboarding.aviatrix.vpcSmartGroupMatch).
import { DescribeVpcsCommand } from '../shared/sdk/ec2';
import { ec2 } from '../shared/aws';

/** Absent when the VPC carries no Name tag (or an empty one). */
export async function vpcNameTag(vpcId: string): Promise<string | undefined> {
  const { Vpcs = [] } = await ec2().send(new DescribeVpcsCommand({ VpcIds: [vpcId] }));
  return Vpcs[0]?.Tags?.find((t) => t.Key === 'Name')?.Value || undefined;
}
