import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_BATCH_STATEMENTS } from '../../../lambdas/core/data-api-limits';
import { SchemaChangeRefusedError } from '../../../lambdas/core/errors';
import {
  alterCalls,
  catalogColumnsSql,
  describeChange,
  planSchemaChanges,
  type CatalogColumn,
} from '../../../lambdas/core/schema-migration';
import { DECLARED_TABLES } from '../../../lambdas/core/sql';
import { str, TABLES } from '../../../lambdas/core/tables';
import {
  APPENDED,
  APPENDED_WITH_DEFAULT,
  DROPPED,
  NEW_TABLE,
  RENAMED,
  REORDERED,
  RETYPED,
  WIDENED,
  withFactOrderColumns,
} from '../../fixtures/schema/declarations';
import { catalogOf } from '../../support/catalog';

const APPLIED_AT = new Date('2026-12-06T23:00:00Z');
/** The warehouse the current release created. */
const CURRENT = catalogOf(DECLARED_TABLES);

/** The refusals planSchemaChanges throws, as `table.column: change`. */
function refusals(tables: Parameters<typeof planSchemaChanges>[0], catalog: CatalogColumn[] = CURRENT) {
  try {
    planSchemaChanges(tables, catalog);
  } catch (error) {
    assert.ok(error instanceof SchemaChangeRefusedError, String(error));
    return error.refusals.map((r) => `${r.table}.${r.column}: ${r.change}`);
  }
  assert.fail('expected SchemaChangeRefusedError');
}

describe('planSchemaChanges', () => {
  it('has nothing to do on a warehouse as declared', () => {
    // Act
    const changes = planSchemaChanges(DECLARED_TABLES, CURRENT);
    // Assess
    assert.deepEqual(changes, []);
  });

  it('creates every table of an empty warehouse, and only the missing one of an existing warehouse', () => {
    // Act
    const empty = planSchemaChanges(DECLARED_TABLES, []);
    const oneNew = planSchemaChanges([...DECLARED_TABLES, NEW_TABLE], CURRENT);
    // Assess
    assert.deepEqual(
      empty.map(describeChange),
      DECLARED_TABLES.map((t) => `${t.schema}.${t.name}: created table`),
    );
    assert.deepEqual(oneNew.map(describeChange), ['analytics.dim_coupon: created table']);
  });

  it('adds an appended nullable column, and a NOT NULL one with its default, one column per statement', () => {
    // Act
    const nullable = planSchemaChanges(APPENDED, CURRENT);
    const withDefault = planSchemaChanges(APPENDED_WITH_DEFAULT, CURRENT);
    // Assess
    assert.deepEqual(
      nullable.map((c) => [describeChange(c), c.sql]),
      [
        [
          'analytics.fact_order.coupon_code: added VARCHAR(32)',
          'ALTER TABLE analytics.fact_order ADD COLUMN coupon_code VARCHAR(32)',
        ],
      ],
    );
    assert.deepEqual(
      withDefault.map((c) => [describeChange(c), c.sql]),
      [
        [
          "analytics.fact_order.channel: added VARCHAR(16) DEFAULT 'web'",
          "ALTER TABLE analytics.fact_order ADD COLUMN channel VARCHAR(16) DEFAULT 'web' NOT NULL",
        ],
      ],
    );
  });

  it('widens a VARCHAR in a statement of its own', () => {
    // Act
    const changes = planSchemaChanges(WIDENED, CURRENT);
    // Assess
    assert.deepEqual(
      changes.map((c) => [describeChange(c), c.sql, c.ownStatement]),
      [
        [
          'analytics.fact_order.status: widened VARCHAR(32) to VARCHAR(64)',
          'ALTER TABLE analytics.fact_order ALTER COLUMN status TYPE VARCHAR(64)',
          true,
        ],
      ],
    );
  });

  it('brings forward a warehouse one column behind (the column dropped by hand)', () => {
    // Prepare: ops.pipeline_run without its last column, `message`.
    const behind = CURRENT.filter((c) => !(c.table_name === 'pipeline_run' && c.column_name === 'message'));
    // Act
    const changes = planSchemaChanges(DECLARED_TABLES, behind);
    // Assess
    assert.deepEqual(changes.map(describeChange), ['ops.pipeline_run.message: added VARCHAR(4096)']);
  });

  it('refuses a dropped, reordered, retyped or renamed column, naming table, column and change', () => {
    // Assess
    assert.deepEqual(refusals(DROPPED), [
      'analytics.fact_order.currency: dropped (in the warehouse, no longer declared; COPY needs as many columns as the Parquet has)',
    ]);
    assert.deepEqual(refusals(REORDERED), [
      'analytics.fact_order.currency: reordered (declared column 5, column 6 in the warehouse)',
    ]);
    assert.deepEqual(refusals(RETYPED), ['analytics.fact_order.item_count: retyped INTEGER to BIGINT']);
    assert.deepEqual(refusals(RENAMED), ['analytics.fact_order.customer_id: renamed to buyer_id']);
  });

  it('refuses what Redshift cannot apply in place, and a column missing before an existing one', () => {
    // Prepare
    const narrowed = withFactOrderColumns((cs) =>
      cs.map((c) => (c.name === 'status' ? { ...c, length: 8 } : c)),
    );
    const keyWidened = withFactOrderColumns((cs) =>
      cs.map((c) => (c.name === 'order_id' ? { ...c, length: 256 } : c)),
    );
    const notNull = withFactOrderColumns((cs) => [...cs, str('channel', 16)]);
    const madeNullable = withFactOrderColumns((cs) =>
      cs.map((c) => (c.name === 'status' ? { ...c, nullable: true } : c)),
    );
    const behindInTheMiddle = CURRENT.filter(
      (c) => !(c.table_name === 'fact_order' && c.column_name === 'status'),
    );
    // Assess
    assert.deepEqual(refusals(narrowed), [
      'analytics.fact_order.status: narrowed VARCHAR(32) to VARCHAR(8) (longer values would not fit)',
    ]);
    assert.deepEqual(refusals(keyWidened), [
      'analytics.fact_order.order_id: widened VARCHAR(128) to VARCHAR(256), but Redshift alters no key column and no column with a default',
    ]);
    assert.deepEqual(refusals(notNull), [
      'analytics.fact_order.channel: added NOT NULL without a default (the rows already loaded have no value for it)',
    ]);
    assert.deepEqual(refusals(madeNullable), [
      'analytics.fact_order.status: made nullable (NOT NULL in the warehouse: COPY would refuse a null)',
    ]);
    assert.deepEqual(refusals(DECLARED_TABLES, behindInTheMiddle), [
      'analytics.fact_order.status: missing before currency (ALTER TABLE adds a column only at the end)',
    ]);
  });

  it('says in the error how to do it by hand, and refuses everything at once though other changes are due', () => {
    // Prepare: a new table is due too; the refusal must come before it is created.
    const tables = [...DROPPED, NEW_TABLE];
    // Act
    const act = () => planSchemaChanges(tables, CURRENT);
    // Assess
    assert.throws(act, (error: Error) => {
      assert.ok(error instanceof SchemaChangeRefusedError);
      assert.match(error.message, /^EnsureWarehouse refused 1 schema change\(s\) and changed nothing:/);
      assert.match(error.message, /analytics\.fact_order\.currency: dropped/);
      assert.match(error.message, /By hand: .*ALTER TABLE analytics\.fact_order DROP COLUMN currency/);
      assert.match(error.message, /docs\/warehouse-contract\.md, "Changing a table by hand"/);
      return true;
    });
  });
});

