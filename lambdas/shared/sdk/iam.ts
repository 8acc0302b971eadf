// IAM: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-iam' instead would load the module cold.
import { iamSdk } from '../aws';

export type * from '@aws-sdk/client-iam';
export const {
  paginateListAttachedRolePolicies,
} = iamSdk;
