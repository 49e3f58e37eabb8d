import type { ExtractResult, LoadTableInput, PipelineState } from '../core/contracts';
import { parseCatalogFile } from '../core/catalog';
import { conformProduct } from '../core/conform';
import { assertBusinessDate } from '../core/dates';
import { Engine } from '../core/engine/engine';
import { appendRows, castSelect, createTableSql } from '../core/engine/table-io';
import { InputFormatError } from '../core/errors';
import { CATALOG_LANDING_PREFIX, layout } from '../core/layout';
import type { ProductCandidate } from '../core/model';
import { ROW_NUMBER } from '../core/quality/compile-sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { writeJsonLines } from '../adapters/lake-tables';
import { LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, Step } from '../adapters/ports';
import { publishCatalog, qualityStepSettings, type QualityStepSettings } from '../adapters/publish';

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
 * Every catalog file in landing/ → one merged snapshot in raw/ (latest updated_at wins per product).
 * On a catalog refresh (an arrival in landing/catalog/) it also validates the snapshot and hands
 * dim_product to the load step.
 */
export function makeExtractProducts({ lake, logger }: Adapters, settings: QualityStepSettings) {
  return async (state: PipelineState): Promise<ExtractResult[] | LoadTableInput> => {
    // Both state machines set it: the batch run from ResolveRun, the catalog refresh from the event's time.
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const files = (await lake.list(CATALOG_LANDING_PREFIX)).sort(
      (a, b) =>
        (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0) || a.key.localeCompare(b.key),
    );
    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    const engine = await Engine.open(settings.engine);
    try {
      await engine.run(createTableSql(TABLES.products, 'candidates'));
      const rejections: Rejection[] = [];
      // One file at a time: a catalog is small next to a day of orders, but files add up.
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
      for (const sql of snapshotSql('candidates')) await engine.run(sql);
      const key = layout.rawPart('products', businessDate, 0);
      const path = workspace.path('products.parquet');
      const products = await engine.writeParquet(castSelect(TABLES.products, 'snapshot'), path);
      await lake.deletePrefix(layout.rawPrefix('products', businessDate));
      await workspace.publish(path, key);
      await writeJsonLines(lake, layout.unparseable('products', businessDate), rejections);
      logger.info('catalog extracted', { files: files.length, products, rejected: rejections.length });

      if (state.catalogKey !== undefined) {
        const item = await publishCatalog(
          engine,
          workspace,
          lake,
          state.run,
          `(SELECT *, rowid AS ${ROW_NUMBER} FROM snapshot)`,
          rejections.length,
          settings.rules.products,
        );
        return { run: state.run, item };
      }
      return [
        {
          dataset: 'products',
          keys: [key],
          rows: products,
          sources: files.map((f) => f.key),
          rejected: rejections.length,
        },
      ];
    } finally {
      engine.close();
      await workspace.dispose();
    }
  };
}

export const step: Step<QualityStepSettings, PipelineState, ExtractResult[] | LoadTableInput> = {
  settings: qualityStepSettings,
  make: makeExtractProducts,
};
export const handler = awsHandler(step);
