import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine } from '../../../../lambdas/core/engine/engine';
import { duckType } from '../../../../lambdas/core/engine/table-io';
import type { Dataset } from '../../../../lambdas/core/model';
import {
  compileDataset,
  compileMessageChecks,
  datasetLevelFailure,
  DUCKDB_DIALECT,
  literal,
  ordersWithAllItemsQuarantinedSql,
  reconcileTotalSql,
  REDSHIFT_DIALECT,
  type CompiledDataset,
  type ReferenceTarget,
} from '../../../../lambdas/core/quality/compile-sql';
import {
  defaultRules,
  RECONCILE_TOTAL,
  resolveRules,
  type MessageCheck,
} from '../../../../lambdas/core/quality/rules';
import { FIXTURE_DEFS, FIXTURE_RUN, readChecksFixture } from '../../../support/checks-fixture';

const BUSINESS_DATE = FIXTURE_RUN.businessDate;

describe('compileDataset in DuckDB over fixture rows', () => {
  let dir: string;
  let engine: Engine;

  /** Loads a fixture (the dataset's columns plus `expect`, its reasons) as table `<dataset>_src`. */
  async function load(dataset: Dataset): Promise<string> {
    await engine.run(`CREATE OR REPLACE TABLE ${dataset}_src AS SELECT * FROM ${readChecksFixture(dataset)}`);
    return `(SELECT *, rowid AS __row FROM ${dataset}_src)`;
  }

  /** Checks a dataset into `<dataset>_checked` / `<dataset>_valid`; returns every row's reasons and expectation. */
  async function check(
    dataset: Dataset,
    references?: Partial<Record<'catalog' | 'orders', ReferenceTarget>>,
  ): Promise<{ compiled: CompiledDataset; rows: { reasons: string[]; expect: string[] }[] }> {
    const compiled = compileDataset(defaultRules(0.05)[dataset], {
      def: FIXTURE_DEFS[dataset],
      businessDate: BUSINESS_DATE,
      dialect: DUCKDB_DIALECT,
      references,
    });
    await engine.run(`CREATE OR REPLACE TABLE ${dataset}_checked AS ${compiled.select(await load(dataset))}`);
    await engine.run(
      `CREATE OR REPLACE VIEW ${dataset}_valid AS SELECT * FROM ${dataset}_checked WHERE NOT (${compiled.quarantined})`,
    );
    const reasons = compiled.rowChecks.map((c) => c.column).join(', ');
    const rows = await engine.rows<{ reasons: string[]; expect: string[] }>(
      `SELECT list_filter([${reasons}]::VARCHAR[], x -> x IS NOT NULL) AS reasons, expect FROM ${dataset}_checked ORDER BY __row`,
    );
    return { compiled, rows };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-compile-sql-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 });
  });

  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives every product row all the reasons it fails, keeping the latest copy and the first on a tie', async () => {
    // Act
    const { rows } = await check('products');

    // Assess
    for (const [i, row] of rows.entries()) assert.deepEqual(row.reasons, row.expect, `products row ${i}`);
  });

  it('gives every order row all its reasons: nulls, ranges in money, accepted values, the business date', async () => {
    // Act
    const { rows } = await check('orders');

    // Assess
    for (const [i, row] of rows.entries()) assert.deepEqual(row.reasons, row.expect, `orders row ${i}`);
  });

  it('checks order lines against the valid orders and the valid catalog, and VARCHAR byte lengths', async () => {
    // Prepare
    await check('products');
    await check('orders');

    // Act
    const { rows } = await check('order_items', {
      catalog: { relation: 'products_valid', column: 'product_id' },
      orders: { relation: 'orders_valid', column: 'order_id' },
    });

    // Assess
    for (const [i, row] of rows.entries()) assert.deepEqual(row.reasons, row.expect, `order_items row ${i}`);
  });

  it('fails a row missing every value under its not-null checks alone, never under a value check', async () => {
    // Prepare: per dataset one row whose every column is null, checked against the fixture's relations.
    await check('products');
    await check('orders');
    const references = {
      catalog: { relation: 'products_valid', column: 'product_id' },
      orders: { relation: 'orders_valid', column: 'order_id' },
    };
    const failing: Record<string, string[]> = {};

    // Act
    for (const dataset of ['orders', 'order_items', 'products'] as const) {
      const def = FIXTURE_DEFS[dataset];
      const nulls = def.columns.map((c) => `CAST(NULL AS ${duckType(c)}) AS "${c.name}"`).join(', ');
      const compiled = compileDataset(defaultRules(0.05)[dataset], {
        def,
        businessDate: BUSINESS_DATE,
        dialect: DUCKDB_DIALECT,
        references,
      });
      const [row] = await engine.rows<Record<string, string | null>>(
        compiled.select(`(SELECT ${nulls}, 0 AS __row)`),
      );
      failing[dataset] = compiled.rowChecks.filter((c) => row[c.column] !== null).map((c) => c.check.name);
    }

    // Assess
    assert.deepEqual(failing, {
      orders: [
        'order_id not null',
        'customer_id not null',
        'order_ts not null',
        'status not null',
        'currency not null',
        'total_amount not null',
      ],
      order_items: [
        'order_id not null',
        'line_no not null',
        'product_id not null',
        'quantity not null',
        'unit_price not null',
      ],
      products: [
        'product_id not null',
        'name not null',
        'category not null',
        'price not null',
        'currency not null',
        'updated_at not null',
      ],
    });
  });

  it('reports a null price under price not null, and price not negative only for the negative one', async () => {
    // Act
    const { compiled } = await check('products');
    const count = async (name: string) => {
      const column = compiled.rowChecks.find((c) => c.check.name === name)!.column;
      const [{ n }] = await engine.rows<{ n: bigint }>(
        `SELECT count(*) AS n FROM products_checked WHERE ${column} IS NOT NULL`,
      );
      return n;
    };

    // Assess: the fixture has one null price (P-8) and one negative (-1.00).
    assert.deepEqual([await count('price not null'), await count('price not negative')], [1n, 1n]);
  });

  it('reconciles valid orders with all their lines and finds orders whose every line is quarantined', async () => {
    // Prepare
    await check('products');
    await check('orders');
    const { compiled } = await check('order_items', {
      catalog: { relation: 'products_valid', column: 'product_id' },
      orders: { relation: 'orders_valid', column: 'order_id' },
    });

    // Act
    const mismatches = await engine.rows<{ order_id: string; reason: string }>(
      `SELECT o.order_id, r.reason FROM (${reconcileTotalSql(RECONCILE_TOTAL, 'orders_valid', 'order_items_checked')}) r
       JOIN orders_checked o USING (__row) WHERE r.reason IS NOT NULL ORDER BY __row`,
    );
    const allQuarantined = await engine.rows<{ order_id: string; quarantined_lines: bigint }>(
      `SELECT order_id, quarantined_lines FROM (${ordersWithAllItemsQuarantinedSql('orders_valid', 'order_items_checked', compiled.quarantined)}) a`,
    );

    // Assess: O-1's lines, the duplicate and the bad one too, sum to 10 + 10 + 0 × -1 + 2 × 1; O-2 matches.
    assert.deepEqual(mismatches, [
      {
        order_id: 'O-1',
        reason: 'total_amount 12.00 differs from the sum of its lines 22.00 by more than 0.01',
      },
    ]);
    assert.deepEqual(allQuarantined, [{ order_id: 'O-2', quarantined_lines: 1n }]);
  });

  it('compiles dataset-level checks to aggregates and describes their failure', async () => {
    // Prepare
    const rules = resolveRules({
      threshold: 0.05,
      datasets: {
        orders: {
          checks: [
            { name: 'enough orders', kind: 'row_count', min: 100, severity: 'quarantine' },
            { name: 'fresh', kind: 'freshness', column: 'updated_at', maxAgeHours: 24, severity: 'report' },
          ],
        },
      },
    });
    const compiled = compileDataset(rules.orders, {
      def: FIXTURE_DEFS.orders,
      businessDate: BUSINESS_DATE,
      dialect: DUCKDB_DIALECT,
    });
    const source = await load('orders');

    // Act
    const [row] = await engine.rows<Record<string, unknown>>(
      `SELECT ${compiled.aggregateChecks.map((a) => `${a.expression} AS ${a.column}`).join(', ')} FROM ${source} t`,
    );
    const now = new Date('2026-03-04T00:00:00Z');
    const failures = compiled.aggregateChecks.map((a) => datasetLevelFailure(a.check, row[a.column], now));

    // Assess
    assert.deepEqual(failures, [
      JSON.stringify({ rows: 6, min: 100 }),
      JSON.stringify({
        column: 'updated_at',
        latest: '2026-03-02T00:00:00.000Z',
        ageHours: 48,
        maxAgeHours: 24,
      }),
    ]);
  });

  it('spells the engine-specific parts for Redshift without DuckDB functions', () => {
    // Act
    const compiled = compileDataset(defaultRules(0.05).orders, {
      def: FIXTURE_DEFS.orders,
      businessDate: BUSINESS_DATE,
      dialect: REDSHIFT_DIALECT,
    });
    const sql = compiled.select('staged_orders');

    // Assess
    assert.match(sql, /octet_length\(t\."order_id"\) > 128/);
    assert.match(sql, /to_char\(t\."order_ts", 'YYYY-MM-DD"T"HH24:MI:SS\.MS"Z"'\)/);
    assert.doesNotMatch(sql, /strftime|strlen|list_filter/);
  });
});

