/**
 * The batch data steps' shared engine work: the quality rules run as SQL over a dataset (compile-sql.ts),
 * quarantined rows written as JSON Lines with their reasons, curated tables written as Parquet, and the
 * bucket a step may be restricted to. The rows stay in DuckDB (spilling to disk past its memory limit):
 * JavaScript only sees counts and one example row per failed check.
 */
import { dirname, join } from 'node:path';
import type { Bucket, CheckResult, DatasetQuality, RunContext, TableToLoad } from '../core/contracts';
import { withRejected } from '../core/catalog-snapshot';
import { engineSettingsFromEnv, sqlLiteral, type Engine, type EngineSettings } from '../core/engine/engine';
import { castSelect, quoteIdent } from '../core/engine/table-io';
import { ConfigurationError } from '../core/errors';
import { layout } from '../core/layout';
import type { BatchTable, Dataset } from '../core/model';
import {
  checkResult,
  compileDataset,
  datasetLevelFailure,
  DUCKDB_DIALECT,
  ROW_NUMBER,
  type CompiledDataset,
  type ReferenceTarget,
} from '../core/quality/compile-sql';
import { decideGate } from '../core/quality/gate';
import { resolveRules, type DatasetRules, type RulesConfig } from '../core/quality/rules';
import type { Env } from '../core/settings';
import { TABLES, type TableDef, type TableName } from '../core/tables';
import { HANDLER_ENV } from '../contract';
import type { LakeWorkspace } from './lake-workspace';
import type { LakeStore } from './ports';

export interface EngineStepSettings {
  engine: EngineSettings;
  /** Where the step's input and output files live while it runs (next to DuckDB's spill directory). */
  workDirectory: string;
}

export interface QualityStepSettings extends EngineStepSettings {
  /** The quality rules in force: the defaults of docs/quality-rules.md with the environment's threshold. */
  rules: Record<Dataset, DatasetRules>;
}

export function engineStepSettings(env: Env): EngineStepSettings {
  const engine = engineSettingsFromEnv(env);
  return { engine, workDirectory: join(dirname(engine.tempDirectory), 'cartflow-work') };
}

export function qualityStepSettings(env: Env): QualityStepSettings {
  const raw = env[HANDLER_ENV.qualityThreshold];
  let threshold: number | undefined;
  if (raw !== undefined && raw !== '') {
    // A decimal only: Number() would read ' ' as 0 and '0x1' as 1.
    threshold = /^\d*\.?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(threshold >= 0 && threshold <= 1)) {
      throw new ConfigurationError(
        `${HANDLER_ENV.qualityThreshold}="${raw}" must be a share between 0 and 1 (0.05 for 5 %); set it in lib/config.ts (qualityThreshold).`,
      );
    }
  }
  const rules = resolveRules({ threshold, datasets: ruleOverrides(env[HANDLER_ENV.qualityRules]) });
  return { ...engineStepSettings(env), rules };
}

