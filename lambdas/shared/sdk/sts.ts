// STS: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-sts' instead would load the module cold.
import { stsSdk } from '../aws';

export type * from '@aws-sdk/client-sts';
export const {
  STSClient,
} = stsSdk;
/** The client's instance type (the const above hides the SDK's own). */
export type STSClient = InstanceType<typeof STSClient>;
