/**
 * End-to-end scenarios of the batch pipeline, shared by the embedded run (embedded PostgreSQL) and the
 * integration run (PostgreSQL servers named by SOURCE_DATABASE_URL / WAREHOUSE_DATABASE_URL).
 * Expected values come from the generator's source rows, computed here independently of the pipeline.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCents as cents } from '../../lambdas/core/dates';
import { Engine, sqlLiteral } from '../../lambdas/core/engine/engine';
import type { PipelineState } from '../../lambdas/core/contracts';
import {
  CATALOG_ARCHIVE_PREFIX,
  CATALOG_LANDING_PREFIX,
  CATALOG_SNAPSHOT_KEY,
  layout,
} from '../../lambdas/core/layout';
import { LAKE } from '../../lambdas/contract';
import { QUALITY_GATE_ERROR } from '../../lambdas/steps';
import { DATASETS } from '../../lambdas/core/model';
import { generateDay, type DirtySpec, type GeneratedDay } from '../../lambdas/core/generator';
import { seedSourceDatabase } from '../../local/embedded-postgres';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import type { ExecutionOutcome } from '../../local/step-functions';

export async function seed(
  runtime: LocalRuntime,
  date: string,
  orders: number,
  dirty: DirtySpec = {},
): Promise<GeneratedDay> {
  const day = generateDay({ date, orders, seed: 7, dirty });
  await seedSourceDatabase(runtime.source, { orders: day.orders, items: day.items }, date);
  await runtime.lake.put(
    `${CATALOG_LANDING_PREFIX}products.jsonl`,
    day.catalog.map((p) => JSON.stringify(p)).join('\n'),
  );
  return day;
}

export async function tableDump(runtime: LocalRuntime, date: string): Promise<string> {
  const queries = [
    `SELECT * FROM analytics.fact_order WHERE order_date = '${date}' ORDER BY order_id`,
    `SELECT * FROM analytics.fact_order_item WHERE order_date = '${date}' ORDER BY order_id, line_no`,
    `SELECT * FROM analytics.agg_daily_sales WHERE order_date = '${date}' ORDER BY category`,
    `SELECT * FROM analytics.dim_product ORDER BY product_id`,
  ];
  const dumps = [];
  for (const sql of queries) dumps.push(await runtime.warehouse.query(sql));
  return JSON.stringify(dumps);
}

/** Quarantined rows per dataset in the day's quarantine files (one JSON line each). */
async function quarantineCounts(runtime: LocalRuntime, date: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const dataset of DATASETS) {
    const text = await runtime.lake.getText(layout.quarantine(dataset, date));
    counts[dataset] = text.split('\n').filter((line) => line.trim() !== '').length;
  }
  return counts;
}

async function scalar(runtime: LocalRuntime, sql: string): Promise<string> {
  const [row] = await runtime.warehouse.query<Record<string, unknown>>(sql);
  return String(Object.values(row)[0]);
}

