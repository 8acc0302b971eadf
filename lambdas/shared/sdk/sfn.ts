// Step Functions: the SDK's types, and its classes and functions loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-sfn' instead would load the module cold.
import { sfnSdk } from '../aws';

export type * from '@aws-sdk/client-sfn';
export const {
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} = sfnSdk;
/** The client's instance type (the const above hides the SDK's own). */
export type SFNClient = InstanceType<typeof SFNClient>;
