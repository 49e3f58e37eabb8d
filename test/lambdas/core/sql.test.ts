import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { CheckResult, DatasetQuality } from '../../../lambdas/core/contracts';
import { CopyMismatchError } from '../../../lambdas/core/errors';
import { layout } from '../../../lambdas/core/layout';
import type { BatchTable } from '../../../lambdas/core/model';
import {
  batchStagesOfDateSql,
  createTableSql,
  dropRegisteredStageStatements,
  dropStageStatements,
  ident,
  literal,
  publishStatements,
  qualifiedName,
  recordRunStatements,
  SHADOW_SCHEMA,
  shadowPublishStatements,
  STAGE_TABLE_MAX_AGE_DAYS,
  stageBaseName,
  stageTableName,
  stageTableStatements,
  stagedCountSql,
  stagesCreatedBeforeSql,
  warehouseDdl,
  warehouseReadySql,
  writerGrantStatements,
} from '../../../lambdas/core/sql';
import { TABLES, WAREHOUSE_TABLES, type TableDef } from '../../../lambdas/core/tables';
import { CLICKSTREAM_TABLES } from '../../../lambdas/core/clickstream/tables';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { putParquet } from '../../support/parquet';
import { loadCuratedFixture } from '../../support/warehouse-fixtures';
import { startTestLake, type TestLake } from '../../support/s3';

const ROLE = 'arn:aws:iam::123456789012:role/cartflow-copy';
const BATCH_TABLES: BatchTable[] = ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'];
const RUN = 'run-2024-03-10-a1';
const NOW = new Date('2024-03-11T03:04:05.678Z');

