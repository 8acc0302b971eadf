// Starts a workflow execution and follows it through GetExecutionHistory until it ends.
import {
  DescribeExecutionCommand,
  DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { explainAwsError } from './aws';
import { CliError } from './errors';
import { describeFailure, elapsed, Outcome } from './format';

export interface StartedExecution {
  executionArn: string;
  startDate: Date;
}

export async function startExecution(sfn: SFNClient, stateMachineArn: string, input: unknown, outputName: string): Promise<StartedExecution> {
  try {
    const started = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
    return { executionArn: started.executionArn!, startDate: started.startDate ?? new Date() };
  } catch (error) {
    const e = error as Error;
    if (e.name === 'StateMachineDoesNotExist') {
      throw new CliError(`State machine ${stateMachineArn} (stack output ${outputName}) does not exist. Deploy the stack again with \`npx cdk deploy\`.`);
    }
    throw explainAwsError(error);
  }
}

export interface FinishedExecution extends StartedExecution {
  status: string;
  output?: string;
  error?: string;
  cause?: string;
  stopDate: Date;
  /** The last outcome a state handed on (after a failure: what the run had changed). */
  lastOutcome?: Outcome;
}

export interface FollowOptions {
  pollMs: number;
  /** Receives one progress line per step entered, and per failed step. */
  progress?: (line: string) => void;
}

const TERMINAL = /^Execution(Succeeded|Failed|TimedOut|Aborted)$/;
/** Steps worth a progress line: the work (Task, Parallel, Map) and the waiting. */
const STEP_ENTERED = /^(Task|Parallel|Map|Wait)StateEntered$/;
const STEP_FAILED: Record<string, keyof HistoryEvent> = {
  LambdaFunctionFailed: 'lambdaFunctionFailedEventDetails',
  LambdaFunctionTimedOut: 'lambdaFunctionTimedOutEventDetails',
  TaskFailed: 'taskFailedEventDetails',
  TaskTimedOut: 'taskTimedOutEventDetails',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Events newer than `afterId`, oldest first: reads the history newest first and stops at what it has seen. */
async function newEvents(sfn: SFNClient, executionArn: string, afterId: number): Promise<HistoryEvent[]> {
  const fresh: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 100, includeExecutionData: true, nextToken }));
    nextToken = page.nextToken;
    for (const event of page.events ?? []) {
      if ((event.id ?? 0) <= afterId) {
        nextToken = undefined;
        break;
      }
      fresh.push(event);
    }
  } while (nextToken);
  return fresh.reverse();
}

function outcomeIn(output: string | undefined): Outcome | undefined {
  if (!output) return undefined;
  try {
    const state = JSON.parse(output) as { outcome?: Outcome };
    return state?.outcome && Array.isArray(state.outcome.changes) ? state.outcome : undefined;
  } catch {
    return undefined;
  }
}

export async function followExecution(sfn: SFNClient, started: StartedExecution, options: FollowOptions): Promise<FinishedExecution> {
  const t0 = started.startDate.getTime();
  const stamp = (event: HistoryEvent) => elapsed(t0, event.timestamp?.getTime() ?? Date.now());
  const printedSteps = new Set<string>();
  const printedFailures = new Set<string>();
  const openTasks: string[] = [];
  let lastId = 0;
  let lastOutcome: Outcome | undefined;
  let ended = false;
  try {
    while (!ended) {
      for (const event of await newEvents(sfn, started.executionArn, lastId)) {
        lastId = Math.max(lastId, event.id ?? 0);
        const type = event.type ?? '';
        const entered = event.stateEnteredEventDetails?.name;
        const exited = event.stateExitedEventDetails?.name;
        if (entered && type === 'TaskStateEntered') openTasks.push(entered);
        if (entered && STEP_ENTERED.test(type) && !printedSteps.has(entered)) {
          printedSteps.add(entered);
          options.progress?.(`${stamp(event)}  ${entered}`);
        }
        if (exited) {
          const open = openTasks.lastIndexOf(exited);
          if (open !== -1) openTasks.splice(open, 1);
          lastOutcome = outcomeIn(event.stateExitedEventDetails?.output) ?? lastOutcome;
        }
        const failedKey = STEP_FAILED[type];
        if (failedKey) {
          const details = event[failedKey] as { error?: string; cause?: string } | undefined;
          const step = openTasks[openTasks.length - 1] ?? 'a step';
          const line = `${step} failed: ${describeFailure(details?.error, details?.cause)}`;
          if (!printedFailures.has(line)) {
            printedFailures.add(line);
            options.progress?.(`${stamp(event)}  ${line}`);
          }
        }
        if (TERMINAL.test(type)) ended = true;
      }
      if (!ended) await sleep(options.pollMs);
    }
    const described: DescribeExecutionCommandOutput = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    return {
      ...started,
      status: described.status ?? 'UNKNOWN',
      ...(described.output !== undefined ? { output: described.output } : {}),
      ...(described.error !== undefined ? { error: described.error } : {}),
      ...(described.cause !== undefined ? { cause: described.cause } : {}),
      stopDate: described.stopDate ?? new Date(),
      ...(lastOutcome ? { lastOutcome } : {}),
    };
  } catch (error) {
    throw explainAwsError(error);
  }
}

/** The Step Functions console page of an execution. */
export function consoleUrl(region: string, executionArn: string): string {
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}
