import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { Warehouse } from '../../../lambdas/adapters/ports';
import type { CatalogRefreshResult, ExtractResult, RunContext } from '../../../lambdas/core/contracts';
import { sqlLiteral } from '../../../lambdas/core/engine/engine';
import {
  CATALOG_ARCHIVE_PREFIX,
  CATALOG_LANDING_PREFIX,
  CATALOG_SNAPSHOT_KEY,
  layout,
} from '../../../lambdas/core/layout';
import {
  dropRegisteredStageStatements,
  STAGE_TABLE_MAX_AGE_DAYS,
  warehouseDdl,
  writerGrantStatements,
} from '../../../lambdas/core/sql';
import { step as ensureWarehouseStep } from '../../../lambdas/handlers/ensure-warehouse';
import { step as extractProductsStep } from '../../../lambdas/handlers/extract-products';
import { useWorkspace } from '../../support/workspace';

const DATE = '2026-03-02';
const runOf = (runId: string): RunContext => ({ runId, businessDate: DATE, startedAt: `${DATE}T10:00:00Z` });
const fixture = (name: string) => new URL(`../../fixtures/batch/landing/${name}`, import.meta.url).pathname;

describe('catalog refresh (extract-products with catalogArrivals) over fixture catalog files', () => {
  const workspace = useWorkspace('cartflow-catalog-refresh-');
  const read: string[] = [];
  const catalogFilesRead = () => read.filter((key) => key.startsWith(CATALOG_LANDING_PREFIX));

  // Which objects the step reads, as text or downloaded to stream.
  before(() => {
    const { lake } = workspace;
    const getText = lake.getText.bind(lake);
    lake.getText = (key: string) => {
      read.push(key);
      return getText(key);
    };
    const download = lake.download.bind(lake);
    lake.download = (key: string, path: string) => {
      read.push(key);
      return download(key, path);
    };
  });

  // Threshold 1: the fixture's unkeyed row is quarantined without failing the gate.
  const extract = () =>
    extractProductsStep.make(
      stepAdapters({ lake: workspace.lake }),
      extractProductsStep.settings({ TMPDIR: workspace.dir, QUALITY_THRESHOLD: '1' }),
    );

  const current = async () => {
    const path = join(workspace.dir, `current-${Date.now()}.parquet`);
    await workspace.lake.download(CATALOG_SNAPSHOT_KEY, path);
    return workspace.engine.rows(
      `SELECT product_id, name FROM read_parquet(${sqlLiteral(path)}) ORDER BY product_id`,
    );
  };

  let first: CatalogRefreshResult;

  it('merges the arrived file into an empty catalog, publishes dim_product and archives the file', async () => {
    // Prepare
    const key = `${CATALOG_LANDING_PREFIX}a-catalog.jsonl`;
    await workspace.lake.upload(key, fixture('a-catalog.jsonl'));

    // Act
    first = (await extract()({ run: runOf('refresh-0001'), catalogArrivals: 1 })) as CatalogRefreshResult;

    // Assess
    assert.deepEqual(first, {
      run: runOf('refresh-0001'),
      item: { table: 'dim_product', prefix: layout.curatedPrefix('dim_product', DATE), rows: 2 },
      files: 1,
    });
    assert.deepEqual(await current(), [
      { product_id: 'P-1', name: 'Lamp' },
      { product_id: 'P-2', name: 'Chair, first file' },
    ]);
    assert.deepEqual(await workspace.lake.list(CATALOG_LANDING_PREFIX), []);
    assert.deepEqual(
      (await workspace.lake.list(CATALOG_ARCHIVE_PREFIX)).map((o) => o.key),
      [layout.catalogArchive(DATE, 'refresh-0001', key)],
    );
  });

  it('reads only the file pending, merges it by product_id (latest updated_at, the new file on a tie) and keeps the output one size', async () => {
    // Prepare
    const key = `${CATALOG_LANDING_PREFIX}b-catalog.jsonl`;
    await workspace.lake.upload(key, fixture('b-catalog.jsonl'));
    read.length = 0;

    // Act
    const second = (await extract()({
      run: runOf('refresh-0002'),
      catalogArrivals: 1,
    })) as CatalogRefreshResult;

    // Assess
    assert.deepEqual(catalogFilesRead(), [key]);
    assert.equal(JSON.stringify(second).length, JSON.stringify(first).length);
    assert.deepEqual(await current(), [
      { product_id: 'P-1', name: 'Lamp' },
      { product_id: 'P-2', name: 'Chair, second file' },
    ]);
    assert.equal((await workspace.lake.list(CATALOG_ARCHIVE_PREFIX)).length, 2);
    assert.match(await workspace.lake.getText(layout.unparseable('products', DATE)), /not-a-price/);
  });

  it('a retry after the file was archived publishes the current catalog again, reading no file', async () => {
    // Prepare
    read.length = 0;

    // Act
    const retried = (await extract()({
      run: runOf('refresh-0002'),
      catalogArrivals: 1,
    })) as CatalogRefreshResult;

    // Assess
    assert.deepEqual(catalogFilesRead(), []);
    assert.equal(retried.item?.rows, 2);
    assert.equal(retried.files, 0);
  });

  it('a refresh whose arrivals an earlier one merged finds nothing pending and returns no item', async () => {
    // Prepare
    read.length = 0;
    const snapshot = await current();

    // Act
    const idle = await extract()({ run: runOf('refresh-0003'), catalogArrivals: 2 });

    // Assess
    assert.deepEqual(idle, { run: runOf('refresh-0003'), files: 0 });
    assert.deepEqual(catalogFilesRead(), []);
    assert.deepEqual(await current(), snapshot);
  });

  it('the batch extract reads the current catalog plus the files not merged yet', async () => {
    // Prepare: a file dropped before the batch, its refresh not run yet.
    await workspace.lake.upload(`${CATALOG_LANDING_PREFIX}pending.jsonl`, fixture('a-catalog.jsonl'));

    // Act
    const [result] = (await extract()({ run: runOf('batch-0001') })) as ExtractResult[];

    // Assess
    const path = join(workspace.dir, 'raw.parquet');
    await workspace.lake.download(result.keys[0], path);
    assert.deepEqual(
      await workspace.engine.rows(`SELECT product_id, name FROM read_parquet(${sqlLiteral(path)})`),
      [
        { product_id: 'P-1', name: 'Lamp' },
        // Same updated_at as the current catalog's: the later (landing) file wins.
        { product_id: 'P-2', name: 'Chair, first file' },
        { product_id: null, name: 'No id' },
      ],
    );
    assert.deepEqual(Object.keys(result).sort(), ['dataset', 'keys', 'rejected', 'rows']);
  });
});