export function batchScenarios(label: string, urls: { source?: string; warehouse?: string } = {}) {
  describe(`batch pipeline end to end (${label})`, () => {
    let runtime: LocalRuntime;
    let dataDir: string;
    /** What a test does as each step of a run ends. */
    let onStep: ((step: ExecutionOutcome['steps'][number]) => void) | undefined;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'cartflow-e2e-'));
      runtime = await startLocalRuntime({
        dataDir,
        sourceDatabaseUrl: urls.source,
        warehouseDatabaseUrl: urls.warehouse,
        onStep: (step) => onStep?.(step),
      });
      // Servers outlive a test run; start from empty schemas so counts are this run's alone.
      await runtime.warehouse.executeBatch([
        'DROP SCHEMA IF EXISTS analytics CASCADE',
        'DROP SCHEMA IF EXISTS ops CASCADE',
        'DROP SCHEMA IF EXISTS staging CASCADE',
      ]);
      await runtime.source.query('DROP TABLE IF EXISTS order_items, orders');
    });

    after(async () => {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('a clean day lands in the warehouse with exactly the source counts and revenue', async () => {
      // Prepare
      const date = '2026-03-01';
      const day = await seed(runtime, date, 300);
      const expectedTotal = day.orders.reduce((sum, o) => sum + cents(o.total_amount!), 0n);
      const expectedLines = day.items.reduce(
        (sum, i) => sum + BigInt(i.quantity!) * cents(i.unit_price!),
        0n,
      );

      // Act
      const outcome = await runtime.runBatch({ businessDate: date });

      // Assess
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      const ofDate = (expression: string, table: string) =>
        scalar(runtime, `SELECT ${expression} FROM analytics.${table} WHERE order_date = '${date}'`);
      assert.equal(await ofDate('count(*)', 'fact_order'), String(day.orders.length));
      assert.equal(await ofDate('count(*)', 'fact_order_item'), String(day.items.length));
      assert.equal(cents(await ofDate('sum(total_amount)', 'fact_order')), expectedTotal);
      assert.equal(cents(await ofDate('sum(line_amount)', 'fact_order_item')), expectedLines);
      assert.equal(cents(await ofDate('sum(revenue)', 'agg_daily_sales')), expectedLines);
    });

    test('running the same date again leaves identical tables and balanced ops.dataset_load rows', async () => {
      // Prepare
      const date = '2026-03-01';
      const before = await tableDump(runtime, date);

      // Act
      const outcome = await runtime.runBatch({ businessDate: date });

      // Assess
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      assert.equal(await tableDump(runtime, date), before);
      const runs = await runtime.warehouse.query<{ status: string }>(
        `SELECT status FROM ops.pipeline_run WHERE business_date = '${date}'`,
      );
      assert.deepEqual(
        runs.map((r) => r.status),
        ['SUCCEEDED', 'SUCCEEDED'],
      );
      const unbalanced = await runtime.warehouse.query(
        `SELECT * FROM ops.dataset_load WHERE business_date = '${date}' AND rows_in <> rows_loaded + rows_quarantined`,
      );
      assert.deepEqual(unbalanced, []);
      assert.equal(
        await scalar(runtime, `SELECT count(*) FROM ops.dataset_load WHERE business_date = '${date}'`),
        '6',
      );
    });

    test('the SLA check measures the loaded date from the run records: met until the next date falls due', async () => {
      // Act: around 2026-03-02's deadline (loaded by 06:00 UTC on 03-03 in dev's config).
      const onTime = await runtime.slaCheck(new Date('2026-03-03T06:00:00Z'));
      const late = await runtime.slaCheck(new Date('2026-03-03T06:00:01Z'));

      // Assess: no event was loaded, which is no data rather than fresh.
      const statuses = ({ results }: typeof onTime) =>
        Object.fromEntries(results.map((r) => [r.dataset, r.status]));
      assert.deepEqual(statuses(onTime), {
        products: 'met',
        orders: 'met',
        order_items: 'met',
        events: 'no-data',
      });
      assert.deepEqual(statuses(late), {
        products: 'breached',
        orders: 'breached',
        order_items: 'breached',
        events: 'no-data',
      });
      assert.equal(late.results[1].businessDate, '2026-03-01');
    });

    test('planted bad rows are quarantined with their reasons while the good rows load', async () => {
      // Prepare
      const date = '2026-03-02';
      const dirty = {
        nullOrderId: 2,
        duplicateOrderId: 2,
        negativeTotal: 2,
        badCurrency: 2,
        missingCustomer: 2,
        zeroQuantity: 2,
        unknownProduct: 2,
        totalMismatch: 2,
      };
      const day = await seed(runtime, date, 400, dirty);
      const badOrders = 2 + 2 + 2 + 2 + 2;

      // Act
      const outcome = await runtime.runBatch({ businessDate: date });

      // Assess
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      const orders = outcome.state!.validation!.datasets.find((d) => d.dataset === 'orders')!;
      assert.equal(orders.rowsIn, day.orders.length);
      assert.equal(orders.rowsQuarantined, badOrders);
      assert.equal(
        await scalar(runtime, `SELECT count(*) FROM analytics.fact_order WHERE order_date = '${date}'`),
        String(day.orders.length - badOrders),
      );
      const quarantined = (await runtime.lake.getText(layout.quarantine('orders', date)))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { reasons: string[] });
      assert.equal(quarantined.length, badOrders);
      const reasons = quarantined.flatMap((q) => q.reasons).join('\n');
      for (const expected of ['order_id is null', 'XYZ', 'total_amount', 'customer_id', 'duplicate']) {
        assert.match(reasons, new RegExp(expected), `a quarantine reason mentions ${expected}`);
      }
      const items = await runtime.lake.getText(layout.quarantine('order_items', date));
      assert.match(items, /quantity/);
      assert.match(items, /product_id/);
      const mismatch = outcome.state!.validation!.checks.find(
        (c) => c.check === 'total_amount matches lines',
      )!;
      assert.equal(mismatch.failedRows, 2);
      assert.equal(mismatch.severity, 'report');
    });

    test('a day over the quarantine threshold fails at the gate and loads nothing for that date', async () => {
      // Prepare
      const date = '2026-03-03';
      await seed(runtime, date, 200, { badCurrency: 40 });

      // Act
      const outcome = await runtime.runBatch({ businessDate: date });

      // Assess
      assert.equal(outcome.status, 'FAILED');
      assert.equal(outcome.error?.name, 'QualityGateError');
      assert.equal(
        await scalar(runtime, `SELECT count(*) FROM analytics.fact_order WHERE order_date = '${date}'`),
        '0',
      );
      assert.equal(
        await scalar(runtime, `SELECT count(*) FROM analytics.agg_daily_sales WHERE order_date = '${date}'`),
        '0',
      );
      assert.equal(
        await scalar(runtime, `SELECT status FROM ops.pipeline_run WHERE business_date = '${date}'`),
        'FAILED',
      );
      const alert = runtime.alerts.published.at(-1)!;
      assert.match(alert.subject, /FAILED/);
      assert.match(alert.message, /orders/);
      assert.match(alert.message, /currency/);
    });

    test('a date becomes visible all at once: when the last table fails to load, every table keeps the previous run', async () => {
      // Prepare: a loaded day, then a different day's worth of source rows for the same date
      const date = '2026-03-04';
      await seed(runtime, date, 150);
      const first = await runtime.runBatch({ businessDate: date });
      assert.equal(first.status, 'SUCCEEDED', JSON.stringify(first.error));
      const before = await tableDump(runtime, date);
      await seed(runtime, date, 90);
      // A column the Parquet lacks: the COPY of agg_daily_sales (the last table) fails, the others stage. Added
      // once EnsureWarehouse has run, which refuses a column the declarations lack (core/schema-migration.ts);
      // extract, transform and validate take seconds before the first load.
      let altered: Promise<void> | undefined;
      onStep = (step) => {
        if (step.state !== 'EnsureWarehouse' || altered) return;
        altered = runtime.warehouse.executeBatch([
          'ALTER TABLE analytics.agg_daily_sales ADD COLUMN unexpected INTEGER',
        ]);
      };

      // Act
      const outcome = await runtime.runBatch({ businessDate: date });

      // Assess
      onStep = undefined;
      await altered;
      await runtime.warehouse.executeBatch(['ALTER TABLE analytics.agg_daily_sales DROP COLUMN unexpected']);
      assert.equal(outcome.status, 'FAILED');
      const load = outcome.steps.find((s) => s.state === 'LoadTable' && s.status !== 'ok');
      assert.match(load?.error ?? '', /CopyMismatchError/);
      assert.ok(!outcome.steps.some((s) => s.state === 'PublishDate'));
      assert.equal(await tableDump(runtime, date), before);
      // The tables that staged stay for a redrive, each registered; the date's next publish drops them.
      const staged = await scalar(
        runtime,
        `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'`,
      );
      assert.ok(Number(staged) > 0, staged);
      assert.equal(
        await scalar(runtime, `SELECT count(*) FROM ops.stage_table WHERE business_date = '${date}'`),
        staged,
      );
      assert.equal(
        await scalar(
          runtime,
          `SELECT status FROM ops.pipeline_run WHERE business_date = '${date}' ORDER BY started_at DESC LIMIT 1`,
        ),
        'FAILED',
      );
      const rerun = await runtime.runBatch({ businessDate: date });
      assert.equal(rerun.status, 'SUCCEEDED', JSON.stringify(rerun.error));
      assert.equal(
        await scalar(
          runtime,
          `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'`,
        ),
        '0',
      );
      assert.equal(await scalar(runtime, `SELECT count(*) FROM ops.stage_table`), '0');
    });

    test('a day the volume Choice splits into buckets loads the same tables and quarantine as one Transform', async () => {
      // Prepare: a day with bad rows (a null order_id too) on the single path, then the split's state machine
      const date = '2026-03-05';
      const dirty = {
        nullOrderId: 1,
        duplicateOrderId: 2,
        badCurrency: 2,
        zeroQuantity: 2,
        unknownProduct: 2,
        totalMismatch: 2,
      };
      await seed(runtime, date, 400, dirty);
      const single = await runtime.runBatch({ businessDate: date });
      assert.equal(
        single.status,
        'SUCCEEDED',
        JSON.stringify([
          single.steps.filter((s) => s.status !== 'ok'),
          single.state?.validation?.failureReason,
        ]),
      );
      assert.ok(!single.steps.some((s) => s.state === 'TransformBucket'));
      const tables = await tableDump(runtime, date);
      const quarantine = await quarantineCounts(runtime, date);
      const figures = ({ validation }: PipelineState) => ({
        datasets: validation!.datasets,
        checks: validation!.checks.map(({ dataset, check, passed, failedRows }) => ({
          dataset,
          check,
          passed,
          failedRows,
        })),
      });
      const runSplit = await runtime.batchWith((config) => {
        config.volume = { bucketThresholdLines: 1, bucketCount: 3, maxConcurrency: 2 };
      });

      // Act
      const split = await runSplit({ businessDate: date });

      // Assess
      assert.equal(split.status, 'SUCCEEDED', JSON.stringify(split.steps.filter((s) => s.status !== 'ok')));
      const ran = (state: string) => split.steps.filter((s) => s.state === state && s.status === 'ok').length;
      assert.deepEqual(
        [ran('Transform'), ran('TransformBucket'), ran('ValidateBucket'), ran('MergeBuckets')],
        [0, 3, 3, 1],
      );
      assert.equal(await tableDump(runtime, date), tables);
      assert.deepEqual(await quarantineCounts(runtime, date), quarantine);
      assert.deepEqual(figures(split.state!), figures(single.state!));
      assert.deepEqual(
        (await runtime.lake.list(layout.curatedPrefix('agg_daily_sales', date))).map((o) => o.key),
        [layout.curated('agg_daily_sales', date)],
      );
    });

    test('a dropped catalog file refreshes dim_product and quarantines its unreadable line', async () => {
      // Prepare
      const body = await readFile(new URL('../fixtures/e2e/catalog-update.csv', import.meta.url));
      const key = `${CATALOG_LANDING_PREFIX}catalog-update.csv`;
      await runtime.lake.put(key, body);

      // Act
      const outcome = await runtime.refreshCatalog();

      // Assess
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
      assert.equal(
        await scalar(runtime, `SELECT name FROM analytics.dim_product WHERE product_id = 'P-0001'`),
        'Classic Lamp, refreshed',
      );
      assert.equal(
        await scalar(runtime, `SELECT price FROM analytics.dim_product WHERE product_id = 'P-9999'`),
        '5.00',
      );
      const today = new Date().toISOString().slice(0, 10);
      assert.match(await runtime.lake.getText(layout.unparseable('products', today)), /not-a-price/);
    });

    describe('the catalog refresh in a brand-new environment', () => {
      const drop = async (name: string) => {
        const key = `${CATALOG_LANDING_PREFIX}${name}`;
        await runtime.lake.put(key, await readFile(new URL(`../fixtures/e2e/${name}`, import.meta.url)));
        return key;
      };
      const stageTables = () =>
        scalar(runtime, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'staging'`);
      let first: Awaited<ReturnType<LocalRuntime['refreshCatalog']>>;
      let firstKey: string;

      test('the first catalog file dropped into a warehouse without a schema creates it and fills dim_product', async () => {
        // Prepare: no schema at all, as in a new account.
        await runtime.warehouse.executeBatch([
          'DROP SCHEMA IF EXISTS analytics CASCADE',
          'DROP SCHEMA IF EXISTS ops CASCADE',
          'DROP SCHEMA IF EXISTS staging CASCADE',
        ]);
        firstKey = await drop('catalog-first.csv');

        // Act
        first = await runtime.refreshCatalog();

        // Assess
        assert.equal(first.status, 'SUCCEEDED', JSON.stringify(first.error));
        assert.equal(
          await scalar(runtime, `SELECT name FROM analytics.dim_product WHERE product_id = 'P-7002'`),
          'First drop chair',
        );
        assert.equal(await stageTables(), '0');
      });

      test('a second file is merged on its own: the first is archived and the state does not grow', async () => {
        // Prepare
        const key = await drop('catalog-later.csv');

        // Act
        const second = await runtime.refreshCatalog();

        // Assess
        assert.equal(second.status, 'SUCCEEDED', JSON.stringify(second.error));
        // Counts and times aside (their digits), the output is the same size: no list of files in it.
        const size = (output: unknown) => JSON.stringify(output).replace(/\d+/g, '0').length;
        assert.equal(size(second.output), size(first.output));
        const landing = (await runtime.lake.list(CATALOG_LANDING_PREFIX)).map((o) => o.key);
        assert.ok(!landing.includes(firstKey) && !landing.includes(key), landing.join());
        const archived = (await runtime.lake.list(CATALOG_ARCHIVE_PREFIX)).map((o) => o.key);
        assert.ok(
          archived.some((k) => k.endsWith('/catalog-first.csv')),
          archived.join(),
        );
        const names = await runtime.warehouse.query<{ product_id: string; name: string }>(
          `SELECT product_id, name FROM analytics.dim_product WHERE product_id LIKE 'P-700%' ORDER BY product_id`,
        );
        assert.deepEqual(names, [
          { product_id: 'P-7001', name: 'First drop lamp' },
          { product_id: 'P-7002', name: 'Second drop chair' },
          { product_id: 'P-7003', name: 'Second drop rug' },
        ]);
      });

      test('a publish that fails leaves no stage table and dim_product as it was', async () => {
        // Prepare: a constraint the stage table (CREATE TABLE LIKE) does not copy, so only the publish fails.
        const before = await runtime.warehouse.query(
          'SELECT * FROM analytics.dim_product ORDER BY product_id',
        );
        await runtime.warehouse.executeBatch([
          `ALTER TABLE analytics.dim_product ADD CONSTRAINT no_new_rugs CHECK (name <> 'Second drop rug, again') NOT VALID`,
        ]);
        const key = `${CATALOG_LANDING_PREFIX}catalog-again.csv`;
        await runtime.lake.put(
          key,
          'product_id,name,category,price,currency,updated_at\nP-7003,"Second drop rug, again",home,98.00,USD,2099-04-01T00:00:00Z\n',
        );

        // Act
        const outcome = await runtime.refreshCatalog();

        // Assess
        await runtime.warehouse.executeBatch([
          'ALTER TABLE analytics.dim_product DROP CONSTRAINT no_new_rugs',
        ]);
        assert.equal(outcome.status, 'FAILED');
        assert.deepEqual(
          new Set(outcome.steps.filter((s) => s.status !== 'ok').map((s) => s.state)),
          new Set(['PublishCatalog']),
        );
        assert.ok(outcome.steps.some((s) => s.state === 'CleanupCatalog' && s.status === 'ok'));
        assert.equal(await stageTables(), '0');
        assert.deepEqual(
          await runtime.warehouse.query('SELECT * FROM analytics.dim_product ORDER BY product_id'),
          before,
        );
      });
    });

    test('two catalog refreshes forced to overlap on different files both end up in the snapshot and dim_product', async () => {
      // Prepare: a current catalog, and the first refresh's file pending.
      const { lake } = runtime;
      const overlap = (name: string) =>
        readFile(new URL(`../fixtures/catalog-overlap/${name}`, import.meta.url));
      await lake.deletePrefix(CATALOG_LANDING_PREFIX);
      await lake.put(`${CATALOG_LANDING_PREFIX}base.csv`, await overlap('base.csv'));
      const base = await runtime.refreshCatalog();
      await lake.put(`${CATALOG_LANDING_PREFIX}first.csv`, await overlap('first.csv'));
      // The next listing of landing/ (the second refresh's, once it has read the current catalog) waits.
      const list = lake.list.bind(lake);
      let armed = true;
      let blocked = () => {};
      const atListing = new Promise<void>((resolve) => (blocked = resolve));
      let release = () => {};
      const released = new Promise<void>((resolve) => (release = resolve));
      lake.list = async (prefix: string) => {
        if (armed && prefix === CATALOG_LANDING_PREFIX) {
          armed = false;
          blocked();
          await released;
        }
        return list(prefix);
      };

      // Act: the second starts, the first runs whole meanwhile, then the second's file lands and it goes on.
      let outcomes: Awaited<ReturnType<LocalRuntime['refreshCatalog']>>[];
      try {
        const second = runtime.refreshCatalog();
        await atListing;
        const first = await runtime.refreshCatalog();
        await lake.put(`${CATALOG_LANDING_PREFIX}second.csv`, await overlap('second.csv'));
        release();
        outcomes = [base, first, await second];
      } finally {
        lake.list = list;
      }

      // Assess
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'],
        JSON.stringify(outcomes.map((o) => o.error)),
      );
      const expected = [
        { product_id: 'R001', name: 'Base lamp from the first refresh' },
        { product_id: 'R002', name: 'Base chair' },
        { product_id: 'R003', name: 'First overlap rug' },
        { product_id: 'R004', name: 'Second overlap desk' },
      ];
      const path = join(dataDir, 'overlap-snapshot.parquet');
      await lake.download(CATALOG_SNAPSHOT_KEY, path);
      const engine = await Engine.open({
        memoryLimitMb: 128,
        tempDirectory: join(dataDir, 'spill'),
        threads: 1,
      });
      try {
        assert.deepEqual(
          await engine.rows(
            `SELECT product_id, name FROM read_parquet(${sqlLiteral(path)}) WHERE product_id LIKE 'R00%' ORDER BY product_id`,
          ),
          expected,
        );
      } finally {
        engine.close();
      }
      assert.deepEqual(
        await runtime.warehouse.query(
          `SELECT product_id, name FROM analytics.dim_product WHERE product_id LIKE 'R00%' ORDER BY product_id`,
        ),
        expected,
      );
    });

    describe('a catalog file that fails its gate is set aside and blocks nothing (issue 17)', () => {
      const fixture = (name: string) =>
        readFile(new URL(`../fixtures/catalog-rejection/${name}`, import.meta.url));
      const drop = async (name: string) => {
        const key = `${CATALOG_LANDING_PREFIX}${name}`;
        await runtime.lake.put(key, await fixture(name));
        return key;
      };
      const rejectedFiles = async () =>
        (await runtime.lake.list(LAKE.catalogRejected)).map((o) => o.key.slice(o.key.lastIndexOf('/') + 1));
      // The setting: a catalog still empty, so the file's 1 bad row of 2 is over the 5 % threshold.
      const emptyCatalog = () => runtime.lake.deletePrefix(CATALOG_SNAPSHOT_KEY);

      test('a bad and a good file in one window: the good one is in dim_product, the bad one set aside', async () => {
        // Prepare
        await emptyCatalog();
        const bad = await drop('missing-price.json');
        await drop('good.csv');
        const alerts = runtime.alerts.published.length;

        // Act
        const now = new Date().toISOString();
        const outcome = await runtime.refreshCatalog([{ time: now }, { time: now }]);

        // Assess: published, then failed for the bad file, the notice its cause and the alert.
        assert.equal(outcome.status, 'FAILED');
        assert.ok(outcome.steps.some((s) => s.state === 'PublishCatalog' && s.status === 'ok'));
        assert.equal(outcome.error?.name, QUALITY_GATE_ERROR);
        assert.ok(outcome.error?.message.includes(bad), outcome.error?.message);
        assert.ok(!outcome.error?.message.includes('good.csv'), outcome.error?.message);
        assert.equal(runtime.alerts.published.slice(alerts)[0]?.message, outcome.error?.message);
        const ids = await runtime.warehouse.query<{ product_id: string }>(
          `SELECT product_id FROM analytics.dim_product WHERE product_id LIKE 'Q%' ORDER BY product_id`,
        );
        assert.deepEqual(
          ids.map((r) => r.product_id),
          ['Q003', 'Q004', 'Q005'],
        );
        assert.deepEqual(await runtime.lake.list(CATALOG_LANDING_PREFIX), []);
        assert.deepEqual(await rejectedFiles(), ['missing-price.json', 'missing-price.json.quality.json']);
      });

      test('a bad file, then a good one, then the nightly run: only the bad refresh fails', async () => {
        // Prepare: the day's orders in the source; a bad catalog file dropped first.
        await runtime.lake.deletePrefix(LAKE.catalogRejected);
        await emptyCatalog();
        const date = '2026-03-06';
        await seed(runtime, date, 100);
        // seed() leaves the day's (good) catalog in landing/: keep it for after the bad file.
        const good = await runtime.lake.get(`${CATALOG_LANDING_PREFIX}products.jsonl`);
        await runtime.lake.deletePrefix(CATALOG_LANDING_PREFIX);
        await drop('missing-price.json');

        // Act
        const badRefresh = await runtime.refreshCatalog();
        await runtime.lake.put(`${CATALOG_LANDING_PREFIX}products.jsonl`, good);
        const goodRefresh = await runtime.refreshCatalog();
        const nightly = await runtime.runBatch({ businessDate: date });

        // Assess
        assert.equal(badRefresh.status, 'FAILED');
        assert.equal(goodRefresh.status, 'SUCCEEDED', JSON.stringify(goodRefresh.error));
        assert.equal(nightly.status, 'SUCCEEDED', JSON.stringify(nightly.error));
        assert.deepEqual(await rejectedFiles(), ['missing-price.json', 'missing-price.json.quality.json']);
        assert.equal(
          // Not even the bad file's valid row: it was set aside whole.
          await scalar(
            runtime,
            `SELECT count(*) FROM analytics.dim_product WHERE product_id IN ('Q001', 'Q002')`,
          ),
          '0',
        );
      });
    });
  });
}
