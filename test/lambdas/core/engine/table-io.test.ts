import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Engine, sqlLiteral } from '../../../../lambdas/core/engine/engine';
import {
  appendRows,
  castSelect,
  createTableSql,
  duckType,
  readParquetSql,
  writeRowsParquet,
} from '../../../../lambdas/core/engine/table-io';
import { InputFormatError } from '../../../../lambdas/core/errors';
import { TABLES, type TableDef } from '../../../../lambdas/core/tables';
import { loadCuratedFixture, typedRows } from '../../../support/warehouse-fixtures';

const EDGE = JSON.parse(
  readFileSync(new URL('../../../fixtures/engine/edge-rows.json', import.meta.url), 'utf8'),
) as Record<string, Record<string, unknown>[]>;

/** Every column read back as text, so decimals and timestamps compare exactly. */
const asText = (def: TableDef, path: string) =>
  `SELECT ${def.columns.map((c) => `CAST("${c.name}" AS VARCHAR) AS "${c.name}"`).join(', ')} FROM read_parquet(${sqlLiteral(path)})`;

describe('table-io', () => {
  let dir: string;
  let engine: Engine;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'table-io-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 });
  });

  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('maps every column kind to its DuckDB type', () => {
    // Act
    const types = TABLES.fact_order.columns.map(duckType);

    // Assess
    assert.deepEqual(types, [
      'VARCHAR',
      'VARCHAR',
      'TIMESTAMP',
      'DATE',
      'VARCHAR',
      'VARCHAR',
      'DECIMAL(12,2)',
      'INTEGER',
    ]);
    assert.deepEqual(TABLES.quality_result.columns.map(duckType).slice(3, 5), ['BOOLEAN', 'BIGINT']);
    assert.match(
      createTableSql(TABLES.fact_order, 'fo'),
      /^CREATE TABLE "fo" \("order_id" VARCHAR NOT NULL, /,
    );
  });

  it('writes rows with NULLs, multi-byte text, extreme money and timestamps, and reads them back exactly', async () => {
    // Prepare
    const products = typedRows(TABLES.products, EDGE.products);
    const results = typedRows(TABLES.quality_result, EDGE.quality_result);
    const productsPath = join(dir, 'products.parquet');
    const resultsPath = join(dir, 'results.parquet');

    // Act
    const written = await writeRowsParquet(engine, TABLES.products, products, productsPath);
    await writeRowsParquet(engine, TABLES.quality_result, results, resultsPath);

    // Assess
    assert.equal(written, 4);
    assert.deepEqual(await engine.rows(asText(TABLES.products, productsPath)), [
      {
        product_id: 'P-1',
        name: 'Zoë ☕ 日本 🚀',
        category: 'O\'Brien "quoted" \\ back',
        price: '9999999999999999.99',
        currency: 'EUR',
        updated_at: '2024-03-10 12:34:56.789',
      },
      {
        product_id: 'P-2',
        name: null,
        category: '',
        price: '-9999999999999999.99',
        currency: null,
        updated_at: '1969-12-31 23:59:59.999',
      },
      { product_id: null, name: 'plain', category: null, price: null, currency: 'USD', updated_at: null },
      {
        product_id: 'P-4',
        name: 'x',
        category: 'toys',
        price: '0.01',
        currency: 'JPY',
        updated_at: '2099-12-31 23:59:59.001',
      },
    ]);
    assert.deepEqual(await engine.rows(asText(TABLES.quality_result, resultsPath)), [
      {
        run_id: 'run-1',
        dataset: 'orders',
        check_name: 'not_null',
        passed: 'true',
        failed_rows: '0',
        business_date: '2024-02-29',
        column_name: 'order_id',
        severity: 'error',
        example: null,
      },
      {
        run_id: 'run-1',
        dataset: 'orders',
        check_name: 'range',
        passed: 'false',
        failed_rows: '9007199254740991',
        business_date: '1969-12-31',
        column_name: '',
        severity: 'warn',
        example: 'ß→日本',
      },
    ]);
  });

  it('writes the columns in table order with the physical types Redshift reads', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();
    const path = join(dir, 'fact_order.parquet');

    // Act
    await writeRowsParquet(engine, TABLES.fact_order, rows.fact_order, path);

    // Assess
    const schema = await engine.rows<{ name: string; type: string; logical: string | null }>(
      `SELECT name, type, coalesce(converted_type, '') AS logical FROM parquet_schema(${sqlLiteral(path)}) WHERE name <> 'duckdb_schema'`,
    );
    assert.deepEqual(
      schema.map((s) => s.name),
      TABLES.fact_order.columns.map((c) => c.name),
    );
    const byName = Object.fromEntries(schema.map((s) => [s.name, `${s.type} ${s.logical}`]));
    assert.equal(byName.total_amount, 'INT64 DECIMAL');
    assert.equal(byName.order_ts, 'INT64 TIMESTAMP_MICROS');
    assert.equal(byName.order_date, 'INT32 DATE');
    assert.equal(byName.item_count, 'INT32 INT_32');
    const count = await engine.scalar<bigint>(`SELECT count(*) FROM read_parquet(${sqlLiteral(path)})`);
    assert.equal(Number(count), rows.fact_order.length);
  });

  it('writes an empty file that still has every column', async () => {
    // Prepare
    const path = join(dir, 'empty.parquet');

    // Act
    const written = await writeRowsParquet(engine, TABLES.raw_orders, [], path);

    // Assess
    assert.equal(written, 0);
    const names = await engine.rows<{ name: string }>(
      `SELECT name FROM parquet_schema(${sqlLiteral(path)}) WHERE name <> 'duckdb_schema'`,
    );
    assert.deepEqual(
      names.map((n) => n.name),
      TABLES.raw_orders.columns.map((c) => c.name),
    );
  });

  it('casts any input to the table order and types, dropping extra columns', async () => {
    // Prepare
    await engine.run(
      `CREATE TABLE shuffled AS SELECT 3 AS item_count, 'extra' AS junk, '12.50' AS total_amount, 'EUR' AS currency, 'paid' AS status,
        DATE '2024-03-10' AS order_date, '2024-03-10 10:00:00' AS order_ts, 'C1' AS customer_id, 'O1' AS order_id`,
    );
    const path = join(dir, 'cast.parquet');

    // Act
    await engine.writeParquet(castSelect(TABLES.fact_order, 'shuffled'), path);

    // Assess
    const [row] = await engine.rows(asText(TABLES.fact_order, path));
    assert.deepEqual(row, {
      order_id: 'O1',
      customer_id: 'C1',
      order_ts: '2024-03-10 10:00:00',
      order_date: '2024-03-10',
      status: 'paid',
      currency: 'EUR',
      total_amount: '12.50',
      item_count: '3',
    });
    const again = await engine.rows(castSelect(TABLES.fact_order, readParquetSql([path, path])));
    assert.equal(again.length, 2);
  });

  it('refuses values that would not survive exactly, naming table, column, row and field', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();
    const floatMoney = rows.fact_order.map((r, i) => (i === 1 ? { ...r, total_amount_cents: 1.5 } : r));
    const missingKey = rows.fact_order.map((r, i) => (i === 2 ? { ...r, order_id: null } : r));
    const badDate = rows.fact_order.map((r) => ({ ...r, order_date: '2024-02-30' }));
    const tooWide = rows.fact_order.map((r) => ({ ...r, total_amount_cents: 10n ** 12n }));
    const path = join(dir, 'refused.parquet');

    // Act + Assess
    await assert.rejects(writeRowsParquet(engine, TABLES.fact_order, floatMoney, path), {
      name: InputFormatError.name,
      message: /^fact_order\.total_amount \(row 1, field total_amount_cents\): expected a bigint/,
    });
    await assert.rejects(
      writeRowsParquet(engine, TABLES.fact_order, missingKey, path),
      /fact_order\.order_id \(row 2, field order_id\): expected a non-null value, got null/,
    );
    await assert.rejects(
      writeRowsParquet(engine, TABLES.fact_order, badDate, path),
      /fact_order\.order_date \(row 0.*calendar day YYYY-MM-DD, got "2024-02-30"/,
    );
    await assert.rejects(
      writeRowsParquet(engine, TABLES.fact_order, tooWide, path),
      /fact_order\.total_amount \(row 0.*within the precision, got 1000000000000n/,
    );
  });

  it('appends chunk after chunk into one table', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();
    await engine.run(createTableSql(TABLES.fact_order_item, 'items'));

    // Act
    await appendRows(engine, TABLES.fact_order_item, 'items', rows.fact_order_item.slice(0, 2));
    await appendRows(engine, TABLES.fact_order_item, 'items', rows.fact_order_item.slice(2));

    // Assess
    const count = await engine.scalar<bigint>('SELECT count(*) FROM items');
    assert.equal(Number(count), rows.fact_order_item.length);
    const cents = await engine.scalar<string>(
      'SELECT CAST(sum(line_amount) * 100 AS BIGINT)::VARCHAR FROM items',
    );
    const expected = rows.fact_order_item.reduce((s, r) => s + (r.line_amount_cents as bigint), 0n);
    assert.equal(cents, expected.toString());
  });
});