describe('ensure-warehouse step', () => {
  /**
   * The warehouse edge as the Data API would answer: the catalog query's one row, then the batch; the
   * registered stage tables older than the redrive window are `expired`.
   */
  function warehouse(present: number, expected: number, users: number, expired: string[] = []) {
    const batches: string[][] = [];
    const queries: string[] = [];
    const edge: Warehouse = {
      dialect: 'redshift',
      executeBatch: (statements) => {
        batches.push(statements);
        return Promise.resolve();
      },
      query: <T>(sql: string) => {
        queries.push(sql);
        const rows = sql.includes('pg_user')
          ? Array.from({ length: users }, () => ({ exists: 1 }))
          : sql.includes('FROM ops.stage_table')
            ? expired.map((table_name) => ({ table_name }))
            : [{ present, expected }];
        return Promise.resolve(rows as T[]);
      },
    };
    return { edge, batches, queries };
  }

  const ensure = (edge: Warehouse, env: Record<string, string> = {}) =>
    ensureWarehouseStep.make(
      stepAdapters({ lake: new MemoryLakeStore(), warehouse: edge }),
      ensureWarehouseStep.settings(env),
    );

  it('creates the schema and grants the writer on a brand-new warehouse', async () => {
    // Prepare
    const { edge, batches } = warehouse(0, 20, 0);

    // Act
    const result = await ensure(edge, { REDSHIFT_WRITER_USER: 'IAMR:writer' })(undefined);

    // Assess
    assert.deepEqual(result, { created: true, expiredStages: 0 });
    assert.deepEqual(batches, [
      ['CREATE USER "IAMR:writer" PASSWORD DISABLE'],
      [...warehouseDdl('redshift'), ...writerGrantStatements('IAMR:writer')],
    ]);
  });

  it('is one catalog query, one stage query and no DDL when every table exists and is granted', async () => {
    // Prepare
    const { edge, batches, queries } = warehouse(20, 20, 1);

    // Act
    const result = await ensure(edge, { REDSHIFT_WRITER_USER: 'IAMR:writer' })(undefined);

    // Assess
    assert.deepEqual(result, { created: false, expiredStages: 0 });
    assert.deepEqual(batches, []);
    assert.equal(queries.length, 3);
  });

  it('drops the stage tables registered before the redrive window, in one transaction', async () => {
    // Prepare
    const expired = ['fact_order_0123456789abcdef', 'agg_daily_sales_0123456789abcdef'];
    const { edge, batches, queries } = warehouse(20, 20, 1, expired);

    // Act
    const result = await ensure(edge, { REDSHIFT_WRITER_USER: 'IAMR:writer' })(undefined);

    // Assess
    assert.deepEqual(result, { created: false, expiredStages: 2 });
    const before = new Date(Date.now() - STAGE_TABLE_MAX_AGE_DAYS * 86_400_000).toISOString().slice(0, 10);
    assert.match(queries.at(-1)!, new RegExp(`created_at < '${before} `));
    assert.deepEqual(batches, [dropRegisteredStageStatements(expired)]);
  });
});
