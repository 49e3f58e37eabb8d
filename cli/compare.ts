/**
 * `cartflow compare`: a shadow run of the current code for a past date, then its difference from what is
 * published. The shadow run takes the date's raw extract the published run left in the lake (the source is
 * not read) through the batch's own Transform, Validate and LoadTable steps; its lake writes go under
 * `shadow/<run id>/` and its publish fills the `shadow` schema, never the published tables; it records
 * nothing in ops.* (no claim, no pipeline_run), so the published runs' records stay as they are.
 */
import { randomUUID } from 'node:crypto';
import type {
  CheckResult,
  LoadResult,
  LoadTableInput,
  PipelineState,
  TransformResult,
  ValidationResult,
} from '../lambdas/core/contracts';
import { LAKE } from '../lambdas/contract';
import { PermanentError } from '../lambdas/core/errors';
import { layout } from '../lambdas/core/layout';
import { BATCH_TABLES, DATASETS, type BatchTable } from '../lambdas/core/model';
import {
  dropStageStatements,
  ident,
  literal,
  qualifiedName,
  shadowPublishStatements,
  shadowTableName,
  stageTableName,
} from '../lambdas/core/sql';
import { TABLES, type TableDef } from '../lambdas/core/tables';
import type { Adapters, LakeObject, LakeStore, Step, Warehouse } from '../lambdas/adapters/ports';
import type {
  CheckDifference,
  ShadowComparison,
  TableDifference,
  TimelineStep,
} from '../lambdas/core/report/model';
import { writeShadowReport } from '../local/run-report';
import { step as loadTableStep } from '../lambdas/handlers/load-table';
import { step as transformStep } from '../lambdas/handlers/transform';
import { step as validateStep } from '../lambdas/handlers/validate';

/** What a shadow run runs over: the lake, the warehouse and the batch steps built over given adapters. */
export interface CompareServices {
  readonly lake: LakeStore;
  readonly warehouse: Warehouse;
  /** A step's handler over the target's adapters with `extra` ones in place (the shadow lake). */
  build<S, I, O>(step: Step<S, I, O>, extra?: Partial<Adapters>): (input: I) => Promise<O>;
}

/** The zones a shadow run reads from the published lake and never writes: its input. */
const INPUT_ZONES = [LAKE.raw, LAKE.catalog] as const;

/**
 * The lake as a shadow run sees it: raw/ and catalog/ are the published lake's (read-only), every other
 * key lives under `shadow/<run id>/`, so the run's staged, curated, quarantine and quality files never
 * replace a published run's.
 */
export class ShadowLake implements LakeStore {
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    private readonly lake: LakeStore,
    runId: string,
  ) {
    this.bucket = lake.bucket;
    this.prefix = `${LAKE.shadow}${runId}/`;
  }

  private read(key: string): string {
    return INPUT_ZONES.some((zone) => key.startsWith(zone)) ? key : this.prefix + key;
  }

  private write(key: string): string {
    if (INPUT_ZONES.some((zone) => key.startsWith(zone)))
      throw new PermanentError(
        `a shadow run reads ${key} and must not write it (${INPUT_ZONES.join(', ')} are the published lake's)`,
      );
    return this.prefix + key;
  }

  put(key: string, body: Uint8Array | string, contentType?: string) {
    return this.lake.put(this.write(key), body, contentType);
  }
  get(key: string) {
    return this.lake.get(this.read(key));
  }
  getText(key: string) {
    return this.lake.getText(this.read(key));
  }
  async list(prefix: string): Promise<LakeObject[]> {
    const listed = await this.lake.list(this.read(prefix));
    const shadowed = this.read(prefix) !== prefix;
    return shadowed ? listed.map((o) => ({ ...o, key: o.key.slice(this.prefix.length) })) : listed;
  }
  deletePrefix(prefix: string) {
    return this.lake.deletePrefix(this.write(prefix));
  }
  move(from: string, to: string) {
    return this.lake.move(this.write(from), this.write(to));
  }
  download(key: string, path: string) {
    return this.lake.download(this.read(key), path);
  }
  upload(key: string, path: string, contentType?: string) {
    return this.lake.upload(this.write(key), path, contentType);
  }
  uploadIf(key: string, path: string, etag: string | undefined, contentType?: string) {
    return this.lake.uploadIf(this.write(key), path, etag, contentType);
  }
}

