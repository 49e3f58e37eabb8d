/**
 * What `cartflow status` shows, gathered through ports so the same code runs on a laptop and against a
 * deployed environment: the warehouse (ops.* and the freshness observations, local PostgreSQL or the
 * Redshift Data API), the lake (quality JSON, on-failure objects), a run history (step times: the local
 * run journal or Step Functions' execution history) and a lag source (a Kafka admin or CloudWatch).
 * Freshness is core/freshness.ts, the very code of the scheduled SLA check.
 */
import type { LakeStore } from '../lambdas/adapters/ports';
import { LAKE } from '../lambdas/contract';
import type { CheckResult } from '../lambdas/core/contracts';
import {
  evaluateFreshness,
  readFreshnessObservations,
  sqlInstant,
  type FreshnessResult,
  type FreshnessRules,
  type WarehouseReader,
} from '../lambdas/core/freshness';
import { layout } from '../lambdas/core/layout';
import { literal } from '../lambdas/core/sql';
import { DataApiUnavailableError } from './aws/data-api';

/** One Task state occurrence (a Map iteration, a retry and a redrive each are one). */
export interface StepTiming {
  state: string;
  startedAt: string;
  /** Null while it runs. */
  ms: number | null;
  status: 'succeeded' | 'failed' | 'retried' | 'caught' | 'replayed' | 'running';
  error?: string;
}

export interface RunSteps {
  /** 1 + the run's redrives. */
  attempt: number;
  steps: StepTiming[];
  /** How the execution failed (its error and cause), when it did. */
  error?: string;
}

/** Where the step times of a run come from. */
export interface RunHistory {
  /** For people: "run journal", "execution history". */
  readonly source: string;
  /** The run's steps and its attempt (1 + redrives); undefined when the history does not know the run. */
  steps(runId: string): Promise<RunSteps | undefined>;
  /** The newest `count` runs, newest first: the runs listed when the warehouse cannot be read. */
  runs?(count: number): Promise<RunRow[]>;
}

/** A run as ops.pipeline_run (or, without the warehouse, Step Functions) records it. */
export interface RunRow {
  run_id: string;
  business_date: string;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  message?: string | null;
}

export interface PartitionLag {
  partition: number;
  /** The group's committed offset; null when the group committed none (lag counts from the low watermark). */
  committed: string | null;
  /** The partition's high watermark. */
  end: string;
  lag: number;
}

export interface StreamLag {
  /** "kafka", "cloudwatch" or "none". */
  source: string;
  /** Records behind (sum over partitions, or CloudWatch's OffsetLag maximum); null when not measured. */
  total: number | null;
  group?: string;
  topic?: string;
  partitions?: PartitionLag[];
  /** The function whose mapping's OffsetLag this is (AWS). */
  functionName?: string;
  /** When the figure was taken (CloudWatch: the datapoint's timestamp). */
  at?: string;
  /** Why there is no figure, or what it means. */
  note?: string;
}

export interface LagSource {
  lag(): Promise<StreamLag>;
}

/** A state's occurrences in one line: how many, from the first start to the last end, how it ended. */
export interface StepSummary {
  state: string;
  count: number;
  retries: number;
  startedAt: string;
  ms: number | null;
  status: StepTiming['status'];
  error?: string;
}

export interface RunAttempt {
  runId: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  ms: number | null;
  message?: string;
}

export interface DateRuns {
  businessDate: string;
  /** Runs of the date recorded in ops.pipeline_run (each `run`, backfill --force or new attempt is one). */
  runs: number;
  latest: RunAttempt;
  /** The latest run's redrive attempt (1 + redrives), when the history knows it. */
  attempt?: number;
  /** The latest run's steps, for the few most recent dates. */
  steps?: StepSummary[];
  /** Why there are no steps. */
  stepsNote?: string;
  /** How the latest run's execution failed. */
  error?: string;
}

