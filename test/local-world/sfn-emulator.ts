// An in-process stand-in for the Step Functions API (awsJson1_0, `X-Amz-Target:
// AWSStepFunctions.<Op>`), reached by the real @aws-sdk/client-sfn through AWS_ENDPOINT_URL_SFN.
// Executions run for real, in the background, with runWorkflow: the real ASL and our real handlers.
//
// Operations: StartExecution, DescribeExecution, ListExecutions, GetExecutionHistory,
// DescribeStateMachine. Errors answer 400 with {"__type": "<Code>", "message": "..."}, as the
// service does. Timestamps are epoch seconds (fractional), as awsJson1_0 carries them.
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CallLog, isReadAction } from './call-log';
import { loadDefinition, runWorkflow, StateEvent } from './workflow-runner';
import { closeServer, listenOnLoopback } from './loopback';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface SfnEmulatorOptions {
  /** Where each call is recorded (service 'sfn'). */
  log?: CallLog;
  region?: string;
  accountId?: string;
  /** How long each Wait state really waits, in ms. Default 50. */
  waitMs?: number;
  /** How long each Retry waits, in ms. Default 50. */
  retryMs?: number;
  /** How long stop() waits for running executions before closing anyway. Default 30 s. */
  stopTimeoutMs?: number;
}

/** One history event, as GetExecutionHistory returns it (timestamp in ms here, seconds on the wire). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export interface EmulatedExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  /** The input as given (a JSON string). */
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  startDate: Date;
  stopDate?: Date;
  events: HistoryEvent[];
  /** Resolves when the execution ends. */
  done: Promise<void>;
}

interface RegisteredStateMachine {
  arn: string;
  name: string;
  file: string;
  definition: string;
  /** State name → state Type (Task, Pass, ...), including states inside Parallel branches. */
  stateTypes: Map<string, string>;
  creationDate: Date;
}

class SfnError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATE_MACHINE_ARN = /^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:([A-Za-z0-9_-]{1,80})$/;
const EXECUTION_ARN = /^arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:execution:([A-Za-z0-9_-]{1,80}):([A-Za-z0-9_-]{1,80})$/;
const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const STATUSES = new Set(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']);

type Body = Record<string, unknown>;
type AnyState = { Type: string; Branches?: { States: Record<string, AnyState> }[] };

function collectStateTypes(states: Record<string, AnyState>, into: Map<string, string>): Map<string, string> {
  for (const [name, state] of Object.entries(states)) {
    into.set(name, state.Type);
    for (const branch of state.Branches ?? []) collectStateTypes(branch.States, into);
  }
  return into;
}

const seconds = (ms: number) => ms / 1000;
const encodeToken = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64');

function decodeToken(token: unknown): number {
  if (token === undefined || token === null) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8')) as { offset?: unknown };
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return offset;
  } catch {
    // fall through
  }
  throw new SfnError('InvalidToken', `Invalid Token: '${String(token)}'`);
}

