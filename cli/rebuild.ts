/**
 * `cartflow rebuild`: the warehouse's tables for a range of dates reloaded from what earlier runs left in
 * the lake, never from the source database. Per date, the curated Parquet of the four batch tables goes
 * through the batch's own LoadTable and PublishDate steps (one transaction per date), then the compacted
 * event files of the date through the events loader's transaction (copy, deduplicate, recount the minutes).
 * Each date is first claimed in ops.run_claim as ResolveRun claims it (PublishDate publishes only for the
 * holder); a date whose batch run is running is refused, never taken from it.
 * The same locally and on AWS: only the adapters the steps are built over differ.
 */
import { randomUUID } from 'node:crypto';
import type { PipelineState, PublishResult, LoadResult, LoadTableInput } from '../lambdas/core/contracts';
import { BATCH_TABLES, type BatchTable } from '../lambdas/core/model';
import { layout } from '../lambdas/core/layout';
import { claimDate, holderOf } from '../lambdas/core/run-claim';
import { qualifiedName, recordRunStatements } from '../lambdas/core/sql';
import { COMPACTED_PREFIX, newLoadId } from '../lambdas/core/clickstream/load';
import { CLICKSTREAM_TABLES } from '../lambdas/core/clickstream/tables';
import { WAREHOUSE_TABLES } from '../lambdas/core/tables';
import type { EngineSettings } from '../lambdas/core/engine/engine';
import { withEngine } from '../lambdas/adapters/lake-workspace';
import type { LakeStore, SourceDatabase, Step, Warehouse } from '../lambdas/adapters/ports';
import { copyEventFiles } from '../lambdas/handlers/load-events';
import { step as loadTableStep } from '../lambdas/handlers/load-table';
import { step as publishDateStep } from '../lambdas/handlers/publish-date';

/** What a rebuild runs over: the lake, the warehouse and the batch steps built over them. */
export interface RebuildServices {
  readonly lake: LakeStore;
  readonly warehouse: Warehouse;
  /** A step's handler over the target's adapters (local: LocalServices.build; AWS: the environment's). */
  build<S, I, O>(step: Step<S, I, O>): (input: I) => Promise<O>;
  /** The role the warehouse's COPY assumes to read the lake (the events load names it too). */
  readonly copyRoleArn: string;
  /** DuckDB for the events load's (empty) ledger file. */
  readonly engine: EngineSettings;
  /**
   * The batch state machine's timeout (config slaMinutes): a claim older than this is a run that no longer
   * runs, as ResolveRun reads it.
   */
  readonly runTimeoutMinutes: number;
}

/** A date of the range whose curated Parquet is gone (expired, deleted, or the date never ran). */
export interface MissingDate {
  date: string;
  tables: BatchTable[];
}

/** `rebuild` of a range with dates the lake cannot restore: nothing was loaded. */
export class CuratedFilesMissingError extends Error {
  override name = 'CuratedFilesMissingError';

  constructor(readonly missing: MissingDate[]) {
    const shown = missing
      .slice(0, 20)
      .map((m) => `${m.date} (${m.tables.join(', ')})`)
      .join(', ');
    const more = missing.length > 20 ? ` and ${missing.length - 20} more` : '';
    super(
      `the lake has no curated Parquet under ${layout.curatedPrefix('<table>' as BatchTable, '<date>')} for ` +
        `${missing.length} date(s): ${shown}${more}; nothing was loaded. Rebuild a range without them, or run ` +
        'them again from the source database (cartflow backfill --from D1 --to D2 --force)',
    );
  }
}

/** A batch run of the date, RUNNING and holding its claim in ops.run_claim. */
export interface RunningDate {
  date: string;
  run: string;
}

/** `rebuild` of a range with dates a batch run is publishing: nothing was loaded. */
export class DateRunningError extends Error {
  override name = 'DateRunningError';

  constructor(readonly running: RunningDate[]) {
    const shown = running.map((r) => `${r.date} (run ${r.run})`).join(', ');
    super(
      `batch runs hold ${running.length} date(s) of the range in ops.run_claim and are running: ${shown}; ` +
        'nothing was loaded. Rebuild once they have finished (cartflow status), or rebuild a range without them',
    );
  }
}

/** The source database as a rebuild sees it: any use is a bug, never a silent read. */
export class SourceNotUsedError extends Error {
  override name = 'SourceNotUsedError';
}

/** Put in place of the source adapter: a rebuild reads the lake only. */
export const NO_SOURCE: SourceDatabase = {
  connect: () =>
    Promise.reject(
      new SourceNotUsedError('rebuild reads the lake only; a step asked for the source database'),
    ),
};

