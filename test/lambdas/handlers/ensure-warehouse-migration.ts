/**
 * EnsureWarehouse on a deployed warehouse whose declarations moved on, over real PostgreSQL: shared by the
 * embedded run (test/lambdas/handlers/ensure-warehouse-migration.test.ts) and the integration run (the
 * PostgreSQL server of WAREHOUSE_DATABASE_URL, test-integration/ensure-warehouse-postgres.test.ts).
 * Each test gets a database of its own, made by the current release's EnsureWarehouse.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { SchemaChangeRefusedError } from '../../../lambdas/core/errors';
import { layout } from '../../../lambdas/core/layout';
import { catalogColumnsSql } from '../../../lambdas/core/schema-migration';
import {
  DECLARED_TABLES,
  publishStatements,
  qualifiedName,
  recordRunStatements,
  stageTableStatements,
} from '../../../lambdas/core/sql';
import { TABLES, type TableDef } from '../../../lambdas/core/tables';
import { CODE_VERSION } from '../../../lambdas/core/version';
import { ensureWarehouse } from '../../../lambdas/handlers/ensure-warehouse';
import type { Database } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import {
  APPENDED,
  APPENDED_WITH_DEFAULT,
  COUPON_CODE,
  DROPPED,
  NEW_TABLE,
  REORDERED,
  RETYPED,
  WIDENED,
  withFactOrderColumns,
} from '../../fixtures/schema/declarations';
import { putParquet } from '../../support/parquet';
import { loadCuratedFixture } from '../../support/warehouse-fixtures';

/** A fresh, empty warehouse database and how to remove it once closed. */
export type OpenDatabase = () => Promise<{ db: Database; drop(): Promise<void> }>;

const ROLE = 'arn:aws:iam::123456789012:role/cartflow-copy';
const NEXT_VERSION = '0.2.0-test';
const SECOND_DATE = '2024-03-11';

