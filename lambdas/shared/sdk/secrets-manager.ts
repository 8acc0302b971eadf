// Secrets Manager: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-secrets-manager' instead would load the module cold.
import { secretsSdk } from '../aws';

export type * from '@aws-sdk/client-secrets-manager';
export const {
  GetSecretValueCommand,
  SecretsManagerClient,
} = secretsSdk;
/** The client's instance type (the const above hides the SDK's own). */
export type SecretsManagerClient = InstanceType<typeof SecretsManagerClient>;
