import type { CatalogRefreshResult, ExtractResult, PipelineState } from '../core/contracts';
import { conformProductsSql, readCatalogInto } from '../core/catalog-sql';
import { assertBusinessDate } from '../core/dates';
import { Engine, sqlLiteral } from '../core/engine/engine';
import { castSelect, createTableSql } from '../core/engine/table-io';
import { InputFormatError } from '../core/errors';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY, layout } from '../core/layout';
import { ROW_NUMBER } from '../core/quality/compile-sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { findObject, writeJsonLines } from '../adapters/lake-tables';
import { LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, LakeObject, LakeStore, Step } from '../adapters/ports';
import {
  CATALOG_MERGED,
  dimProductSql,
  publishCatalog,
  qualityStepSettings,
  writeCurated,
  type QualityStepSettings,
} from '../adapters/publish';

interface Rejection {
  dataset: 'products';
  file: string;
  /** The file's line, for a line that did not parse. */
  line?: number;
  /** The record's position in the file, for a record whose values did not conform. */
  record?: number;
  reasons: string[];
}

/**
 * The merged snapshot as table `snapshot`: the latest updated_at per product_id (on a tie the later file,
 * as files are appended in arrival order), sorted by product_id, then the candidates without a product_id
 * or updated_at as they came, so validation quarantines them with their reason instead of dropping them.
 * Its rowid is the snapshot's order.
 */
const snapshotSql = (candidates: string): string[] => [
  `CREATE TABLE snapshot AS SELECT * EXCLUDE (copy) FROM (
    SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY updated_at DESC, rowid DESC) AS copy
    FROM ${candidates} WHERE product_id IS NOT NULL AND updated_at IS NOT NULL
  ) WHERE copy = 1 ORDER BY product_id`,
  `INSERT INTO snapshot SELECT * FROM ${candidates} WHERE product_id IS NULL OR updated_at IS NULL ORDER BY rowid`,
];

/**
 * Reads catalog files into table `candidates` in the given order, collecting what does not parse or conform.
 * Each file lands in a scratch table (read by DuckDB in bulk, or streamed record by record when DuckDB cannot
 * read it as a whole: core/catalog-sql.ts), is conformed in SQL and joins `candidates` only once the whole
 * file has been read: a file found unreadable half-way is quarantined whole.
 */
async function appendFiles(
  engine: Engine,
  workspace: LakeWorkspace,
  files: readonly LakeObject[],
): Promise<Rejection[]> {
  const rejections: Rejection[] = [];
  const paths = await workspace.fetch(files.map((f) => f.key));
  for (const [k, file] of files.entries()) {
    try {
      const { errors } = await readCatalogInto(engine, 'file_records', file.key, paths[k]);
      await engine.run(`CREATE TABLE file_checked AS
        ${conformProductsSql('(SELECT *, rowid + 1 AS __record FROM file_records)')}`);
      const issues = await engine.rows<{ record: bigint; issues: string[] }>(
        'SELECT __record AS record, issues FROM file_checked WHERE len(issues) > 0 ORDER BY __record',
      );
      await engine.run(
        `INSERT INTO candidates ${castSelect(TABLES.products, '(SELECT * FROM file_checked WHERE len(issues) = 0 ORDER BY __record)')}`,
      );
      rejections.push(
        ...errors.map(({ line, reason }): Rejection => ({
          dataset: 'products',
          file: file.key,
          line,
          reasons: [reason],
        })),
        ...issues.map(({ record, issues: reasons }): Rejection => ({
          dataset: 'products',
          file: file.key,
          record: Number(record),
          reasons,
        })),
      );
    } catch (error) {
      if (!(error instanceof InputFormatError)) throw error;
      // A file we cannot read at all is quarantined whole; the other files still flow.
      rejections.push({ dataset: 'products', file: file.key, reasons: [error.message] });
    } finally {
      await engine.run('DROP TABLE IF EXISTS file_records');
      await engine.run('DROP TABLE IF EXISTS file_checked');
    }
  }
  return rejections;
}

/** The current catalog (CATALOG_SNAPSHOT_KEY) as table `current`; empty before the first refresh. */
async function openCurrent(engine: Engine, lake: LakeStore, workspace: LakeWorkspace): Promise<void> {
  await engine.run(createTableSql(TABLES.products, 'current'));
  const snapshot = await findObject(lake, CATALOG_SNAPSHOT_KEY);
  if (snapshot === undefined) return;
  const [path] = await workspace.fetch([snapshot.key]);
  await engine.run(`INSERT INTO current ${castSelect(TABLES.products, `read_parquet(${sqlLiteral(path)})`)}`);
}

/** Landing files oldest first (a later file wins a tie on updated_at). */
async function landingFiles(lake: LakeStore): Promise<LakeObject[]> {
  return (await lake.list(CATALOG_LANDING_PREFIX)).sort(
    (a, b) =>
      (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0) || a.key.localeCompare(b.key),
  );
}

