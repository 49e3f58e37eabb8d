import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { runBackfill, summaryTable, type RunLedger } from '../../../local/backfill';
import { StateMachineRuns, batchRunOf, executionArnOf } from '../../../local/aws/step-functions';
import { waitUnlessInterrupted } from '../../../local/commands/backfill';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cartflow-dev-batch';

interface Execution {
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** DescribeExecution calls left before it ends. */
  polls: number;
  ends: 'SUCCEEDED' | 'FAILED';
  /** What DescribeExecution returns as its output once it SUCCEEDED (a superseded run's names its holder). */
  output?: string;
  startDate?: Date;
  /** Redrives so far, as DescribeExecution reports them (redriveCount). */
  redriveCount?: number;
  /** DescribeExecution calls that still show the attempt before the last redrive (reads lag the write). */
  stale?: number;
}

/**
 * Step Functions at the SDK edge, as the API documents it: StartExecution is idempotent for a running
 * execution of the same name and input and raises ExecutionAlreadyExists for a closed one; an execution
 * ends after a few DescribeExecution polls.
 */
class FakeStepFunctions {
  readonly executions = new Map<string, Execution>();
  readonly started: string[] = [];
  redriven: string[] = [];
  maxRunning = 0;
  /** How many DescribeExecution calls after a redrive still show the failed attempt. */
  staleReadsAfterRedrive = 0;
  /** An error StartExecution throws, as the SDK throws a service error. */
  startError?: Error;

  constructor(
    private readonly outcomeOf: (name: string) => 'SUCCEEDED' | 'FAILED' = () => 'SUCCEEDED',
    private readonly outputOf: (name: string) => string | undefined = () => undefined,
  ) {}

  private running() {
    return [...this.executions.values()].filter((e) => e.status === 'RUNNING').length;
  }

  async send(command: object): Promise<unknown> {
    await Promise.resolve();
    if (command instanceof StartExecutionCommand) {
      if (this.startError) throw this.startError;
      const { name, input } = command.input as { name: string; input: string };
      const arn = executionArnOf(MACHINE, name);
      const existing = this.executions.get(arn);
      if (existing) {
        if (existing.status === 'RUNNING' && existing.input === input) return { executionArn: arn };
        throw Object.assign(new Error(`Execution Already Exists: '${arn}'`), {
          name: 'ExecutionAlreadyExists',
        });
      }
      this.executions.set(arn, {
        input,
        status: 'RUNNING',
        polls: 2,
        ends: this.outcomeOf(name),
        output: this.outputOf(name),
        startDate: new Date(),
      });
      this.started.push(name);
      this.maxRunning = Math.max(this.maxRunning, this.running());
      return { executionArn: arn };
    }
    if (command instanceof DescribeExecutionCommand) {
      const arn = command.input.executionArn!;
      const execution = this.executions.get(arn);
      if (!execution)
        throw Object.assign(new Error(`Execution Does Not Exist: '${arn}'`), {
          name: 'ExecutionDoesNotExist',
        });
      if (execution.stale) {
        execution.stale--;
        return { status: 'FAILED', redriveCount: (execution.redriveCount ?? 1) - 1, input: execution.input };
      }
      if (execution.status === 'RUNNING' && --execution.polls <= 0) execution.status = execution.ends;
      return {
        status: execution.status,
        redriveCount: execution.redriveCount ?? 0,
        input: execution.input,
        ...(execution.startDate ? { startDate: execution.startDate } : {}),
        ...(execution.status === 'SUCCEEDED' && execution.output ? { output: execution.output } : {}),
        // A Lambda step's error: Step Functions records the runtime's JSON as the cause.
        ...(execution.status === 'FAILED'
          ? {
              error: 'CopyMismatchError',
              cause: JSON.stringify({
                errorType: 'CopyMismatchError',
                errorMessage: 'fact_order: 12 columns, 13',
                trace: ['CopyMismatchError: fact_order: 12 columns, 13'],
              }),
            }
          : {}),
      };
    }
    if (command instanceof GetExecutionHistoryCommand) {
      // Newest first (reverseOrder): the Map iteration's LoadTable failed.
      return {
        events: [
          {
            id: 3,
            previousEventId: 2,
            type: 'TaskFailed',
            taskFailedEventDetails: { error: 'CopyMismatchError' },
          },
          {
            id: 2,
            previousEventId: 1,
            type: 'TaskStateEntered',
            stateEnteredEventDetails: { name: 'LoadTable', input: '{}' },
          },
        ],
      };
    }
    if (command instanceof ListExecutionsCommand) {
      return { executions: Array.from({ length: this.running() }, () => ({})) };
    }
    if (command instanceof RedriveExecutionCommand) {
      const arn = command.input.executionArn!;
      const execution = this.executions.get(arn);
      if (!execution || execution.status !== 'FAILED')
        throw Object.assign(new Error('not redrivable'), { name: 'ExecutionNotRedrivable' });
      this.redriven.push(arn);
      Object.assign(execution, {
        status: 'RUNNING',
        polls: 2,
        ends: 'SUCCEEDED',
        redriveCount: (execution.redriveCount ?? 0) + 1,
        stale: this.staleReadsAfterRedrive,
      });
      return { redriveDate: new Date() };
    }
    throw new Error(`unexpected command ${command.constructor.name}`);
  }
}

