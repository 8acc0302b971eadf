// EKS: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-eks' instead would load the module cold.
import { eksSdk } from '../aws';

export type * from '@aws-sdk/client-eks';
export const {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand,
  DescribeAddonCommand,
  DescribeClusterCommand,
  DescribeNodegroupCommand,
  DescribeUpdateCommand,
  InvalidRequestException,
  ListAssociatedAccessPoliciesCommand,
  paginateListClusters,
  paginateListNodegroups,
  ResourceInUseException,
  ResourceNotFoundException,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAccessEntryCommand,
  UpdateAddonCommand,
} = eksSdk;