describe('compileMessageChecks in DuckDB', () => {
  let dir: string;
  let engine: Engine;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-message-checks-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 });
  });
  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Each message's reason and `amount`'s value under `checks`. */
  async function reasons(
    checks: MessageCheck[],
    messages: string[],
  ): Promise<[string | null, string | null][]> {
    const rules = compileMessageChecks(checks);
    const [first = [], second = []] = rules.stages;
    const rows = await engine.rows<{ reason: string | null; amount: string | null }>(`
      SELECT CASE ${rules.reasons} END AS reason, CAST(${rules.value('amount')} AS VARCHAR) AS amount
      FROM (SELECT *${second.map((c) => `, ${c}`).join('')}
            FROM (SELECT *${first.map((c) => `, ${c}`).join('')}
                  FROM (SELECT json_type(text, ${rules.typePaths}) AS types,
                               json_extract_string(text, ${rules.paths}) AS texts
                        FROM unnest([${messages.map(literal).join(', ')}]) m(text))))`);
    return rows.map((r) => [r.reason, r.amount]);
  }

  it('compiles the rules as data: changed digits or bounds change the checks and what the reasons say', async () => {
    // Prepare
    const checks: MessageCheck[] = [
      { field: 'kind', kind: 'one_of', values: ['a', 'b'] },
      { field: 'at', kind: 'instant', min: '2020-01-01', max: '2021-01-01' },
      { field: 'amount', kind: 'decimal', integerDigits: 3, fractionDigits: 3, min: 1 },
    ];
    const ok = '"kind": "a", "at": "2020-06-01T00:00:00Z"';

    // Act
    const result = await reasons(checks, [
      `{${ok}, "amount": 12.345}`,
      `{${ok}, "amount": "0.5"}`,
      `{${ok}, "amount": 1234}`,
      `{"kind": "c", "at": 0, "amount": 2}`,
      `{"kind": "b", "at": "2021-01-01T00:00:00Z"}`,
    ]);

    // Assess
    assert.deepEqual(result, [
      [null, '12.345'],
      [
        'amount: expected a decimal with at most 3 fraction digits and 3 integer digits, at least 1, got "0.5"',
        null,
      ],
      [
        'amount: expected a decimal with at most 3 fraction digits and 3 integer digits, at least 1, got 1234',
        null,
      ],
      ['kind: expected one of a|b, got "c"', '2.000'],
      [
        'at: expected an ISO-8601 date-time or epoch milliseconds between 2020-01-01 and 2021-01-01, got "2021-01-01T00:00:00Z"',
        null,
      ],
    ]);
  });
});
