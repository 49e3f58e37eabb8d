/** Writes validation outcomes to the lake: quarantined rows with their reasons, and curated tables. */
import type { RunContext, TableToLoad } from '../core/contracts';
import { withRejected } from '../core/catalog-snapshot';
import { QualityGateError } from '../core/errors';
import { layout } from '../core/layout';
import { decideGate } from '../core/quality/gate';
import type { BatchTable, Dataset, ProductCandidate } from '../core/model';
import { evaluateDataset } from '../core/quality/evaluate';
import { resolveRules } from '../core/quality/rules';
import { toDimProduct } from '../core/facts';
import { TABLES } from '../core/tables';
import { HANDLER_ENV } from '../steps';
import { writeJsonLines, writeParquet } from './lake-tables';
import type { LakeStore } from './ports';

export function qualityThreshold(): number | undefined {
  const value = process.env[HANDLER_ENV.qualityThreshold];
  return value === undefined || value === '' ? undefined : Number(value);
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
  const rules = resolveRules({ threshold: qualityThreshold() });
  const result = evaluateDataset(snapshot, rules.products, {
    businessDate: run.businessDate,
    catalog: new Set<string>(),
    now: new Date(),
  });
  await writeQuarantine(lake, run, 'products', result.quarantined);
  const gate = decideGate([withRejected(result.quality, rejected)], result.checks);
  if (!gate.passed) throw new QualityGateError(gate.failureReason ?? 'products failed the quality gate');
  return writeCurated(lake, 'dim_product', run.businessDate, toDimProduct(result.valid));
}