describe('warehouse SQL', () => {
  let s3: TestLake;
  let warehouse: SqlWarehouse;
  const fixture = loadCuratedFixture();

  /** Writes a table's rows as the curated Parquet of the date and returns the statements that stage them. */
  async function stageOnly(
    table: TableDef,
    rows: object[],
    businessDate = fixture.businessDate,
    prefix?: string,
  ) {
    const key = prefix ?? layout.curatedPrefix(table.name as BatchTable, businessDate);
    await s3.lake.deletePrefix(key);
    await putParquet(s3.lake, `${key}part-00000.parquet`, table, rows);
    return stageTableStatements({
      table,
      runId: RUN,
      businessDate,
      createdAt: NOW,
      s3Uri: `s3://${s3.lake.bucket}/${key}`,
      iamRoleArn: ROLE,
    });
  }

  /** Stage and publish one table in one batch: a whole load of that table. */
  async function stage(
    table: TableDef,
    rows: object[],
    businessDate = fixture.businessDate,
    prefix?: string,
  ) {
    return [
      ...(await stageOnly(table, rows, businessDate, prefix)),
      ...publishStatements([table], RUN, businessDate),
    ];
  }

  const snapshot = (table: TableDef) =>
    warehouse.query(`SELECT * FROM ${table.schema}.${table.name} ORDER BY ${table.primaryKey.join(', ')}`);

  before(async () => {
    s3 = await startTestLake();
    warehouse = new SqlWarehouse(await openDatabase({}), s3.lake);
    await warehouse.executeBatch(warehouseDdl('postgres'));
  });

  after(async () => {
    await warehouse.close();
    await s3.close();
  });

  beforeEach(async () => {
    await warehouse.executeBatch(WAREHOUSE_TABLES.map((t) => `DELETE FROM ${t.schema}.${t.name}`));
  });

  it('creates every table with the column order of its definition, idempotently', async () => {
    // Act
    await warehouse.executeBatch(warehouseDdl('postgres'));
    const columns = await warehouse.query<{ table_schema: string; table_name: string; column_name: string }>(
      `SELECT table_schema, table_name, column_name FROM information_schema.columns
       WHERE table_schema IN ('analytics', 'ops') ORDER BY table_schema, table_name, ordinal_position`,
    );

    // Assess
    for (const table of WAREHOUSE_TABLES) {
      const actual = columns.filter((c) => c.table_schema === table.schema && c.table_name === table.name);
      assert.deepEqual(
        actual.map((c) => c.column_name),
        table.columns.map((c) => c.name),
        table.name,
      );
    }
  });

  it('stages a table per run and publishes the staged tables of a date together', () => {
    // Act
    const stage = stageTableName(TABLES.fact_order_item, RUN);
    const name = stage.slice('staging.'.length);
    const staging = stageTableStatements({
      table: TABLES.fact_order_item,
      runId: RUN,
      businessDate: '2024-03-10',
      createdAt: NOW,
      s3Uri: 's3://lake-bucket/curated/fact_order_item/dt=2024-03-10/',
      iamRoleArn: ROLE,
    });
    const publish = publishStatements([TABLES.dim_product, TABLES.fact_order_item], RUN, '2024-03-10');

    // Assess
    assert.match(stage, /^staging\.fact_order_item_[0-9a-f]{16}$/);
    assert.notEqual(stageTableName(TABLES.fact_order_item, 'run-2024-03-11-b2'), stage);
    assert.deepEqual(staging, [
      `DROP TABLE IF EXISTS ${stage}`,
      `CREATE TABLE ${stage} (LIKE analytics.fact_order_item)`,
      `COPY ${stage} FROM 's3://lake-bucket/curated/fact_order_item/dt=2024-03-10/' IAM_ROLE '${ROLE}' FORMAT AS PARQUET`,
      `DELETE FROM ops.stage_table WHERE table_name = '${name}'`,
      `INSERT INTO ops.stage_table (table_name, run_id, business_date, created_at) VALUES\n('${name}', '${RUN}', '2024-03-10', '2024-03-11 03:04:05.678')`,
    ]);
    const products = stageTableName(TABLES.dim_product, RUN);
    const productsName = products.slice('staging.'.length);
    assert.deepEqual(publish, [
      `DELETE FROM analytics.dim_product USING ${products} WHERE analytics.dim_product.product_id = ${products}.product_id` +
        ` AND analytics.dim_product.updated_at <= ${products}.updated_at`,
      `INSERT INTO analytics.dim_product SELECT * FROM ${products} WHERE NOT EXISTS ` +
        `(SELECT 1 FROM analytics.dim_product WHERE analytics.dim_product.product_id = ${products}.product_id)`,
      `DROP TABLE ${products}`,
      `DELETE FROM ops.stage_table WHERE table_name = '${productsName}'`,
      `DELETE FROM analytics.fact_order_item WHERE order_date = '2024-03-10'`,
      `DELETE FROM analytics.fact_order_item USING ${stage} WHERE ` +
        `analytics.fact_order_item.order_id = ${stage}.order_id AND ` +
        `analytics.fact_order_item.line_no = ${stage}.line_no`,
      `INSERT INTO analytics.fact_order_item SELECT * FROM ${stage}`,
      `DROP TABLE ${stage}`,
      `DELETE FROM ops.stage_table WHERE table_name = '${name}'`,
    ]);
  });

  it("registers each stage table: a date's batch stages and the expired ones are found and dropped", async () => {
    // Prepare: a failed batch attempt of the date (a pipeline_run row) staged two tables 15 days ago; a
    // catalog refresh of the same date (no pipeline_run row) staged dim_product now.
    const date = fixture.businessDate;
    const old = new Date(NOW.getTime() - 15 * 86_400_000);
    const failed = 'run-failed-attempt';
    const catalog = 'catalog-refresh-1';
    const stageOf = (table: TableDef, runId: string, createdAt: Date) =>
      stageTableStatements({
        table,
        runId,
        businessDate: date,
        createdAt,
        s3Uri: 's3://cartflow-test/x/',
        iamRoleArn: ROLE,
      }).filter((sql) => !sql.startsWith('COPY'));
    await warehouse.executeBatch([
      ...recordRunStatements({
        runId: failed,
        businessDate: date,
        status: 'FAILED',
        startedAt: old,
        datasets: [],
        checks: [],
      }),
      ...stageOf(TABLES.fact_order, failed, old),
      ...stageOf(TABLES.agg_daily_sales, failed, old),
      ...stageOf(TABLES.dim_product, catalog, NOW),
    ]);
    const names = async (sql: string) =>
      (await warehouse.query<{ table_name: string }>(sql)).map((r) => r.table_name).sort();

    // Act
    const ofDate = await names(batchStagesOfDateSql(date));
    const expired = await names(
      stagesCreatedBeforeSql(new Date(NOW.getTime() - STAGE_TABLE_MAX_AGE_DAYS * 86_400_000)),
    );
    await warehouse.executeBatch(dropRegisteredStageStatements(ofDate));
    const left = await names(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'`,
    );

    // Assess
    const failedStages = [TABLES.agg_daily_sales, TABLES.fact_order]
      .map((t) => stageBaseName(t, failed))
      .sort();
    assert.deepEqual(ofDate, failedStages);
    assert.deepEqual(expired, failedStages);
    assert.deepEqual(left, [stageBaseName(TABLES.dim_product, catalog)]);
    assert.deepEqual(await names('SELECT table_name FROM ops.stage_table'), left);
    assert.throws(
      () => dropRegisteredStageStatements(['x; DROP TABLE ops.pipeline_run']),
      /no stage table name/,
    );
    await warehouse.executeBatch(dropStageStatements([TABLES.dim_product], catalog));
    assert.deepEqual(await names('SELECT table_name FROM ops.stage_table'), []);
  });

  it('publishes all staged tables or none: one table missing its stage leaves every table as it was', async () => {
    // Prepare
    for (const t of BATCH_TABLES) await warehouse.executeBatch(await stage(TABLES[t], fixture.rows[t]));
    const before = await Promise.all(BATCH_TABLES.map((t) => snapshot(TABLES[t])));
    const changed = fixture.rows.fact_order.map((r) => ({ ...r, status: 'cancelled' }));
    await warehouse.executeBatch(await stageOnly(TABLES.dim_product, fixture.rows.dim_product.slice(0, 1)));
    await warehouse.executeBatch(await stageOnly(TABLES.fact_order, changed));
    await warehouse.executeBatch(await stageOnly(TABLES.fact_order_item, fixture.rows.fact_order_item));

    // Act: agg_daily_sales was never staged, as when its COPY failed
    const publish = publishStatements(
      BATCH_TABLES.map((t) => TABLES[t]),
      RUN,
      fixture.businessDate,
    );

    // Assess
    await assert.rejects(warehouse.executeBatch(publish), /agg_daily_sales_[0-9a-f]{16}/);
    assert.deepEqual(await Promise.all(BATCH_TABLES.map((t) => snapshot(TABLES[t]))), before);
    await warehouse.executeBatch(
      dropStageStatements(
        BATCH_TABLES.map((t) => TABLES[t]),
        RUN,
      ),
    );
    const left = await warehouse.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'`,
    );
    assert.deepEqual(left, []);
  });

  it('refuses a business date, URI or role that is not safe to interpolate', () => {
    const base = {
      table: TABLES.fact_order,
      s3Uri: 's3://lake-bucket/x/',
      iamRoleArn: ROLE,
      runId: RUN,
      businessDate: '2024-03-10',
      createdAt: NOW,
    };
    assert.throws(() => publishStatements([base.table], RUN, "2024-03-10' OR '1'='1"), /YYYY-MM-DD/);
    assert.throws(() => stageTableStatements({ ...base, s3Uri: "s3://lake-bucket/x' --" }), /s3:\/\/bucket/);
    assert.throws(() => stageTableStatements({ ...base, iamRoleArn: 'role' }), /IAM role ARN/);
  });

  it('loads every curated table exactly, and loading the same partition twice leaves identical rows', async () => {
    // Prepare
    const loads = await Promise.all(BATCH_TABLES.map((t) => stage(TABLES[t], fixture.rows[t])));

    // Act
    for (const statements of loads) await warehouse.executeBatch(statements);
    const first = await Promise.all(BATCH_TABLES.map((t) => snapshot(TABLES[t])));
    for (const statements of loads) await warehouse.executeBatch(statements);
    const second = await Promise.all(BATCH_TABLES.map((t) => snapshot(TABLES[t])));

    // Assess
    assert.deepEqual(second, first);
    assert.deepEqual(
      first.map((rows) => rows.length),
      BATCH_TABLES.map((t) => fixture.rows[t].length),
    );
    const [, orders] = first;
    assert.deepEqual(orders[1], {
      order_id: 'O-1002',
      customer_id: 'C-2',
      order_ts: new Date('2024-03-10T12:34:56.789Z'),
      order_date: '2024-03-10',
      status: 'returned',
      currency: 'EUR',
      total_amount: '-1.50',
      item_count: 1,
    });
    assert.equal(orders[2].total_amount, '9999999999.99');
    const [products] = first;
    assert.equal(products[1].name, "Zoë's café mug ☕ — O'Brien \\ edition");
    assert.deepEqual(products[2].updated_at, new Date('1969-12-31T23:59:59.001Z'));
  });

  it("the writer's grants suffice to stage, publish and record, but not to change the schema", async () => {
    // Prepare: the writer as the DDL step leaves it; it acts through SET LOCAL ROLE in each batch. The COPY
    // itself is left out: locally it is a server-side file read, on Redshift INSERT on the stage it owns.
    const writer = 'IAMR:cartflow-test-writer';
    await warehouse.executeBatch([
      `CREATE ROLE "${writer}"`,
      ...warehouseDdl('postgres'),
      ...writerGrantStatements(writer),
    ]);
    const asWriter = (statements: string[]) =>
      warehouse.executeBatch([`SET LOCAL ROLE "${writer}"`, ...statements]);
    const tables = BATCH_TABLES.map((t) => TABLES[t]);
    const stages = tables.map((table) =>
      stageTableStatements({
        table,
        runId: RUN,
        businessDate: fixture.businessDate,
        createdAt: NOW,
        s3Uri: 's3://cartflow-test/x/',
        iamRoleArn: ROLE,
      }).filter((sql) => !sql.startsWith('COPY')),
    );

    // Act: stage twice (a retried load drops its own stage), publish, record the run.
    for (const statements of [...stages, ...stages]) await asWriter(statements);
    await asWriter(publishStatements(tables, RUN, fixture.businessDate));
    await asWriter(
      recordRunStatements({
        runId: RUN,
        businessDate: fixture.businessDate,
        status: 'SUCCEEDED',
        startedAt: new Date(),
        datasets: [],
        checks: [],
      }),
    );

    // Assess
    const left = await warehouse.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging'`,
    );
    assert.deepEqual(left, []);
    for (const forbidden of [
      'CREATE SCHEMA IF NOT EXISTS analytics',
      'DROP TABLE analytics.fact_order',
      'CREATE TABLE analytics.extra (id INTEGER)',
      'ALTER TABLE ops.pipeline_run ADD COLUMN extra INTEGER',
    ]) {
      await assert.rejects(asWriter([forbidden]), /permission denied|must be owner/, forbidden);
    }
  });

  it("the writer's grants suffice for a shadow publish, which creates no schema and leaves the published tables", async () => {
    // Prepare: the writer of the deployed warehouse (compare --env), which cannot create schemas.
    const writer = 'IAMR:cartflow-test-shadow-writer';
    await warehouse.executeBatch([
      `CREATE ROLE "${writer}"`,
      ...warehouseDdl('postgres'),
      ...writerGrantStatements(writer),
    ]);
    const asWriter = (statements: string[]) =>
      warehouse.executeBatch([`SET LOCAL ROLE "${writer}"`, ...statements]);
    const tables = BATCH_TABLES.map((t) => TABLES[t]);
    const runId = 'shadow-2024-03-05-test';
    const stage = () =>
      tables.flatMap((table) =>
        stageTableStatements({
          table,
          runId,
          businessDate: fixture.businessDate,
          createdAt: NOW,
          s3Uri: 's3://cartflow-test/x/',
          iamRoleArn: ROLE,
        }).filter((sql) => !sql.startsWith('COPY')),
      );
    const publish = shadowPublishStatements(tables, runId);

    // Act: two shadow runs of the date, the second replacing the first's tables.
    for (let i = 0; i < 2; i++) await asWriter([...stage(), ...publish]);

    // Assess
    assert.deepEqual(
      publish.filter((sql) => /\bSCHEMA\b/i.test(sql)),
      [],
    );
    assert.ok(warehouseDdl('redshift').includes(`CREATE SCHEMA IF NOT EXISTS ${SHADOW_SCHEMA}`));
    assert.ok(
      writerGrantStatements(writer).includes(`GRANT USAGE, CREATE ON SCHEMA ${SHADOW_SCHEMA} TO "${writer}"`),
    );
    const shadow = await warehouse.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = '${SHADOW_SCHEMA}' ORDER BY 1`,
    );
    assert.deepEqual(
      shadow.map((t) => t.table_name),
      tables.map((t) => t.name).sort(),
    );
    const [ready] = await warehouse.query<{ present: string; expected: string }>(warehouseReadySql(writer));
    assert.equal(Number(ready.present), Number(ready.expected));
    await assert.rejects(
      asWriter([`DROP TABLE ${qualifiedName(TABLES.fact_order)}`]),
      /permission denied|must be owner/,
    );
  });

  it("counts the shadow schema as the writer's in the readiness check", async () => {
    // Prepare
    const writer = 'IAMR:cartflow-test-ready-writer';
    await warehouse.executeBatch([
      `CREATE ROLE "${writer}"`,
      ...warehouseDdl('postgres'),
      ...writerGrantStatements(writer),
    ]);

    // Act
    await warehouse.executeBatch([`REVOKE CREATE ON SCHEMA ${SHADOW_SCHEMA} FROM "${writer}"`]);
    const [ready] = await warehouse.query<{ present: string; expected: string }>(warehouseReadySql(writer));

    // Assess
    assert.equal(Number(ready.present), Number(ready.expected) - 1);
  });

  it('moves a key that changed date instead of duplicating it', async () => {
    // Prepare
    const order = fixture.rows.fact_order[0];
    const moved = { ...order, order_date: '2024-03-11', order_ts: new Date('2024-03-11T01:00:00Z') };
    await warehouse.executeBatch(await stage(TABLES.fact_order, [order]));

    // Act
    await warehouse.executeBatch(await stage(TABLES.fact_order, [moved], '2024-03-11'));
    const rows = await warehouse.query(`SELECT order_id, order_date FROM analytics.fact_order`);

    // Assess
    assert.deepEqual(rows, [{ order_id: order.order_id, order_date: '2024-03-11' }]);
  });

  it('replaces dim_product by key only', async () => {
    // Prepare
    await warehouse.executeBatch(await stage(TABLES.dim_product, fixture.rows.dim_product));
    const renamed = { ...fixture.rows.dim_product[0], name: 'Kettle 2' };

    // Act
    await warehouse.executeBatch(await stage(TABLES.dim_product, [renamed]));
    const rows = await warehouse.query<{ product_id: string; name: string }>(
      'SELECT product_id, name FROM analytics.dim_product ORDER BY product_id',
    );

    // Assess
    assert.deepEqual(
      rows.map((r) => `${r.product_id}:${r.name}`),
      ['P-001:Kettle 2', 'P-002:' + fixture.rows.dim_product[1].name, 'P-003:Sofa'],
    );
  });

  it('a late publish of dim_product never reverts a product to an older version, and adds the new ones', async () => {
    // Prepare: the newer catalog published first, as when two catalog refreshes overlap.
    const [first, second] = fixture.rows.dim_product as { updated_at: Date; name: string }[];
    const newer = {
      ...first,
      name: 'Kettle, newer',
      updated_at: new Date(first.updated_at.getTime() + 3_600_000),
    };
    await warehouse.executeBatch(await stage(TABLES.dim_product, [newer]));

    // Act: the older catalog's publish, late.
    await warehouse.executeBatch(await stage(TABLES.dim_product, [first, second]));
    const rows = await warehouse.query<{ name: string }>(
      'SELECT name FROM analytics.dim_product ORDER BY product_id',
    );

    // Assess
    assert.deepEqual(
      rows.map((r) => r.name),
      ['Kettle, newer', second.name],
    );
  });

  it('fails a Parquet file with one column too many like Redshift, and changes nothing', async () => {
    // Prepare
    await warehouse.executeBatch(await stage(TABLES.fact_order, fixture.rows.fact_order));
    const before = await snapshot(TABLES.fact_order);
    const wider: TableDef = {
      ...TABLES.fact_order,
      columns: [
        ...TABLES.fact_order.columns,
        { name: 'coupon', field: 'coupon', kind: 'string', nullable: true },
      ],
    };
    const changed = fixture.rows.fact_order.map((r) => ({ ...r, status: 'cancelled' }));
    const statements = await stage(wider, changed, fixture.businessDate, 'curated/fact_order/dt=2024-03-10/');

    // Act + Assess
    await assert.rejects(warehouse.executeBatch(statements), (error: Error) => {
      assert.equal(error.name, CopyMismatchError.name);
      assert.match(
        error.message,
        /s3:\/\/cartflow-test\/curated\/fact_order\/dt=2024-03-10\/part-00000\.parquet/,
      );
      assert.match(error.message, /has 9 columns, the table has 8/);
      assert.match(error.message, /staging\.fact_order_[0-9a-f]{16}/);
      return true;
    });
    assert.deepEqual(await snapshot(TABLES.fact_order), before);
  });

  it('counts the staged rows', async () => {
    // Prepare
    await warehouse.executeBatch(await stageOnly(TABLES.fact_order_item, fixture.rows.fact_order_item));

    // Act
    const [staged] = await warehouse.query(stagedCountSql(TABLES.fact_order_item, RUN));

    // Assess
    assert.deepEqual(staged, { rows: 4 });
    await warehouse.executeBatch(dropStageStatements([TABLES.fact_order_item], RUN));
  });

  it('records a run idempotently per run_id', async () => {
    // Prepare
    const datasets: (DatasetQuality & { rowsLoaded: number })[] = [
      {
        dataset: 'orders',
        rowsIn: 100,
        rowsValid: 97,
        rowsQuarantined: 3,
        quarantineShare: 0.03,
        threshold: 0.05,
        passed: true,
        rowsLoaded: 97,
      },
    ];
    const checks: CheckResult[] = [
      {
        dataset: 'orders',
        check: 'not_null',
        column: 'order_id',
        passed: false,
        failedRows: 2,
        severity: 'quarantine',
        example: '{"order_id":null,"note":"a\\\\b \'q\'"}',
      },
      {
        dataset: 'orders',
        check: 'not_null',
        column: 'customer_id',
        passed: true,
        failedRows: 0,
        severity: 'quarantine',
      },
      { dataset: 'orders', check: 'total_matches_lines', passed: false, failedRows: 1, severity: 'report' },
    ];
    const run = {
      runId: "run-2024-03-10-'1'",
      businessDate: '2024-03-10',
      status: 'SUCCEEDED',
      startedAt: '2024-03-11T02:00:00.000Z',
      finishedAt: new Date('2024-03-11T02:03:04.567Z'),
      datasets,
      checks,
    };

    // Act
    await warehouse.executeBatch(recordRunStatements({ ...run, status: 'FAILED', message: 'first attempt' }));
    await warehouse.executeBatch(recordRunStatements(run));
    const runs = await warehouse.query('SELECT * FROM ops.pipeline_run');
    const loads = await warehouse.query('SELECT * FROM ops.dataset_load');
    const results = await warehouse.query<{
      check_name: string;
      column_name: string;
      example: string | null;
    }>('SELECT check_name, column_name, example FROM ops.quality_result ORDER BY check_name, column_name');

    // Assess
    assert.deepEqual(runs, [
      {
        run_id: run.runId,
        business_date: '2024-03-10',
        status: 'SUCCEEDED',
        started_at: new Date(run.startedAt),
        finished_at: run.finishedAt,
        message: null,
      },
    ]);
    assert.deepEqual(loads, [
      {
        run_id: run.runId,
        business_date: '2024-03-10',
        dataset: 'orders',
        rows_in: 100,
        rows_loaded: 97,
        rows_quarantined: 3,
      },
    ]);
    assert.deepEqual(results, [
      { check_name: 'not_null', column_name: 'customer_id', example: null },
      { check_name: 'not_null', column_name: 'order_id', example: checks[0].example },
      { check_name: 'total_matches_lines', column_name: '', example: null },
    ]);
  });

  it('quotes literals and identifiers the same way for both dialects', async () => {
    // Prepare
    const text = "it's a \\ back'slash\\";

    // Act
    const [row] = await warehouse.query(
      `SELECT ${literal(text)} AS ${ident('rows')}, ${literal('')} AS ${ident('Mixed')}`,
    );

    // Assess
    assert.equal(literal(text), `'it''s a ' || CHR(92) || ' back''slash' || CHR(92) || ''`);
    assert.deepEqual(row, { rows: text, Mixed: '' });
  });
});

describe('table DDL per dialect', () => {
  const facts = [...WAREHOUSE_TABLES, ...Object.values(CLICKSTREAM_TABLES)].filter((t) =>
    t.name.startsWith('fact_'),
  );

  it('declares a sort key led by the date and a distribution key for every fact table', () => {
    // Assess
    assert.deepEqual(
      facts.map((t) => t.name),
      ['fact_order', 'fact_order_item', 'fact_click_event'],
    );
    for (const table of facts) {
      const columns = table.columns.map((c) => c.name);
      assert.equal(table.sortKey?.[0], table.partitionColumn, `${table.name}: sort key starts with its date`);
      assert.ok(
        (table.sortKey ?? []).every((c) => columns.includes(c)),
        `${table.name}: sort key columns`,
      );
      assert.ok(columns.includes(table.distKey ?? ''), `${table.name}: distribution key`);
    }
  });

  it('emits the sort and distribution keys in the Redshift dialect only', () => {
    // Act
    const redshift = warehouseDdl('redshift');
    const postgres = warehouseDdl('postgres');

    // Assess
    assert.match(
      createTableSql(CLICKSTREAM_TABLES.fact_click_event, 'redshift'),
      /\n\) DISTSTYLE KEY DISTKEY \(event_id\) COMPOUND SORTKEY \(event_date, ts\)$/,
    );
    assert.match(
      createTableSql(TABLES.fact_order_item, 'redshift'),
      /\n\) DISTSTYLE KEY DISTKEY \(order_id\) COMPOUND SORTKEY \(order_date\)$/,
    );
    assert.deepEqual(
      redshift.filter((s) => /SORTKEY|DISTKEY/.test(s)).map((s) => /TABLE IF NOT EXISTS (\S+)/.exec(s)?.[1]),
      facts.map((t) => `analytics.${t.name}`),
    );
    assert.deepEqual(
      postgres.filter((s) => /SORTKEY|DISTKEY|DISTSTYLE/.test(s)),
      [],
    );
    // Otherwise the same statements: only the attributes after the column list differ.
    assert.deepEqual(
      redshift.map((s) => s.replace(/\) (DISTSTYLE|COMPOUND) .*$/, ')')),
      postgres,
    );
  });
});
