import { StateMachine } from 'aws-local-stepfunctions';
import type { TaskMemo } from './run-journal';
import type { AslDefinition } from './synth-definitions';

/** The part of the interpreter's event log that progress needs (the package does not export its type). */
interface ExecutionEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; type: string; input?: unknown };
  Error?: string;
  Cause?: unknown;
  input?: unknown;
}

export type LocalHandler = (input: unknown) => Promise<unknown>;

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  output?: unknown;
  error?: { name: string; message: string };
  /**
   * Where a failed or timed-out execution stopped, what GetExecutionHistory tells on AWS: the state entered
   * last (a Map iteration's Task by its own name) and the run's state as the last top-level state received it.
   */
  stop?: { state?: string; input?: unknown };
  /** Task states in the order they finished, with their wall time and start (epoch ms, for the soak's memory samples). */
  steps: {
    state: string;
    ms: number;
    startedAt: number;
    /** `replayed`: a redrive returned the state's recorded output without running it. */
    status: 'ok' | 'failed' | 'retried' | 'caught' | 'replayed';
    error?: string;
  }[];
}

export interface RunOptions {
  /** One local function per Task state name (Task states inside Parallel and Map branches too). */
  handlers: Record<string, LocalHandler>;
  /** Called as each Task state finishes, for progress output. */
  onStep?: (step: ExecutionOutcome['steps'][number]) => void;
  /** Called as each state is entered (Map iterations' and Parallel branches' states too): the path taken. */
  onStateEntered?: (state: string) => void;
  /** The execution's name ($$.Execution.Name). @default `local-<epoch ms>` */
  executionName?: string;
  /**
   * Persisted Task results: each success is recorded, and a Task whose (state, input) a previous attempt
   * finished returns that output without running, as a Step Functions redrive skips finished states.
   */
  memo?: TaskMemo;
}

/** Runs a synthesized state machine definition with the ASL interpreter, each Task bound to its local handler. */
export async function runStateMachine(
  definition: AslDefinition,
  input: unknown,
  options: RunOptions,
): Promise<ExecutionOutcome> {
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  // 50 ms between retries instead of the definition's seconds-long backoff.
  const retryIntervalOverrides = Object.fromEntries(
    Object.keys(options.handlers).map((state) => [state, 50]),
  );
  const replays = new Map<string, number>();
  const ended = { now: false };
  const handlers = untilEnded(
    options.memo ? memoized(options.handlers, options.memo, replays) : options.handlers,
    ended,
  );
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: { Execution: { Name: options.executionName ?? `local-${Date.now()}` } },
  });
  const steps: ExecutionOutcome['steps'] = [];
  const entered = new Map<string, number>();
  const caught = new Set<string>();
  const stop: NonNullable<ExecutionOutcome['stop']> = {};
  // The state the execution stopped at: a Fail state entered, else the Task that failed last (a sibling
  // Parallel branch or Map iteration may have entered a state after it), else the state entered last.
  const at: { fail?: string; failed?: string; entered?: string } = {};
  const watch = (async () => {
    for await (const event of execution.eventLogs) trackStep(event as ExecutionEvent);
  })();
  try {
    const output = await execution.result.finally(() => (ended.now = true));
    await watch;
    return { status: 'SUCCEEDED', output, steps };
  } catch (error) {
    await watch.catch(() => undefined);
    stop.state = at.fail ?? at.failed ?? at.entered;
    // ExecutionError wraps the state's own error (e.g. the Fail state's Error/Cause) as its cause.
    const failure = error as Error;
    const cause = failure.cause instanceof Error ? failure.cause : failure;
    return {
      status: failure.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED',
      error: { name: cause.name, message: cause.message },
      stop,
      steps,
    };
  }

  function trackStep(event: ExecutionEvent) {
    if (event.type === 'StateEntered' && event.state) {
      options.onStateEntered?.(event.state.name);
      at.entered = event.state.name;
      if (event.state.type === 'Fail') at.fail = event.state.name;
      // A Map iteration's states carry its index; their input is the item, not the run's state.
      if (event.index === undefined) stop.input = event.state.input;
    }
    if (event.type === 'StateFailed' && event.state?.type === 'Task') at.failed = event.state.name;
    if (!event.state || event.state.type !== 'Task') return;
    const key = `${event.state.name}#${event.index ?? ''}`;
    if (event.type === 'StateEntered') {
      entered.set(key, event.timestamp);
      return;
    }
    const status = (
      { StateExited: 'ok', StateFailed: 'failed', StateRetried: 'retried', StateCaught: 'caught' } as const
    )[event.type as 'StateExited' | 'StateFailed' | 'StateRetried' | 'StateCaught'];
    // A caught failure still "exits" the state; that exit is not a success.
    if (!status || (status === 'ok' && caught.delete(key))) return;
    if (status === 'caught') caught.add(key);
    const replayed = status === 'ok' && (replays.get(event.state.name) ?? 0) > 0;
    if (replayed) replays.set(event.state.name, replays.get(event.state.name)! - 1);
    const startedAt = entered.get(key) ?? event.timestamp;
    const step = {
      state: event.state.name,
      ms: event.timestamp - startedAt,
      startedAt,
      status: replayed ? ('replayed' as const) : status,
      ...(event.Error ? { error: `${event.Error}: ${String(event.Cause ?? '')}` } : {}),
    };
    steps.push(step);
    options.onStep?.(step);
  }
}

/** A Task the interpreter started after its execution had ended. */
class ExecutionEndedError extends Error {
  override name = 'ExecutionEndedError';
}

/**
 * Each handler refuses to start once the execution has ended. aws-local-stepfunctions 3.0.0 still starts a
 * Map's queued iterations after one failed (its p-limit queue is never cleared): a failed LoadTable went on
 * loading the other tables. Step Functions starts no iteration once the Map failed (the execution with it,
 * as no Map of ours has a Catch). The failure propagates in microtasks: a macrotask's wait lets it land.
 */
function untilEnded(
  handlers: Record<string, LocalHandler>,
  ended: { now: boolean },
): Record<string, LocalHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      async (input: unknown) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (ended.now) throw new ExecutionEndedError(`${state} not started: its execution has ended`);
        return handler(input);
      },
    ]),
  );
}

/** Each handler behind the memo: recorded results replay (counted in `replays` for the step log), new ones are recorded. */
function memoized(
  handlers: Record<string, LocalHandler>,
  memo: TaskMemo,
  replays: Map<string, number>,
): Record<string, LocalHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      async (input: unknown) => {
        const recorded = await memo.recall(state, input);
        if (recorded) {
          replays.set(state, (replays.get(state) ?? 0) + 1);
          return recorded.output;
        }
        const output = await handler(input);
        await memo.record(state, input, output);
        return output;
      },
    ]),
  );
}
