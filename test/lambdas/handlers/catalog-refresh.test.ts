import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { LakeStore, Warehouse } from '../../../lambdas/adapters/ports';
import type { CatalogRefreshResult, ExtractResult, RunContext } from '../../../lambdas/core/contracts';
import { sqlLiteral } from '../../../lambdas/core/engine/engine';
import {
  CATALOG_ARCHIVE_PREFIX,
  CATALOG_LANDING_PREFIX,
  CATALOG_SNAPSHOT_KEY,
  layout,
} from '../../../lambdas/core/layout';
import {
  DECLARED_TABLES,
  dropRegisteredStageStatements,
  STAGE_TABLE_MAX_AGE_DAYS,
  warehouseDdl,
  writerGrantStatements,
} from '../../../lambdas/core/sql';
import { step as ensureWarehouseStep } from '../../../lambdas/handlers/ensure-warehouse';
import { step as extractProductsStep } from '../../../lambdas/handlers/extract-products';
import { findObject } from '../../../lambdas/adapters/lake-tables';
import type { RejectedCatalogReport } from '../../../lambdas/core/catalog-rejection';
import { HANDLER_ENV, LAKE } from '../../../lambdas/contract';
import { loadConfig, qualitySettingsOf } from '../../../lib/config';
import { catalogOf } from '../../support/catalog';
import { useWorkspace } from '../../support/workspace';

const DATE = '2026-03-02';
const runOf = (runId: string): RunContext => ({ runId, businessDate: DATE, startedAt: `${DATE}T10:00:00Z` });
/** The quality settings of a dev deploy. */
const QUALITY = { [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig('dev')) };
const fixture = (name: string) => new URL(`../../fixtures/batch/landing/${name}`, import.meta.url).pathname;
const keys = async (lake: LakeStore, prefix: string) => (await lake.list(prefix)).map((o) => o.key).sort();

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
      extractProductsStep.settings({
        TMPDIR: workspace.dir,
        [HANDLER_ENV.qualitySettings]: '{"threshold": 1}',
      }),
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

