import type { ExtractResult, LoadTableInput, PipelineState } from '../core/contracts';
import { latestByProduct } from '../core/catalog-snapshot';
import { parseCatalogFile } from '../core/catalog';
import { conformProduct } from '../core/conform';
import { assertBusinessDate } from '../core/dates';
import { InputFormatError } from '../core/errors';
import { CATALOG_LANDING_PREFIX, layout } from '../core/layout';
import type { ProductCandidate } from '../core/model';
import { TABLES } from '../core/tables';
import { adapters } from '../adapters/context';
import { writeJsonLines, writeParquet } from '../adapters/lake-tables';
import { logger } from '../adapters/observability';
import { publishCatalog } from '../adapters/publish';

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
 * Every catalog file in landing/ → one merged snapshot in raw/ (latest updated_at wins per product).
 * On a catalog refresh (an arrival in landing/catalog/) it also validates the snapshot and hands
 * dim_product to the load step.
 */
export const handler = async (state: PipelineState): Promise<ExtractResult[] | LoadTableInput> => {
  // Both state machines set it: the batch run from ResolveRun, the catalog refresh from the event's time.
  const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
  const { lake } = adapters();
  const files = (await lake.list(CATALOG_LANDING_PREFIX)).sort(
    (a, b) =>
      (a.lastModified?.getTime() ?? 0) - (b.lastModified?.getTime() ?? 0) || a.key.localeCompare(b.key),
  );
  const candidates: ProductCandidate[] = [];
  const rejections: Rejection[] = [];
  for (const file of files) {
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
  }
  const snapshot = latestByProduct(candidates);
  const key = layout.rawPart('products', businessDate, 0);
  await lake.deletePrefix(layout.rawPrefix('products', businessDate));
  await writeParquet(lake, key, TABLES.products, snapshot);
  await writeJsonLines(lake, layout.unparseable('products', businessDate), rejections);
  logger.info('catalog extracted', {
    files: files.length,
    products: snapshot.length,
    rejected: rejections.length,
  });

  if (state.catalogKey !== undefined) {
    return { run: state.run, item: await publishCatalog(lake, state.run, snapshot, rejections.length) };
  }
  return [
    {
      dataset: 'products',
      keys: [key],
      rows: snapshot.length,
      sources: files.map((f) => f.key),
      rejected: rejections.length,
    },
  ];
};
