/**
 * The fault switch (CARTFLOW_FAULT, lambdas/adapters/fault-injection.ts) at every batch step, in every
 * in-process mode, over one local runtime. Each case starts with a date loaded and the source changed to
 * the other of two days: a faulted run must either be absorbed by Retry (fail-once) and load the new day,
 * or fail through the Catch path with a notification while readers keep the previous run's tables whole;
 * then a plain rerun loads exactly the tables of a clean run. (kill, the real process death: cli-faults.)
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
/** States whose failure the enclosing Parallel or Map catches. */
const IN_CONTAINER = new Set(['ExtractOrders', 'ExtractProducts', 'LoadTable']);
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

  const stagingTables = async () => {
    const [{ n }] = await runtime.warehouse.query<{ n: number }>(
      `SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'staging'`,
    );
    return Number(n);
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
      test(`${step}:${mode} fails through Catch, readers see one whole day, and a rerun converges`, async () => {
        // Act
        const { outcome, previous, next, alerts } = await faultedRun(step, mode);
        const afterFailure = digest(await tableDump(runtime, DATE));
        const leftStaging = await stagingTables();
        const rerun = await runtime.runBatch({ businessDate: DATE });
        const afterRerun = await settle();

        // Assess: the failure
        assert.equal(outcome.status, 'FAILED');
        assert.equal(outcome.error?.name, 'RunFailed');
        const { failed, retried, caught } = attemptsOf(outcome, state);
        assert.ok(
          failed.length > 0 && failed.every((s) => s.error?.startsWith(`${error}: `)),
          JSON.stringify(failed),
        );
        // Retry retries a timeout (RETRYABLE_ERRORS) maxAttempts times before Catch (LoadTable: per Map
        // item, until one item has used its attempts); a crashed runtime is not retried.
        if (mode === 'timeout') assert.ok(retried >= maxAttempts, `${retried} retries`);
        else assert.equal(retried, 0);
        // The Extract Parallel and the LoadTables Map have the Catch, not the states inside them.
        assert.equal(caught, IN_CONTAINER.has(state) ? 0 : 1);
        const ran = (name: string) => outcome.steps.some((s) => s.state === name && s.status === 'ok');
        assert.ok(ran('Cleanup'), 'the Catch path cleaned up');
        if (step !== 'notify') assert.ok(ran('NotifyFailure'), 'the Catch path notified');
        // One failure notice naming the error and the switch. The notifier's own fault fires after it
        // published: each attempt of NotifySuccess and of NotifyFailure (the same function) sent its notice.
        const failures = alerts.filter((a) => /FAILED/.test(a.subject));
        assert.equal(failures.length, step === 'notify' ? failed.length : 1, JSON.stringify(alerts));
        assert.equal(alerts.length, step === 'notify' ? 2 * failed.length : 1, JSON.stringify(alerts));
        for (const alert of failures) {
          assert.ok(alert.message.includes(error), alert.message);
          assert.ok(alert.message.includes(`${HANDLER_ENV.fault}=${step}:${mode}`), alert.message);
        }
        // What a reader sees: the previous run's tables, or (after PublishDate committed) the new day whole.
        const expected = AFTER_PUBLISH.has(step) ? next : previous;
        assert.equal(afterFailure, digest(clean[expected]));
        assert.equal(leftStaging, 0);

        // Assess: the rerun
        assert.equal(rerun.status, 'SUCCEEDED', JSON.stringify(rerun.error));
        assert.equal(afterRerun, digest(clean[next]));
      });
    }
  }
});