/**
 * The quarantine of unparseable catalog lines for the date: these files' lines replace whatever an earlier
 * attempt wrote for them, other refreshes' lines of the day stay.
 */
async function recordUnparseable(lake: LakeStore, key: string, files: Set<string>, rejections: Rejection[]) {
  const kept = (await findObject(lake, key))
    ? (await lake.getText(key))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Rejection)
        .filter((r) => !files.has(r.file))
    : [];
  await writeJsonLines(lake, key, [...kept, ...rejections]);
}

/**
 * Batch run: the current catalog plus every catalog file still in landing/ (dropped, not yet merged by a
 * refresh) → one merged snapshot in raw/ (latest updated_at wins per product), which Transform validates.
 * Catalog refresh (`catalogArrivals`, started once per debounce window of arrivals in landing/catalog/):
 * the files pending there now — that window's and any that landed since — are read, validated and merged
 * into the current catalog; dim_product is published from the result and the files are archived, so
 * neither the work nor the state grows with the files merged before. A refresh that finds nothing pending
 * (an earlier one took its files) returns no item and its state machine ends there.
 */
export function makeExtractProducts({ lake, logger }: Adapters, settings: QualityStepSettings) {
  return async (state: PipelineState): Promise<ExtractResult[] | CatalogRefreshResult> => {
    // Both state machines set it: the batch run from ResolveRun, the catalog refresh from the event's time.
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    const engine = await Engine.open(settings.engine);
    try {
      await openCurrent(engine, lake, workspace);
      await engine.run(createTableSql(TABLES.products, 'candidates'));
      if (state.catalogArrivals !== undefined) return await refresh();

      const files = await landingFiles(lake);
      // The current catalog first: a landing file's row wins a tie on updated_at.
      await engine.run('INSERT INTO candidates SELECT * FROM current');
      const rejections = await appendFiles(engine, workspace, files);
      for (const sql of snapshotSql('candidates')) await engine.run(sql);
      const key = layout.rawPart('products', businessDate, 0);
      const path = workspace.path('products.parquet');
      const products = await engine.writeParquet(castSelect(TABLES.products, 'snapshot'), path);
      await lake.deletePrefix(layout.rawPrefix('products', businessDate));
      await workspace.publish(path, key);
      await writeJsonLines(lake, layout.unparseable('products', businessDate), rejections);
      logger.info('catalog extracted', { files: files.length, products, rejected: rejections.length });
      return [{ dataset: 'products', keys: [key], rows: products, rejected: rejections.length }];
    } finally {
      engine.close();
      await workspace.dispose();
    }

    async function refresh(): Promise<CatalogRefreshResult> {
      const { run } = state;
      const files = await landingFiles(lake);
      if (files.length === 0) {
        const archived = await lake.list(layout.catalogArchive(businessDate, run.runId, ''));
        if (archived.length === 0) {
          logger.info('no catalog file pending: an earlier refresh merged them', {
            arrivals: state.catalogArrivals,
          });
          return { run, files: 0 };
        }
        // A retry after this refresh archived its files: the current catalog already holds them.
        logger.info('catalog files already merged by this refresh', { files: archived.length });
        const item = await writeCurated(
          engine,
          workspace,
          lake,
          'dim_product',
          dimProductSql('current'),
          businessDate,
        );
        return { run, item, files: 0 };
      }
      const rejections = await appendFiles(engine, workspace, files);
      for (const sql of snapshotSql('candidates')) await engine.run(sql);
      await recordUnparseable(
        lake,
        layout.unparseable('products', businessDate),
        new Set(files.map((f) => f.key)),
        rejections,
      );
      const item = await publishCatalog(
        engine,
        workspace,
        lake,
        state.run,
        { source: `(SELECT *, rowid AS ${ROW_NUMBER} FROM snapshot)`, rejected: rejections.length },
        'current',
        settings.rules.products,
      );
      // The new current catalog before the archive: a failure in between leaves the file to merge again.
      const path = workspace.path('current.parquet');
      const products = await engine.writeParquet(castSelect(TABLES.products, CATALOG_MERGED), path);
      await workspace.publish(path, CATALOG_SNAPSHOT_KEY);
      for (const { key } of files) {
        await lake.move(key, layout.catalogArchive(businessDate, state.run.runId, key));
      }
      logger.info('catalog refreshed', {
        arrivals: state.catalogArrivals,
        files: files.length,
        products,
        rejected: rejections.length,
      });
      return { run, item, files: files.length };
    }
  };
}

export const step: Step<QualityStepSettings, PipelineState, ExtractResult[] | CatalogRefreshResult> = {
  name: 'extract-products',
  settings: qualityStepSettings,
  make: makeExtractProducts,
};
export const handler = awsHandler(step);
