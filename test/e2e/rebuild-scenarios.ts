/**
 * `cartflow rebuild` end to end, shared by the embedded run (embedded PostgreSQL) and the integration run
 * (the PostgreSQL server of WAREHOUSE_DATABASE_URL): several dates loaded by the batch and a stream that
 * crosses midnight, the warehouse dropped entirely, the source tables dropped too, then the rebuild from
 * the lake must bring back every analytics table with the same per-table digest. First, with the warehouse
 * kept: a date a batch run published (and still holds in ops.run_claim) is rebuilt over its claim, and a
 * date whose batch run is running is refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateClickEvents } from '../../lambdas/core/clickstream/sample';
import { layout } from '../../lambdas/core/layout';
import { step as ensureWarehouse } from '../../lambdas/handlers/ensure-warehouse';
import { step as resolveRun } from '../../lambdas/handlers/resolve-run';
import { localRebuildTarget } from '../../cli/commands/rebuild';
import { replayRecording } from '../../local/kafka/stream';
import { spreadTimestamps } from '../../local/kafka/topic';
import {
  CuratedFilesMissingError,
  DateRunningError,
  rebuildFromLake,
  rebuildSummary,
  tableDigests,
} from '../../cli/rebuild';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seed } from './batch-scenarios';

const DATES = ['2026-04-01', '2026-04-02', '2026-04-03'];
/** Kafka time 23:20 on the second date for 90 minutes: event files under two dates. */
const STREAM_START = new Date('2026-04-02T23:20:00Z');
const EVENTS = 1500;

const dropWarehouse = (runtime: LocalRuntime) =>
  runtime.warehouse.executeBatch([
    'DROP SCHEMA IF EXISTS analytics CASCADE',
    'DROP SCHEMA IF EXISTS ops CASCADE',
    'DROP SCHEMA IF EXISTS staging CASCADE',
  ]);

