// EC2: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-ec2' instead would load the module cold.
import type { Filter, SecurityGroup } from '@aws-sdk/client-ec2';
import { ec2, ec2Sdk } from '../aws';

export type * from '@aws-sdk/client-ec2';
export const {
  AssociateRouteTableCommand,
  AssociateVpcCidrBlockCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteTagsCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateVpcCidrBlockCommand,
  paginateDescribeInstances,
  paginateDescribeRouteTables,
  paginateDescribeSubnets,
  ReplaceRouteTableAssociationCommand,
  RevokeSecurityGroupIngressCommand,
} = ec2Sdk;

/**
 * The security groups matching every filter (EC2 ANDs filters of different names). A filter with no
 * values matches nothing: no call.
 */
export async function describeSecurityGroups(Filters: Filter[]): Promise<SecurityGroup[]> {
  if (Filters.some((f) => (f.Values ?? []).length === 0)) return [];
  return (await ec2().send(new DescribeSecurityGroupsCommand({ Filters }))).SecurityGroups ?? [];
}