export function schemaMigrationScenarios(label: string, openDatabase: OpenDatabase) {
  describe(`EnsureWarehouse brings a deployed warehouse forward (${label})`, () => {
    const fixture = loadCuratedFixture();
    let lake: MemoryLakeStore;
    let warehouse: SqlWarehouse;
    let drop: () => Promise<void>;

    /** LoadTable's COPY into the run's stage and PublishDate's replace of the date, for fact_order as `def` declares it. */
    async function loadFactOrder(def: TableDef, rows: object[], businessDate: string) {
      const runId = `run-${businessDate}`;
      const prefix = layout.curatedPrefix('fact_order', businessDate);
      await putParquet(lake, `${prefix}part-00000.parquet`, def, rows);
      await warehouse.executeBatch([
        ...stageTableStatements({
          table: def,
          runId,
          businessDate,
          createdAt: new Date(),
          s3Uri: `s3://${lake.bucket}/${prefix}`,
          iamRoleArn: ROLE,
        }),
        ...publishStatements([def], runId, businessDate),
      ]);
    }

    const catalog = () => warehouse.query(catalogColumnsSql([...DECLARED_TABLES, NEW_TABLE]));
    const schemaChanges = () =>
      warehouse.query<{ table_name: string; column_name: string; change: string; code_version: string }>(
        `SELECT table_name, column_name, change, code_version FROM ops.schema_change
         ORDER BY applied_at, table_name, column_name`,
      );

    beforeEach(async () => {
      // Prepare: the warehouse the current release made, with one date of fact_order loaded.
      lake = new MemoryLakeStore();
      const opened = await openDatabase();
      drop = opened.drop;
      warehouse = new SqlWarehouse(opened.db, lake);
      const made = await ensureWarehouse(warehouse, {});
      assert.equal(made.created, true);
      await loadFactOrder(TABLES.fact_order, fixture.rows.fact_order, fixture.businessDate);
    });

    afterEach(async () => {
      await warehouse.close();
      await drop();
    });

    it('adds a column appended to a declaration; the next load fills it and the older dates keep their rows', async () => {
      // Prepare: the next date's orders as the next release writes them, with a coupon code.
      const next = fixture.rows.fact_order.map((row, i) => ({
        ...row,
        order_id: `${String(row.order_id)}-next`,
        order_date: SECOND_DATE,
        coupon_code: i === 0 ? 'SPRING24' : null,
      }));
      const nextFactOrder = APPENDED.find((t) => t.name === 'fact_order')!;

      // Act
      const result = await ensureWarehouse(warehouse, { tables: APPENDED, codeVersion: NEXT_VERSION });
      await loadFactOrder(nextFactOrder, next, SECOND_DATE);
      const again = await ensureWarehouse(warehouse, { tables: APPENDED, codeVersion: NEXT_VERSION });

      // Assess
      assert.deepEqual(result, {
        created: true,
        changes: ['analytics.fact_order.coupon_code: added VARCHAR(32)'],
      });
      assert.deepEqual(again, { created: false, changes: [] }, 'the readiness check compares columns');
      const rows = await warehouse.query<{
        order_id: string;
        order_date: string;
        coupon_code: string | null;
      }>(
        `SELECT order_id, CAST(order_date AS VARCHAR(10)) AS order_date, coupon_code
         FROM ${qualifiedName(TABLES.fact_order)} ORDER BY order_id`,
      );
      assert.deepEqual(
        rows,
        [
          ...fixture.rows.fact_order.map((r) => ({
            order_id: String(r.order_id),
            order_date: fixture.businessDate,
            coupon_code: null,
          })),
          ...next.map((r) => ({ order_id: r.order_id, order_date: SECOND_DATE, coupon_code: r.coupon_code })),
        ].sort((a, b) => (a.order_id < b.order_id ? -1 : 1)),
      );
      const recorded = await schemaChanges();
      assert.deepEqual(recorded.at(-1), {
        table_name: 'analytics.fact_order',
        column_name: COUPON_CODE.name,
        change: 'added VARCHAR(32)',
        code_version: NEXT_VERSION,
      });
      // The first EnsureWarehouse recorded every table it created, with this code's version.
      assert.deepEqual(
        recorded.slice(0, -1).map((r) => `${r.table_name} ${r.change} ${r.code_version}`),
        DECLARED_TABLES.map((t) => `${t.schema}.${t.name} created table ${CODE_VERSION}`).sort(),
      );
    });

    it('widens a VARCHAR and adds a NOT NULL column with its default, which the rows already loaded get', async () => {
      // Prepare: status widened to VARCHAR(64), a channel column appended with DEFAULT 'web'.
      const declared = withFactOrderColumns(() => [
        ...WIDENED.find((t) => t.name === 'fact_order')!.columns,
        APPENDED_WITH_DEFAULT.find((t) => t.name === 'fact_order')!.columns.at(-1)!,
      ]);

      // Act
      const result = await ensureWarehouse(warehouse, { tables: declared, codeVersion: NEXT_VERSION });

      // Assess
      assert.deepEqual(result.changes, [
        "analytics.fact_order.channel: added VARCHAR(16) DEFAULT 'web'",
        'analytics.fact_order.status: widened VARCHAR(32) to VARCHAR(64)',
      ]);
      assert.deepEqual(
        await warehouse.query(`SELECT DISTINCT channel FROM ${qualifiedName(TABLES.fact_order)}`),
        [{ channel: 'web' }],
      );
      // 64 characters fit the widened status.
      await warehouse.executeBatch([
        `UPDATE ${qualifiedName(TABLES.fact_order)} SET status = '${'s'.repeat(64)}'`,
      ]);
      assert.deepEqual(
        (await schemaChanges()).slice(-2).map((r) => `${r.column_name}: ${r.change}`),
        ["channel: added VARCHAR(16) DEFAULT 'web'", 'status: widened VARCHAR(32) to VARCHAR(64)'],
      );
      assert.deepEqual(await ensureWarehouse(warehouse, { tables: declared }), {
        created: false,
        changes: [],
      });
    });

    it('two EnsureWarehouse at once (a run and the deploy) both succeed; the column is added and recorded once', async () => {
      // Act: both read the catalog before either alters the table.
      const results = await Promise.all([
        ensureWarehouse(warehouse, { tables: APPENDED, codeVersion: NEXT_VERSION }),
        ensureWarehouse(warehouse, { tables: APPENDED, codeVersion: NEXT_VERSION }),
      ]);

      // Assess
      assert.deepEqual(results.map((r) => r.changes).sort(), [
        [],
        ['analytics.fact_order.coupon_code: added VARCHAR(32)'],
      ]);
      assert.equal((await schemaChanges()).filter((r) => r.column_name === COUPON_CODE.name).length, 1);
    });

    it('refuses a dropped, reordered or retyped column with the table, column and change, and changes nothing', async () => {
      // Prepare: each declaration also declares a new table, which must not be created either.
      const before = await catalog();
      const recordedBefore = await schemaChanges();

      for (const [declared, expected] of [
        [DROPPED, /analytics\.fact_order\.currency: dropped .*By hand: .*DROP COLUMN currency/],
        [REORDERED, /analytics\.fact_order\.currency: reordered .*By hand: rebuild the table/],
        [RETYPED, /analytics\.fact_order\.item_count: retyped INTEGER to BIGINT\. By hand: /],
      ] as const) {
        // Act
        const act = ensureWarehouse(warehouse, {
          tables: [...declared, NEW_TABLE],
          codeVersion: NEXT_VERSION,
        });

        // Assess
        await assert.rejects(act, (error: Error) => {
          assert.ok(error instanceof SchemaChangeRefusedError, String(error));
          assert.match(error.message, expected);
          return true;
        });
        assert.deepEqual(await catalog(), before);
        assert.deepEqual(await schemaChanges(), recordedBefore);
      }
    });

    it('brings forward a warehouse one column behind (the column dropped by hand)', async () => {
      // Prepare
      await warehouse.executeBatch([`ALTER TABLE ${qualifiedName(TABLES.pipeline_run)} DROP COLUMN message`]);
      const record = recordRunStatements({
        runId: 'run-behind',
        businessDate: fixture.businessDate,
        status: 'FAILED',
        startedAt: new Date('2024-03-11T02:00:00Z'),
        message: 'a message the table can hold again',
        datasets: [],
        checks: [],
      });
      await assert.rejects(warehouse.executeBatch(record), /column "message" .*does not exist/);

      // Act
      const result = await ensureWarehouse(warehouse, {});
      await warehouse.executeBatch(record);

      // Assess
      assert.deepEqual(result.changes, ['ops.pipeline_run.message: added VARCHAR(4096)']);
      assert.deepEqual(await warehouse.query(`SELECT message FROM ${qualifiedName(TABLES.pipeline_run)}`), [
        { message: 'a message the table can hold again' },
      ]);
      assert.deepEqual((await schemaChanges()).at(-1), {
        table_name: 'ops.pipeline_run',
        column_name: 'message',
        change: 'added VARCHAR(4096)',
        code_version: CODE_VERSION,
      });
    });
  });
}
