import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../bench/support/memory-lake';
import { DataApiLimitError, MAX_STATEMENT_BYTES } from '../../lambdas/core/data-api-limits';
import { CopyMismatchError, PermanentError } from '../../lambdas/core/errors';
import type { SourceOrder, SourceOrderItem } from '../../lambdas/core/tables';
import {
  copyParquetSql,
  publishStatements,
  stageTableStatements,
  warehouseDdl,
} from '../../lambdas/core/sql';
import { TABLES, type TableDef } from '../../lambdas/core/tables';
import {
  PostgresSourceDatabase,
  openDatabase,
  seedSourceDatabase,
  type Database,
} from '../../local/embedded-postgres';
import { SqlWarehouse } from '../../local/warehouse';
import { putParquet } from '../support/parquet';
import { loadCuratedFixture } from '../support/warehouse-fixtures';

const ROLE = 'arn:aws:iam::000000000000:role/local';

describe('SqlWarehouse on embedded PostgreSQL', () => {
  const lake = new MemoryLakeStore('memory-lake');
  const fixture = loadCuratedFixture();
  let warehouse: SqlWarehouse;

  const load = (table: TableDef, prefix: string) => [
    ...stageTableStatements({
      table,
      runId: 'run-1',
      businessDate: '2024-03-10',
      createdAt: new Date(),
      s3Uri: `s3://${lake.bucket}/${prefix}`,
      iamRoleArn: ROLE,
    }),
    ...publishStatements([table], 'run-1', '2024-03-10'),
  ];

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), lake);
    await warehouse.executeBatch(warehouseDdl('postgres'));
  });

  after(() => warehouse.close());

  it('rolls the whole batch back and names the failing statement', async () => {
    // Prepare
    const statements = [
      'CREATE TABLE ops.scratch (id INTEGER)',
      'INSERT INTO ops.scratch VALUES (1)',
      'SELEC oops',
    ];

    // Act + Assess
    await assert.rejects(warehouse.executeBatch(statements), {
      name: PermanentError.name,
      message: /^warehouse statement 3\/3 failed: .*syntax error.*\n {2}in: SELEC oops$/s,
    });
    const [exists] = await warehouse.query(`SELECT to_regclass('ops.scratch') AS oid`);
    assert.deepEqual(exists, { oid: null });
  });

  it('refuses a batch over 40 statements and a statement over 100 KB before running any, as the Data API does', async () => {
    // Prepare
    const create = 'CREATE TABLE ops.limits (id INTEGER)';
    const inserts = (n: number) =>
      Array.from({ length: n }, (_, i) => `INSERT INTO ops.limits VALUES (${i})`);
    const long = `SELECT '${'x'.repeat(MAX_STATEMENT_BYTES)}' AS padding`;

    // Act + Assess
    await assert.rejects(warehouse.executeBatch([create, ...inserts(40)]), {
      name: DataApiLimitError.name,
      message: /^BatchExecuteStatement: 41 statements, the Data API takes at most 40 per batch/,
    });
    await assert.rejects(warehouse.executeBatch([create, long]), {
      name: DataApiLimitError.name,
      message:
        /^BatchExecuteStatement: statement 2\/2 is 100020 bytes, the Data API takes at most 100000 \(100 KB\)/,
    });
    await assert.rejects(warehouse.query(long), { name: DataApiLimitError.name });
    const [exists] = await warehouse.query(`SELECT to_regclass('ops.limits') AS oid`);
    assert.deepEqual(exists, { oid: null });
    // Exactly 40 pass.
    await warehouse.executeBatch([create, ...inserts(38), 'DROP TABLE ops.limits']);
  });

  it('copies every part under the prefix by position', async () => {
    // Prepare
    const rows = fixture.rows.fact_order_item;
    await putParquet(
      lake,
      'curated/fact_order_item/dt=2024-03-10/part-00000.parquet',
      TABLES.fact_order_item,
      rows.slice(0, 2),
    );
    await putParquet(
      lake,
      'curated/fact_order_item/dt=2024-03-10/part-00001.parquet',
      TABLES.fact_order_item,
      rows.slice(2),
    );

    // Act
    await warehouse.executeBatch(load(TABLES.fact_order_item, 'curated/fact_order_item/dt=2024-03-10/'));
    const loaded = await warehouse.query(
      'SELECT order_id, line_no, unit_price FROM analytics.fact_order_item ORDER BY 1, 2',
    );

    // Assess
    assert.deepEqual(loaded, [
      { order_id: 'O-1001', line_no: 1, unit_price: '29.99' },
      { order_id: 'O-1001', line_no: 2, unit_price: '29.99' },
      { order_id: 'O-1002', line_no: 1, unit_price: '-1.50' },
      { order_id: 'O-1003', line_no: 1, unit_price: '9999999999.99' },
    ]);
  });

  it('fails a COPY whose prefix matches no object, like Redshift', async () => {
    await assert.rejects(
      warehouse.executeBatch(load(TABLES.fact_order, 'curated/fact_order/dt=1999-01-01/')),
      {
        name: PermanentError.name,
        message: /no objects under s3:\/\/memory-lake\/curated\/fact_order\/dt=1999-01-01\//,
      },
    );
  });

  it('fails a COPY whose column types do not line up, naming the column', async () => {
    // Prepare: same count, but status and currency swapped for an int
    const shifted: TableDef = {
      ...TABLES.fact_order,
      columns: TABLES.fact_order.columns.map((c) =>
        c.name === 'status'
          ? { name: 'status_code', field: 'item_count', kind: 'int32', nullable: false }
          : c,
      ),
    };
    await putParquet(lake, 'curated/bad/part-00000.parquet', shifted, fixture.rows.fact_order);

    // Act + Assess
    await assert.rejects(warehouse.executeBatch(load(TABLES.fact_order, 'curated/bad/')), {
      name: CopyMismatchError.name,
      message:
        /column 5 is int32 'status_code' in the file but character varying\(32\) 'status' in the table/,
    });
  });

  it('counts VARCHAR lengths in bytes as Redshift does: a multi-byte value over the limit fails the COPY', async () => {
    // Prepare: 'ü' is 2 bytes, '日' 3 — 3 characters fit a VARCHAR(3) of PostgreSQL, not of Redshift.
    const dated = (currency: string, i: number) => ({ ...fixture.rows.fact_order[i], currency });
    await putParquet(lake, 'curated/bytes-ok/part-00000.parquet', TABLES.fact_order, [
      dated('EUR', 0),
      dated('€', 1),
    ]);
    await putParquet(lake, 'curated/bytes-over/part-00000.parquet', TABLES.fact_order, [
      dated('EUR', 0),
      dated('日ü', 1),
    ]);

    // Act
    await warehouse.executeBatch(load(TABLES.fact_order, 'curated/bytes-ok/'));

    // Assess
    const currencies = await warehouse.query(`SELECT currency FROM analytics.fact_order ORDER BY order_id`);
    assert.deepEqual(
      currencies.map((r) => r.currency),
      ['EUR', '€'],
    );
    await assert.rejects(warehouse.executeBatch(load(TABLES.fact_order, 'curated/bytes-over/')), {
      name: CopyMismatchError.name,
      message:
        /^warehouse statement \d+\/\d+ failed: COPY \S*fact_order\S* FROM s3:\/\/memory-lake\/curated\/bytes-over\/part-00000\.parquet: row 1 column 6 'currency' is 5 bytes of UTF-8 \(2 characters\), longer than character varying\(3\), whose limit is 3 bytes/,
    });
    const after = await warehouse.query(`SELECT currency FROM analytics.fact_order ORDER BY order_id`);
    assert.deepEqual(
      after.map((r) => r.currency),
      ['EUR', '€'],
    );
  });

  it('returns NUMERIC as exact text, DATE as text, TIMESTAMP as a UTC Date and BIGINT as a number', async () => {
    // Act
    const [row] = await warehouse.query(
      `SELECT 12345678901.23::NUMERIC(13,2) AS amount, DATE '2024-03-10' AS day,
              TIMESTAMP '2024-03-10 23:59:59.999' AS ts, TIMESTAMPTZ '2024-03-10 10:00:00+02' AS tstz,
              COUNT(*) AS n, TRUE AS flag`,
    );

    // Assess
    assert.deepEqual(row, {
      amount: '12345678901.23',
      day: '2024-03-10',
      ts: new Date('2024-03-10T23:59:59.999Z'),
      tstz: new Date('2024-03-10T08:00:00.000Z'),
      n: 1,
      flag: true,
    });
  });

  describe('COPY … MANIFEST', () => {
    const folder = 'curated/manifest-test/dt=2024-03-10/';
    const rows = () => fixture.rows.fact_order_item;
    const copy = (manifestKey: string) =>
      copyParquetSql('ops.manifest_items', {
        s3Uri: `s3://${lake.bucket}/${manifestKey}`,
        iamRoleArn: ROLE,
        manifest: true,
      });
    const entry = (key: string, mandatory = true) => ({
      url: `s3://${lake.bucket}/${key}`,
      mandatory,
      meta: { content_length: lake.objects.get(key)?.length ?? 123 },
    });
    const putManifest = (key: string, entries: unknown[]) => lake.put(key, JSON.stringify({ entries }));
    const loaded = () => warehouse.query('SELECT order_id, line_no FROM ops.manifest_items ORDER BY 1, 2');

    before(async () => {
      await warehouse.executeBatch([
        `CREATE TABLE IF NOT EXISTS ops.manifest_items (LIKE analytics.fact_order_item)`,
      ]);
      await putParquet(lake, `${folder}part-a.parquet`, TABLES.fact_order_item, rows().slice(0, 2));
      await putParquet(lake, `${folder}part-b.parquet`, TABLES.fact_order_item, rows().slice(2));
      await putParquet(lake, `${folder}wrong-width.parquet`, TABLES.dim_product, fixture.rows.dim_product);
    });

    beforeEach(() => warehouse.executeBatch(['DELETE FROM ops.manifest_items']));

    it('loads exactly the listed objects, not the rest of their folder', async () => {
      // Prepare
      await putManifest('manifests/only-a.manifest', [entry(`${folder}part-a.parquet`)]);

      // Act
      await warehouse.executeBatch([copy('manifests/only-a.manifest')]);

      // Assess
      assert.deepEqual(await loaded(), [
        { order_id: 'O-1001', line_no: 1 },
        { order_id: 'O-1001', line_no: 2 },
      ]);
    });

    it('fails on a missing mandatory object, naming its url, and rolls the batch back', async () => {
      // Prepare
      await putManifest('manifests/missing.manifest', [
        entry(`${folder}part-a.parquet`),
        entry(`${folder}part-gone.parquet`),
      ]);

      // Act + Assess
      await assert.rejects(
        warehouse.executeBatch([
          `INSERT INTO ops.manifest_items (order_id, line_no, product_id, category, quantity, unit_price, line_amount, order_date)
           VALUES ('KEEP-OUT', 1, 'P', 'c', 1, 1, 1, '2024-03-10')`,
          copy('manifests/missing.manifest'),
        ]),
        {
          name: CopyMismatchError.name,
          message: new RegExp(
            `mandatory manifest entry s3://memory-lake/${folder}part-gone\\.parquet does not exist`,
          ),
        },
      );
      assert.deepEqual(await loaded(), []);
    });

    it('skips a missing optional object and loads the others', async () => {
      // Prepare
      await putManifest('manifests/optional.manifest', [
        entry(`${folder}part-gone.parquet`, false),
        entry(`${folder}part-b.parquet`),
      ]);

      // Act
      await warehouse.executeBatch([copy('manifests/optional.manifest')]);

      // Assess
      assert.equal((await loaded()).length, rows().length - 2);
    });

    it('keeps the column-count rule and requires meta.content_length for Parquet', async () => {
      // Prepare
      await putManifest('manifests/wide.manifest', [entry(`${folder}wrong-width.parquet`)]);
      await putManifest('manifests/no-length.manifest', [
        { url: `s3://${lake.bucket}/${folder}part-a.parquet`, mandatory: true },
      ]);

      // Act + Assess
      await assert.rejects(warehouse.executeBatch([copy('manifests/wide.manifest')]), {
        name: CopyMismatchError.name,
        message: /wrong-width\.parquet: the Parquet file has 6 columns, the table has 8/,
      });
      await assert.rejects(warehouse.executeBatch([copy('manifests/no-length.manifest')]), {
        name: CopyMismatchError.name,
        message: /meta\.content_length/,
      });
    });
  });

  it('serializes concurrent batches on the one connection', async () => {
    // Prepare
    const batch = (n: number) => [
      `CREATE TEMP TABLE t${n} (v INTEGER)`,
      `INSERT INTO t${n} VALUES (${n})`,
      `DROP TABLE t${n}`,
    ];

    // Act + Assess
    await Promise.all([1, 2, 3, 4].map((n) => warehouse.executeBatch(batch(n))));
  });
});