export interface FailedCheck {
  businessDate: string;
  runId: string;
  dataset: string;
  check: string;
  column: string;
  severity: string;
  failedRows: number;
  /** One failing row as JSON: the run's quality JSON in the lake, else ops.quality_result.example. */
  example: string | null;
}

export interface OnFailureObject {
  key: string;
  size: number;
  lastModified: string | null;
}

export interface StatusReport {
  environment: string;
  generatedAt: string;
  runs: DateRuns[];
  stepSource: string;
  freshness: FreshnessResult[];
  /** Datasets whose freshness is breached. */
  breaches: string[];
  failedChecks: FailedCheck[];
  streamLag: StreamLag;
  onFailure: { prefix: string; total: number; newest: OnFailureObject[] };
  /** Why runs, freshness and failed checks are not from the warehouse (the Data API is unavailable). */
  warehouseNote?: string;
}

export interface StatusPorts {
  warehouse: WarehouseReader;
  lake: Pick<LakeStore, 'list' | 'getText' | 'bucket'>;
  history: RunHistory;
  /** Absent: not measured (the note says why). */
  lag?: LagSource;
  lagNote?: string;
}

export interface StatusOptions {
  environment: string;
  rules: FreshnessRules;
  now: Date;
  /** Business dates listed. @default 10 */
  dates?: number;
  /** The most recent dates whose latest run's steps are read (one history read each). @default 3 */
  stepsOfDates?: number;
  /** On-failure objects listed. @default 5 */
  onFailureObjects?: number;
}

const instant = (text: unknown): string | null =>
  sqlInstant(text === null || text === undefined ? undefined : String(text))?.toISOString() ?? null;

const errorText = (error: unknown) => (error as Error).message ?? String(error);

export async function gatherStatus(ports: StatusPorts, options: StatusOptions): Promise<StatusReport> {
  let warehouseNote: string | undefined;
  let read: Pick<StatusReport, 'runs' | 'failedChecks' | 'freshness'>;
  try {
    read = await warehouseParts(ports, options);
  } catch (error) {
    // No Data API (LocalStack community, or a region or role without it): what Step Functions, the lake and
    // CloudWatch say is still shown, with why the rest is missing.
    if (!(error instanceof DataApiUnavailableError)) throw error;
    warehouseNote = `runs from ${ports.history.source}; freshness and failed checks not read: ${error.message}`;
    const rows = ports.history.runs ? await ports.history.runs(2 * (options.dates ?? 10)) : [];
    read = { runs: await runsOf(ports, options, rows), failedChecks: [], freshness: [] };
  }
  const { runs, failedChecks, freshness } = read;
  const [streamLag, onFailure] = await Promise.all([
    ports.lag
      ? ports.lag.lag().catch((error): StreamLag => ({
          source: 'error',
          total: null,
          note: `not measured: ${errorText(error)}`,
        }))
      : Promise.resolve<StreamLag>({ source: 'none', total: null, note: ports.lagNote ?? 'not measured' }),
    onFailureObjects(ports, options.onFailureObjects ?? 5),
  ]);
  return {
    environment: options.environment,
    generatedAt: options.now.toISOString(),
    runs,
    stepSource: ports.history.source,
    freshness,
    breaches: freshness.filter((f) => f.status === 'breached').map((f) => f.dataset),
    failedChecks,
    streamLag,
    onFailure,
    ...(warehouseNote ? { warehouseNote } : {}),
  };
}

/** What the warehouse says: the runs in ops.pipeline_run, their failed checks, freshness. */
async function warehouseParts(
  ports: StatusPorts,
  options: StatusOptions,
): Promise<Pick<StatusReport, 'runs' | 'failedChecks' | 'freshness'>> {
  const tables = new Set(
    (
      await ports.warehouse.query<{ name: string }>(
        `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables WHERE table_schema = 'ops'`,
      )
    ).map((r) => r.name),
  );
  const runs = tables.has('ops.pipeline_run') ? await recentRuns(ports, options) : [];
  const failedChecks =
    runs.length > 0 && tables.has('ops.quality_result') ? await failedChecksOf(ports, runs) : [];
  const freshness = evaluateFreshness(
    options.rules,
    await readFreshnessObservations(ports.warehouse, options.rules),
    options.now,
  );
  return { runs, failedChecks, freshness };
}

