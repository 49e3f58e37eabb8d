/**
 * The fault switch (CARTFLOW_FAULT, lambdas/adapters/fault-injection.ts) at every batch step, in every
 * in-process mode, over one local runtime. Each case starts with a date loaded and the source changed to
 * the other of two days: a faulted run must either be absorbed by Retry (fail-once) and load the new day,
 * or fail at that step (no Catch: the execution stops there for a redrive) with one failure notification
 * from the run-failed handler while readers keep the previous run's tables whole; then a redrive of the
 * failed run (crash) or a plain rerun (timeout) loads exactly the tables of a clean run. (kill, the real
 * process death: cli-faults.)
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HANDLER_ENV } from '../../lambdas/contract';
import type { FaultMode, FaultStep } from '../../lambdas/adapters/fault-injection';
import { loadConfig } from '../../lib/config';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import type { ExecutionOutcome } from '../../local/step-functions';
import { seed, tableDump } from './batch-scenarios';

const DATE = '2026-04-01';
/** Two days of one date: the cases switch the source between them, so every run changes the tables. */
const DAYS = { a: 40, b: 25 } as const;
type Day = keyof typeof DAYS;

/** The step's Task state in the run that exercises it (merge-buckets only runs on a split day). */
const STATES: [FaultStep, string][] = [
  ['ensure-warehouse', 'EnsureWarehouse'],
  ['resolve-run', 'ResolveRun'],
  ['extract-orders', 'ExtractOrders'],
  ['extract-products', 'ExtractProducts'],
  ['transform', 'Transform'],
  ['validate', 'Validate'],
  ['merge-buckets', 'MergeBuckets'],
  ['load-table', 'LoadTable'],
  ['publish-date', 'PublishDate'],
  ['record-run', 'RecordRun'],
  ['notify', 'NotifySuccess'],
];
/** Steps after PublishDate committed: a failure there leaves the new day visible, whole. */
const AFTER_PUBLISH = new Set<FaultStep>(['record-run', 'notify']);
const FAILING_MODES: [FaultMode, string][] = [
  ['timeout', 'Sandbox.Timedout'],
  ['crash', 'Runtime.ExitError'],
];

/** A Task state's failed attempts (with their errors), and how many were retried and caught. */
function attemptsOf(outcome: ExecutionOutcome, state: string) {
  const of = outcome.steps.filter((s) => s.state === state);
  const count = (status: string) => of.filter((s) => s.status === status).length;
  return {
    failed: of.filter((s) => s.status === 'failed'),
    retried: count('retried'),
    caught: count('caught'),
  };
}

const digest = (dump: string) => createHash('sha256').update(dump).digest('hex').slice(0, 16);