export function rebuildScenarios(label: string, urls: { source?: string; warehouse?: string } = {}) {
  describe(`rebuild from the lake (${label})`, () => {
    let runtime: LocalRuntime;
    let dataDir: string;
    let loaded: Record<string, string>;

    before(async () => {
      // Prepare: three dates through the batch, a stream across midnight, the digests of what they loaded.
      dataDir = await mkdtemp(join(tmpdir(), 'cartflow-rebuild-'));
      runtime = await startLocalRuntime({
        dataDir,
        sourceDatabaseUrl: urls.source,
        warehouseDatabaseUrl: urls.warehouse,
      });
      await dropWarehouse(runtime);
      await runtime.build(ensureWarehouse)(undefined);
      await runtime.source.query('DROP TABLE IF EXISTS order_items, orders');
      for (const [i, date] of DATES.entries()) {
        await seed(runtime, date, 80 + 40 * i);
        const outcome = await runtime.runBatch({ businessDate: date });
        assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      }
      const sample = generateClickEvents({
        count: EVENTS,
        seed: 'rebuild',
        start: STREAM_START,
        minutes: 90,
      });
      await replayRecording(runtime, {
        values: sample.values,
        partitions: 3,
        batchSize: 300,
        timestampOf: spreadTimestamps(EVENTS, STREAM_START.getTime(), 90 * 60_000),
      });
      loaded = await tableDigests(runtime.warehouse);
    });

    after(async () => {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    const claimOf = async (date: string) =>
      (
        await runtime.warehouse.query<{ run_id: string }>(
          `SELECT run_id FROM ops.run_claim WHERE business_date = '${date}'`,
        )
      ).map((r) => r.run_id);

    test('a date its batch run published and holds is rebuilt identical, and its next batch run still runs', async () => {
      // Prepare
      const [batchRun] = await claimOf(DATES[0]);
      assert.match(batchRun, new RegExp(`^${DATES[0]}-`), 'the batch run holds the date');

      // Act
      const result = await rebuildFromLake(await localRebuildTarget(runtime), [DATES[0]]);
      const rebuiltDigests = await tableDigests(runtime.warehouse);
      const claimAfterRebuild = await claimOf(DATES[0]);
      const rerun = await runtime.runBatch({ businessDate: DATES[0] });

      // Assess
      assert.deepEqual(rebuiltDigests, loaded);
      assert.deepEqual(claimAfterRebuild, [result.dates[0].run], 'the finished rebuild run holds the date');
      assert.equal(rerun.status, 'SUCCEEDED', JSON.stringify(rerun.error));
      assert.deepEqual(await claimOf(DATES[0]), [rerun.runId], 'the next batch run took the claim over');
      assert.deepEqual(await tableDigests(runtime.warehouse), loaded);
    });

    test('a range with a date whose batch run is running is refused whole, naming the date and the run', async () => {
      // Prepare: a batch run of the second date past ResolveRun (it holds the claim, RUNNING).
      const live = `${DATES[1]}-running`;
      await runtime.build(resolveRun)({
        request: { businessDate: DATES[1] },
        executionName: live,
        timeoutMinutes: runtime.slaMinutes,
      });
      const target = await localRebuildTarget(runtime);
      const rebuildRuns = () =>
        runtime.warehouse.query(
          "SELECT run_id FROM ops.pipeline_run WHERE run_id LIKE 'rebuild-%' ORDER BY 1",
        );
      const rebuildsBefore = await rebuildRuns();

      // Act
      const refusal = rebuildFromLake(target, DATES);

      // Assess
      await assert.rejects(refusal, (error: unknown) => {
        assert.ok(error instanceof DateRunningError);
        assert.deepEqual(error.running, [{ date: DATES[1], run: live }]);
        assert.match(error.message, new RegExp(`${DATES[1]} \\(run ${live}\\); nothing was loaded`));
        return true;
      });
      assert.deepEqual(await claimOf(DATES[1]), [live], 'the running batch run keeps the date');
      assert.deepEqual(await rebuildRuns(), rebuildsBefore, 'no date of the range was rebuilt');
    });

    test('a dropped warehouse comes back from the lake with every table identical, without the source', async (t) => {
      // Prepare
      assert.ok(
        Object.values(loaded).every((d) => !d.startsWith('0 ')),
        `every table has rows: ${JSON.stringify(loaded)}`,
      );
      await dropWarehouse(runtime);
      await runtime.source.query('DROP TABLE IF EXISTS order_items, orders');

      // Act
      const result = await rebuildFromLake(await localRebuildTarget(runtime), DATES);

      // Assess
      assert.deepEqual(await tableDigests(runtime.warehouse), loaded);
      assert.deepEqual(
        result.dates.map((d) => d.date),
        DATES,
      );
      assert.ok(
        result.dates[1].eventFiles > 0 && result.dates[2].eventFiles > 0,
        'event files of both dates',
      );
      assert.equal(
        result.dates.reduce((sum, d) => sum + d.events, 0),
        Number(loaded.fact_click_event.split(' ')[0]),
      );
      const runs = await runtime.warehouse.query<{ business_date: string; status: string }>(
        "SELECT to_char(business_date, 'YYYY-MM-DD') AS business_date, status FROM ops.pipeline_run ORDER BY 1",
      );
      assert.deepEqual(
        runs,
        DATES.map((business_date) => ({ business_date, status: 'SUCCEEDED' })),
      );
      const summary = rebuildSummary(result);
      assert.match(summary, /rebuild rate: \d+\.\d dates\/min, \d+ rows\/min/);
      // The rate the disaster-recovery runbook quotes for the test's small dates.
      t.diagnostic(summary.trim().split('\n').slice(-2).join('; '));
    });

    test('rebuilding the same dates again leaves every table identical', async () => {
      // Act
      await rebuildFromLake(await localRebuildTarget(runtime), DATES);

      // Assess
      assert.deepEqual(await tableDigests(runtime.warehouse), loaded);
    });

    test('a range with dates whose curated files are gone is refused whole, naming them', async () => {
      // Prepare
      await runtime.lake.deletePrefix(layout.curatedPrefix('fact_order', DATES[1]));
      await dropWarehouse(runtime);
      const target = await localRebuildTarget(runtime);

      // Act
      const refusal = rebuildFromLake(target, [...DATES, '2026-04-04']);

      // Assess
      await assert.rejects(refusal, (error: unknown) => {
        assert.ok(error instanceof CuratedFilesMissingError);
        assert.deepEqual(error.missing, [
          { date: DATES[1], tables: ['fact_order'] },
          {
            date: '2026-04-04',
            tables: ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'],
          },
        ]);
        assert.match(error.message, /2 date\(s\): 2026-04-02 \(fact_order\), 2026-04-04 \(dim_product, /);
        return true;
      });
      const [{ n }] = await runtime.warehouse.query<{ n: string }>(
        'SELECT count(*)::text AS n FROM analytics.fact_order',
      );
      assert.equal(n, '0', 'nothing loaded');
    });
  });
}
