import {
  rejectionNotice,
  REPORTED_UNREADABLE,
  resubmitHint,
  type RejectedCatalogReport,
} from '../core/catalog-rejection';
import type { CatalogRefreshResult, ExtractResult, PipelineState, TableToLoad } from '../core/contracts';
import { conformProductsSql, readCatalogInto } from '../core/catalog-sql';
import {
  CATALOG_MERGED,
  gateCatalogFile,
  mergeCatalog,
  type CatalogFileGate,
} from '../core/curation/merge-catalog';
import { dimProductSql, quarantineSelect, writeCurated } from '../core/curation/write-outputs';
import { assertBusinessDate } from '../core/dates';
import { Engine, sqlLiteral } from '../core/engine/engine';
import { castSelect, createTableSql } from '../core/engine/table-io';
import { PARQUET } from '../core/clickstream/batch';
import { InputFormatError, TransientError } from '../core/errors';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY, layout, REJECTED_REPORT_SUFFIX } from '../core/layout';
import { ROW_NUMBER } from '../core/quality/compile-sql';
import { qualityStepSettings, type QualityStepSettings } from '../core/step-settings';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { findObject, writeJsonLines } from '../adapters/lake-tables';
import { LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, LakeObject, LakeStore, Step } from '../adapters/ports';

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
 * Reads one catalog file into table `target` (which it creates), collecting what does not parse or conform.
 * The file lands in a scratch table (read by DuckDB in bulk, or streamed record by record when DuckDB
 * cannot read it as a whole: core/catalog-sql.ts), is conformed in SQL and fills `target` only once the
 * whole file has been read: a file found unreadable half-way is quarantined whole.
 */
async function readFile(
  engine: Engine,
  workspace: LakeWorkspace,
  file: LakeObject,
  target: string,
): Promise<Rejection[]> {
  await engine.run(`DROP TABLE IF EXISTS ${target}`);
  await engine.run(createTableSql(TABLES.products, target));
  const [path] = await workspace.fetch([file.key]);
  try {
    const { errors } = await readCatalogInto(engine, 'file_records', file.key, path);
    await engine.run(`CREATE TABLE file_checked AS
      ${conformProductsSql('(SELECT *, rowid + 1 AS __record FROM file_records)')}`);
    const issues = await engine.rows<{ record: bigint; issues: string[] }>(
      'SELECT __record AS record, issues FROM file_checked WHERE len(issues) > 0 ORDER BY __record',
    );
    await engine.run(
      `INSERT INTO ${target} ${castSelect(TABLES.products, '(SELECT * FROM file_checked WHERE len(issues) = 0 ORDER BY __record)')}`,
    );
    return [
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
    ];
  } catch (error) {
    if (!(error instanceof InputFormatError)) throw error;
    // A file we cannot read at all is quarantined whole.
    return [{ dataset: 'products', file: file.key, reasons: [error.message] }];
  } finally {
    await engine.run('DROP TABLE IF EXISTS file_records');
    await engine.run('DROP TABLE IF EXISTS file_checked');
  }
}

/**
 * The current catalog (CATALOG_SNAPSHOT_KEY) as table `current` (replaced); empty before the first refresh.
 * Returns the ETag it was listed with (undefined: no catalog yet), the condition of the next write of it.
 */
async function openCurrent(
  engine: Engine,
  lake: LakeStore,
  workspace: LakeWorkspace,
): Promise<string | undefined> {
  await engine.run('DROP TABLE IF EXISTS current');
  await engine.run(createTableSql(TABLES.products, 'current'));
  const snapshot = await findObject(lake, CATALOG_SNAPSHOT_KEY);
  if (snapshot === undefined) return undefined;
  const [path] = await workspace.fetch([snapshot.key]);
  await engine.run(`INSERT INTO current ${castSelect(TABLES.products, `read_parquet(${sqlLiteral(path)})`)}`);
  return snapshot.etag;
}

/**
 * Times a refresh merges again over a current catalog another refresh replaced meanwhile, before it gives
 * up with a TransientError (the state machine's Retry then runs it anew).
 */
export const SNAPSHOT_WRITE_ATTEMPTS = 5;

