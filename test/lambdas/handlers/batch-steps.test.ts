import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { RecordedMetrics } from '../../../lambdas/adapters/observability';
import { HANDLER_ENV } from '../../../lambdas/contract';
import type { Bucket, ExtractResult } from '../../../lambdas/core/contracts';
import { sqlLiteral } from '../../../lambdas/core/engine/engine';
import { CATALOG_LANDING_PREFIX, layout } from '../../../lambdas/core/layout';
import { step as extractProductsStep } from '../../../lambdas/handlers/extract-products';
import {
  FIXTURE_RUN as RUN,
  readChecksFixture,
  transformThenValidate,
  writeRawFixtureDay,
} from '../../support/checks-fixture';
import { useWorkspace } from '../../support/workspace';

describe('transform and validate steps over fixture files', () => {
  const workspace = useWorkspace('cartflow-batch-steps-');
  const metrics = new RecordedMetrics();

  /** Transform then validate, as the state machine runs them (optionally on one bucket). */
  const runDay = (bucket?: Bucket) =>
    transformThenValidate(stepAdapters({ lake: workspace.lake, metrics }), workspace.dir, {
      run: RUN,
      bucket,
    });

  /** Rows of a Parquet object in the lake. */
  async function parquetRows(key: string, columns = '*'): Promise<Record<string, unknown>[]> {
    const path = join(workspace.dir, `read-${key.replaceAll('/', '_')}`);
    await workspace.lake.download(key, path);
    return workspace.engine.rows(`SELECT ${columns} FROM read_parquet(${sqlLiteral(path)})`);
  }

  // The raw parts the extract steps would write, from the fixture rows.
  before(() => writeRawFixtureDay(workspace));

  it('quarantines every bad row with all its reasons and builds the curated tables from the good ones', async () => {
    // Act
    const state = await runDay();

    // Assess
    const { validation } = state;
    assert.equal(validation.passed, true, validation.failureReason);
    for (const dataset of ['products', 'orders', 'order_items'] as const) {
      const expected = await workspace.engine.rows<{ expect: string[] }>(
        `SELECT expect FROM ${readChecksFixture(dataset)} WHERE len(expect) > 0`,
      );
      const quarantined = (await workspace.lake.getText(layout.quarantine(dataset, RUN.businessDate)))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { runId: string; dataset: string; reasons: string[] });
      assert.deepEqual(
        quarantined.map((q) => q.reasons),
        expected.map((e) => e.expect),
        `${dataset} quarantine`,
      );
      assert.ok(quarantined.every((q) => q.runId === RUN.runId && q.dataset === dataset));
    }
    assert.deepEqual(
      validation.tables.map((t) => [t.table, t.rows]),
      [
        ['dim_product', 3],
        ['fact_order', 2],
        ['fact_order_item', 2],
        ['agg_daily_sales', 1],
      ],
    );
    const factOrder = await parquetRows(
      layout.curated('fact_order', RUN.businessDate),
      'order_id, status, CAST(total_amount AS VARCHAR) AS total, item_count',
    );
    assert.deepEqual(factOrder, [
      { order_id: 'O-1', status: 'paid', total: '12.00', item_count: 2 },
      { order_id: 'O-2', status: 'paid', total: '5.00', item_count: 0 },
    ]);
    const agg = await parquetRows(
      layout.curated('agg_daily_sales', RUN.businessDate),
      'category, orders, units, CAST(revenue AS VARCHAR) AS revenue',
    );
    assert.deepEqual(agg, [{ category: 'home', orders: 1, units: 3, revenue: '12.00' }]);
    const dim = await parquetRows(layout.curated('dim_product', RUN.businessDate), 'product_id, name');
    assert.deepEqual(dim, [
      { product_id: 'P-1', name: 'Lamp' },
      { product_id: 'P-2', name: 'Chair' },
      { product_id: 'P-6', name: 'Tie first' },
    ]);
    const mismatch = validation.checks.find((c) => c.check === 'total_amount matches lines')!;
    assert.equal(mismatch.failedRows, 1);
    assert.match(mismatch.example!, /"order_id":"O-1".*"total_amount_cents":1200/);
    const report = JSON.parse(await workspace.lake.getText(validation.reportKey)) as { checks: unknown[] };
    assert.deepEqual(report.checks, JSON.parse(JSON.stringify(validation.checks)));
    assert.equal(metrics.total('QualityGateFailed'), 0);
  });

  it('splits the day into buckets where an order and its lines stay together, under bucket keys', async () => {
    // Prepare
    const whole = await parquetRows(layout.curated('fact_order_item', RUN.businessDate), 'order_id, line_no');

    // Act
    const buckets = [await runDay({ index: 0, count: 2 }), await runDay({ index: 1, count: 2 })];

    // Assess
    const lines: unknown[] = [];
    for (const [index, state] of buckets.entries()) {
      assert.match(
        state.transform.staged.orders!,
        new RegExp(`orders\\.bucket-0000${index}-of-00002\\.parquet$`),
      );
      const items = state.validation.tables.find((t) => t.table === 'fact_order_item')!;
      const key = `${items.prefix}part-0000${index}.parquet`;
      const orders = new Set(
        (
          await parquetRows(
            `${state.validation.tables.find((t) => t.table === 'fact_order')!.prefix}part-0000${index}.parquet`,
          )
        ).map((o) => o.order_id),
      );
      for (const line of await parquetRows(key, 'order_id, line_no')) {
        assert.ok(orders.has(line.order_id), `line of ${String(line.order_id)} is in its order's bucket`);
        lines.push(line);
      }
    }
    assert.deepEqual(
      lines.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      whole.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    assert.equal(buckets.filter((s) => s.validation.tables.some((t) => t.table === 'dim_product')).length, 1);
  });
});

describe('extract-products step over fixture catalog files', () => {
  const workspace = useWorkspace('cartflow-extract-products-');

  before(async () => {
    for (const name of ['a-catalog.jsonl', 'b-catalog.jsonl']) {
      const path = new URL(`../../fixtures/batch/landing/${name}`, import.meta.url).pathname;
      await workspace.lake.upload(`${CATALOG_LANDING_PREFIX}${name}`, path);
    }
  });

  it('merges the files in SQL: the latest updated_at per product, the later file on a tie, unkeyed rows last', async () => {
    // Prepare
    const { dir, engine, lake } = workspace;
    // Threshold 1: each file passes its own gate with its bad rows (which Validate then quarantines).
    const extract = extractProductsStep.make(
      stepAdapters({ lake }),
      extractProductsStep.settings({ TMPDIR: dir, [HANDLER_ENV.qualitySettings]: '{"threshold": 1}' }),
    );

    // Act
    const result = (await extract({ run: RUN })) as ExtractResult[];

    // Assess
    assert.deepEqual(result, [
      {
        dataset: 'products',
        keys: [layout.rawPart('products', RUN.businessDate, 0)],
        rows: 3,
        rejected: 1,
      },
    ]);
    const path = join(dir, 'raw.parquet');
    await lake.download(result[0].keys[0], path);
    assert.deepEqual(
      await engine.rows(
        `SELECT product_id, name, currency, CAST(price AS VARCHAR) AS price FROM read_parquet(${sqlLiteral(path)})`,
      ),
      [
        { product_id: 'P-1', name: 'Lamp', currency: 'USD', price: '10.00' },
        { product_id: 'P-2', name: 'Chair, second file', currency: 'USD', price: '21.00' },
        { product_id: null, name: 'No id', currency: 'USD', price: '1.00' },
      ],
    );
    assert.match(await lake.getText(layout.unparseable('products', RUN.businessDate)), /not-a-price/);
  });
});
