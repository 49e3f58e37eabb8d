import './polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import type { TaskMemo } from './run-journal';
import type { AslDefinition } from './synth-definitions';

/** The part of the interpreter's event log that progress needs (the package does not export its type). */
interface ExecutionEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; type: string };
  Error?: string;
  Cause?: unknown;
  input?: unknown;
}

export type LocalHandler = (input: unknown) => Promise<unknown>;

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  output?: unknown;
  error?: { name: string; message: string };
  /** A failed execution's state as its Fail state received it (the failure path's results included). */
  failedState?: unknown;
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
  /** The execution's name ($$.Execution.Name). @default `local-<epoch ms>` */
  executionName?: string;
  /**
   * Persisted Task results: each success is recorded, and a Task whose (state, input) a previous attempt
   * finished returns that output without running, as a Step Functions redrive skips finished states.
   */
  memo?: TaskMemo;
  /**
   * The failure path: states that run on every attempt even when recorded (each failure is announced), each
   * with the states whose recorded results it discards once it has run (it deleted what they produced, so a
   * redrive runs them again).
   */
  failurePath?: Readonly<Record<string, readonly string[]>>;
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
  const handlers = options.memo
    ? memoized(options.handlers, options.memo, options.failurePath ?? {}, replays)
    : options.handlers;
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: { Execution: { Name: options.executionName ?? `local-${Date.now()}` } },
  });
  const steps: ExecutionOutcome['steps'] = [];
  const entered = new Map<string, number>();
  const caught = new Set<string>();
  let failedState: unknown;
  const watch = (async () => {
    for await (const event of execution.eventLogs) trackStep(event as ExecutionEvent);
  })();
  try {
    const output = await execution.result;
    await watch;
    return { status: 'SUCCEEDED', output, steps };
  } catch (error) {
    await watch.catch(() => undefined);
    // ExecutionError wraps the state's own error (e.g. the Fail state's Error/Cause) as its cause.
    const failure = error as Error;
    const cause = failure.cause instanceof Error ? failure.cause : failure;
    return {
      status: failure.name === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED',
      error: { name: cause.name, message: cause.message },
      failedState,
      steps,
    };
  }

  function trackStep(event: ExecutionEvent) {
    if (event.type === 'StateEntered' && event.state?.type === 'Fail') failedState = event.input;
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

/** Each handler behind the memo: recorded results replay (counted in `replays` for the step log), new ones are recorded. */
function memoized(
  handlers: Record<string, LocalHandler>,
  memo: TaskMemo,
  failurePath: Readonly<Record<string, readonly string[]>>,
  replays: Map<string, number>,
): Record<string, LocalHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([state, handler]) => [
      state,
      async (input: unknown) => {
        const discards = failurePath[state];
        if (!discards) {
          const recorded = await memo.recall(state, input);
          if (recorded) {
            replays.set(state, (replays.get(state) ?? 0) + 1);
            return recorded.output;
          }
        }
        const output = await handler(input);
        if (discards) await memo.forget(discards);
        else await memo.record(state, input, output);
        return output;
      },
    ]),
  );
}