describe('schema changes in the Redshift dialect', () => {
  /** Many appended columns on many tables, a widening and a new table: every kind of change at once. */
  const extras = Array.from({ length: 12 }, (_, i) => str(`extra_${i}`, 8, true));
  const tables = [
    ...DECLARED_TABLES.map((t) => {
      if (t.schema === 'analytics' || t === TABLES.quality_result)
        return { ...t, columns: [...t.columns, ...extras] };
      if (t !== TABLES.pipeline_run) return t;
      return { ...t, columns: t.columns.map((c) => (c.name === 'status' ? { ...c, length: 32 } : c)) };
    }),
    NEW_TABLE,
  ];
  const changes = planSchemaChanges(tables, CURRENT);
  const calls = alterCalls(changes, '1.2.3', APPLIED_AT);

  it('adds one column per ALTER TABLE, NOT NULL only with a DEFAULT, and alters only a VARCHAR type', () => {
    // Assess
    const statements = changes.flatMap((c) => (c.sql ? [c.sql] : []));
    assert.ok(statements.length > MAX_BATCH_STATEMENTS, 'more changes than one batch takes');
    for (const sql of statements) {
      const add =
        /^ALTER TABLE [a-z_]+\.[a-z_]+ ADD COLUMN [a-z0-9_]+ [A-Z]+(\(\d+(,\d+)?\))?( DEFAULT [^,]+)?( NOT NULL)?$/;
      const widen = /^ALTER TABLE [a-z_]+\.[a-z_]+ ALTER COLUMN [a-z0-9_]+ TYPE VARCHAR\(\d+\)$/;
      assert.ok(add.test(sql) || widen.test(sql), sql);
      if (sql.endsWith('NOT NULL')) assert.match(sql, / DEFAULT /);
    }
  });

  it('keeps ALTER COLUMN … TYPE out of every transaction block, and each batch within the Data API', () => {
    // Assess
    for (const { statement, batch } of calls) {
      assert.ok(batch.length <= MAX_BATCH_STATEMENTS, `${batch.length} statements`);
      assert.ok(batch.every((sql) => !/ALTER COLUMN/.test(sql)));
      if (statement !== undefined) assert.match(statement, /ALTER COLUMN status TYPE VARCHAR\(32\)$/);
    }
    assert.equal(calls.filter((c) => c.statement !== undefined).length, 1);
    // Every ALTER is applied, and recorded with the code version in the batch that applies it or follows it.
    const recorded = calls.flatMap((c) =>
      c.batch.filter((s) => s.startsWith('INSERT INTO ops.schema_change')),
    );
    assert.equal(recorded.length, calls.length);
    assert.ok(recorded.every((sql) => sql.includes("'1.2.3'")));
    assert.equal(
      calls.reduce(
        (n, c) => n + (c.statement ? 1 : 0) + c.batch.filter((s) => s.startsWith('ALTER')).length,
        0,
      ),
      changes.filter((c) => c.sql !== undefined).length,
    );
  });

  it('reads the catalog with one query of the same SQL in both dialects', () => {
    // Act
    const sql = catalogColumnsSql(DECLARED_TABLES);
    // Assess
    assert.match(sql, /FROM information_schema\.columns/);
    assert.match(sql, /'analytics\.fact_order'/);
    assert.doesNotMatch(sql, /\bE'|::|\bILIKE\b/);
  });
});
