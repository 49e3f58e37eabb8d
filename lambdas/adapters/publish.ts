/** Writes validation outcomes to the lake: quarantined rows with their reasons, and curated tables. */
import type { RunContext, TableToLoad } from '../core/contracts';
import { withRejected } from '../core/catalog-snapshot';
import { ConfigurationError, QualityGateError } from '../core/errors';
import { layout } from '../core/layout';
import { decideGate } from '../core/quality/gate';
import type { BatchTable, Dataset, ProductCandidate } from '../core/model';
import { evaluateDataset, type DatasetEvaluation } from '../core/quality/evaluate';
import { resolveRules, type DatasetRules } from '../core/quality/rules';
import { toDimProduct } from '../core/facts';
import { TABLES } from '../core/tables';
import { HANDLER_ENV } from '../steps';
import { writeJsonLines, writeParquet } from './lake-tables';
import type { LakeStore } from './ports';

/** The quality rules in force: design.md's defaults with the environment's threshold. */
export function pipelineRules(): Record<Dataset, DatasetRules> {
  const raw = process.env[HANDLER_ENV.qualityThreshold];
  if (raw === undefined || raw === '') return resolveRules();
  const threshold = Number(raw);
  if (!(threshold >= 0 && threshold <= 1)) {
    throw new ConfigurationError(
      `${HANDLER_ENV.qualityThreshold}="${raw}" must be a share between 0 and 1 (0.05 for 5 %); set it in lib/config.ts (qualityThreshold).`,
    );
  }
  return resolveRules({ threshold });
}

/** Products reference nothing, so they are judged on their own, in the batch run and on a catalog refresh alike. */
export function evaluateProducts(
  products: readonly ProductCandidate[],
  rules: Record<Dataset, DatasetRules>,
  businessDate: string,
  now: Date,
): DatasetEvaluation<ProductCandidate> {
  return evaluateDataset(products, rules.products, { businessDate, catalog: new Set(), now });
}

export async function writeQuarantine<T>(
  lake: LakeStore,
  run: RunContext,
  dataset: Dataset,
  quarantined: { row: T; reasons: string[] }[],
) {
  await writeJsonLines(
    lake,
    layout.quarantine(dataset, run.businessDate),
    quarantined.map(({ row, reasons }) => ({ runId: run.runId, dataset, reasons, row })),
  );
}

export async function writeCurated<T extends object>(
  lake: LakeStore,
  table: BatchTable,
  businessDate: string,
  rows: T[],
): Promise<TableToLoad> {
  await lake.deletePrefix(layout.curatedPrefix(table, businessDate));
  await writeParquet(lake, layout.curated(table, businessDate), TABLES[table], rows);
  return { table, prefix: layout.curatedPrefix(table, businessDate), rows: rows.length };
}

/** Catalog refresh: validate the merged snapshot on its own and publish dim_product. */
export async function publishCatalog(
  lake: LakeStore,
  run: RunContext,
  snapshot: ProductCandidate[],
  rejected: number,
): Promise<TableToLoad> {
  const result = evaluateProducts(snapshot, pipelineRules(), run.businessDate, new Date());
  await writeQuarantine(lake, run, 'products', result.quarantined);
  const gate = decideGate([withRejected(result.quality, rejected)], result.checks);
  if (!gate.passed) throw new QualityGateError(gate.failureReason ?? 'products failed the quality gate');
  return writeCurated(lake, 'dim_product', run.businessDate, toDimProduct(result.valid));
}
