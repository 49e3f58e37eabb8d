import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { InputFormatError } from '../../../lambdas/core/errors';
import { formatDecimal } from '../../../lambdas/core/dates';
import { decodeParquet, encodeParquet, readParquetColumns } from '../../../lambdas/core/parquet';
import { TABLES, type ColumnDef, type TableDef } from '../../../lambdas/core/tables';
import { loadCuratedFixture } from '../../support/warehouse-fixtures';

/** Edge values per kind; rows cycle through them so every column meets every value. */
function samples(column: ColumnDef): unknown[] {
  switch (column.kind) {
    case 'string':
      return ['plain', '', 'O\'Brien "quoted" \\ back', 'Zoë ☕ 日本', 'x'.repeat(300)];
    case 'int32':
      return [0, -1, 2 ** 31 - 1, -(2 ** 31), 42];
    case 'int64':
      return [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 7];
    case 'bool':
      return [true, false];
    case 'decimal': {
      const max = 10n ** BigInt(column.precision!) - 1n;
      return [0n, -1n, max, -max, 123456n, 5n];
    }
    case 'timestamp':
      return [
        '2024-03-10T12:34:56.789Z',
        '1970-01-01T00:00:00.000Z',
        '1969-12-31T23:59:59.999Z',
        '2099-12-31T23:59:59.001Z',
      ].map((s) => new Date(s));
    case 'date':
      return ['2024-02-29', '1970-01-01', '1969-12-31', '2099-12-31'];
  }
}

function sampleRows(def: TableDef, count = 12): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) =>
    Object.fromEntries(
      def.columns.map((c) => {
        const values = samples(c);
        // Every nullable column gets a null in row 3.
        return [c.field, c.nullable && i === 3 ? null : values[i % values.length]];
      }),
    ),
  );
}

const duckType = (c: ColumnDef): string =>
  ({
    string: 'VARCHAR',
    int32: 'INTEGER',
    int64: 'BIGINT',
    bool: 'BOOLEAN',
    decimal: `DECIMAL(${c.precision},${c.scale})`,
    timestamp: 'TIMESTAMP',
    date: 'DATE',
  })[c.kind];

/** How DuckDB shows a value as text (timestamps as epoch milliseconds, to avoid format choices). */
function duckText(c: ColumnDef, value: unknown): string | null {
  if (value === null) return null;
  if (c.kind === 'decimal') return formatDecimal(value as bigint, c.scale!);
  if (c.kind === 'timestamp') return String((value as Date).getTime());
  return String(value);
}

describe('parquet', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let duck: DuckDBConnection;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-parquet-'));
    instance = await DuckDBInstance.create();
    duck = await instance.connect();
  });

  after(async () => {
    duck.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  for (const def of Object.values(TABLES) as TableDef[]) {
    it(`round-trips ${def.name} through hyparquet and DuckDB with exact values and types`, async () => {
      // Prepare
      const rows = sampleRows(def);
      const file = join(dir, `${def.name}.parquet`);

      // Act
      const bytes = encodeParquet(def, rows);
      await writeFile(file, bytes);
      const decoded = await decodeParquet(def, bytes);
      const exprs = def.columns.map((c) =>
        c.kind === 'timestamp' ? `epoch_ms("${c.name}")::VARCHAR` : `"${c.name}"::VARCHAR`,
      );
      const types = def.columns.map((c) => `typeof("${c.name}")`);
      const reader = await duck.runAndReadAll(
        `SELECT ${[...exprs, ...types].join(', ')} FROM read_parquet('${file}')`,
      );
      const duckRows = reader.getRowsJS();

      // Assess
      assert.deepEqual(decoded, rows);
      assert.equal(duckRows.length, rows.length);
      const n = def.columns.length;
      duckRows.forEach((duckRow, i) => {
        const expected = def.columns.map((c) => duckText(c, rows[i][c.field]));
        assert.deepEqual(duckRow.slice(0, n), expected, `row ${i}`);
        assert.deepEqual(duckRow.slice(n), def.columns.map(duckType));
      });
    });
  }

  it('keeps the column order of the table definition (COPY maps by position)', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();

    // Act
    const file = await readParquetColumns(encodeParquet(TABLES.fact_order_item, rows.fact_order_item));

    // Assess
    assert.deepEqual(
      file.names,
      TABLES.fact_order_item.columns.map((c) => c.name),
    );
    assert.deepEqual(file.rows[2], ['O-1002', 1, 'P-002', 'kitchen', 1, '-1.50', '-1.50', '2024-03-10']);
  });

  it('writes and reads a file with no rows', async () => {
    // Act
    const decoded = await decodeParquet(TABLES.raw_orders, encodeParquet(TABLES.raw_orders, []));

    // Assess
    assert.deepEqual(decoded, []);
  });

  it('decodes without a definition under the file column names', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();

    // Act
    const [first] = await decodeParquet(undefined, encodeParquet(TABLES.dim_product, rows.dim_product));

    // Assess
    assert.deepEqual(first, {
      product_id: 'P-001',
      name: 'Kettle "Classic" 1.7 l',
      category: 'kitchen',
      price: 2999n,
      currency: 'USD',
      updated_at: new Date('2024-03-09T08:15:00.000Z'),
    });
  });

  it('refuses values that would not survive exactly, naming table, column and row', () => {
    // Prepare
    const { rows } = loadCuratedFixture();
    const floatMoney = rows.fact_order.map((r, i) => (i === 1 ? { ...r, total_amount_cents: 1.5 } : r));
    const missingKey = rows.fact_order.map((r, i) => (i === 2 ? { ...r, order_id: null } : r));
    const badDate = rows.fact_order.map((r) => ({ ...r, order_date: '2024-02-30' }));

    // Act + Assess
    assert.throws(() => encodeParquet(TABLES.fact_order, floatMoney), {
      name: InputFormatError.name,
      message: /fact_order\.total_amount \(row 1, field total_amount_cents\): expected a bigint/,
    });
    assert.throws(
      () => encodeParquet(TABLES.fact_order, missingKey),
      /fact_order\.order_id \(row 2.*non-null/,
    );
    assert.throws(() => encodeParquet(TABLES.fact_order, badDate), /calendar day, got "2024-02-30"/);
  });

  it('refuses a file whose column type differs from the definition', async () => {
    // Prepare
    const { rows } = loadCuratedFixture();
    const wider: TableDef = {
      ...TABLES.fact_order,
      columns: TABLES.fact_order.columns.map((c) => (c.name === 'item_count' ? { ...c, kind: 'int64' } : c)),
    };
    const bytes = encodeParquet(wider, rows.fact_order);

    // Act + Assess
    await assert.rejects(decodeParquet(TABLES.fact_order, bytes), {
      name: InputFormatError.name,
      message: 'fact_order.item_count is int64 in the file, expected int32',
    });
  });
});
