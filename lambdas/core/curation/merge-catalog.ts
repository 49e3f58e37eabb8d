/**
 * The product catalog's refresh: each catalog file gated on its own, the accepted files' valid rows merged
 * into the current catalog and dim_product written from it.
 */
import type { CheckResult, DatasetQuality, RunContext, TableToLoad } from '../contracts';
import type { Engine } from '../engine/engine';
import { quoteIdent } from '../engine/table-io';
import { checkDataset, type CheckedDataset } from '../quality/check-dataset';
import { datasetQuality, decideGate } from '../quality/gate';
import type { DatasetRules } from '../quality/rules';
import { TABLES } from '../tables';
import { dimProductSql, writeCurated, type OutputWorkspace, type PrefixRemover } from './write-outputs';

/** The table mergeCatalog leaves behind: the current catalog merged with the accepted files' valid rows. */
export const CATALOG_MERGED = 'catalog_merged';

/** One catalog file's verdict: its checks, its tally and whether it may be merged. */
export interface CatalogFileGate {
  passed: boolean;
  failureReason?: string;
  quality: DatasetQuality;
  checks: CheckResult[];
  /** Its rows with their reasons (`products_checked`, replaced by the next file's gate). */
  checked: CheckedDataset;
}

/**
 * One catalog file: its rows (`source`, merged within the file) validated on their own. The gate judges
 * the catalog as this file would refresh it, as the batch does: the `kept` products of the catalog so far
 * (the current one and the files accepted before this one) count as valid input, and the file's records
 * that did not even parse (`rejected`) as quarantined. Each file gets its own verdict, so a bad file never
 * fails the good ones beside it.
 */
export async function gateCatalogFile(
  engine: Engine,
  run: RunContext,
  update: { source: string; rejected: number },
  kept: number,
  rules: DatasetRules,
): Promise<CatalogFileGate> {
  const checked = await checkDataset(engine, {
    dataset: 'products',
    rules,
    def: TABLES.products,
    source: update.source,
    businessDate: run.businessDate,
    now: new Date(),
  });
  // The kept products count as valid input, the unparsed records as quarantined.
  const { quality: file } = checked;
  const quality = datasetQuality(
    {
      ...file,
      rowsIn: file.rowsIn + kept + update.rejected,
      rowsQuarantined: file.rowsQuarantined + update.rejected,
    },
    checked.checks,
  );
  const gate = decideGate([quality], checked.checks);
  return { ...gate, quality, checks: checked.checks, checked };
}

/**
 * The accepted files' valid rows (table `accepted`, in file order) merged into the current catalog
 * (`current`: every valid product so far) by product_id, the latest updated_at winning and on a tie the
 * later file, as table CATALOG_MERGED; dim_product published from it. Only valid rows reach `accepted`,
 * so an invalid row never displaces a valid older version of its product.
 */
export async function mergeCatalog(
  engine: Engine,
  workspace: OutputWorkspace,
  lake: PrefixRemover,
  run: RunContext,
  accepted: string,
  current: string,
): Promise<TableToLoad> {
  const columns = TABLES.products.columns.map((c) => quoteIdent(c.name)).join(', ');
  await engine.run(
    `CREATE OR REPLACE TABLE ${CATALOG_MERGED} AS SELECT ${columns} FROM (
      SELECT *, row_number() OVER (
        PARTITION BY product_id ORDER BY updated_at DESC NULLS LAST, newer DESC) AS copy
      FROM (SELECT ${columns}, 0 AS newer FROM ${current}
            UNION ALL SELECT ${columns}, rowid + 1 AS newer FROM ${accepted})
    ) WHERE copy = 1 ORDER BY product_id`,
  );
  return writeCurated(
    engine,
    workspace,
    lake,
    'dim_product',
    dimProductSql(CATALOG_MERGED),
    run.businessDate,
  );
}