describe('catalog refresh: a file that fails its own gate is set aside and blocks nothing', () => {
  const workspace = useWorkspace('cartflow-catalog-rejection-');
  const rejection = (name: string) =>
    new URL(`../../fixtures/catalog-rejection/${name}`, import.meta.url).pathname;
  const published: { subject: string; message: string }[] = [];
  // The default gate (5 %), and the alert topic recorded.
  const extract = () =>
    extractProductsStep.make(
      stepAdapters({
        lake: workspace.lake,
        alerts: {
          publish: (subject, message) => {
            published.push({ subject, message });
            return Promise.resolve();
          },
        },
      }),
      extractProductsStep.settings({ TMPDIR: workspace.dir, ...QUALITY }),
    );
  const drop = async (name: string) => {
    const key = `${CATALOG_LANDING_PREFIX}${name}`;
    await workspace.lake.upload(key, rejection(name));
    return key;
  };
  const parquetIds = async (key: string) => {
    const path = join(workspace.dir, `ids-${Date.now()}-${Math.random()}.parquet`);
    await workspace.lake.download(key, path);
    const rows = await workspace.engine.rows<{ product_id: string }>(
      `SELECT product_id FROM read_parquet(${sqlLiteral(path)}) ORDER BY product_id`,
    );
    return rows.map((r) => r.product_id);
  };
  const keys = async (prefix: string) => (await workspace.lake.list(prefix)).map((o) => o.key).sort();

  let badKey: string;

  it('a JSON array of 2 products, one without a price, is rejected whole with its report and a notice', async () => {
    // Prepare
    badKey = await drop('missing-price.json');

    // Act
    const result = (await extract()({
      run: runOf('refresh-bad'),
      catalogArrivals: 1,
    })) as CatalogRefreshResult;

    // Assess: nothing merged, the file set aside with its report next to it.
    assert.equal(result.item, undefined);
    assert.equal(result.files, 0);
    assert.equal(result.rejected?.files, 1);
    const rejectedKey = layout.catalogRejected(DATE, 'refresh-bad', badKey);
    const reportKey = layout.catalogRejectedReport(DATE, 'refresh-bad', badKey);
    assert.deepEqual(await keys(CATALOG_LANDING_PREFIX), []);
    assert.deepEqual(await keys(LAKE.catalogRejected), [rejectedKey, reportKey].sort());
    const report = JSON.parse(await workspace.lake.getText(reportKey)) as RejectedCatalogReport;
    assert.equal(report.file, badKey);
    assert.deepEqual([report.quality.rowsIn, report.quality.rowsQuarantined], [2, 1]);
    assert.match(report.failureReason, /1 of 2 rows quarantined/);
    const failed = report.checks.filter((c) => !c.passed);
    assert.ok(failed.length > 0 && failed.every((c) => c.check.startsWith('price ')), JSON.stringify(failed));
    assert.match(failed[0].example ?? '', /Q002/);
    // The notice names the file, its failed checks, where it is and how to resubmit it.
    const notice = result.rejected!.notice;
    assert.ok(notice.includes(badKey), notice);
    assert.match(notice, /failed checks: 'price [^']+' \(1 rows\)/);
    assert.ok(notice.includes(rejectedKey) && notice.includes(reportKey), notice);
    assert.ok(notice.includes(`copy it back under ${CATALOG_LANDING_PREFIX}`), notice);
    assert.deepEqual(
      published.map((p) => p.message),
      [notice],
    );
    assert.equal(await findObject(workspace.lake, CATALOG_SNAPSHOT_KEY), undefined);
  });

  it('the next refresh, for a good file, merges it and succeeds', async () => {
    // Prepare
    const key = await drop('good.csv');

    // Act
    const result = (await extract()({
      run: runOf('refresh-good'),
      catalogArrivals: 1,
    })) as CatalogRefreshResult;

    // Assess
    assert.deepEqual(result, {
      run: runOf('refresh-good'),
      item: { table: 'dim_product', prefix: layout.curatedPrefix('dim_product', DATE), rows: 3 },
      files: 1,
    });
    assert.deepEqual(await parquetIds(CATALOG_SNAPSHOT_KEY), ['Q003', 'Q004', 'Q005']);
    assert.deepEqual(await keys(CATALOG_ARCHIVE_PREFIX), [layout.catalogArchive(DATE, 'refresh-good', key)]);
    assert.equal(published.length, 1);
  });

  it('the batch extract afterwards reads the current catalog, not the rejected file', async () => {
    // Act
    const [result] = (await extract()({ run: runOf('batch-0001') })) as ExtractResult[];

    // Assess
    assert.equal(result.rows, 3);
    assert.deepEqual(await parquetIds(result.keys[0]), ['Q003', 'Q004', 'Q005']);
  });

  it('the batch leaves out a pending file that fails its own gate and reads the one that passes', async () => {
    // Prepare: both dropped, their refresh not run yet.
    await drop('missing-price.json');
    await drop('good-later.jsonl');

    // Act
    const [result] = (await extract()({ run: runOf('batch-0002') })) as ExtractResult[];

    // Assess: still pending, for their refresh.
    assert.deepEqual(await parquetIds(result.keys[0]), ['Q003', 'Q004', 'Q005', 'Q006', 'Q007']);
    assert.equal((await keys(CATALOG_LANDING_PREFIX)).length, 2);
  });

  it('a bad and a good file in one window: the good one is merged and published, the bad one set aside', async () => {
    // Prepare: the two files of the previous test, pending together.
    published.length = 0;

    // Act
    const result = (await extract()({
      run: runOf('refresh-both'),
      catalogArrivals: 2,
    })) as CatalogRefreshResult;

    // Assess
    assert.equal(result.files, 1);
    assert.equal(result.item?.rows, 5);
    assert.equal(result.rejected?.files, 1);
    assert.ok(result.rejected!.notice.includes(badKey));
    assert.ok(!result.rejected!.notice.includes('good-later.jsonl'));
    assert.match(result.rejected!.notice, /merged 1 file\(s\) and set aside 1 that failed/);
    assert.deepEqual(await parquetIds(CATALOG_SNAPSHOT_KEY), ['Q003', 'Q004', 'Q005', 'Q006', 'Q007']);
    assert.deepEqual(await parquetIds(layout.curated('dim_product', DATE)), [
      'Q003',
      'Q004',
      'Q005',
      'Q006',
      'Q007',
    ]);
    assert.deepEqual(await keys(CATALOG_LANDING_PREFIX), []);
    assert.deepEqual(await keys(layout.catalogArchive(DATE, 'refresh-both', '')), [
      layout.catalogArchive(DATE, 'refresh-both', 'good-later.jsonl'),
    ]);
    assert.ok(await findObject(workspace.lake, layout.catalogRejectedReport(DATE, 'refresh-both', badKey)));
    assert.equal(published.length, 1);
  });

  it('a retry of that refresh keeps the rejection in its result and publishes it once only', async () => {
    // Act
    const retried = (await extract()({
      run: runOf('refresh-both'),
      catalogArrivals: 2,
    })) as CatalogRefreshResult;

    // Assess
    assert.equal(retried.item?.rows, 5);
    assert.equal(retried.rejected?.files, 1);
    assert.ok(retried.rejected!.notice.includes(badKey));
    assert.equal(published.length, 1);
  });
});

