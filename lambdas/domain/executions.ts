// Starting workflows so that each trigger starts at most one effective run: the execution name is
// derived from what triggered it, and Step Functions refuses a second execution with that name.
import { createHash } from 'node:crypto';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { sdkClientOptions } from '../shared/aws';
import { OnboardingError } from '../shared/errors';
import { WorkflowInput } from '../shared/workflow';
import { normalizeInput } from './input';

let sfn: SFNClient | undefined;

export interface StartResult {
  clusterName: string;
  executionName: string;
  started: boolean;
  executionArn?: string;
  reason?: string;
}

/** Step Functions names: 1-80 characters of letters, digits, - and _; a longer one keeps a hash of the rest. */
export function executionName(...parts: string[]): string {
  const name = parts.join('-').replace(/[^A-Za-z0-9_-]/g, '-');
  if (name.length <= 80) return name;
  return `${name.slice(0, 71)}-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

export async function startOnce(stateMachineArn: string, name: string, input: WorkflowInput): Promise<StartResult> {
  sfn ??= new SFNClient(sdkClientOptions());
  try {
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
    return { clusterName: input.clusterName, executionName: name, started: true, ...(executionArn ? { executionArn } : {}) };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists) {
      return { clusterName: input.clusterName, executionName: name, started: false, reason: 'a run for this trigger already exists' };
    }
    throw error;
  }
}

export interface StateMachines {
  cluster: string;
  nodegroup: string;
  offboarding: string;
}

/**
 * Which workflow an EKS API call starts. A deleted node group re-runs the cluster workflow: its
 * reconcile no longer counts that node group's subnets, so their SNAT policies go.
 */
export function workflowFor(trigger: string, machines: StateMachines): string {
  switch (trigger) {
    case 'CreateCluster':
    case 'DeleteNodegroup':
      return machines.cluster;
    case 'CreateNodegroup':
      return machines.nodegroup;
    case 'DeleteCluster':
      return machines.offboarding;
    default:
      throw new OnboardingError('InvalidInput', `no workflow handles ${trigger}`);
  }
}

/** Starts the workflow for one CloudTrail event; a repeated delivery of the same event is a no-op. */
export async function startForEvent(event: unknown, machines: StateMachines): Promise<StartResult> {
  const input = normalizeInput(event);
  if (!input.eventId) throw new OnboardingError('InvalidInput', 'the CloudTrail event has no eventID to name its run after');
  return startOnce(workflowFor(input.trigger, machines), executionName(input.trigger, input.eventId), input);
}