export interface RebuiltDate {
  date: string;
  /** The rebuild's run id of the date (ops.pipeline_run.run_id). */
  run: string;
  /** Rows staged and published per batch table. */
  tables: Record<BatchTable, number>;
  /** Compacted event files of the date loaded, and the events the fact table gained from them. */
  eventFiles: number;
  events: number;
  ms: number;
}

export interface RebuildResult {
  dates: RebuiltDate[];
  ms: number;
  /** Batch rows plus events, over the whole rebuild. */
  rows: number;
}

export interface RebuildOptions {
  /** Called as each date is published. */
  onDate?: (done: RebuiltDate, index: number, total: number) => void;
  now?: () => Date;
}

/** The dates among `dates` that lack a curated table, and which tables. */
export async function missingCurated(lake: LakeStore, dates: readonly string[]): Promise<MissingDate[]> {
  const missing: MissingDate[] = [];
  for (const date of dates) {
    const listed = await Promise.all(
      BATCH_TABLES.map(async (table) => ({
        table,
        files: await lake.list(layout.curatedPrefix(table, date)),
      })),
    );
    const tables = listed.filter((l) => !l.files.some((f) => f.key.endsWith('.parquet'))).map((l) => l.table);
    if (tables.length > 0) missing.push({ date, tables });
  }
  return missing;
}

/** The dates among `dates` whose claim a live batch run holds (core/run-claim.ts decides what lives). */
export async function runningDates(
  services: Pick<RebuildServices, 'warehouse' | 'runTimeoutMinutes'>,
  dates: readonly string[],
  now: Date,
): Promise<RunningDate[]> {
  const running: RunningDate[] = [];
  for (const date of dates) {
    const holder = await holderOf(services.warehouse, date, {
      timeoutMinutes: services.runTimeoutMinutes,
      now,
    });
    if (holder?.live) running.push({ date, run: holder.runId });
  }
  return running;
}

/**
 * Reloads `dates` (in order) from the lake. Refuses the whole range, before any load, when a date lacks
 * its curated Parquet (CuratedFilesMissingError) or a batch run of it is running (DateRunningError). Each
 * date is claimed by its rebuild run, which keeps the claim once finished: the next batch run of the date
 * takes it over, as it takes over any finished run's. Each date is recorded in ops.pipeline_run as a SUCCEEDED
 * run of its own (`rebuild-<date>-…`), so `backfill` skips it and `status` shows it; its quality figures
 * (ops.dataset_load, ops.quality_result) stay with the runs that produced the files.
 */
export async function rebuildFromLake(
  services: RebuildServices,
  dates: readonly string[],
  options: RebuildOptions = {},
): Promise<RebuildResult> {
  const now = options.now ?? (() => new Date());
  const missing = await missingCurated(services.lake, dates);
  if (missing.length > 0) throw new CuratedFilesMissingError(missing);
  const running = await runningDates(services, dates, now());
  if (running.length > 0) throw new DateRunningError(running);
  const loadTable = services.build(loadTableStep) as (input: LoadTableInput) => Promise<LoadResult>;
  const publishDate = services.build(publishDateStep) as (input: PublishInputOf) => Promise<PublishResult>;
  const started = Date.now();
  const rebuilt: RebuiltDate[] = [];
  for (const [index, date] of dates.entries()) {
    const dateStarted = Date.now();
    const run = {
      runId: `rebuild-${date}-${randomUUID().slice(0, 8)}`,
      businessDate: date,
      startedAt: now().toISOString(),
    };
    const items = BATCH_TABLES.map((table) => ({
      table,
      prefix: layout.curatedPrefix(table, date),
      rows: 0,
    }));
    // Claimed and recorded RUNNING as ResolveRun does: a batch run started meanwhile ends superseded.
    await claimDate(services.warehouse, run, { timeoutMinutes: services.runTimeoutMinutes, now: now() });
    const record = (status: 'RUNNING' | 'SUCCEEDED' | 'FAILED', message?: string) =>
      services.warehouse.executeBatch(
        recordRunStatements({
          ...run,
          status,
          ...(status === 'RUNNING' ? {} : { finishedAt: now(), message }),
          datasets: [],
          checks: [],
        }),
      );
    await record('RUNNING');
    let loads: LoadResult[];
    try {
      // The load Map's iterations, then the date published in one transaction, as the batch does.
      loads = await Promise.all(items.map((item) => loadTable({ run, item })));
      await publishDate({
        run,
        validation: { passed: true, reportKey: '', datasets: [], checks: [], tables: items },
      });
    } catch (error) {
      // Finished, so the date's next run takes the claim over at once.
      await record('FAILED', `${(error as Error).name}: ${(error as Error).message}`);
      throw error;
    }
    await record(
      'SUCCEEDED',
      `rebuilt from the lake (${layout.curatedPrefix('<table>' as BatchTable, date)}) by cartflow rebuild`,
    );
    const events = await loadEventsOfDate(services, date, now());
    const tables = Object.fromEntries(loads.map((l) => [l.table, l.rowsLoaded])) as Record<
      BatchTable,
      number
    >;
    const done = { date, run: run.runId, tables, ...events, ms: Date.now() - dateStarted };
    rebuilt.push(done);
    options.onDate?.(done, index, dates.length);
  }
  const rows = rebuilt.reduce(
    (sum, d) => sum + d.events + Object.values(d.tables).reduce((a, b) => a + b, 0),
    0,
  );
  return { dates: rebuilt, ms: Date.now() - started, rows };
}