describe('catalog refresh: two refreshes that overlap both keep their files (issue 13 item 8)', () => {
  const workspace = useWorkspace('cartflow-catalog-overlap-');
  const overlap = (name: string) =>
    new URL(`../../fixtures/catalog-overlap/${name}`, import.meta.url).pathname;
  const extract = (lake: LakeStore) =>
    extractProductsStep.make(
      stepAdapters({ lake }),
      extractProductsStep.settings({ TMPDIR: workspace.dir, ...QUALITY }),
    );
  const snapshot = async () => {
    const path = join(workspace.dir, `snapshot-${Date.now()}.parquet`);
    await workspace.lake.download(CATALOG_SNAPSHOT_KEY, path);
    return workspace.engine.rows<{ product_id: string; name: string }>(
      `SELECT product_id, name FROM read_parquet(${sqlLiteral(path)}) ORDER BY product_id`,
    );
  };

  it('the later one, which read the catalog before the first replaced it, merges again over the new one', async () => {
    // Prepare: a current catalog, and the first refresh's file pending.
    const { lake } = workspace;
    await lake.upload(`${CATALOG_LANDING_PREFIX}base.csv`, overlap('base.csv'));
    await extract(lake)({ run: runOf('refresh-base'), catalogArrivals: 1 });
    await lake.upload(`${CATALOG_LANDING_PREFIX}first.csv`, overlap('first.csv'));
    // The second refresh reads the current catalog, then waits at its listing of landing/ until released.
    let blocked = () => {};
    const atListing = new Promise<void>((resolve) => (blocked = resolve));
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const held: LakeStore = Object.create(lake, {
      list: {
        value: async (prefix: string) => {
          if (prefix === CATALOG_LANDING_PREFIX) {
            blocked();
            await released;
          }
          return lake.list(prefix);
        },
      },
    }) as LakeStore;

    // Act: the second starts, the first runs whole meanwhile, then the second's file lands and it goes on.
    const second = extract(held)({ run: runOf('refresh-second'), catalogArrivals: 1 });
    await atListing;
    const first = (await extract(lake)({
      run: runOf('refresh-first'),
      catalogArrivals: 1,
    })) as CatalogRefreshResult;
    await lake.upload(`${CATALOG_LANDING_PREFIX}second.csv`, overlap('second.csv'));
    release();
    const later = (await second) as CatalogRefreshResult;

    // Assess: both files in the catalog and in the dim_product each published last.
    assert.deepEqual([first.files, later.files], [1, 1]);
    const all = [
      { product_id: 'R001', name: 'Base lamp from the first refresh' },
      { product_id: 'R002', name: 'Base chair' },
      { product_id: 'R003', name: 'First overlap rug' },
      { product_id: 'R004', name: 'Second overlap desk' },
    ];
    assert.deepEqual(await snapshot(), all);
    assert.equal(later.item?.rows, all.length);
    assert.deepEqual(await keys(lake, CATALOG_LANDING_PREFIX), []);
  });
});

describe('ensure-warehouse step', () => {
  /**
   * The warehouse edge as the Data API would answer: the catalog's columns (every table as declared when
   * all are `present`, else none), the grants query's one row, then the batch; the registered stage tables
   * older than the redrive window are `expired`.
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
            : sql.includes('information_schema.columns')
              ? present === expected
                ? catalogOf(DECLARED_TABLES)
                : []
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
    assert.deepEqual(result, {
      created: true,
      changes: DECLARED_TABLES.map((t) => `${t.schema}.${t.name}: created table`),
      expiredStages: 0,
    });
    assert.deepEqual(batches.length, 2);
    assert.deepEqual(batches[0], ['CREATE USER "IAMR:writer" PASSWORD DISABLE']);
    // The DDL, the grants and the record of every table created, in one transaction.
    assert.deepEqual(batches[1].slice(0, -1), [
      ...warehouseDdl('redshift'),
      ...writerGrantStatements('IAMR:writer'),
    ]);
    assert.match(batches[1].at(-1)!, /^INSERT INTO ops\.schema_change /);
  });

  it('is two catalog queries (columns, grants), one stage query and no DDL when every table is as declared and granted', async () => {
    // Prepare
    const { edge, batches, queries } = warehouse(20, 20, 1);

    // Act
    const result = await ensure(edge, { REDSHIFT_WRITER_USER: 'IAMR:writer' })(undefined);

    // Assess
    assert.deepEqual(result, { created: false, changes: [], expiredStages: 0 });
    assert.deepEqual(batches, []);
    assert.equal(queries.length, 4);
  });

  it('drops the stage tables registered before the redrive window, in one transaction', async () => {
    // Prepare
    const expired = ['fact_order_0123456789abcdef', 'agg_daily_sales_0123456789abcdef'];
    const { edge, batches, queries } = warehouse(20, 20, 1, expired);

    // Act
    const result = await ensure(edge, { REDSHIFT_WRITER_USER: 'IAMR:writer' })(undefined);

    // Assess
    assert.deepEqual(result, { created: false, changes: [], expiredStages: 2 });
    const before = new Date(Date.now() - STAGE_TABLE_MAX_AGE_DAYS * 86_400_000).toISOString().slice(0, 10);
    assert.match(queries.at(-1)!, new RegExp(`created_at < '${before} `));
    assert.deepEqual(batches, [dropRegisteredStageStatements(expired)]);
  });
});
