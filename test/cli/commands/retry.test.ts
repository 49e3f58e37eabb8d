import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HANDLER_ENV, LAKE } from '../../../lambdas/contract';
import { seedDay } from '../../../cli/commands/batch';
import { startLocalServices } from '../../../local/runtime';
import { cartflow, spawnCartflow } from '../../support/cartflow-cli';

const ORDERS = 20;

/** The raw/ objects the extract wrote, with when: a rerun extract rewrites them. */
async function rawObjects(dataDir: string) {
  const services = await startLocalServices({ dataDir });
  try {
    const objects = await services.lake.list(LAKE.raw);
    return objects.map((o) => `${o.key} ${o.lastModified?.toISOString()}`).sort();
  } finally {
    await services.close();
  }
}

async function tablesOf(dataDir: string, date: string) {
  const result = await cartflow(
    'query',
    ['fact_order', 'fact_order_item', 'agg_daily_sales']
      .map(
        (t) =>
          `SELECT '${t}' AS t, count(*) AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS d FROM analytics.${t} x WHERE order_date = '${date}'`,
      )
      .join(' UNION ALL '),
    '--data-dir',
    dataDir,
  );
  return result.out;
}

/** Runs the date in its own process with a fault switched on; returns the run id it names for `retry`. */
async function failedRun(dataDir: string, date: string, fault: string) {
  const run = spawnCartflow(['run', '--date', date, '--data-dir', dataDir], {
    ...process.env,
    [HANDLER_ENV.fault]: fault,
  });
  const exit = await run.exited;
  const runId = /run \d{4}-\d\d-\d\d as (\S+)/.exec(run.printed.err)?.[1];
  return { exit, runId, printed: run.printed };
}

describe('cartflow retry', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-retry-'));
    const services = await startLocalServices({ dataDir });
    try {
      for (const date of ['2026-06-01', '2026-06-02', '2026-06-03'])
        await seedDay(services, { orders: String(ORDERS) }, date, ORDERS);
    } finally {
      await services.close();
    }
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('resumes a run whose process died in PublishDate at that step, and converges to a clean run', async () => {
    // Prepare
    const date = '2026-06-01';
    const failed = await failedRun(dataDir, date, 'publish-date:kill');
    const rawBefore = await rawObjects(dataDir);

    // Act
    const retried = await cartflow('retry', failed.runId!, '--data-dir', dataDir);
    const redriven = await tablesOf(dataDir, date);
    const rawAfter = await rawObjects(dataDir);
    const clean = await cartflow('backfill', '--from', date, '--to', date, '--force', '--data-dir', dataDir);

    // Assess
    assert.equal(failed.exit.signal, 'SIGKILL', failed.printed.err);
    assert.ok(failed.runId, failed.printed.err);
    assert.equal(retried.code, 0, retried.err);
    for (const state of [
      'ResolveRun',
      'ExtractOrders',
      'ExtractProducts',
      'Transform',
      'Validate',
      'LoadTable',
    ])
      assert.match(retried.err, new RegExp(`↺ ${state} +done before, not rerun`));
    assert.doesNotMatch(retried.err, /✓ (ExtractOrders|Transform|LoadTable)/);
    assert.match(retried.err, /✓ PublishDate/);
    assert.match(retried.err, /3 steps ran, 10 finished before and were not rerun/);
    assert.deepEqual(rawAfter, rawBefore);
    assert.match(redriven, new RegExp(`fact_order,${ORDERS},`));
    assert.equal(clean.code, 0, clean.err);
    assert.equal(await tablesOf(dataDir, date), redriven);
  });

  it('redrives a run that failed at PublishDate from there: its stage tables and staged data were kept', async () => {
    // Prepare
    const date = '2026-06-02';
    const failed = await failedRun(dataDir, date, 'publish-date:crash');
    const rawBefore = await rawObjects(dataDir);

    // Act
    const retried = await cartflow('retry', failed.runId!, '--data-dir', dataDir);
    const again = await cartflow('retry', failed.runId!, '--data-dir', dataDir);
    const runs = await cartflow(
      'query',
      `SELECT run_id, status FROM ops.pipeline_run WHERE business_date = '${date}'`,
      '--data-dir',
      dataDir,
    );

    // Assess
    assert.equal(failed.exit.code, 1, failed.printed.err);
    assert.match(failed.printed.err, /✗ PublishDate/);
    assert.equal(retried.code, 0, retried.err);
    for (const state of ['ExtractOrders', 'Transform', 'Validate', 'LoadTable'])
      assert.match(retried.err, new RegExp(`↺ ${state} +done before, not rerun`));
    assert.match(retried.err, /✓ PublishDate/);
    assert.match(retried.err, /3 steps ran, 10 finished before and were not rerun/);
    assert.deepEqual(await rawObjects(dataDir), rawBefore);
    assert.equal(runs.out, `run_id,status\n${failed.runId},SUCCEEDED\n`);
    assert.equal(again.code, 1);
    assert.match(again.err, /succeeded; there is nothing to retry/);
  });

  it('refuses to redrive a failed run once a later run of its date has succeeded', async () => {
    // Prepare
    const date = '2026-06-03';
    const failed = await failedRun(dataDir, date, 'load-table:crash');
    const later = await cartflow('run', '--date', date, '--data-dir', dataDir);
    const published = await tablesOf(dataDir, date);

    // Act
    const retried = await cartflow('retry', failed.runId!, '--data-dir', dataDir);

    // Assess
    assert.equal(failed.exit.code, 1, failed.printed.err);
    assert.equal(later.code, 0, later.err);
    assert.equal(retried.code, 1, retried.err);
    assert.match(retried.err, /of the same date started later and succeeded/);
    assert.equal(await tablesOf(dataDir, date), published);
  });
});
