/**
 * Batch runs on a deployed state machine: deterministic execution names per date, a cap on the runs loading
 * the warehouse at once, waiting for an execution to end, and redrive.
 *
 * Names: attempt 1 of a date is `<date>`, attempt n `<date>-a<n>`. Before starting, the attempts so far are
 * read (DescribeExecution of each name in turn), so every starter picks the same next name for a date and
 * StartExecution decides between them: for a Standard workflow the same name and input as a running
 * execution is idempotent (both starters then wait on that one execution), and a closed name raises
 * ExecutionAlreadyExists (the starter takes that attempt's outcome: it was run for it). A running attempt is
 * waited for, never doubled, and a backfill takes an attempt started since it began as its own. ResolveRun
 * makes the execution name the run id in ops.*, as for every execution.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import {
  redriveSuperseded,
  warehouseLedger,
  type BackfillTarget,
  type DateOutcome,
  type RunLedger,
} from '../../local/backfill';
import { SfnExecutionHistory } from '../../lambdas/adapters/execution-history';
import { errorText } from '../../local/failure-line';
import type { RunRequest } from '../../lambdas/core/contracts';
import { requestedBusinessDate } from '../../lambdas/core/dates';
import { stepError, supersededCause } from '../../lambdas/steps';
import type { AwsEnvironment, SdkClient } from './environment';

export const executionNameOf = (date: string, attempt: number) =>
  attempt <= 1 ? date : `${date}-a${attempt}`;

/** An execution's ARN from its state machine's ARN and its name. */
export const executionArnOf = (stateMachineArn: string, name: string) =>
  `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;

export interface StateMachineRunsOptions {
  sfn: SdkClient;
  stateMachineArn: string;
  /** Most executions of the state machine running at once, whoever started them. */
  maxConcurrentRuns: number;
  ledger: RunLedger;
  /** Between DescribeExecution / ListExecutions polls. @default 10000 */
  pollMs?: number;
  /** Waits `ms`, or less once `abandon` aborts. @default a timer cleared on abort */
  sleep?: (ms: number, abandon?: AbortSignal) => Promise<void>;
}

interface Described {
  name: string;
  arn: string;
  status: ExecutionStatus;
  error?: string;
  cause?: string;
  /** The execution input (RunRequest JSON) and output (a superseded run's carries `superseded`). */
  input?: string;
  output?: string;
  startDate?: Date;
  stopDate?: Date;
  /** How many times the execution was redriven. */
  redriveCount?: number;
}

/** One Step Functions call; a failure keeps its code and says which call on what (`target`). */
async function send<O>(sfn: SdkClient, command: { input: object }, target: string): Promise<O> {
  try {
    return (await sfn.send(command)) as O;
  } catch (error) {
    const operation = command.constructor.name.replace(/Command$/, '');
    throw new StepFunctionsCallError(operation, target, error);
  }
}

/** The execution `name` of the state machine; undefined when there is none. */
async function describeExecution(
  sfn: SdkClient,
  stateMachineArn: string,
  name: string,
): Promise<Described | undefined> {
  const arn = executionArnOf(stateMachineArn, name);
  try {
    const out = await send<Omit<Described, 'name' | 'arn'>>(
      sfn,
      new DescribeExecutionCommand({ executionArn: arn }),
      arn,
    );
    return { ...out, name, arn };
  } catch (error) {
    if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
    throw error;
  }
}

const errorName = (error: unknown) => (error as { name?: string }).name;

/**
 * A Step Functions call that failed: its error code stays the name (ExecutionAlreadyExists, Throttling…), and
 * the message says which call, on which state machine or execution.
 */
export class StepFunctionsCallError extends Error {
  constructor(operation: string, target: string, cause: unknown) {
    const code = errorName(cause) ?? 'Error';
    super(`${operation} ${target}: ${code}: ${(cause as Error).message}`, { cause });
    this.name = code;
  }
}

/** Ctrl-C said stop waiting: the execution goes on in Step Functions. */
export class AbandonedWaitError extends Error {
  override name = 'AbandonedWaitError';
  constructor(readonly run: string) {
    super(
      `stopped waiting for execution ${run}: it goes on in Step Functions (cartflow status --env shows it)`,
    );
  }
}

/** `retry` of an execution ARN that is not of this environment's batch state machine. */
export class ForeignExecutionError extends Error {
  override name = 'ForeignExecutionError';
}

export class StateMachineRuns {
  private readonly pollMs: number;
  private readonly sleep: (ms: number, abandon?: AbortSignal) => Promise<void>;
  private starting: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: StateMachineRunsOptions) {
    this.pollMs = options.pollMs ?? 10_000;
    // The timer goes with the abandon: the process exits at once, not after the poll interval.
    this.sleep =
      options.sleep ?? ((ms, abandon) => delay(ms, undefined, { signal: abandon }).catch(() => undefined));
  }

  private send<O>(command: { input: object }, target: string): Promise<O> {
    return send<O>(this.options.sfn, command, target);
  }

  private describe(name: string): Promise<Described | undefined> {
    return describeExecution(this.options.sfn, this.options.stateMachineArn, name);
  }

  /** The date's attempts so far, in order. */
  async attempts(date: string): Promise<Described[]> {
    const found: Described[] = [];
    for (let attempt = 1; ; attempt++) {
      const described = await this.describe(executionNameOf(date, attempt));
      if (!described) return found;
      found.push(described);
    }
  }

  /** Waits until fewer than maxConcurrentRuns executions of the state machine run. */
  private async waitForSlot(): Promise<void> {
    for (;;) {
      const out = await this.send<{ executions?: unknown[] }>(
        new ListExecutionsCommand({
          stateMachineArn: this.options.stateMachineArn,
          statusFilter: 'RUNNING',
          maxResults: this.options.maxConcurrentRuns,
        }),
        this.options.stateMachineArn,
      );
      if ((out.executions?.length ?? 0) < this.options.maxConcurrentRuns) return;
      await this.sleep(this.pollMs);
    }
  }

  /** Polls the execution until it is no longer RUNNING (or PENDING_REDRIVE), or `abandon` aborts. */
  async waitForEnd(name: string, abandon?: AbortSignal, redrives = 0): Promise<Described> {
    for (;;) {
      if (abandon?.aborted) throw new AbandonedWaitError(name);
      const described = await this.describe(name);
      if (!described) throw new Error(`execution ${name} does not exist`);
      // Until a read counts the redrive just made, what it shows is the attempt before it.
      const current = (described.redriveCount ?? 0) >= redrives;
      if (current && described.status !== 'RUNNING' && described.status !== 'PENDING_REDRIVE')
        return described;
      await this.sleep(this.pollMs, abandon);
    }
  }

  /**
   * Runs the date once (a running attempt is joined, not doubled); `force` runs it even if it succeeded.
   * `since` (a backfill's start): an attempt started since then, by any starter, is this backfill's run of the
   * date, joined or reported, never followed by another attempt (two backfills at once run a date once).
   */
  async runDate(
    date: string,
    force: boolean,
    abandon?: AbortSignal,
    since?: Date,
  ): Promise<Omit<DateOutcome, 'date' | 'ms'>> {
    const attempts = await this.attempts(date);
    const running = attempts.find((a) => a.status === 'RUNNING' || a.status === 'PENDING_REDRIVE');
    if (running)
      return this.outcome(await this.waitForEnd(running.name, abandon), 'was already running; waited for it');
    const latest = attempts.at(-1);
    if (since && latest?.startDate && new Date(latest.startDate).getTime() >= since.getTime())
      return this.outcome(latest, 'run by another starter since this backfill began');
    // A superseded attempt SUCCEEDED without publishing: it is no reason to skip the date.
    const succeeded = attempts.find(
      (a) => a.status === 'SUCCEEDED' && supersededCause(parsed(a.output)) === undefined,
    );
    if (succeeded && !force) return { status: 'SKIPPED', run: succeeded.name, reason: 'succeeded before' };
    const name = executionNameOf(date, attempts.length + 1);
    // One start at a time in this process, so its own workers never count the same free slot twice.
    const started = this.starting.then(async () => {
      await this.waitForSlot();
      try {
        await this.send(
          new StartExecutionCommand({
            stateMachineArn: this.options.stateMachineArn,
            name,
            input: JSON.stringify({ businessDate: date }),
          }),
          `${this.options.stateMachineArn} (execution ${name})`,
        );
        return true;
      } catch (error) {
        if (errorName(error) === 'ExecutionAlreadyExists') return false;
        throw error;
      }
    });
    this.starting = started.catch(() => false);
    // Taken: another starter ran this very attempt after the attempts were read. Its outcome is the
    // date's, never a reason for one more attempt.
    const note = (await started) ? undefined : 'started by another starter at the same time';
    return this.outcome(await this.waitForEnd(name, abandon), note);
  }

  /**
   * RedriveExecution of a failed, aborted or timed-out run (its name, or its execution ARN), then waits for
   * it to end. Refused when a later run of its date succeeded: the redrive would publish older data over it.
   */
  async redrive(run: string, abandon?: AbortSignal): Promise<Omit<DateOutcome, 'ms'>> {
    const name = this.nameOf(run);
    // Step Functions first: a run that does not exist is said so without the ledger (the Data API).
    const before = await this.describe(name);
    if (!before) throw new Error(`execution ${name} of ${this.options.stateMachineArn} does not exist`);
    const later = await this.options.ledger.succeededAfter(name);
    if (later) throw redriveSuperseded(name, later);
    const { redriveDate } = await this.send<{ redriveDate?: Date }>(
      new RedriveExecutionCommand({ executionArn: before.arn }),
      before.arn,
    );
    if (!redriveDate)
      throw new Error(`RedriveExecution of ${before.arn} answered without a redriveDate: it did not start`);
    const ended = await this.waitForEnd(name, abandon, (before.redriveCount ?? 0) + 1);
    return { date: businessDateOf(before), ...(await this.outcome(ended)) };
  }

  /** The execution name of a run id or of an execution ARN of this state machine (any other is refused). */
  private nameOf(run: string): string {
    if (!run.startsWith('arn:')) return run;
    const name = run.slice(run.lastIndexOf(':') + 1);
    if (run !== executionArnOf(this.options.stateMachineArn, name)) {
      throw new ForeignExecutionError(
        `execution ${run} is not of this environment's batch state machine ${this.options.stateMachineArn}: ` +
          'retry takes a run id (cartflow status lists them) or an execution ARN of that state machine; check --env',
      );
    }
    return name;
  }

  private async outcome(described: Described, note?: string): Promise<Omit<DateOutcome, 'date' | 'ms'>> {
    const superseded = supersededCause(parsed(described.output));
    if (superseded !== undefined) return { status: 'SUPERSEDED', run: described.name, reason: superseded };
    const status =
      described.status === 'SUCCEEDED'
        ? 'SUCCEEDED'
        : described.status === 'TIMED_OUT'
          ? 'TIMED_OUT'
          : described.status === 'ABORTED'
            ? 'ABORTED'
            : 'FAILED';
    const { rows, ledgerWarning } = status === 'SUCCEEDED' ? await this.rowsOf(described.name) : {};
    // A Lambda step's cause is the runtime's JSON: its errorMessage is what happened.
    const error = described.error ? stepError(described.error, described.cause) : undefined;
    const failure = error && errorText({ ...error, message: error.message.slice(0, 200) });
    const reason = [note, failure, ledgerWarning].filter(Boolean).join('; ');
    return {
      status,
      run: described.name,
      rows,
      ...(reason ? { reason } : {}),
      ...(status === 'SUCCEEDED' ? {} : { failure: { state: await this.failedState(described), error } }),
    };
  }

  /**
   * The rows a succeeded run loaded, from the ledger. The execution's outcome stands without them: a ledger
   * that cannot be read (the Data API) is a warning in the run's note, never a failed run.
   */
  private async rowsOf(run: string): Promise<{ rows?: number; ledgerWarning?: string }> {
    try {
      return { rows: await this.options.ledger.rowsOf(run) };
    } catch (error) {
      return { ledgerWarning: `warning: rows not read from ops.dataset_load: ${(error as Error).message}` };
    }
  }

  /** The state the execution failed in, from its history (DescribeExecution does not say). */
  private async failedState(described: Described): Promise<string | undefined> {
    try {
      return (
        await new SfnExecutionHistory(this.options.sfn as Pick<SFNClient, 'send'>).stopOf(described.arn)
      ).state;
    } catch {
      // Display only: the error and the next command stand without the state's name.
      return undefined;
    }
  }

  /**
   * The backfill's view: the ledger says what succeeded (any starter), the state machine runs the rest,
   * each date at most once since `since`.
   */
  target(since = new Date()): BackfillTarget {
    return {
      succeeded: (dates) => this.options.ledger.succeeded(dates),
      runDate: (date, force, abandon) => this.runDate(date, force, abandon, since),
    };
  }
}

