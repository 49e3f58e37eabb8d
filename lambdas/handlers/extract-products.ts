import type { ExtractResult, LoadTableInput, PipelineState } from '../core/contracts';
import { parseCatalogFile } from '../core/catalog';
import { conformProduct } from '../core/conform';
import { assertBusinessDate } from '../core/dates';
import { Engine, sqlLiteral } from '../core/engine/engine';
import { appendRows, castSelect, createTableSql } from '../core/engine/table-io';
import { InputFormatError } from '../core/errors';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY, layout } from '../core/layout';
import type { ProductCandidate } from '../core/model';
import { ROW_NUMBER } from '../core/quality/compile-sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { writeJsonLines } from '../adapters/lake-tables';
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
 * Parses catalog files into table `candidates` in the given order, collecting what does not parse or conform.
 * One file at a time: a catalog is small next to a day of orders, but files add up.
 */
async function appendFiles(
  engine: Engine,
  lake: LakeStore,
  files: readonly LakeObject[],
): Promise<Rejection[]> {
  const rejections: Rejection[] = [];
  for (const file of files) {
    const candidates: ProductCandidate[] = [];
    try {
      const { records, errors } = parseCatalogFile(file.key, await lake.getText(file.key));
      for (const { line, reason } of errors) {
        rejections.push({ dataset: 'products', file: file.key, line, reasons: [reason] });
      }
      records.forEach((record, index) => {
        const { row, issues } = conformProduct(record);
        if (issues.length)
          rejections.push({ dataset: 'products', file: file.key, record: index + 1, reasons: issues });
        else candidates.push(row);
      });
    } catch (error) {
      if (!(error instanceof InputFormatError)) throw error;
      // A file we cannot read at all is quarantined whole; the other files still flow.
      rejections.push({ dataset: 'products', file: file.key, reasons: [error.message] });
    }
    await appendRows(engine, TABLES.products, 'candidates', candidates);
  }
  return rejections;
}

/**
 * The current catalog (CATALOG_SNAPSHOT_KEY) as table `current`; empty before the first refresh.
 * False when there is none yet.
 */
async function openCurrent(engine: Engine, lake: LakeStore, workspace: LakeWorkspace): Promise<boolean> {
  await engine.run(createTableSql(TABLES.products, 'current'));
  const [snapshot] = (await lake.list(CATALOG_SNAPSHOT_KEY)).filter((o) => o.key === CATALOG_SNAPSHOT_KEY);
  if (snapshot === undefined) return false;
  const [path] = await workspace.fetch([snapshot.key]);
  await engine.run(`INSERT INTO current ${castSelect(TABLES.products, `read_parquet(${sqlLiteral(path)})`)}`);
  return true;
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
  const exists = (await lake.list(key)).some((o) => o.key === key);
  const kept = exists
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
 * Catalog refresh (an arrival in landing/catalog/, `catalogKey`): only that file is read, validated and
 * merged into the current catalog; dim_product is published from the result and the file is archived, so
 * neither the work nor the state grows with the files dropped before (the first refresh excepted, once).
 */
export function makeExtractProducts({ lake, logger }: Adapters, settings: QualityStepSettings) {
  return async (state: PipelineState): Promise<ExtractResult[] | LoadTableInput> => {
    // Both state machines set it: the batch run from ResolveRun, the catalog refresh from the event's time.
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    const engine = await Engine.open(settings.engine);
    try {
      const hasCurrent = await openCurrent(engine, lake, workspace);
      await engine.run(createTableSql(TABLES.products, 'candidates'));
      if (state.catalogKey !== undefined) {
        const item = await refresh(state.catalogKey, hasCurrent);
        return { run: state.run, item };
      }

      const files = await landingFiles(lake);
      // The current catalog first: a landing file's row wins a tie on updated_at.
      await engine.run('INSERT INTO candidates SELECT * FROM current');
      const rejections = await appendFiles(engine, lake, files);
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

    async function refresh(catalogKey: string, hasCurrent: boolean) {
      // The first refresh (a new environment, or one whose landing/ holds every file ever dropped) builds
      // the current catalog from all of landing/, once; every later one reads the file that arrived only.
      const files = hasCurrent
        ? (await lake.list(catalogKey)).filter((o) => o.key === catalogKey)
        : await landingFiles(lake);
      if (files.length === 0) {
        // A retry after this refresh archived the file: the current catalog already holds it.
        logger.info('catalog file already merged', { catalogKey });
        return writeCurated(engine, workspace, lake, 'dim_product', dimProductSql('current'), businessDate);
      }
      const rejections = await appendFiles(engine, lake, files);
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
        catalogKey,
        files: files.length,
        products,
        rejected: rejections.length,
      });
      return item;
    }
  };
}

export const step: Step<QualityStepSettings, PipelineState, ExtractResult[] | LoadTableInput> = {
  settings: qualityStepSettings,
  make: makeExtractProducts,
};
export const handler = awsHandler(step);
