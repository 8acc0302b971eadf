// Runs the real ASL files with aws-local-stepfunctions, each Lambda task mapped to our real handler
// in this process, called the way Lambda calls it: JSON in, JSON out, errors as errorType/Cause.
import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics from 'node:diagnostics_channel';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { ClientRequest } from 'node:http';
import path from 'node:path';
import { ExecutionError, StateMachine, StateMachineDefinition } from 'aws-local-stepfunctions';
import { STEP_FUNCTIONS } from '../../lib/functions';
import { validatedStateMachine } from './validated-machine';

const ROOT = path.resolve(__dirname, '..', '..');
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** Definition substitution → the Lambda folder holding its handler: the table the CDK stack uses. */
export const FUNCTION_DIRECTORIES: Record<string, string> = Object.fromEntries(STEP_FUNCTIONS.map((f) => [f.substitution, f.name]));
/** Definition substitution → the function's configured timeout, from the same table. */
const FUNCTION_TIMEOUTS: Record<string, number> = Object.fromEntries(STEP_FUNCTIONS.map((f) => [f.substitution, f.timeoutSeconds]));

export interface StateEvent {
  type: string;
  state?: string;
  at: number;
  /** The state's input (on StateEntered: what a redrive from this state starts with). */
  input?: unknown;
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
  /** How long each Retry waits, in ms; 'asl': the ASL's own intervals, back-off and jitter (a crowd's retries then do not land together). */
  retryMs?: number | 'asl';
  pollIntervalSeconds?: number;
  executionName?: string;
  /** $$.Execution.Id; by default made from the file and executionName. */
  executionArn?: string;
  onEvent?: (event: StateEvent) => void;
  /**
   * How long an invocation of `fn` (lambdas/<fn>) may run, in ms, given its configured timeout in
   * seconds (lib/functions.ts); by default that timeout itself. Past it the task fails with
   * `States.Timeout` and the invocation is dead (see killTask).
   */
  timeoutMs?: (fn: string, configuredSeconds: number) => number;
  /** Called as each Task's Lambda is invoked, before the handler runs (to arm a fault for that step), with the event it gets; awaited. */
  onInvoke?: (state: string, event: unknown) => void | Promise<void>;
  /** Start at this state instead of the definition's StartAt: a redrive from the state that failed. */
  startAt?: string;
  /** Called as each request a handler made is done (answered, failed or cut). */
  onRequest?: (request: HandlerRequest) => void;
}

/** One HTTP request a handler made (AWS SDK, Kubernetes, controller), timed from start to close. */
export interface HandlerRequest {
  state: string;
  /** Which invocation made it: requests of one invocation that overlap in time ran in parallel. */
  invocation: number;
  method: string;
  path: string;
  started: number;
  ended: number;
}

/**
 * One Lambda invocation in this process. Once killed it is a dead process: no request leaves it
 * any more and those in flight are cut (the hook below), so a killed handler cannot finish its
 * work behind the next run's back.
 */
interface Invocation {
  state: string;
  id: number;
  onRequest?: (request: HandlerRequest) => void;
  killed: boolean;
  requests: Set<ClientRequest>;
  kill(error: Error): void;
}
const invocationContext = new AsyncLocalStorage<Invocation>();
const liveInvocations = new Set<Invocation>();
let watchingRequests = false;
let invocations = 0;

function watchRequests(): void {
  if (watchingRequests) return;
  watchingRequests = true;
  // Every client we use (AWS SDK, Kubernetes, controller) goes through node:http(s).
  diagnostics.subscribe('http.client.request.start', (message) => {
    const invocation = invocationContext.getStore();
    if (!invocation) return;
    const { request } = message as { request: ClientRequest };
    if (invocation.killed) {
      request.destroy(Object.assign(new Error(`the invocation of ${invocation.state} is dead`), { code: 'ECONNRESET' }));
      return;
    }
    invocation.requests.add(request);
    const started = Date.now();
    request.once('close', () => {
      invocation.requests.delete(request);
      invocation.onRequest?.({ state: invocation.state, invocation: invocation.id, method: request.method, path: request.path, started, ended: Date.now() });
    });
  });
}