/** Per business date: its latest run (by start), how many runs it had; steps of the most recent few. */
async function recentRuns(ports: StatusPorts, options: StatusOptions): Promise<DateRuns[]> {
  // Portable SQL (PostgreSQL and Redshift): dates by their latest start, then those dates' runs.
  const dates = await ports.warehouse.query<{ business_date: string; runs: unknown }>(
    `SELECT CAST(business_date AS VARCHAR) AS business_date, count(*) AS runs FROM ops.pipeline_run
     GROUP BY business_date ORDER BY max(started_at) DESC LIMIT ${options.dates ?? 10}`,
  );
  if (dates.length === 0) return [];
  const rows = await ports.warehouse.query<RunRow>(
    `SELECT run_id, CAST(business_date AS VARCHAR) AS business_date, status,
       CAST(started_at AS VARCHAR) AS started_at, CAST(finished_at AS VARCHAR) AS finished_at, message
     FROM ops.pipeline_run WHERE business_date IN (${dates.map((d) => literal(d.business_date.slice(0, 10))).join(', ')})
     ORDER BY started_at DESC, run_id DESC`,
  );
  const counts = new Map(dates.map((d) => [d.business_date.slice(0, 10), Number(d.runs)]));
  return runsOf(ports, options, rows, counts);
}

/**
 * The dates of `rows` (newest first) in order of their latest run, each with that run and its count (`counts`,
 * else the rows of the date), the most recent few with their steps from the history.
 */
async function runsOf(
  ports: StatusPorts,
  options: StatusOptions,
  rows: readonly RunRow[],
  counts?: ReadonlyMap<string, number>,
): Promise<DateRuns[]> {
  const dateOf = (row: RunRow) => row.business_date.slice(0, 10);
  const dates = [...new Set(rows.map(dateOf))].slice(0, options.dates ?? 10);
  const stepsOf = options.stepsOfDates ?? 3;
  return Promise.all(
    dates.map(async (date, index): Promise<DateRuns> => {
      const row = rows.find((r) => dateOf(r) === date)!;
      const startedAt = instant(row.started_at);
      const finishedAt = instant(row.finished_at);
      const latest: RunAttempt = {
        runId: row.run_id,
        status: row.status,
        startedAt,
        finishedAt,
        ms: startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
        ...(row.message ? { message: row.message } : {}),
      };
      const runs = counts?.get(date) ?? rows.filter((r) => dateOf(r) === date).length;
      const entry: DateRuns = { businessDate: date, runs, latest };
      if (index >= stepsOf) return entry;
      try {
        const history = await ports.history.steps(row.run_id);
        if (!history) return { ...entry, stepsNote: `no ${ports.history.source} of run ${row.run_id}` };
        return {
          ...entry,
          attempt: history.attempt,
          steps: summarizeSteps(history.steps),
          ...(history.error ? { error: history.error } : {}),
        };
      } catch (error) {
        return { ...entry, stepsNote: `${ports.history.source} unreadable: ${errorText(error)}` };
      }
    }),
  );
}

const FAILED = new Set<StepTiming['status']>(['failed', 'caught']);

/**
 * One line per state in order of first start. Its status: running while an occurrence runs; failed when
 * one failed and the last to end did not succeed (a retry or a redrive that succeeded clears it);
 * replayed when every occurrence replayed a recorded result; else succeeded.
 */