/** The date has no published run to compare with, or its raw extract is gone. */
export class NothingToCompareError extends Error {
  override name = 'NothingToCompareError';
}

export interface Comparison extends ShadowComparison {
  date: string;
  shadowRun: string;
  /** Where the shadow run's lake files are (its quality JSON and HTML report among them). */
  shadowPrefix: string;
  /** The shadow run's HTML report: its figures and a section on how it differs from the published run. */
  report: string;
  /** The shadow run's gate; when it fails, the shadow tables are empty. */
  gate: { passed: boolean; failureReason?: string };
}

/** The date's latest succeeded run that validated data (a rebuild's records carry no quality figures). */
async function publishedRunOf(warehouse: Warehouse, date: string): Promise<string> {
  const rows = await warehouse.query<{ run_id: string }>(
    `SELECT run_id FROM ${qualifiedName(TABLES.pipeline_run)}
     WHERE business_date = ${literal(date)} AND status = 'SUCCEEDED'
       AND run_id IN (SELECT run_id FROM ${qualifiedName(TABLES.dataset_load)})
     ORDER BY started_at DESC LIMIT 1`,
  );
  if (rows.length === 0)
    throw new NothingToCompareError(
      `${date} has no succeeded run in ops.pipeline_run to compare with; run it first (cartflow run --date ${date})`,
    );
  return rows[0].run_id;
}

/**
 * Runs the date's shadow run and compares it with the published tables: per batch table, the rows by key
 * (the date's partition; dim_product, which holds no date, as the published run loaded it: its curated
 * file of the date) and the sums of every numeric column; per check, the rows it failed.
 */
export async function compareDate(
  services: CompareServices,
  date: string,
  options: { now?: () => Date } = {},
): Promise<Comparison> {
  const now = options.now ?? (() => new Date());
  const { warehouse } = services;
  const publishedRun = await publishedRunOf(warehouse, date);
  for (const dataset of DATASETS) {
    const raw = await services.lake.list(layout.rawPrefix(dataset, date));
    if (!raw.some((o) => o.key.endsWith('.parquet')))
      throw new NothingToCompareError(
        `the lake has no raw extract under ${layout.rawPrefix(dataset, date)}: a shadow run starts from it; ` +
          `run the date again (cartflow run --date ${date}) to extract it`,
      );
  }
  const run = {
    runId: `shadow-${date}-${randomUUID().slice(0, 8)}`,
    businessDate: date,
    startedAt: now().toISOString(),
  };
  const lake = new ShadowLake(services.lake, run.runId);
  const transform = services.build(transformStep, { lake }) as (s: PipelineState) => Promise<TransformResult>;
  const validate = services.build(validateStep, { lake }) as (s: PipelineState) => Promise<ValidationResult>;
  const loadTable = services.build(loadTableStep) as (input: LoadTableInput) => Promise<LoadResult>;

  // The steps' times, as the report's timeline shows a run's.
  const steps: TimelineStep[] = [];
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      const result = await work();
      steps.push({
        state: name,
        status: 'succeeded',
        startedAt: new Date(started).toISOString(),
        ms: Date.now() - started,
      });
      return result;
    } catch (error) {
      steps.push({
        state: name,
        status: 'failed',
        startedAt: new Date(started).toISOString(),
        ms: Date.now() - started,
        error: (error as Error).message,
      });
      throw error;
    }
  };

  const staged = await timed('Transform', () => transform({ run } as PipelineState));
  const validation = await timed('Validate', () => validate({ run, transform: staged } as PipelineState));
  // The shadow's curated files are under its prefix: the COPY reads them there (same bucket).
  const loaded = validation.passed ? validation.tables : [];
  const loads = await timed('LoadTable', () =>
    Promise.all(
      loaded.map((item) => loadTable({ run, item: { ...item, prefix: lake.prefix + item.prefix } })),
    ),
  );
  // The published dim_product of the date, as its run loaded it, next to the shadow's.
  const baseRun = `${run.runId}-published`;
  const product = {
    table: 'dim_product' as const,
    prefix: layout.curatedPrefix('dim_product', date),
    rows: 0,
  };
  await timed('LoadPublishedProducts', () => loadTable({ run: { ...run, runId: baseRun }, item: product }));

  const tables = loaded.map((item) => TABLES[item.table]);
  // Tables the failed gate left unstaged are empty in the shadow.
  const empty = BATCH_TABLES.filter((t) => !loaded.some((item) => item.table === t)).map((t) => TABLES[t]);
  await timed('PublishShadow', () =>
    warehouse.executeBatch([
      ...shadowPublishStatements(tables, run.runId),
      ...empty.flatMap((table) => [
        `DROP TABLE IF EXISTS ${shadowTableName(table)}`,
        `CREATE TABLE ${shadowTableName(table)} (LIKE ${qualifiedName(table)})`,
      ]),
    ]),
  );

  const differences: TableDifference[] = [];
  try {
    await timed('Compare', async () => {
      for (const name of BATCH_TABLES) {
        const table = TABLES[name];
        const published =
          table.partitionColumn === undefined
            ? stageTableName(table, baseRun)
            : `(SELECT * FROM ${qualifiedName(table)} WHERE ${ident(table.partitionColumn)} = ${literal(date)})`;
        const shadow = `(SELECT * FROM ${shadowTableName(table)})`;
        differences.push(await tableDifference(warehouse, table, published, shadow));
      }
    });
  } finally {
    await warehouse.executeBatch(dropStageStatements([TABLES.dim_product], baseRun));
  }
  const checks = await checkDifferences(warehouse, publishedRun, validation.checks);
  const differ =
    !validation.passed ||
    differences.some(
      (d) =>
        d.added.length + d.removed.length + d.changed.length > 0 ||
        d.published !== d.shadow ||
        d.sums.some((s) => s.published !== s.shadow),
    ) ||
    checks.some((c) => c.published !== c.shadow);
  const comparison = { publishedRun, tables: differences, checks, differ };
  const report = await writeShadowReport(
    { lake, warehouse },
    { run, transform: staged, validation, loads, record: { finishedAt: now().toISOString() } },
    comparison,
    { source: 'execution', steps },
  );
  return {
    date,
    shadowRun: run.runId,
    shadowPrefix: lake.prefix,
    report: lake.prefix + report,
    gate: {
      passed: validation.passed,
      ...(validation.failureReason ? { failureReason: validation.failureReason } : {}),
    },
    ...comparison,
  };
}