type PublishInputOf = Pick<PipelineState, 'run' | 'validation'>;

const FACT_CLICK_EVENT = qualifiedName(CLICKSTREAM_TABLES.fact_click_event);

/**
 * The date's compacted event files (the loader's hour files, `dt=` the Kafka time's date) through the
 * events load's own transaction: the fact deduplicated by event_id, the touched minutes recounted. Its
 * ledger file is empty: the ledger names the stream's objects, which the compacted files no longer tell.
 */
async function loadEventsOfDate(
  services: RebuildServices,
  date: string,
  at: Date,
): Promise<{ eventFiles: number; events: number }> {
  const files = (await services.lake.list(`${COMPACTED_PREFIX}dt=${date}/`)).filter((f) =>
    f.key.endsWith('.parquet'),
  );
  if (files.length === 0) return { eventFiles: 0, events: 0 };
  const { lake, warehouse } = services;
  const count = async () =>
    Number(
      (await warehouse.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${FACT_CLICK_EVENT}`))[0].n,
    );
  const before = await count();
  const loadId = newLoadId(at, randomUUID().slice(0, 8));
  await withEngine(lake, services.engine.tempDirectory, services.engine, (engine, workspace) =>
    copyEventFiles({ lake, warehouse }, engine, workspace, {
      loadId,
      files,
      copyRoleArn: services.copyRoleArn,
      // No ledger rows: the files are the compacted ones, whose sources the ledger already lists.
      ledgerSql: `SELECT CAST(NULL AS VARCHAR) AS object_key, CAST(NULL AS VARCHAR) AS etag, CAST(NULL AS BIGINT) AS "rows",
              CAST(NULL AS VARCHAR) AS load_id, CAST(NULL AS TIMESTAMP) AS loaded_at WHERE false`,
    }),
  );
  return { eventFiles: files.length, events: (await count()) - before };
}

/** Every table readers see: the batch's analytics tables and the clickstream's. */
const READER_TABLES = [
  ...WAREHOUSE_TABLES.filter((t) => t.schema === 'analytics'),
  ...Object.values(CLICKSTREAM_TABLES),
];

/**
 * Per reader table, "<rows> <md5 over its rows in a fixed order>": equal digests, equal content. It uses
 * PostgreSQL's md5 and string_agg, so it checks the local warehouse (the rebuild test and bench).
 */
export async function tableDigests(warehouse: Pick<Warehouse, 'query'>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of READER_TABLES) {
    const [row] = await warehouse.query<{ n: string; d: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(x::text, '|' ORDER BY x::text)) AS d FROM ${qualifiedName(table)} x`,
    );
    out[table.name] = `${row.n} ${row.d}`;
  }
  return out;
}

/** Per minute of wall time; 0 for an instant rebuild. */
export const perMinute = (count: number, ms: number): number => (ms <= 0 ? 0 : (count * 60_000) / ms);

/** The command's summary: one line per date, totals and the rebuild rate. */
export function rebuildSummary(result: RebuildResult): string {
  const header = ['date', ...BATCH_TABLES, 'events', 'duration'];
  const rows = result.dates.map((d) => [
    d.date,
    ...BATCH_TABLES.map((t) => String(d.tables[t])),
    String(d.events),
    `${(d.ms / 1000).toFixed(1)} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const minutes = result.ms / 60_000;
  return [
    line(header),
    ...rows.map(line),
    '',
    `rebuilt ${result.dates.length} dates, ${result.rows} rows in ${(result.ms / 1000).toFixed(1)} s ` +
      `(${minutes.toFixed(2)} min)`,
    `rebuild rate: ${perMinute(result.dates.length, result.ms).toFixed(1)} dates/min, ` +
      `${Math.round(perMinute(result.rows, result.ms))} rows/min`,
    '',
  ].join('\n');
}
