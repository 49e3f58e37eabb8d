import './polyfills';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AslDefinition } from './synth-definitions';

/** The part of the interpreter's event log that progress needs (the package does not export its type). */
interface ExecutionEvent {
  type: string;
  timestamp: number;
  index?: number;
  state?: { name: string; type: string };
  Error?: string;
  Cause?: unknown;
}

export type LocalHandler = (input: unknown) => Promise<unknown>;

export interface ExecutionOutcome {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT';
  output?: unknown;
  error?: { name: string; message: string };
  /** Task states in the order they finished, with their wall time. */
  steps: { state: string; ms: number; status: 'ok' | 'failed' | 'retried' | 'caught'; error?: string }[];
}

export interface RunOptions {
  /** One local function per Task state name (Task states inside Parallel and Map branches too). */
  handlers: Record<string, LocalHandler>;
  /** Called as each Task state finishes, for progress output. */
  onStep?: (step: ExecutionOutcome['steps'][number]) => void;
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
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: options.handlers as never, retryIntervalOverrides },
    context: { Execution: { Name: `local-${Date.now()}` } },
  });
  const steps: ExecutionOutcome['steps'] = [];
  const entered = new Map<string, number>();
  const caught = new Set<string>();
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
      steps,
    };
  }

  function trackStep(event: ExecutionEvent) {
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
    const step = {
      state: event.state.name,
      ms: event.timestamp - (entered.get(key) ?? event.timestamp),
      status,
      ...(event.Error ? { error: `${event.Error}: ${String(event.Cause ?? '')}` } : {}),
    };
    steps.push(step);
    options.onStep?.(step);
  }
}