const NUMERIC = new Set(['int32', 'int64', 'decimal']);

/** A row's key as text, `k1|k2`, in SQL both dialects take. */
const keyText = (table: TableDef, alias: string) =>
  table.primaryKey.map((k) => `CAST(${alias}.${ident(k)} AS VARCHAR(256))`).join(` || '|' || `);

async function tableDifference(
  warehouse: Warehouse,
  table: TableDef,
  published: string,
  shadow: string,
): Promise<TableDifference> {
  const keyMatch = table.primaryKey.map((k) => `p.${ident(k)} = s.${ident(k)}`).join(' AND ');
  const same = table.columns
    .map(
      (c) =>
        `(p.${ident(c.name)} = s.${ident(c.name)} OR (p.${ident(c.name)} IS NULL AND s.${ident(c.name)} IS NULL))`,
    )
    .join(' AND ');
  const keys = async (sql: string) =>
    (await warehouse.query<{ k: string }>(`${sql} ORDER BY 1`)).map((r) => r.k);
  const added = await keys(
    `SELECT ${keyText(table, 's')} AS k FROM ${shadow} s WHERE NOT EXISTS (SELECT 1 FROM ${published} p WHERE ${keyMatch})`,
  );
  const removed = await keys(
    `SELECT ${keyText(table, 'p')} AS k FROM ${published} p WHERE NOT EXISTS (SELECT 1 FROM ${shadow} s WHERE ${keyMatch})`,
  );
  const changed = await keys(
    `SELECT ${keyText(table, 's')} AS k FROM ${shadow} s JOIN ${published} p ON ${keyMatch} WHERE NOT (${same})`,
  );
  const numeric = table.columns.filter((c) => NUMERIC.has(c.kind));
  const totals = (relation: string) =>
    warehouse.query<Record<string, string | number | null>>(
      `SELECT count(*) AS ${ident('rows')}${numeric
        .map((c, i) => `, CAST(COALESCE(sum(${ident(c.name)}), 0) AS VARCHAR(64)) AS c${i}`)
        .join('')} FROM ${relation} x`,
    );
  const [p] = await totals(published);
  const [s] = await totals(shadow);
  return {
    table: table.name as BatchTable,
    published: Number(p.rows),
    shadow: Number(s.rows),
    added,
    removed,
    changed,
    sums: numeric.map((c, i) => ({
      column: c.name,
      published: String(p[`c${i}`]),
      shadow: String(s[`c${i}`]),
    })),
  };
}

