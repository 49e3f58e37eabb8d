/**
 * The fault switch: CARTFLOW_FAULT=<step>:<mode> (lambdas/contract.ts) makes one handler fail the way a
 * Lambda function fails, right after its side effect, so the state machine's Retry, its failure handling and the
 * idempotency of reruns and redeliveries are exercised rather than assumed. Unset, every step is built
 * exactly as without it.
 *
 * Where the fault fires: at the first of these points an invocation reaches.
 * - Inside a warehouse transaction, after its last statement and before COMMIT (Warehouse.executeBatch's
 *   `beforeCommit`): load-table after its COPY, publish-date after replacing the date, record-run,
 *   resolve-run, cleanup (catalog), load-events. The Redshift Data API commits server-side in one call, so a
 *   function that dies there leaves the batch to commit: on AWS the fault fires at the next point.
 * - When the handler has returned: its lake objects (Parquet, quarantine, reports) are written and its
 *   result is not handed back yet: to Step Functions, or to the event-source mapping, which then commits
 *   no offset.
 *
 * Modes:
 * - `fail-once`: a TransientError, which the state machine's Retry (and the mapping's retry) absorbs.
 *   It is remembered by the built handler: once per Lambda execution environment on AWS (a retry that
 *   lands on a fresh environment fails once more, within Retry's attempts), once per execution and step
 *   in the local runner (it builds the handlers per execution), once per process for the stream handlers.
 * - `timeout`: every invocation ends as Lambda ends a function out of time (`Sandbox.Timedout`), without
 *   waiting the timeout out; Retry retries it, then the execution fails at that state (run-failed reports it).
 * - `crash`: every invocation ends as Lambda reports a function whose runtime died (`Runtime.ExitError`):
 *   no retry: the execution fails at that state. The in-process model of a crash: the local runner hosts
 *   every function in one process, which must live on to run the failure handler.
 * - `kill`: the process itself dies (SIGKILL) at the point, its transaction open: the real crash. On AWS
 *   Lambda reports it as Runtime.ExitError; locally the command dies with it, as on a laptop crash.
 */
import { HANDLER_ENV } from '../contract';
import { ConfigurationError, TransientError } from '../core/errors';
import type { Env } from '../core/settings';
import { BATCH_STEPS, CATALOG_STEPS, MONITORING_HANDLERS, STREAM_HANDLERS } from '../steps';
import type { BatchOptions, Step, Warehouse } from './ports';

/** Every handler entry built as a Step (create-topic, a custom resource, is not one). */
export const FAULT_STEPS = [
  ...new Set([
    ...Object.values(BATCH_STEPS),
    ...Object.values(CATALOG_STEPS),
    STREAM_HANDLERS.StreamToParquet,
    STREAM_HANDLERS.LoadEvents,
    ...Object.values(MONITORING_HANDLERS),
  ]),
];

export const FAULT_MODES = ['fail-once', 'timeout', 'crash', 'kill'] as const;

export type FaultStep = (typeof FAULT_STEPS)[number];
export type FaultMode = (typeof FAULT_MODES)[number];

export interface FaultSwitch {
  step: FaultStep;
  mode: FaultMode;
}

/** CARTFLOW_FAULT parsed: undefined when unset or empty; a ConfigurationError naming what it accepts otherwise. */
export function faultSwitch(env: Env): FaultSwitch | undefined {
  const raw = env[HANDLER_ENV.fault];
  if (raw === undefined || raw.trim() === '') return undefined;
  const parts = raw.trim().split(':');
  const [step, mode] = parts;
  const isStep = (FAULT_STEPS as string[]).includes(step);
  const isMode = (FAULT_MODES as readonly string[]).includes(mode);
  if (parts.length !== 2 || !isStep || !isMode) {
    const problem =
      parts.length !== 2
        ? 'is not <step>:<mode>'
        : !isStep
          ? `names no step "${step}"`
          : `names no mode "${mode}"`;
    throw new ConfigurationError(
      `${HANDLER_ENV.fault}="${raw}" ${problem}: expected <step>:<mode> with step one of ` +
        `${FAULT_STEPS.join(', ')} and mode one of ${FAULT_MODES.join(', ')}; unset it to run without a fault.`,
    );
  }
  return { step: step as FaultStep, mode: mode as FaultMode };
}

/** An error as Lambda reports it to Step Functions (`errorType` is the name Retry matches). */
export class LambdaFunctionError extends Error {
  constructor(name: 'Sandbox.Timedout' | 'Runtime.ExitError', message: string) {
    super(message);
    this.name = name;
  }
}

export interface FaultySettings<S> {
  step: S;
  fault?: FaultSwitch;
}

/**
 * The step with the switch applied: unchanged unless CARTFLOW_FAULT names it. Then each invocation gets a
 * handler of its own, over a warehouse that reaches the fault point before COMMIT, and reaches it once
 * more when the handler has returned (making a handler is cheap: it closes over its adapters).
 */
export function withFaults<S, I, O>(step: Step<S, I, O>): Step<FaultySettings<S>, I, O> {
  return {
    name: step.name,
    settings: (env) => ({ step: step.settings(env), fault: faultSwitch(env) }),
    make(adapters, settings) {
      const { fault } = settings;
      if (fault?.step !== step.name) return step.make(adapters, settings.step);
      const remembered = { failed: false };
      return async (input) => {
        const probe = new FaultProbe(fault, remembered);
        const handle = step.make(
          { ...adapters, warehouse: probe.warehouse(adapters.warehouse) },
          settings.step,
        );
        const output = await handle(input);
        await probe.reached('after the handler returned, before its result was handed back');
        return output;
      };
    },
  };
}

/** One invocation's view of the switch: fires at the first point reached, then never again. */
class FaultProbe {
  private done = false;

  constructor(
    private readonly fault: FaultSwitch,
    private readonly remembered: { failed: boolean },
  ) {}

  async reached(point: string): Promise<void> {
    if (this.done) return;
    this.done = true;
    const what = `${HANDLER_ENV.fault}=${this.fault.step}:${this.fault.mode}: injected ${point}`;
    switch (this.fault.mode) {
      case 'fail-once':
        if (this.remembered.failed) return;
        this.remembered.failed = true;
        throw new TransientError(`${what} (fails once; the retry succeeds)`);
      case 'timeout':
        throw new LambdaFunctionError('Sandbox.Timedout', `Task timed out (${what})`);
      case 'crash':
        throw new LambdaFunctionError(
          'Runtime.ExitError',
          `Runtime exited with error: signal: killed (${what})`,
        );
      case 'kill':
        process.kill(process.pid, 'SIGKILL');
        throw new Error(`${what}: SIGKILL did not end the process`);
    }
  }

  warehouse(inner: Warehouse): Warehouse {
    return {
      // Read when asked: a step that never touches the warehouse may run without one.
      get dialect() {
        return inner.dialect;
      },
      query: <T>(sql: string) => inner.query<T>(sql),
      executeBatch: (statements: string[], options?: BatchOptions) =>
        inner.executeBatch(statements, {
          ...options,
          beforeCommit: async () => {
            await options?.beforeCommit?.();
            await this.reached('after its statements, before the warehouse transaction committed');
          },
        }),
    };
  }
}