export function summarizeSteps(steps: readonly StepTiming[]): StepSummary[] {
  const byState = new Map<string, StepTiming[]>();
  for (const step of [...steps].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt))) {
    byState.set(step.state, [...(byState.get(step.state) ?? []), step]);
  }
  return [...byState.entries()].map(([state, all]) => {
    const ended = all.filter((s) => s.ms !== null);
    const endOf = (s: StepTiming) => Date.parse(s.startedAt) + (s.ms ?? 0);
    const last = [...ended].sort((a, b) => endOf(a) - endOf(b)).at(-1);
    const failure = all.find((s) => FAILED.has(s.status));
    const status: StepTiming['status'] = all.some((s) => s.status === 'running')
      ? 'running'
      : failure && last && last.status !== 'succeeded' && last.status !== 'replayed'
        ? 'failed'
        : all.every((s) => s.status === 'replayed')
          ? 'replayed'
          : 'succeeded';
    const first = Date.parse(all[0].startedAt);
    return {
      state,
      count: all.filter((s) => s.status !== 'retried').length,
      retries: all.filter((s) => s.status === 'retried').length,
      startedAt: all[0].startedAt,
      ms: status === 'running' || !last ? null : Math.max(...ended.map(endOf)) - first,
      status,
      ...(status === 'failed' && failure?.error ? { error: failure.error } : {}),
    };
  });
}

/** The failed checks of the listed runs, each with an example row from the run's quality JSON. */
async function failedChecksOf(ports: StatusPorts, runs: readonly DateRuns[]): Promise<FailedCheck[]> {
  const rows = await ports.warehouse.query<{
    run_id: string;
    business_date: string;
    dataset: string;
    check_name: string;
    column_name: string | null;
    severity: string;
    failed_rows: unknown;
    example: string | null;
  }>(
    `SELECT run_id, CAST(business_date AS VARCHAR) AS business_date, dataset, check_name, column_name, severity,
       failed_rows, example
     FROM ops.quality_result
     WHERE NOT passed AND run_id IN (${runs.map((r) => literal(r.latest.runId)).join(', ')})
     ORDER BY business_date DESC, dataset, check_name, column_name`,
  );
  const reports = new Map<string, Promise<CheckResult[] | undefined>>();
  const checksOf = (runId: string, date: string) => {
    const key = `${date}/${runId}`;
    if (!reports.has(key)) {
      reports.set(
        key,
        ports.lake
          .getText(layout.qualityReport(date, runId))
          .then((text) => (JSON.parse(text) as { checks?: CheckResult[] }).checks)
          // No report (a run that failed before Validate wrote one): the warehouse's example stands.
          .catch(() => undefined),
      );
    }
    return reports.get(key)!;
  };
  return Promise.all(
    rows.map(async (row): Promise<FailedCheck> => {
      const date = row.business_date.slice(0, 10);
      const column = row.column_name ?? '';
      const fromLake = (await checksOf(row.run_id, date))?.find(
        (c) => c.dataset === row.dataset && c.check === row.check_name && (c.column ?? '') === column,
      )?.example;
      return {
        businessDate: date,
        runId: row.run_id,
        dataset: row.dataset,
        check: row.check_name,
        column,
        severity: row.severity,
        failedRows: Number(row.failed_rows),
        example: fromLake ?? row.example ?? null,
      };
    }),
  );
}

async function onFailureObjects(ports: StatusPorts, count: number): Promise<StatusReport['onFailure']> {
  const objects = await ports.lake.list(LAKE.streamOnFailure);
  const time = (o: { lastModified?: Date }) => o.lastModified?.getTime() ?? 0;
  const newest = [...objects]
    .sort((a, b) => time(b) - time(a) || (a.key < b.key ? 1 : -1))
    .slice(0, count)
    .map((o) => ({ key: o.key, size: o.size, lastModified: o.lastModified?.toISOString() ?? null }));
  return { prefix: LAKE.streamOnFailure, total: objects.length, newest };
}