describe('fault injection at every batch step', { timeout: 600_000 }, () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  let fault = '';
  let runSplit: LocalRuntime['runBatch'];
  /** The tables of a clean run of each day. */
  const clean = {} as Record<Day, string>;
  let loaded: Day;
  const maxAttempts = loadConfig('dev').retry.maxAttempts;

  /** The stage tables in the warehouse, and how many of them ops.stage_table registers. */
  const stagingTables = async () => {
    const [{ n, registered }] = await runtime.warehouse.query<{ n: number; registered: number }>(
      `SELECT count(*) AS n, count(r.table_name) AS registered FROM information_schema.tables t
       LEFT JOIN ops.stage_table r ON r.table_name = t.table_name WHERE t.table_schema = 'staging'`,
    );
    return { n: Number(n), registered: Number(registered) };
  };

  /** Switches the source to the other day and runs the date with the switch set, then unset. */
  const faultedRun = async (step: FaultStep, mode: FaultMode) => {
    const previous = loaded;
    const next: Day = previous === 'a' ? 'b' : 'a';
    await seed(runtime, DATE, DAYS[next]);
    const alerts = runtime.alerts.published.length;
    fault = `${step}:${mode}`;
    try {
      const run = step === 'merge-buckets' ? runSplit : runtime.runBatch;
      const outcome = await run({ businessDate: DATE });
      return { outcome, previous, next, alerts: runtime.alerts.published.slice(alerts) };
    } finally {
      fault = '';
    }
  };

  /** The tables' digest now, noting which day they are (so one failed case does not fail the next). */
  const settle = async () => {
    const tables = digest(await tableDump(runtime, DATE));
    loaded = tables === digest(clean.a) ? 'a' : 'b';
    return tables;
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-faults-'));
    runtime = await startLocalRuntime({ dataDir, handlerEnv: () => ({ [HANDLER_ENV.fault]: fault }) });
    runSplit = await runtime.batchWith((config) => {
      config.volume = { bucketThresholdLines: 1, bucketCount: 2, maxConcurrency: 2 };
    });
    for (const day of ['a', 'b'] as const) {
      await seed(runtime, DATE, DAYS[day]);
      const outcome = await runtime.runBatch({ businessDate: DATE });
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      clean[day] = await tableDump(runtime, DATE);
      loaded = day;
    }
    assert.notEqual(clean.a, clean.b);
  });

  after(async () => {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  for (const [step, state] of STATES) {
    test(`${step}:fail-once is absorbed by Retry and the run loads exactly a clean run's tables`, async () => {
      // Act
      const { outcome, next } = await faultedRun(step, 'fail-once');
      const tables = await settle();

      // Assess
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      const { failed, retried, caught } = attemptsOf(outcome, state);
      assert.equal(failed.length, 1, JSON.stringify(failed));
      assert.match(failed[0].error ?? '', /^TransientError: CARTFLOW_FAULT=/);
      assert.deepEqual([retried, caught], [1, 0]);
      assert.equal(tables, digest(clean[next]));
    });

    for (const [mode, error] of FAILING_MODES) {
      // A redrive resumes the failed run (merge-buckets' run is the split day's machine: a rerun of it).
      const redrive = mode === 'crash' && step !== 'merge-buckets';
      test(`${step}:${mode} fails at its state, notifies once, readers see one whole day, and a ${redrive ? 'redrive' : 'rerun'} converges`, async () => {
        // Act
        const { outcome, previous, next, alerts } = await faultedRun(step, mode);
        const afterFailure = digest(await tableDump(runtime, DATE));
        const leftStaging = await stagingTables();
        const converged = redrive
          ? await runtime.retryBatch(outcome.runId!)
          : await runtime.runBatch({ businessDate: DATE });
        const afterRerun = await settle();
        const afterStaging = await stagingTables();

        // Assess: the failure
        assert.equal(outcome.status, 'FAILED');
        assert.equal(
          outcome.error?.name,
          error,
          JSON.stringify({ error: outcome.error, steps: outcome.steps }),
        );
        const { failed, retried, caught } = attemptsOf(outcome, state);
        assert.ok(
          failed.length > 0 && failed.every((s) => s.error?.startsWith(`${error}: `)),
          JSON.stringify(failed),
        );
        // Retry retries a timeout (RETRYABLE_ERRORS) maxAttempts times before Catch (LoadTable: per Map
        // item, until one item has used its attempts); a crashed runtime is not retried.
        if (mode === 'timeout') assert.ok(retried >= maxAttempts, `${retried} retries`);
        else assert.equal(retried, 0);
        // Nothing catches: the execution stops at the state (the notice below names it).
        assert.equal(caught, 0);
        // One failure notice, from the run-failed handler, naming the state, the error and the switch. The
        // notifier's own fault fires after it published: each attempt of NotifySuccess sent its notice.
        const failures = alerts.filter((a) => /FAILED/.test(a.subject));
        assert.equal(failures.length, 1, JSON.stringify(alerts));
        assert.equal(alerts.length, step === 'notify' ? failed.length + 1 : 1, JSON.stringify(alerts));
        assert.match(failures[0].subject, new RegExp(` at ${state}: ${error.replace('.', '\\.')}$`));
        assert.ok(failures[0].message.includes(`${HANDLER_ENV.fault}=${step}:${mode}`), failures[0].message);
        // What a reader sees: the previous run's tables, or (after PublishDate committed) the new day whole.
        const expected = AFTER_PUBLISH.has(step) ? next : previous;
        assert.equal(afterFailure, digest(clean[expected]));
        // Stage tables are kept for a redrive, every one registered for the publish that drops it.
        assert.equal(leftStaging.registered, leftStaging.n);

        // Assess: the redrive or rerun
        assert.equal(converged.status, 'SUCCEEDED', JSON.stringify(converged.error));
        if (redrive) assert.equal(converged.runId, outcome.runId);
        assert.equal(afterRerun, digest(clean[next]));
        assert.deepEqual(afterStaging, { n: 0, registered: 0 });
      });
    }
  }
});