function pageSize(value: unknown, max = 1000): number {
  if (value === undefined || value === null || value === 0) return 100;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SfnError('ValidationException', `1 validation error detected: Value '${String(value)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  }
  return value;
}

export class SfnEmulator {
  readonly region: string;
  readonly accountId: string;
  private server?: http.Server;
  private baseUrl?: string;
  private readonly machines = new Map<string, RegisteredStateMachine>();
  private readonly all: EmulatedExecution[] = [];
  private readonly byArn = new Map<string, EmulatedExecution>();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly options: SfnEmulatorOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('SfnEmulator is not started');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    const server = http.createServer((req, res) => this.handle(req, res));
    const port = await listenOnLoopback(server);
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this.baseUrl;
  }

  /** Makes a state machine of `aslFile` (a file in state-machines/) available under `stateMachineArn`. */
  register(stateMachineArn: string, aslFile: string): void {
    const match = STATE_MACHINE_ARN.exec(stateMachineArn);
    if (!match) throw new Error(`register: ${stateMachineArn} is not a state machine ARN`);
    const file = path.basename(aslFile);
    const definition = loadDefinition(file);
    this.machines.set(stateMachineArn, {
      arn: stateMachineArn,
      name: match[1],
      file,
      definition: JSON.stringify(definition, null, 2),
      stateTypes: collectStateTypes(definition.States as Record<string, AnyState>, new Map()),
      creationDate: new Date(),
    });
  }

  /** Every execution started, oldest first. */
  executions(): EmulatedExecution[] {
    return [...this.all];
  }

  execution(executionArn: string): EmulatedExecution | undefined {
    return this.byArn.get(executionArn);
  }

  /** Resolves when no execution is running (including ones started while waiting). */
  async waitForIdle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Waits (bounded) for running executions, then closes the server. */
  async stop(): Promise<void> {
    const timeout = this.options.stopTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.waitForIdle(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
    if (timer) clearTimeout(timer);
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AWSStepFunctions.') ? target.slice('AWSStepFunctions.'.length) : '';
      this.options.log?.record('sfn', operation || 'Unknown', !isReadAction(operation || 'Unknown'));
      let status = 200;
      let payload: unknown;
      try {
        if (req.method !== 'POST' || !operation) throw new SfnError('UnknownOperationException', `unsupported request ${req.method} ${target}`);
        let body: Body;
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          body = text ? (JSON.parse(text) as Body) : {};
        } catch {
          throw new SfnError('SerializationException', 'request body is not JSON');
        }
        payload = this.dispatch(operation, body);
      } catch (error) {
        status = 400;
        const e = error instanceof SfnError ? error : new SfnError('InternalFailure', error instanceof Error ? error.message : String(error));
        if (!(error instanceof SfnError)) status = 500;
        payload = { __type: e.code, message: e.message };
        res.setHeader('x-amzn-errortype', e.code);
      }
      const text = JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(text),
        'x-amzn-requestid': randomUUID(),
      });
      res.end(text);
    });
  }

  private dispatch(operation: string, body: Body): unknown {
    switch (operation) {
      case 'StartExecution':
        return this.startExecution(body);
      case 'DescribeExecution':
        return this.describeExecution(body);
      case 'ListExecutions':
        return this.listExecutions(body);
      case 'GetExecutionHistory':
        return this.getExecutionHistory(body);
      case 'DescribeStateMachine':
        return this.describeStateMachine(body);
      default:
        throw new SfnError('UnknownOperationException', `the Step Functions emulator does not implement ${operation}`);
    }
  }

  private machine(arn: unknown): RegisteredStateMachine {
    if (typeof arn !== 'string' || !STATE_MACHINE_ARN.test(arn)) throw new SfnError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`);
    const machine = this.machines.get(arn);
    if (!machine) throw new SfnError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return machine;
  }

  private lookup(arn: unknown): EmulatedExecution {
    if (typeof arn !== 'string' || !EXECUTION_ARN.test(arn)) throw new SfnError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${String(arn)}'`);
    const execution = this.byArn.get(arn);
    if (!execution) throw new SfnError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  // ---- operations -------------------------------------------------------------------------------

  private startExecution(body: Body): unknown {
    const machine = this.machine(body.stateMachineArn);
    const name = body.name === undefined || body.name === null ? randomUUID() : body.name;
    if (typeof name !== 'string' || !EXECUTION_NAME.test(name)) throw new SfnError('InvalidName', `Invalid Name: '${String(name)}'`);
    const input = body.input === undefined || body.input === null ? '{}' : body.input;
    if (typeof input !== 'string') throw new SfnError('InvalidExecutionInput', 'Invalid State Machine Execution Input: input must be a string');
    let parsed: unknown;
    try {
      parsed = JSON.parse(input);
    } catch (error) {
      throw new SfnError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${(error as Error).message}'`);
    }
    const executionArn = `arn:aws:states:${this.region}:${this.accountId}:execution:${machine.name}:${name}`;
    const existing = this.byArn.get(executionArn);
    if (existing) {
      // Step Functions answers success for a repeated start only while the first is still running
      // with the very same input: StartExecution is idempotent for that case alone.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn, startDate: seconds(existing.startDate.getTime()) };
      }
      throw new SfnError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const startDate = new Date();
    let finished!: () => void;
    const execution: EmulatedExecution = {
      executionArn,
      stateMachineArn: machine.arn,
      name,
      status: 'RUNNING',
      input,
      startDate,
      events: [],
      done: new Promise<void>((resolve) => (finished = resolve)),
    };
    this.all.push(execution);
    this.byArn.set(executionArn, execution);
    this.addEvent(execution, 'ExecutionStarted', startDate.getTime(), {
      executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: `arn:aws:iam::${this.accountId}:role/${machine.name}-role` },
    });
    const run = this.run(machine, execution, parsed).finally(() => {
      this.running.delete(run);
      finished();
    });
    this.running.add(run);
    return { executionArn, startDate: seconds(startDate.getTime()) };
  }

  private async run(machine: RegisteredStateMachine, execution: EmulatedExecution, input: unknown): Promise<void> {
    // Let StartExecution answer before the first state runs, as the service does.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const result = await runWorkflow(machine.file, input, {
        waitMs: this.options.waitMs ?? 50,
        retryMs: this.options.retryMs ?? 50,
        executionName: execution.name,
        executionArn: execution.executionArn,
        onEvent: (event) => this.onStateEvent(machine, execution, event),
      });
      const now = Date.now();
      if (result.status === 'SUCCEEDED') {
        execution.output = JSON.stringify(result.output ?? null);
        execution.status = 'SUCCEEDED';
        this.addEvent(execution, 'ExecutionSucceeded', now, { executionSucceededEventDetails: { output: execution.output, outputDetails: { truncated: false } } });
      } else {
        this.fail(execution, result.error?.name ?? 'States.Runtime', result.error?.cause ?? '', now);
      }
    } catch (error) {
      // The runner itself failed (an invalid definition, a missing handler): States.Runtime.
      this.fail(execution, 'States.Runtime', error instanceof Error ? error.message : String(error), Date.now());
    }
    execution.stopDate = new Date();
  }

  private fail(execution: EmulatedExecution, error: string, cause: string, at: number): void {
    execution.status = 'FAILED';
    execution.error = error;
    execution.cause = cause;
    this.addEvent(execution, 'ExecutionFailed', at, { executionFailedEventDetails: { error, cause } });
  }

  /** Turns the runner's event stream into Step Functions history events. */
  private onStateEvent(machine: RegisteredStateMachine, execution: EmulatedExecution, event: StateEvent): void {
    if (!event.state) return; // execution-level events are added from the run's result
    const stateType = machine.stateTypes.get(event.state) ?? 'Task';
    const output = event.output === undefined ? undefined : JSON.stringify(event.output);
    switch (event.type) {
      case 'StateEntered':
        this.addEvent(execution, `${stateType}StateEntered`, event.at, { stateEnteredEventDetails: { name: event.state } });
        break;
      case 'StateExited':
        if (stateType === 'Fail') break; // a Fail state has no exit
        this.addEvent(execution, `${stateType}StateExited`, event.at, {
          stateExitedEventDetails: { name: event.state, ...(output !== undefined ? { output, outputDetails: { truncated: false } } : {}) },
        });
        break;
      case 'StateFailed': {
        const error = event.error?.name ?? 'States.TaskFailed';
        const cause = event.error?.cause ?? '';
        // Lambda tasks (a function ARN as Resource) report LambdaFunctionFailed, with error and cause.
        if (stateType === 'Task') this.addEvent(execution, 'LambdaFunctionFailed', event.at, { lambdaFunctionFailedEventDetails: { error, cause } });
        else if (stateType === 'Parallel' || stateType === 'Map') this.addEvent(execution, `${stateType}StateFailed`, event.at, {});
        break;
      }
      default:
        break; // retries and catches show as the states entered next
    }
  }

  private addEvent(execution: EmulatedExecution, type: string, at: number, details: Record<string, unknown>): void {
    const id = execution.events.length + 1;
    execution.events.push({ id, previousEventId: id - 1, timestamp: at, type, ...details });
  }

  private describeExecution(body: Body): unknown {
    const e = this.lookup(body.executionArn);
    return {
      executionArn: e.executionArn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: seconds(e.startDate.getTime()),
      ...(e.stopDate ? { stopDate: seconds(e.stopDate.getTime()) } : {}),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(e.cause !== undefined ? { cause: e.cause } : {}),
      redriveCount: 0,
    };
  }

  private listExecutions(body: Body): unknown {
    const machine = this.machine(body.stateMachineArn);
    const filter = body.statusFilter;
    if (filter !== undefined && (typeof filter !== 'string' || !STATUSES.has(filter))) {
      throw new SfnError('ValidationException', `1 validation error detected: Value '${String(filter)}' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [${[...STATUSES].join(', ')}]`);
    }
    const max = pageSize(body.maxResults);
    const offset = decodeToken(body.nextToken);
    // Newest first; executions started in the same millisecond keep their reverse start order.
    const matching = this.all
      .map((e, index) => ({ e, index }))
      .filter(({ e }) => e.stateMachineArn === machine.arn && (filter === undefined || e.status === filter))
      .sort((a, b) => b.e.startDate.getTime() - a.e.startDate.getTime() || b.index - a.index)
      .map(({ e }) => e);
    const page = matching.slice(offset, offset + max);
    return {
      executions: page.map((e) => ({
        executionArn: e.executionArn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: seconds(e.startDate.getTime()),
        ...(e.stopDate ? { stopDate: seconds(e.stopDate.getTime()) } : {}),
      })),
      ...(offset + max < matching.length ? { nextToken: encodeToken(offset + max) } : {}),
    };
  }

  private getExecutionHistory(body: Body): unknown {
    const e = this.lookup(body.executionArn);
    const max = pageSize(body.maxResults);
    const offset = decodeToken(body.nextToken);
    const includeData = body.includeExecutionData !== false;
    const ordered = body.reverseOrder === true ? [...e.events].reverse() : e.events;
    const page = ordered.slice(offset, offset + max);
    return {
      events: page.map((event) => {
        const wire = JSON.parse(JSON.stringify({ ...event, timestamp: seconds(event.timestamp) })) as Record<string, unknown>;
        if (!includeData) stripData(wire);
        return wire;
      }),
      ...(offset + max < ordered.length ? { nextToken: encodeToken(offset + max) } : {}),
    };
  }

  private describeStateMachine(body: Body): unknown {
    const machine = this.machine(body.stateMachineArn);
    return {
      stateMachineArn: machine.arn,
      name: machine.name,
      status: 'ACTIVE',
      definition: machine.definition,
      roleArn: `arn:aws:iam::${this.accountId}:role/${machine.name}-role`,
      type: 'STANDARD',
      creationDate: seconds(machine.creationDate.getTime()),
      loggingConfiguration: { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: { enabled: false },
    };
  }
}

/** includeExecutionData=false: the history keeps its shape without inputs and outputs. */
function stripData(event: Record<string, unknown>): void {
  for (const value of Object.values(event)) {
    if (value && typeof value === 'object') {
      const details = value as Record<string, unknown>;
      delete details.input;
      delete details.output;
    }
  }
}

/** Starts an emulator on a free loopback port. */
export async function startSfnEmulator(options: SfnEmulatorOptions = {}): Promise<SfnEmulator> {
  const emulator = new SfnEmulator(options);
  await emulator.start();
  return emulator;
}