async function checkDifferences(
  warehouse: Warehouse,
  publishedRun: string,
  shadowChecks: readonly CheckResult[],
): Promise<CheckDifference[]> {
  const rows = await warehouse.query<{
    dataset: string;
    check_name: string;
    column_name: string;
    failed_rows: string | number;
  }>(
    `SELECT dataset, check_name, column_name, failed_rows FROM ${qualifiedName(TABLES.quality_result)}
     WHERE run_id = ${literal(publishedRun)}`,
  );
  const byKey = new Map<string, CheckDifference>();
  const entry = (dataset: string, check: string, column: string) => {
    const key = `${dataset}\u0000${check}\u0000${column}`;
    let found = byKey.get(key);
    if (!found) byKey.set(key, (found = { dataset, check, column, published: 0, shadow: 0 }));
    return found;
  };
  for (const r of rows) entry(r.dataset, r.check_name, r.column_name).published = Number(r.failed_rows);
  for (const c of shadowChecks) entry(c.dataset, c.check, c.column ?? '').shadow = c.failedRows;
  return [...byKey.values()]
    .filter((c) => c.published > 0 || c.shadow > 0)
    .sort((a, b) =>
      `${a.dataset} ${a.check} ${a.column}`.localeCompare(`${b.dataset} ${b.check} ${b.column}`),
    );
}

/** Keys listed per kind of difference in the terminal table; --json lists all. */
const SHOWN_KEYS = 10;

/** The command's table: rows by key and sums per table, then failed rows per check. */
export function comparisonSummary(c: Comparison): string {
  const lines: string[] = [
    `compare ${c.date}: shadow run ${c.shadowRun} against published run ${c.publishedRun}`,
    ...(c.gate.passed ? [] : [`shadow run's quality gate FAILED: ${c.gate.failureReason ?? ''}`]),
    '',
  ];
  lines.push(
    ...grid(
      ['table', 'published', 'shadow', 'added', 'removed', 'changed'],
      c.tables.map((t) =>
        [t.table, t.published, t.shadow, t.added.length, t.removed.length, t.changed.length].map(String),
      ),
    ),
    '',
  );
  lines.push(
    ...grid(
      ['column sum', 'published', 'shadow', ''],
      c.tables.flatMap((t) =>
        t.sums.map((s) => [
          `${t.table}.${s.column}`,
          s.published,
          s.shadow,
          s.published === s.shadow ? '' : 'differs',
        ]),
      ),
    ),
    '',
  );
  lines.push(
    ...(c.checks.length === 0
      ? ['quarantine: no check failed a row in either run']
      : grid(
          ['quarantined by check', 'published', 'shadow', ''],
          c.checks.map((k) => [
            `${k.dataset}: ${k.check}`,
            String(k.published),
            String(k.shadow),
            k.published === k.shadow ? '' : 'differs',
          ]),
        )),
    '',
  );
  for (const t of c.tables) {
    for (const kind of ['added', 'removed', 'changed'] as const) {
      const keys = t[kind];
      if (keys.length === 0) continue;
      const more =
        keys.length > SHOWN_KEYS ? ` … and ${keys.length - SHOWN_KEYS} more (--json lists all)` : '';
      lines.push(`${t.table} ${kind}: ${keys.slice(0, SHOWN_KEYS).join(', ')}${more}`);
    }
  }
  lines.push(
    c.differ
      ? `DIFFERENT: the shadow run differs from what is published (its tables: ${SHADOW_TABLES_HINT})`
      : 'SAME: the shadow run matches what is published',
    '',
  );
  return lines.join('\n');
}

const SHADOW_TABLES_HINT = 'cartflow query "SELECT * FROM shadow.fact_order"';

function grid(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}
