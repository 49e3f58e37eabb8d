/**
 * A dataset's quality rules run as SQL in the engine (compile-sql.ts): every row with its reasons, the
 * counts per check and one example row per failed check. The rows stay in DuckDB (spilling to disk past
 * its memory limit): JavaScript only sees counts and examples.
 */
import type { CheckResult, DatasetQuality } from '../contracts';
import { sqlLiteral, type Engine } from '../engine/engine';
import { quoteIdent } from '../engine/table-io';
import type { Dataset } from '../model';
import type { TableDef } from '../tables';
import {
  checkResult,
  compileDataset,
  datasetLevelFailure,
  DUCKDB_DIALECT,
  ROW_NUMBER,
  type CompiledDataset,
  type ReferenceTarget,
} from './compile-sql';
import { datasetQuality } from './gate';
import type { DatasetRules } from './rules';

const MAX_SAFE = '9007199254740991';

/**
 * A row of `def` as the JSON object the quarantine and the report examples show: keyed by field (money in
 * cents), timestamps ISO-8601, integers as numbers while exact and as strings beyond 2^53.
 */
export function rowJson(def: TableDef, alias: string): string {
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
      }
    } else {
      const { column } = compiled.rowChecks[row++];
      result.failedRows = Number(totals[`${column}_failed`]);
      result.passed = result.failedRows === 0;
      if (!result.passed) result.example = examples.get(String(totals[`${column}_first`]));
    }
    checks.push(result);
  }
  const tally = {
    dataset: spec.dataset,
    rowsIn: Number(totals.rows_in),
    rowsQuarantined: Number(totals.quarantined ?? 0),
    threshold: spec.rules.quarantineThreshold,
  };
  const quality = datasetQuality(tally, checks);
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