/**
 * ops.pipeline_run as the Data API would answer it: the dates given as succeeded, and the runs a later run
 * of their date superseded (run → that later run).
 */
const ledger = (
  succeeded: Record<string, string> = {},
  superseded: Record<string, string> = {},
): RunLedger => ({
  succeeded: async (dates) =>
    new Map(dates.filter((d) => succeeded[d]).map((d) => [d, { run: succeeded[d], rows: 10 }])),
  rowsOf: async () => 42,
  succeededAfter: async (run) => superseded[run],
});

const runsOn = (sfn: FakeStepFunctions, options: { maxConcurrentRuns?: number; ledger?: RunLedger } = {}) =>
  new StateMachineRuns({
    sfn,
    stateMachineArn: MACHINE,
    maxConcurrentRuns: options.maxConcurrentRuns ?? 2,
    ledger: options.ledger ?? ledger(),
    pollMs: 1,
    sleep: () => new Promise((resolve) => setImmediate(resolve)),
  });

const DATES = ['2026-07-01', '2026-07-02', '2026-07-03', '2026-07-04'];

describe('backfill and retry against a deployed state machine', () => {
  it('starts one execution per date named after it, skips succeeded dates, and caps the running ones', async () => {
    // Prepare
    const sfn = new FakeStepFunctions();
    const runs = runsOn(sfn, { maxConcurrentRuns: 1, ledger: ledger({ '2026-07-02': '2026-07-02' }) });

    // Act
    const outcomes = await runBackfill(runs.target(), DATES, { concurrency: 3, force: false });

    // Assess
    assert.deepEqual(sfn.started.sort(), ['2026-07-01', '2026-07-03', '2026-07-04']);
    assert.equal(sfn.maxRunning, 1);
    assert.deepEqual(
      outcomes.map((o) => [o.date, o.status, o.run, o.rows]),
      [
        ['2026-07-01', 'SUCCEEDED', '2026-07-01', 42],
        ['2026-07-02', 'SKIPPED', '2026-07-02', 10],
        ['2026-07-03', 'SUCCEEDED', '2026-07-03', 42],
        ['2026-07-04', 'SUCCEEDED', '2026-07-04', 42],
      ],
    );
    const input = JSON.parse(sfn.executions.get(executionArnOf(MACHINE, '2026-07-01'))!.input) as unknown;
    assert.deepEqual(input, { businessDate: '2026-07-01' });
  });

  it('two backfills of the same dates at once run each date once', async () => {
    // Prepare
    const sfn = new FakeStepFunctions();

    // Act
    const [a, b] = await Promise.all([
      runBackfill(runsOn(sfn).target(), DATES, { concurrency: 2, force: false }),
      runBackfill(runsOn(sfn).target(), DATES, { concurrency: 2, force: false }),
    ]);

    // Assess
    assert.deepEqual(sfn.started.sort(), DATES);
    // The second sees each date running (and waits for it) or already succeeded (and skips it).
    for (const outcomes of [a, b])
      assert.deepEqual(
        outcomes.filter((o) => o.status !== 'SUCCEEDED' && o.status !== 'SKIPPED'),
        [],
      );
  });

  it('runs a failed date as its next attempt, and --force a succeeded one', async () => {
    // Prepare
    const sfn = new FakeStepFunctions((name) => (name === '2026-07-01' ? 'FAILED' : 'SUCCEEDED'));
    const runs = runsOn(sfn);
    const first = await runs.runDate('2026-07-01', false);
    await runs.runDate('2026-07-02', false);

    // Act
    const again = await runs.runDate('2026-07-01', false);
    const skipped = await runs.runDate('2026-07-02', false);
    const forced = await runs.runDate('2026-07-02', true);

    // Assess
    assert.equal(first.status, 'FAILED');
    assert.match(first.reason ?? '', /CopyMismatchError: fact_order/);
    assert.deepEqual([again.status, again.run], ['SUCCEEDED', '2026-07-01-a2']);
    assert.deepEqual([skipped.status, skipped.run], ['SKIPPED', '2026-07-02']);
    assert.deepEqual([forced.status, forced.run], ['SUCCEEDED', '2026-07-02-a2']);
  });

  it('ends the summary with the failed step from the history, its own error and the next command', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(() => 'FAILED');
    const runs = runsOn(sfn);

    // Act
    const outcome = await runs.runDate('2026-07-01', false);
    const table = summaryTable([{ date: '2026-07-01', ms: 1000, ...outcome }]);

    // Assess
    assert.deepEqual(outcome.failure, {
      state: 'LoadTable',
      error: { name: 'CopyMismatchError', message: 'fact_order: 12 columns, 13' },
    });
    assert.deepEqual(table.trimEnd().split('\n').slice(-2), [
      '2026-07-01 FAILED at LoadTable: CopyMismatchError: fact_order: 12 columns, 13',
      'next: cartflow retry 2026-07-01',
    ]);
  });

  it('retry redrives the execution the run id names and waits for it', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(() => 'FAILED');
    const runs = runsOn(sfn);
    await runs.runDate('2026-07-03', false);

    // Act
    const redriven = await runs.redrive('2026-07-03');
    const notRedrivable = runs.redrive('2026-07-03');

    // Assess
    assert.deepEqual(sfn.redriven, [executionArnOf(MACHINE, '2026-07-03')]);
    assert.deepEqual([redriven.status, redriven.run, redriven.rows], ['SUCCEEDED', '2026-07-03', 42]);
    await assert.rejects(notRedrivable, { name: 'ExecutionNotRedrivable' });
  });

  it('retry waits for the redrive it started, not the failed attempt a lagging read still shows', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(() => 'FAILED');
    const runs = runsOn(sfn);
    await runs.runDate('2026-07-06', false);
    sfn.staleReadsAfterRedrive = 2;

    // Act
    const redriven = await runs.redrive('2026-07-06');

    // Assess
    assert.deepEqual([redriven.status, redriven.run], ['SUCCEEDED', '2026-07-06']);
  });

  it('a Step Functions error keeps its code and names the call and the execution', async () => {
    // Prepare
    const sfn = new FakeStepFunctions();
    sfn.startError = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const runs = runsOn(sfn);

    // Act
    const started = runs.runDate('2026-07-07', false);

    // Assess
    await assert.rejects(started, (error: Error) => {
      assert.equal(error.name, 'ThrottlingException');
      assert.equal(
        error.message,
        `StartExecution ${MACHINE} (execution 2026-07-07): ThrottlingException: Rate exceeded`,
      );
      return true;
    });
  });

  it('retry asks Step Functions first: a run that does not exist is said so without the ledger (Data API)', async () => {
    // Prepare: a ledger whose Data API is not there
    const asked: string[] = [];
    const runs = runsOn(new FakeStepFunctions(), {
      ledger: {
        ...ledger(),
        succeededAfter: async (run) => {
          asked.push(run);
          throw new Error('the Data API is not there');
        },
      },
    });

    // Act
    const missing = runs.redrive('2026-07-05');

    // Assess
    await assert.rejects(missing, /execution 2026-07-05 of .* does not exist/);
    assert.deepEqual(asked, []);
  });

  it('retry refuses a run whose date a later run has published since, and redrives nothing', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(() => 'FAILED');
    const runs = runsOn(sfn, { ledger: ledger({}, { '2026-07-04': '2026-07-04-a2' }) });
    await runs.runDate('2026-07-04', false);

    // Act
    const refused = runs.redrive('2026-07-04');

    // Assess
    await assert.rejects(refused, {
      name: 'SupersededRunError',
      message: /run 2026-07-04-a2 of the same date started later and succeeded/,
    });
    assert.deepEqual(sfn.redriven, []);
  });

  it('retry of a scheduled run (generated name or its ARN) reports the business date from its input', async () => {
    // Prepare: the schedule's execution, named by Step Functions, for the day before its instant.
    const sfn = new FakeStepFunctions();
    const name = '5f0c2b1e-7d4a-4c3e-9a55-0123456789ab';
    const arn = executionArnOf(MACHINE, name);
    for (const [key, input] of [
      [arn, '{"time":"2026-07-06T03:00:00Z"}'],
      [executionArnOf(MACHINE, 'no-date'), '{}'],
    ] as const) {
      sfn.executions.set(key, {
        input,
        status: 'FAILED',
        polls: 0,
        ends: 'FAILED',
        startDate: new Date('2026-07-08T10:00:00Z'),
      });
    }
    const runs = runsOn(sfn);

    // Act
    const byArn = await runs.redrive(arn);
    const byName = await runs.redrive('no-date');

    // Assess
    assert.deepEqual([byArn.date, byArn.run, byArn.status], ['2026-07-05', name, 'SUCCEEDED']);
    assert.deepEqual([byName.date, byName.run], ['2026-07-07', 'no-date']);
  });

  it('retry refuses the execution ARN of another state machine, naming both, and redrives nothing', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(() => 'FAILED');
    const runs = runsOn(sfn);
    await runs.runDate('2026-07-09', false);
    const foreign = 'arn:aws:states:eu-west-1:123456789012:execution:cartflow-prod-batch:2026-07-09';

    // Act
    const refused = runs.redrive(foreign);

    // Assess
    await assert.rejects(refused, (error: Error) => {
      assert.equal(error.name, 'ForeignExecutionError');
      assert.ok(error.message.includes(foreign) && error.message.includes(MACHINE), error.message);
      return true;
    });
    assert.deepEqual(sfn.redriven, []);
  });

  it('reports a run that ended in the Superseded state as SUPERSEDED, with the run that holds its date', async () => {
    // Prepare: as the Catch of SupersededRunError leaves it; a Lambda error's Cause is its JSON.
    const message = 'run 2026-07-10 of 2026-07-10 ends superseded: run 9a1b of the same date is running';
    const output = JSON.stringify({
      businessDate: '2026-07-10',
      superseded: {
        Error: 'SupersededRunError',
        Cause: JSON.stringify({ errorType: 'SupersededRunError', errorMessage: message, trace: [] }),
      },
    });
    const runs = runsOn(new FakeStepFunctions(undefined, () => output));

    // Act
    const outcome = await runs.runDate('2026-07-10', false);

    // Assess
    assert.deepEqual(outcome, { status: 'SUPERSEDED', run: '2026-07-10', reason: message });
  });

  it('runs a date again whose only attempt was superseded: that attempt published nothing', async () => {
    // Prepare
    const sfn = new FakeStepFunctions(undefined, (name) =>
      name === '2026-07-11'
        ? JSON.stringify({ superseded: { Error: 'SupersededRunError', Cause: 'held' } })
        : undefined,
    );
    const runs = runsOn(sfn);
    await runs.runDate('2026-07-11', false);

    // Act
    const outcome = await runs.runDate('2026-07-11', false);

    // Assess
    assert.deepEqual(sfn.started, ['2026-07-11', '2026-07-11-a2']);
    assert.deepEqual([outcome.status, outcome.run], ['SUCCEEDED', '2026-07-11-a2']);
  });

  it('a single run (run, retry --env) ends with its row and failure, without the backfill totals', async () => {
    // Prepare
    const outcome = await runsOn(new FakeStepFunctions(() => 'FAILED')).runDate('2026-07-12', false);

    // Act
    const table = summaryTable([{ date: '2026-07-12', ms: 1000, ...outcome }], 'dev', 'run');

    // Assess
    assert.doesNotMatch(table, /backfill/);
    assert.match(table, /^2026-07-12 FAILED at LoadTable: CopyMismatchError/m);
  });

  it('a succeeded run whose ledger cannot be read is SUCCEEDED, with a warning and no rows', async () => {
    // Prepare: the Data API fails after the execution succeeded
    const runs = runsOn(new FakeStepFunctions(), {
      ledger: {
        ...ledger(),
        rowsOf: async () => {
          throw new Error('cartflow run --env needs the Redshift Data API');
        },
      },
    });

    // Act
    const outcome = await runs.runDate('2026-07-13', true);

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED');
    assert.equal(outcome.rows, undefined);
    assert.match(
      outcome.reason ?? '',
      /^warning: rows not read from ops\.dataset_load: cartflow run --env needs the Redshift Data API$/,
    );
  });

  it('Ctrl-C twice in a deployed backfill stops waiting at once: the date ABANDONED, no poll left pending', async () => {
    // Prepare: a poll interval no test would wait out, so a pending timer would hold the process
    const sfn = new FakeStepFunctions();
    const runs = new StateMachineRuns({
      sfn,
      stateMachineArn: MACHINE,
      maxConcurrentRuns: 2,
      ledger: ledger(),
      pollMs: 600_000,
    });
    const abandon = new AbortController();
    const ended: string[] = [];
    const target = runs.target();
    const backfill = runBackfill(
      {
        ...target,
        runDate: (date, force, signal) => target.runDate(date, force, signal).finally(() => ended.push(date)),
      },
      ['2026-07-14'],
      { concurrency: 1, force: true, abandon: abandon.signal },
    );
    while (sfn.started.length === 0) await new Promise((resolve) => setImmediate(resolve));

    // Act
    abandon.abort();
    const outcomes = await backfill;
    await new Promise((resolve) => setImmediate(resolve));

    // Assess
    assert.deepEqual(
      outcomes.map((o) => [o.date, o.status]),
      [['2026-07-14', 'ABANDONED']],
    );
    assert.deepEqual(ended, ['2026-07-14'], 'the wait for the execution ended');
  });

  it('Ctrl-C during run --env stops waiting and names the execution, which goes on', async () => {
    // Prepare
    const sfn = new FakeStepFunctions();
    const runs = new StateMachineRuns({
      sfn,
      stateMachineArn: MACHINE,
      maxConcurrentRuns: 2,
      ledger: ledger(),
      pollMs: 600_000,
    });
    const err: string[] = [];
    const stream = { write: (text: string) => err.push(text) } as unknown as NodeJS.WritableStream;
    const waiting = waitUnlessInterrupted(stream, (abandon) => runs.runDate('2026-07-15', true, abandon));
    while (sfn.started.length === 0) await new Promise((resolve) => setImmediate(resolve));

    // Act
    process.emit('SIGINT');
    const outcome = await waiting;

    // Assess
    assert.equal(outcome, undefined);
    assert.match(err.join(''), /stopped waiting for execution 2026-07-15: it goes on in Step Functions/);
    assert.equal(process.listenerCount('SIGINT'), 0);
  });

  /** A date with two failed attempts already, as after two earlier backfills. */
  const twiceFailed = (date: string) => {
    const sfn = new FakeStepFunctions(() => 'FAILED');
    for (const name of [date, `${date}-a2`])
      sfn.executions.set(executionArnOf(MACHINE, name), {
        input: JSON.stringify({ businessDate: date }),
        status: 'FAILED',
        polls: 0,
        ends: 'FAILED',
        startDate: new Date('2026-07-20T01:00:00Z'),
      });
    return sfn;
  };

  it('two backfills at once: the one whose attempt name was taken meanwhile takes that attempt, no -a4', async () => {
    // Prepare: B reads the attempts, then A runs -a3 to its end, then B starts the same name
    const sfn = twiceFailed('2026-07-16');
    let aDone!: () => void;
    const aFinished = new Promise<void>((resolve) => (aDone = resolve));
    const late = {
      async send(command: object) {
        if (command instanceof StartExecutionCommand) await aFinished;
        return sfn.send(command);
      },
    };
    const b = new StateMachineRuns({
      sfn: late,
      stateMachineArn: MACHINE,
      maxConcurrentRuns: 2,
      ledger: ledger(),
      pollMs: 1,
      sleep: () => new Promise((resolve) => setImmediate(resolve)),
    });

    // Act
    const second = runBackfill(b.target(), ['2026-07-16'], { concurrency: 1, force: false });
    const first = await runBackfill(runsOn(sfn).target(), ['2026-07-16'], { concurrency: 1, force: false });
    aDone();
    const [outcome] = await second;

    // Assess
    assert.deepEqual(sfn.started, ['2026-07-16-a3']);
    assert.deepEqual([first[0].status, first[0].run], ['FAILED', '2026-07-16-a3']);
    assert.deepEqual([outcome.status, outcome.run], ['FAILED', '2026-07-16-a3']);
    assert.match(outcome.reason ?? '', /^started by another starter at the same time; CopyMismatchError/);
  });

  it('a backfill takes an attempt started since it began as its run of the date, even one that ended', async () => {
    // Prepare: B began; A then ran -a3 to its end before B reached the date
    const sfn = twiceFailed('2026-07-17');
    const b = runsOn(sfn).target(new Date(Date.now() - 1));
    await runBackfill(runsOn(sfn).target(), ['2026-07-17'], { concurrency: 1, force: false });

    // Act
    const [outcome] = await runBackfill(b, ['2026-07-17'], { concurrency: 1, force: false });

    // Assess
    assert.deepEqual(sfn.started, ['2026-07-17-a3']);
    assert.deepEqual([outcome.status, outcome.run], ['FAILED', '2026-07-17-a3']);
    assert.match(outcome.reason ?? '', /^run by another starter since this backfill began/);
  });

  it('a later backfill runs a failed date again as its next attempt', async () => {
    // Prepare
    const sfn = twiceFailed('2026-07-18');

    // Act
    const [outcome] = await runBackfill(runsOn(sfn).target(), ['2026-07-18'], {
      concurrency: 1,
      force: false,
    });

    // Assess
    assert.deepEqual(sfn.started, ['2026-07-18-a3']);
    assert.equal(outcome.run, '2026-07-18-a3');
  });
});

