// SNS: the SDK's types, and its classes loaded on first use (lazySdk in ../aws.ts).
// Add a name here to use it; importing it from '@aws-sdk/client-sns' instead would load the module cold.
import { snsSdk } from '../aws';

export type * from '@aws-sdk/client-sns';
export const { PublishCommand } = snsSdk;