/** Moves a landing file unless another refresh (overlapping this one) took it already. */
async function moveIfPresent(lake: LakeStore, from: string, to: string): Promise<void> {
  if (await findObject(lake, from)) await lake.move(from, to);
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

/** The table of the accepted files' quarantined rows (one quarantineSelect per file, in file order). */
const CATALOG_QUARANTINE = 'catalog_quarantine';

/**
 * Batch run: the current catalog plus every catalog file still in landing/ (dropped, not yet merged by a
 * refresh) that passes its own gate → one merged snapshot in raw/ (latest updated_at wins per product),
 * which Transform validates. A pending file that fails its gate is left out (its refresh sets it aside).
 * Catalog refresh (`catalogArrivals`, started once per debounce window of arrivals in landing/catalog/):
 * the files pending there now — that window's and any that landed since — are read and gated one by one;
 * the valid rows of those that pass are merged into the current catalog, dim_product is published from
 * the result and they are archived, so neither the work nor the state grows with the files merged before.
 * A file that fails is set aside whole with its report (rejected/), and the refresh returns the failure
 * notice its state machine ends with. A refresh that finds nothing pending (an earlier one took its
 * files) returns no item and its state machine ends there.
 */
export function makeExtractProducts({ lake, logger, alerts }: Adapters, settings: QualityStepSettings) {
  return async (state: PipelineState): Promise<ExtractResult[] | CatalogRefreshResult> => {
    // Both state machines set it: the batch run from ResolveRun, the catalog refresh from the event's time.
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const { run } = state;
    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    const engine = await Engine.open(settings.engine);
    try {
      const currentEtag = await openCurrent(engine, lake, workspace);
      // The valid rows of the files that passed their gate, in file order.
      await engine.run(createTableSql(TABLES.products, 'accepted'));
      return state.catalogArrivals === undefined ? [await extract()] : await refresh(currentEtag);
    } finally {
      engine.close();
      await workspace.dispose();
    }

    /**
     * One landing file read (`file_candidates`), merged within itself (`snapshot`) and gated on its own
     * against the catalog so far; when it passes, its valid rows join table `accepted`.
     */
    async function gateFile(file: LakeObject): Promise<{ rejections: Rejection[]; gate: CatalogFileGate }> {
      const rejections = await readFile(engine, workspace, file, 'file_candidates');
      await engine.run('DROP TABLE IF EXISTS snapshot');
      for (const sql of snapshotSql('file_candidates')) await engine.run(sql);
      const kept = Number(
        await engine.scalar(
          'SELECT count(*) FROM (SELECT product_id FROM current UNION SELECT product_id FROM accepted)',
        ),
      );
      const gate = await gateCatalogFile(
        engine,
        run,
        { source: `(SELECT *, rowid AS ${ROW_NUMBER} FROM snapshot)`, rejected: rejections.length },
        kept,
        settings.rules.products,
      );
      if (gate.passed) {
        await engine.run(
          `INSERT INTO accepted ${castSelect(TABLES.products, `(SELECT * FROM ${gate.checked.valid} ORDER BY ${ROW_NUMBER})`)}`,
        );
      }
      return { rejections, gate };
    }

    async function extract(): Promise<ExtractResult> {
      const files = await landingFiles(lake);
      await engine.run(createTableSql(TABLES.products, 'candidates'));
      // The current catalog first: a landing file's row wins a tie on updated_at.
      await engine.run('INSERT INTO candidates SELECT * FROM current');
      const rejections: Rejection[] = [];
      let read = 0;
      for (const file of files) {
        const { rejections: own, gate } = await gateFile(file);
        if (!gate.passed) {
          logger.warn('catalog file left out: it fails its own gate, and its refresh sets it aside', {
            file: file.key,
            reason: gate.failureReason,
          });
          continue;
        }
        // All its rows: Validate quarantines the invalid ones as the file's gate counted them.
        await engine.run('INSERT INTO candidates SELECT * FROM file_candidates ORDER BY rowid');
        rejections.push(...own);
        read++;
      }
      await engine.run('DROP TABLE IF EXISTS snapshot');
      for (const sql of snapshotSql('candidates')) await engine.run(sql);
      const key = layout.rawPart('products', businessDate, 0);
      const path = workspace.path('products.parquet');
      const products = await engine.writeParquet(castSelect(TABLES.products, 'snapshot'), path);
      await lake.deletePrefix(layout.rawPrefix('products', businessDate));
      await workspace.publish(path, key);
      await writeJsonLines(lake, layout.unparseable('products', businessDate), rejections);
      logger.info('catalog extracted', {
        files: read,
        leftOut: files.length - read,
        products,
        rejected: rejections.length,
      });
      return { dataset: 'products', keys: [key], rows: products, rejected: rejections.length };
    }

    async function refresh(currentEtag: string | undefined): Promise<CatalogRefreshResult> {
      const files = await landingFiles(lake);
      // A retry: the files an earlier attempt of this refresh set aside stay rejected, and stay in its notice.
      const earlier = await rejectedEarlier(new Set(files.map((f) => f.key)));
      const accepted: LakeObject[] = [];
      const acceptedRejections: Rejection[] = [];
      const reports: RejectedCatalogReport[] = [];
      for (const file of files) {
        const { rejections, gate } = await gateFile(file);
        if (!gate.passed) {
          reports.push(reportOf(file, rejections, gate));
          continue;
        }
        const quarantined = quarantineSelect(run, gate.checked);
        await engine.run(
          accepted.length === 0
            ? `CREATE TABLE ${CATALOG_QUARANTINE} AS ${quarantined}`
            : `INSERT INTO ${CATALOG_QUARANTINE} ${quarantined}`,
        );
        accepted.push(file);
        acceptedRejections.push(...rejections);
      }
      if (files.length > 0) {
        await recordUnparseable(
          lake,
          layout.unparseable('products', businessDate),
          new Set(files.map((f) => f.key)),
          acceptedRejections,
        );
      }

      let item: TableToLoad | undefined;
      if (accepted.length > 0) {
        const quarantine = workspace.path('quarantine-products.jsonl');
        await engine.run(
          `COPY (SELECT * FROM ${CATALOG_QUARANTINE} ORDER BY rowid) TO ${sqlLiteral(quarantine)} (FORMAT JSON)`,
        );
        await workspace.publish(
          quarantine,
          layout.quarantine('products', businessDate),
          'application/x-ndjson',
        );
        // The new current catalog before the archive: a failure in between leaves the file to merge again.
        // Written only over the catalog it merged into (its ETag): an overlapping refresh that replaced it
        // meanwhile would otherwise lose its files' products, so merge again over its catalog instead.
        let products = 0;
        for (let attempt = 1, etag = currentEtag; ; attempt++) {
          item = await mergeCatalog(engine, workspace, lake, run, 'accepted', 'current');
          const path = workspace.path(`current-${attempt}.parquet`);
          products = await engine.writeParquet(castSelect(TABLES.products, CATALOG_MERGED), path);
          if (await lake.uploadIf(CATALOG_SNAPSHOT_KEY, path, etag, PARQUET)) break;
          if (attempt === SNAPSHOT_WRITE_ATTEMPTS) {
            throw new TransientError(
              `catalog refresh ${run.runId}: ${CATALOG_SNAPSHOT_KEY} was replaced by another refresh during each of ${attempt} merges; the refresh is retried`,
            );
          }
          logger.info('another refresh replaced the current catalog meanwhile: merging again over it', {
            attempt,
          });
          etag = await openCurrent(engine, lake, workspace);
        }
        for (const { key } of accepted) {
          await moveIfPresent(lake, key, layout.catalogArchive(businessDate, run.runId, key));
        }
        logger.info('catalog refreshed', {
          arrivals: state.catalogArrivals,
          files: accepted.length,
          products,
          rejected: acceptedRejections.length,
        });
      } else if ((await lake.list(layout.catalogArchive(businessDate, run.runId, ''))).length > 0) {
        // A retry after this refresh archived its files: the current catalog already holds them.
        logger.info('catalog files already merged by this refresh');
        item = await writeCurated(
          engine,
          workspace,
          lake,
          'dim_product',
          dimProductSql('current'),
          businessDate,
        );
      }

      // The report before the move: a file under rejected/ always has its report next to it.
      for (const report of reports) {
        await lake.put(report.reportKey, `${JSON.stringify(report, null, 2)}\n`, 'application/json');
        await moveIfPresent(lake, report.file, report.rejectedKey);
      }
      const rejected = [...earlier, ...reports];
      if (files.length === 0 && rejected.length === 0 && item === undefined) {
        logger.info('no catalog file pending: an earlier refresh merged them', {
          arrivals: state.catalogArrivals,
        });
      }
      if (rejected.length === 0) return { run, ...(item ? { item } : {}), files: accepted.length };
      // Archived by this refresh, in this attempt or an earlier one.
      const merged = (await lake.list(layout.catalogArchive(businessDate, run.runId, ''))).length;
      const notice = rejectionNotice(run.runId, merged, rejected);
      if (reports.length > 0) {
        logger.warn('catalog files rejected', { files: reports.map((r) => r.file) });
        await alerts.publish(
          `cartflow: ${rejected.length} catalog file(s) rejected by refresh ${run.runId}`,
          notice,
        );
      }
      return {
        run,
        ...(item ? { item } : {}),
        files: accepted.length,
        rejected: { files: rejected.length, notice },
      };
    }

    /** The reports of files this refresh set aside before (an earlier attempt), unless back in landing/. */
    async function rejectedEarlier(pending: Set<string>): Promise<RejectedCatalogReport[]> {
      const reports = (await lake.list(layout.catalogRejected(businessDate, run.runId, ''))).filter((o) =>
        o.key.endsWith(REJECTED_REPORT_SUFFIX),
      );
      const parsed = await Promise.all(
        reports.map(async (o) => JSON.parse(await lake.getText(o.key)) as RejectedCatalogReport),
      );
      return parsed.filter((r) => !pending.has(r.file));
    }

    function reportOf(
      file: LakeObject,
      rejections: Rejection[],
      gate: CatalogFileGate,
    ): RejectedCatalogReport {
      return {
        file: file.key,
        rejectedKey: layout.catalogRejected(businessDate, run.runId, file.key),
        reportKey: layout.catalogRejectedReport(businessDate, run.runId, file.key),
        runId: run.runId,
        businessDate,
        failureReason: gate.failureReason ?? 'products failed the quality gate',
        quality: gate.quality,
        checks: gate.checks,
        unreadable: rejections
          .slice(0, REPORTED_UNREADABLE)
          .map(({ line, record, reasons }) => ({ line, record, reasons })),
        unreadableCount: rejections.length,
        resubmit: resubmitHint(file.key, lake.bucket),
      };
    }
  };
}

export const step: Step<QualityStepSettings, PipelineState, ExtractResult[] | CatalogRefreshResult> = {
  name: 'extract-products',
  settings: qualityStepSettings,
  make: makeExtractProducts,
};
export const handler = awsHandler(step);
