/**
 * A checked dataset's outputs: its quarantined rows as JSON Lines with their reasons, and the curated
 * tables as Parquet, published to the lake (a bucket writing its own part).
 */
import type { Bucket, RunContext, TableToLoad } from '../contracts';
import { bucketKey } from '../buckets';
import { sqlLiteral, type Engine } from '../engine/engine';
import { castSelect } from '../engine/table-io';
import { layout } from '../layout';
import type { BatchTable } from '../model';
import { ROW_NUMBER } from '../quality/compile-sql';
import { rowJson, type CheckedDataset } from '../quality/check-dataset';
import { TABLES, type TableDef, type TableName } from '../tables';

/** Where a step writes its files and how they reach the lake (adapters/lake-workspace.ts). */
export interface OutputWorkspace {
  path(name: string): string;
  publish(path: string, key: string, contentType?: string): Promise<void>;
}

/** The lake, as far as replacing a curated partition needs it (adapters/ports.ts LakeStore). */
export interface PrefixRemover {
  deletePrefix(prefix: string): Promise<unknown>;
}

/**
 * The quarantined rows as `{runId, dataset, reasons, row}` (reasons of every failed quarantine-severity
 * check, in check order), in input order.
 */
export function quarantineSelect(run: RunContext, checked: CheckedDataset): string {
  const reasons = checked.compiled.rowChecks
    .filter((c) => c.check.severity === 'quarantine')
    .map((c) => c.column);
  const list = `list_filter([${reasons.join(', ')}]::VARCHAR[], x -> x IS NOT NULL)`;
  return `SELECT ${sqlLiteral(run.runId)} AS "runId", ${sqlLiteral(checked.dataset)} AS dataset,
       ${list} AS reasons, ${rowJson(checked.def, 't')} AS "row"
     FROM ${checked.table} t WHERE ${checked.compiled.quarantined} ORDER BY ${ROW_NUMBER}`;
}

/** The quarantined rows as JSON Lines (quarantineSelect). An empty file when nothing was quarantined. */
export async function writeQuarantine(
  engine: Engine,
  workspace: OutputWorkspace,
  run: RunContext,
  checked: CheckedDataset,
  bucket?: Bucket,
): Promise<void> {
  const path = workspace.path(`quarantine-${checked.dataset}.jsonl`);
  await engine.run(`COPY (${quarantineSelect(run, checked)}) TO ${sqlLiteral(path)} (FORMAT JSON)`);
  const key = bucketKey(layout.quarantine(checked.dataset, run.businessDate), bucket);
  await workspace.publish(path, key, 'application/x-ndjson');
}

/**
 * One curated table of the date as Parquet, columns in warehouse order. The whole day replaces the
 * table's partition prefix; a bucket writes its own part (the Map's caller clears the prefix first).
 */
export async function writeCurated(
  engine: Engine,
  workspace: OutputWorkspace,
  lake: PrefixRemover,
  table: BatchTable,
  select: string,
  businessDate: string,
  bucket?: Bucket,
  tables: Record<TableName, TableDef> = TABLES,
): Promise<TableToLoad> {
  const path = workspace.path(`${table}.parquet`);
  const rows = await engine.writeParquet(castSelect(tables[table], `(${select}) s`), path);
  const prefix = layout.curatedPrefix(table, businessDate);
  let key = layout.curated(table, businessDate);
  if (bucket === undefined) await lake.deletePrefix(prefix);
  else key = `${prefix}part-${String(bucket.index).padStart(5, '0')}.parquet`;
  await workspace.publish(path, key);
  return { table, prefix, rows };
}

/** dim_product from the valid products, sorted by product_id. */
export const dimProductSql = (validProducts: string): string =>
  `SELECT product_id, name, category, price, currency, updated_at FROM ${validProducts} ORDER BY product_id`;