/**
 * Kills the running invocation(s) of `state`, as a crashed Lambda (out of memory, runtime exit):
 * the task fails with `Lambda.Unknown`, which the ASL does not retry. For crash-and-rerun tests,
 * typically called from a fault's `onFire` so the crash comes right after a write.
 */
export function killTask(state: string): void {
  for (const invocation of liveInvocations) {
    if (invocation.state !== state) continue;
    const error = new Error(JSON.stringify({ errorType: 'Runtime.ExitError', errorMessage: `the function running ${state} crashed` }));
    error.name = 'Lambda.Unknown';
    invocation.kill(error);
  }
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

/**
 * Calls the handler as Lambda would, so nothing but JSON crosses the boundary, and stops it as
 * Lambda would: at its configured timeout (`States.Timeout`), or when a test kills it.
 */
function lambdaInvoker(state: string, directory: string, timeoutMs: number, options: Pick<RunOptions, 'onInvoke' | 'onRequest'>) {
  watchRequests();
  return async (input: unknown): Promise<never> => {
    await options.onInvoke?.(state, input);
    const module = require(path.join(ROOT, 'lambdas', directory, 'handler')) as { handler: (event: unknown, context: unknown) => Promise<unknown> };
    let die: (error: Error) => void = () => undefined;
    const dead = new Promise<never>((_, reject) => {
      die = reject;
    });
    const invocation: Invocation = {
      state,
      id: ++invocations,
      ...(options.onRequest ? { onRequest: options.onRequest } : {}),
      killed: false,
      requests: new Set(),
      kill(error) {
        invocation.killed = true;
        for (const request of invocation.requests) request.destroy();
        die(error);
      },
    };
    liveInvocations.add(invocation);
    const deadline = Date.now() + timeoutMs;
    const timer = setTimeout(() => {
      const error = new Error(`${state} (lambdas/${directory}) ran past its configured timeout (${timeoutMs} ms here)`);
      error.name = 'States.Timeout';
      invocation.kill(error);
    }, timeoutMs);
    try {
      // The part of Lambda's context our handlers read: a request id per invocation, the function name,
      // and the time left before the timeout enforced above.
      const context = {
        awsRequestId: randomUUID(),
        functionName: `eks-aviatrix-${directory}`,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      };
      const running = invocationContext.run(invocation, () => module.handler(JSON.parse(JSON.stringify(input)), context));
      running.catch(() => undefined); // a killed handler's own failure goes nowhere, as in Lambda
      const result = await Promise.race([running, dead]);
      return JSON.parse(JSON.stringify(result ?? null)) as never;
    } catch (error) {
      if (invocation.killed) throw await dead.catch((reason: Error) => reason);
      const original = error instanceof Error ? error : new Error(String(error));
      const failure = new Error(JSON.stringify({ errorType: original.name, errorMessage: original.message }));
      failure.name = original.name;
      throw failure;
    } finally {
      clearTimeout(timer);
      liveInvocations.delete(invocation);
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
      const directory = FUNCTION_DIRECTORIES[substitution];
      const timeoutMs = (options.timeoutMs ?? ((_, seconds) => seconds * 1000))(directory, FUNCTION_TIMEOUTS[substitution]);
      handlers[name] = lambdaInvoker(name, directory, timeoutMs, options);
    }
    if (state.Type === 'Wait') waits[name] = options.waitMs ?? 20;
    if (options.retryMs !== 'asl') retries[name] = options.retryMs ?? 10;
  }
  // Validated as deployed; a redrive runs the same states from another one (the states before it
  // are then unreachable, which the validator would refuse).
  let machine = validatedStateMachine(definition);
  if (options.startAt) {
    if (!(options.startAt in definition.States)) throw new Error(`${file} has no top-level state ${options.startAt} to start at`);
    machine = new StateMachine({ ...definition, StartAt: options.startAt }, { validationOptions: { noValidate: true } });
  }
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
        ...('state' in event ? { input: (event as { state: { input?: unknown } }).state.input } : {}),
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
