// Runs the real ASL files with aws-local-stepfunctions, each Lambda task mapped to our real handler
// in this process, called the way Lambda calls it: JSON in, JSON out, errors as errorType/Cause.
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ExecutionError, StateMachineDefinition } from 'aws-local-stepfunctions';
import { STEP_FUNCTIONS } from '../../lib/functions';
import { validatedStateMachine } from './validated-machine';

const ROOT = path.resolve(__dirname, '..', '..');
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Definition substitution → the Lambda folder holding its handler: the table the CDK stack uses. */
export const FUNCTION_DIRECTORIES: Record<string, string> = Object.fromEntries(STEP_FUNCTIONS.map((f) => [f.substitution, f.name]));

export interface StateEvent {
  type: string;
  state?: string;
  at: number;
  output?: unknown;
  error?: { name: string; cause: string };
}

export interface WorkflowError {
  name: string;
  /** As Step Functions reports it: for a Lambda error, JSON with errorType and errorMessage. */
  cause: string;
  /** The error message a person reads (errorMessage of a Lambda error's cause). */
  message: string;
}

export interface WorkflowRun {
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: WorkflowError;
  /** State names in the order they were entered. */
  statesEntered: string[];
}

export interface RunOptions {
  /** How long each Wait state really waits, in ms (the ASL says seconds). */
  waitMs?: number;
  /** How long each Retry waits, in ms. */
  retryMs?: number;
  pollIntervalSeconds?: number;
  executionName?: string;
  /** $$.Execution.Id; by default made from the file and executionName. */
  executionArn?: string;
  onEvent?: (event: StateEvent) => void;
}

const functionName = (substitution: string) => `eks-aviatrix-${FUNCTION_DIRECTORIES[substitution]}`;
const functionArn = (substitution: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName(substitution)}`;

export function loadDefinition(file: string, pollIntervalSeconds = 30): StateMachineDefinition {
  const text = fs.readFileSync(path.join(ROOT, 'state-machines', file), 'utf8').replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (name === 'PollIntervalSeconds') return String(pollIntervalSeconds);
    if (!(name in FUNCTION_DIRECTORIES)) throw new Error(`${file} uses an unknown substitution \${${name}}`);
    return functionArn(name);
  });
  return JSON.parse(text) as StateMachineDefinition;
}

type AnyState = { Type: string; Resource?: string; Branches?: { States: Record<string, AnyState> }[] };

function* allStates(states: Record<string, AnyState>): Generator<[string, AnyState]> {
  for (const [name, state] of Object.entries(states)) {
    yield [name, state];
    for (const branch of state.Branches ?? []) yield* allStates(branch.States);
  }
}

/** Calls the handler as Lambda would, so nothing but JSON crosses the boundary. */
function lambdaInvoker(directory: string) {
  return async (input: unknown): Promise<never> => {
    const module = require(path.join(ROOT, 'lambdas', directory, 'handler')) as { handler: (event: unknown, context: unknown) => Promise<unknown> };
    try {
      // The part of Lambda's context our handlers read: a request id per invocation, the function name.
      const context = { awsRequestId: randomUUID(), functionName: `eks-aviatrix-${directory}` };
      const result = await module.handler(JSON.parse(JSON.stringify(input)), context);
      return JSON.parse(JSON.stringify(result ?? null)) as never;
    } catch (error) {
      const original = error instanceof Error ? error : new Error(String(error));
      const failure = new Error(JSON.stringify({ errorType: original.name, errorMessage: original.message }));
      failure.name = original.name;
      throw failure;
    }
  };
}

function messageOf(cause: string): string {
  try {
    return (JSON.parse(cause) as { errorMessage?: string }).errorMessage ?? cause;
  } catch {
    return cause;
  }
}

export async function runWorkflow(file: string, input: unknown, options: RunOptions = {}): Promise<WorkflowRun> {
  const definition = loadDefinition(file, options.pollIntervalSeconds);
  const handlers: Record<string, (input: unknown) => Promise<never>> = {};
  const waits: Record<string, number> = {};
  const retries: Record<string, number> = {};
  for (const [name, state] of allStates(definition.States as Record<string, AnyState>)) {
    if (state.Type === 'Task' && state.Resource) {
      const substitution = Object.keys(FUNCTION_DIRECTORIES).find((key) => functionArn(key) === state.Resource);
      if (!substitution) throw new Error(`state ${name} of ${file} calls ${state.Resource}, which has no local handler`);
      handlers[name] = lambdaInvoker(FUNCTION_DIRECTORIES[substitution]);
    }
    if (state.Type === 'Wait') waits[name] = options.waitMs ?? 20;
    retries[name] = options.retryMs ?? 10;
  }
  const machine = validatedStateMachine(definition);
  const executionName = options.executionName ?? `run-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: {
      Execution: {
        Id: options.executionArn ?? `arn:aws:states:${REGION}:${ACCOUNT}:execution:eks-aviatrix-${file.replace('.asl.json', '')}:${executionName}`,
        Name: executionName,
        Input: input as never,
        StartTime: new Date().toISOString(),
      },
    },
  });
  const statesEntered: string[] = [];
  const follow = (async () => {
    for await (const event of execution.eventLogs) {
      const stateName = 'state' in event ? (event as { state: { name: string } }).state.name : undefined;
      if (event.type === 'StateEntered' && stateName) statesEntered.push(stateName);
      const failed = event as { Error?: string; Cause?: unknown };
      options.onEvent?.({
        type: event.type,
        ...(stateName ? { state: stateName } : {}),
        at: event.timestamp,
        ...('state' in event && (event as { state: { output?: unknown } }).state.output !== undefined
          ? { output: (event as { state: { output?: unknown } }).state.output }
          : {}),
        ...(failed.Error ? { error: { name: failed.Error, cause: String(failed.Cause) } } : {}),
      });
    }
  })();
  try {
    const output = await execution.result;
    await follow;
    return { status: 'SUCCEEDED', output, statesEntered };
  } catch (error) {
    await follow.catch(() => undefined);
    if (error instanceof ExecutionError) {
      const caught = (error as { cause?: { name?: string; message?: string } }).cause;
      const cause = caught?.message ?? error.message;
      return { status: 'FAILED', error: { name: caught?.name ?? 'Unknown', cause, message: messageOf(cause) }, statesEntered };
    }
    throw error;
  }
}