/** QUALITY_RULES: per-dataset overrides as a JSON object; unset or blank for none. */
function ruleOverrides(raw: string | undefined): RulesConfig['datasets'] {
  if (raw === undefined || raw.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new ConfigurationError(
      `${HANDLER_ENV.qualityRules} is not JSON (${(error as Error).message}); expected {"<dataset>": {"checks": [...], "remove": [...]}}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigurationError(
      `${HANDLER_ENV.qualityRules} must be a JSON object of per-dataset overrides, got ${raw.slice(0, 80)}`,
    );
  }
  return parsed as RulesConfig['datasets'];
}

/** A bucket's own object next to the whole day's: `rejected.jsonl` → `rejected.bucket-00003-of-00016.jsonl`. */
export function bucketKey(key: string, bucket: Bucket | undefined): string {
  if (bucket === undefined) return key;
  const dot = key.lastIndexOf('.');
  const tag = `bucket-${String(bucket.index).padStart(5, '0')}-of-${String(bucket.count).padStart(5, '0')}`;
  return `${key.slice(0, dot)}.${tag}${key.slice(dot)}`;
}

/** True for the rows of `bucket`: a hash of the (trimmed) order id, so an order and its lines agree. */
export function bucketFilter(orderId: string, bucket: Bucket | undefined): string {
  if (bucket === undefined) return 'TRUE';
  if (!(
    Number.isInteger(bucket.count) &&
    bucket.count >= 1 &&
    bucket.index >= 0 &&
    bucket.index < bucket.count
  )) {
    throw new ConfigurationError(`bucket ${JSON.stringify(bucket)} must have 0 <= index < count`);
  }
  return `hash(${orderId}) % ${bucket.count} = ${bucket.index}`;
}

const MAX_SAFE = '9007199254740991';

/**
 * A row of `def` as the JSON object the quarantine and the report examples show: keyed by field (money in
 * cents), timestamps ISO-8601, integers as numbers while exact and as strings beyond 2^53.
 */
function rowJson(def: TableDef, alias: string): string {
  const members = def.columns.map((c) => {
    const value = `${alias}.${quoteIdent(c.name)}`;
    let json: string;
    if (c.kind === 'timestamp') json = `to_json(${DUCKDB_DIALECT.isoTimestamp(value)})`;
    else if (c.kind === 'decimal' || c.kind === 'int64') {
      const whole = c.kind === 'decimal' ? `CAST(${value} * ${10 ** (c.scale ?? 0)} AS BIGINT)` : value;
      json = `CASE WHEN abs(${whole}) <= ${MAX_SAFE} THEN to_json(${whole}) ELSE to_json(CAST(${whole} AS VARCHAR)) END`;
    } else json = `to_json(${value})`;
    return `${sqlLiteral(c.field)}: ${json}`;
  });
  return `{${members.join(', ')}}`;
}

export interface CheckedDataset {
  dataset: Dataset;
  def: TableDef;
  /** The table of every row with its reason columns and ROW_NUMBER. */
  table: string;
  /** A view of the rows that passed. */
  valid: string;
  compiled: CompiledDataset;
  checks: CheckResult[];
  quality: DatasetQuality;
}

export interface CheckSpec {
  dataset: Dataset;
  rules: DatasetRules;
  def: TableDef;
  /** A relation of the dataset's rows (columns of `def`) with ROW_NUMBER, their input order. */
  source: string;
  businessDate: string;
  references?: Partial<Record<'catalog' | 'orders', ReferenceTarget>>;
  now: Date;
}

/**
 * Runs a dataset's declared checks (all but reconcile_total) in the engine. Every check sees every row;
 * a row failing any quarantine-severity check is quarantined with all its reasons. Dataset-level checks
 * report `failedRows: 0` and describe the failure in `example`; the gate relies on this.
 */
export async function checkDataset(engine: Engine, spec: CheckSpec): Promise<CheckedDataset> {
  const compiled = compileDataset(spec.rules, {
    def: spec.def,
    businessDate: spec.businessDate,
    dialect: DUCKDB_DIALECT,
    references: spec.references,
  });
  const table = `${spec.dataset}_checked`;
  const valid = `${spec.dataset}_valid`;
  await engine.run(`CREATE OR REPLACE TABLE ${table} AS ${compiled.select(spec.source)}`);
  await engine.run(
    `CREATE OR REPLACE VIEW ${valid} AS SELECT * FROM ${table} WHERE NOT (${compiled.quarantined})`,
  );
  const figures = [
    'count(*) AS rows_in',
    `sum(CASE WHEN ${compiled.quarantined} THEN 1 ELSE 0 END) AS quarantined`,
    ...compiled.rowChecks.flatMap(({ column }) => [
      `count(${column}) AS ${column}_failed`,
      `min(CASE WHEN ${column} IS NOT NULL THEN ${ROW_NUMBER} END) AS ${column}_first`,
    ]),
    ...compiled.aggregateChecks.map((a) => `${a.expression} AS ${a.column}`),
  ];
  const [totals] = await engine.rows<Record<string, unknown>>(`SELECT ${figures.join(', ')} FROM ${table}`);
  const firsts = compiled.rowChecks
    .map(({ column }) => totals[`${column}_first`])
    .filter((v) => v !== null && v !== undefined);
  const examples = await exampleRows(engine, table, spec.def, firsts);

  let datasetLevelFailed = false;
  const checks: CheckResult[] = [];
  let row = 0;
  let aggregate = 0;
  for (const check of spec.rules.checks) {
    if (check.kind === 'reconcile_total') continue;
    const result = checkResult(spec.dataset, check);
    if (check.kind === 'row_count' || check.kind === 'freshness') {
      const compiledCheck = compiled.aggregateChecks[aggregate++];
      const failure = datasetLevelFailure(compiledCheck.check, totals[compiledCheck.column], spec.now);
      if (failure !== null) {
        Object.assign(result, { passed: false, example: failure });
        datasetLevelFailed ||= check.severity === 'quarantine';
      }
    } else {
      const { column } = compiled.rowChecks[row++];
      result.failedRows = Number(totals[`${column}_failed`]);
      result.passed = result.failedRows === 0;
      if (!result.passed) result.example = examples.get(String(totals[`${column}_first`]));
    }
    checks.push(result);
  }
  const rowsIn = Number(totals.rows_in);
  const rowsQuarantined = Number(totals.quarantined ?? 0);
  const share = rowsIn === 0 ? 0 : rowsQuarantined / rowsIn;
  const quality: DatasetQuality = {
    dataset: spec.dataset,
    rowsIn,
    rowsValid: rowsIn - rowsQuarantined,
    rowsQuarantined,
    quarantineShare: share,
    threshold: spec.rules.quarantineThreshold,
    passed: share <= spec.rules.quarantineThreshold && !datasetLevelFailed,
  };
  return { dataset: spec.dataset, def: spec.def, table, valid, compiled, checks, quality };
}

/** The rows at the given positions as report examples (JSON text), by position. */
export async function exampleRows(
  engine: Engine,
  relation: string,
  def: TableDef,
  positions: readonly unknown[],
): Promise<Map<string, string>> {
  if (positions.length === 0) return new Map();
  const rows = await engine.rows<{ position: unknown; example: string }>(
    `SELECT ${ROW_NUMBER} AS position, CAST(to_json(${rowJson(def, 't')}) AS VARCHAR) AS example
     FROM ${relation} t WHERE ${ROW_NUMBER} IN (${positions.map(String).join(', ')})`,
  );
  return new Map(rows.map((r) => [String(r.position), r.example]));
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
  workspace: LakeWorkspace,
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
  workspace: LakeWorkspace,
  lake: LakeStore,
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

/** A catalog update's tally with the current catalog's (already valid) products added as valid input. */
function withCurrent(quality: DatasetQuality, rows: number): DatasetQuality {
  const rowsIn = quality.rowsIn + rows;
  const quarantineShare = rowsIn === 0 ? 0 : quality.rowsQuarantined / rowsIn;
  return {
    ...quality,
    rowsIn,
    rowsValid: quality.rowsValid + rows,
    quarantineShare,
    passed: quarantineShare <= quality.threshold,
  };
}

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
  const quality = withRejected(withCurrent(checked.quality, kept), update.rejected);
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
  workspace: LakeWorkspace,
  lake: LakeStore,
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