const parsed = (json: string | undefined): unknown => {
  try {
    return json === undefined ? undefined : JSON.parse(json);
  } catch {
    return undefined;
  }
};

/**
 * The run's business date as ResolveRun fixed it, from the execution's input: `run`/`backfill` name the date,
 * the schedule gives its instant (the UTC day before), an input with neither ran for the day before its start.
 */
function businessDateOf(execution: Described): string {
  const request = (parsed(execution.input) ?? {}) as RunRequest;
  return requestedBusinessDate({
    ...request,
    time: request.time ?? (execution.startDate ? new Date(execution.startDate).toISOString() : undefined),
  });
}

/** A run of the batch state machine as Step Functions knows it (report and status --env without the Data API). */
export interface BatchRun {
  /** The execution name. */
  runId: string;
  businessDate: string;
  /** The execution's status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE). */
  status: string;
  startedAt?: Date;
  finishedAt?: Date;
}

/**
 * A run of the batch state machine (`runId`, else its newest execution) and its business date, from Step
 * Functions alone: the run id is the execution name, the date comes from its input as ResolveRun fixed it.
 * Undefined when there is no such execution.
 */
export async function batchRunOf(
  sfn: SdkClient,
  stateMachineArn: string,
  runId?: string,
): Promise<BatchRun | undefined> {
  const name = runId ?? (await newestExecutions(sfn, stateMachineArn, 1))[0];
  if (name === undefined) return undefined;
  const described = await describeExecution(sfn, stateMachineArn, name);
  if (described === undefined) return undefined;
  return {
    runId: name,
    businessDate: businessDateOf(described),
    status: described.status,
    ...(described.startDate ? { startedAt: new Date(described.startDate) } : {}),
    ...(described.stopDate ? { finishedAt: new Date(described.stopDate) } : {}),
  };
}

/** The names of the state machine's newest executions (at most `count`, of the first 100 listed). */
export async function newestExecutions(
  sfn: SdkClient,
  stateMachineArn: string,
  count: number,
): Promise<string[]> {
  const { executions } = (await sfn.send(
    new ListExecutionsCommand({ stateMachineArn, maxResults: 100 }),
  )) as { executions?: { name?: string; startDate?: Date }[] };
  // Step Functions (and LocalStack) list newest first; sorted by start anyway, as the caller relies on it.
  const time = (e: { startDate?: Date }) => new Date(e.startDate ?? 0).getTime();
  return [...(executions ?? [])]
    .sort((a, b) => time(b) - time(a))
    .slice(0, count)
    .map((e) => e.name!);
}

/** The batch state machine of a deployed environment, its ledger ops.* through the Data API. */
export const stateMachineRuns = (environment: AwsEnvironment, pollMs?: number) =>
  new StateMachineRuns({
    sfn: environment.sfn,
    stateMachineArn: environment.outputs.batchStateMachineArn,
    maxConcurrentRuns: environment.maxConcurrentRuns,
    ledger: warehouseLedger(environment.warehouse),
    pollMs,
  });