describe('batchRunOf (report --env): the run and its business date from Step Functions, no Data API', () => {
  /** ListExecutions in another order than newest first, DescribeExecution with the input. */
  const executions = [
    {
      name: '2026-03-01',
      startDate: new Date('2026-03-02T08:00:00Z'),
      input: '{"businessDate":"2026-03-01"}',
    },
    {
      name: 'sched-7f3a',
      startDate: new Date('2026-03-03T02:00:00Z'),
      input: '{"time":"2026-03-03T02:00:00Z"}',
    },
    {
      name: '2026-02-27-a2',
      startDate: new Date('2026-03-01T09:00:00Z'),
      input: '{"businessDate":"2026-02-27"}',
    },
  ];
  const sfn = {
    async send(command: object): Promise<unknown> {
      await Promise.resolve();
      if (command instanceof ListExecutionsCommand)
        return { executions: executions.map(({ name, startDate }) => ({ name, startDate })) };
      if (command instanceof DescribeExecutionCommand) {
        const found = executions.find((e) => executionArnOf(MACHINE, e.name) === command.input.executionArn);
        if (!found)
          throw Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' });
        return { status: 'SUCCEEDED', input: found.input, startDate: found.startDate };
      }
      throw new Error(`unexpected command ${command.constructor.name}`);
    },
  };

  it('a named run: its date from its input', async () => {
    // Prepare: the executions above
    // Act
    const run = await batchRunOf(sfn, MACHINE, '2026-02-27-a2');
    // Assess
    assert.deepEqual(run, {
      runId: '2026-02-27-a2',
      businessDate: '2026-02-27',
      status: 'SUCCEEDED',
      startedAt: new Date('2026-03-01T09:00:00Z'),
    });
  });

  it('no run id: the newest execution, a scheduled one dated the UTC day before its time', async () => {
    // Prepare: the executions above
    // Act
    const run = await batchRunOf(sfn, MACHINE);
    // Assess
    assert.deepEqual(
      { runId: run?.runId, businessDate: run?.businessDate },
      { runId: 'sched-7f3a', businessDate: '2026-03-02' },
    );
  });

  it('a run that is no execution of the state machine: undefined', async () => {
    // Prepare: the executions above
    // Act
    const run = await batchRunOf(sfn, MACHINE, '2026-01-01');
    // Assess
    assert.equal(run, undefined);
  });
});