describe('embedded PostgreSQL', () => {
  let dir: string;
  let db: Database;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-pg-'));
    db = await openDatabase({ dataDir: join(dir, 'source') });
  });

  after(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const order = (id: string | null, ts: string | null, extra: Partial<SourceOrder> = {}): SourceOrder => ({
    order_id: id,
    customer_id: 'C-1',
    order_ts: ts,
    status: 'paid',
    currency: 'USD',
    total_amount: '10.00',
    updated_at: ts,
    ...extra,
  });
  const item = (
    id: string | null,
    line: number | null,
    extra: Partial<SourceOrderItem> = {},
  ): SourceOrderItem => ({
    order_id: id,
    line_no: line,
    product_id: 'P-1',
    quantity: 1,
    unit_price: '10.00',
    ...extra,
  });

  it('seeds a date keeping dirt as it is, and a reseed replaces only that date', async () => {
    // Prepare
    const day1 = {
      orders: [
        order('A', '2024-03-10T10:00:00Z'),
        order('', '2024-03-10T11:00:00Z', { status: 'lost', currency: null, total_amount: '-5.10' }),
        order(null, null, { updated_at: '2024-03-10T12:00:00Z', customer_id: null }),
      ],
      items: [item('A', 1), item('A', 1, { quantity: -2, unit_price: null }), item(null, null)],
    };
    const day2 = { orders: [order('B', '2024-03-11T00:00:00Z')], items: [item('B', 1)] };

    // Act
    await seedSourceDatabase(db, day1, '2024-03-10');
    await seedSourceDatabase(db, day2, '2024-03-11');
    await seedSourceDatabase(db, { orders: [order('A2', '2024-03-10T09:00:00Z')], items: [] }, '2024-03-10');
    const source = new PostgresSourceDatabase(db);
    const connection = await source.connect();
    const { rows: orders } = await connection.query(
      `SELECT order_id, status, currency, total_amount::text AS total_amount, order_ts FROM orders ORDER BY order_ts`,
    );
    const { rows: items } = await connection.query(
      `SELECT order_id, line_no FROM order_items ORDER BY order_id NULLS FIRST`,
    );
    await connection.release();

    // Assess
    assert.deepEqual(orders, [
      {
        order_id: 'A2',
        status: 'paid',
        currency: 'USD',
        total_amount: '10.00',
        order_ts: new Date('2024-03-10T09:00:00Z'),
      },
      {
        order_id: 'B',
        status: 'paid',
        currency: 'USD',
        total_amount: '10.00',
        order_ts: new Date('2024-03-11T00:00:00Z'),
      },
    ]);
    // The orphan item (null order_id) belongs to no date and stays.
    assert.deepEqual(items, [
      { order_id: null, line_no: null },
      { order_id: 'B', line_no: 1 },
    ]);
  });

  it('keeps dirty values exactly on the first seed', async () => {
    // Prepare
    const dirty = {
      orders: [order('', '2024-03-12T11:00:00Z', { status: 'lost', currency: null, total_amount: '-5.10' })],
      items: [item('', 1, { quantity: -2, unit_price: null, product_id: '' })],
    };

    // Act
    await seedSourceDatabase(db, dirty, '2024-03-12');
    const [o] = (await db.query(`SELECT * FROM orders WHERE order_id = ''`)).rows;
    const [i] = (await db.query(`SELECT * FROM order_items WHERE order_id = ''`)).rows;

    // Assess
    assert.deepEqual(o, {
      order_id: '',
      customer_id: 'C-1',
      order_ts: new Date('2024-03-12T11:00:00Z'),
      status: 'lost',
      currency: null,
      total_amount: '-5.10',
      updated_at: new Date('2024-03-12T11:00:00Z'),
    });
    assert.deepEqual(i, { order_id: '', line_no: 1, product_id: '', quantity: -2, unit_price: null });
  });

  it('persists data in its directory across a server stop and start', async () => {
    // Act
    await db.close();
    db = await openDatabase({ dataDir: join(dir, 'source') });
    const { rows } = await db.query(`SELECT COUNT(*) AS n FROM orders`);

    // Assess
    assert.deepEqual(rows, [{ n: 3 }]);
  });
});
