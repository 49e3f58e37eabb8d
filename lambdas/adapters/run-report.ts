/**
 * Gathers a run report's model from the run's state, the lake (quarantine samples) and the warehouse (the
 * date's clickstream minutes), renders it and writes it next to the run's quality JSON.
 */
import { CLICKSTREAM_TABLES } from '../core/clickstream/tables';
import { layout } from '../core/layout';
import { DATASETS } from '../core/model';
import { failureOf, lineageOf, timelineFromState, type FinishedState } from '../core/report/from-state';
import type {
  ErrorMinute,
  EventMinute,
  QuarantineSample,
  RunReportModel,
  RunStatus,
  Timeline,
} from '../core/report/model';
import { renderRunReport } from '../core/report/run-report';
import { datasetLoads } from '../core/run-record';
import { literal, qualifiedName } from '../core/sql';
import { findObject } from './lake-tables';
import type { Adapters, LakeStore, Warehouse } from './ports';

/** Quarantined rows shown per dataset. */
export const QUARANTINE_SAMPLE_ROWS = 5;
/** A quarantine object larger than this is named, not read (a step's memory is not the report's to spend). */
export const QUARANTINE_SAMPLE_MAX_BYTES = 8 * 1024 * 1024;

export interface RunReportInput {
  state: FinishedState;
  status: RunStatus;
  /** Every attempt with its times (the execution's event log); else what the state tells. */
  timeline?: Timeline;
  /** A failed run's failed state (from the execution history): named in the failure and the steps. */
  failedState?: string;
  /** When the run ended. @default the state's RecordRun time, else now */
  finishedAt?: string;
  environment?: string;
  now?: Date;
  /** A shadow run's difference from the published run of its date. */
  comparison?: RunReportModel['comparison'];
}

export async function gatherRunReport(
  { lake, warehouse }: { lake: LakeStore; warehouse: Warehouse },
  input: RunReportInput,
): Promise<RunReportModel> {
  const { state } = input;
  const run = state.run;
  if (run === undefined) throw new Error('gatherRunReport: the state has no run (ResolveRun did not finish)');
  const date = run.businessDate;
  const now = input.now ?? new Date();
  return {
    run: {
      runId: run.runId,
      businessDate: date,
      status: input.status,
      startedAt: run.startedAt,
      finishedAt:
        input.finishedAt ??
        state.record?.finishedAt ??
        (input.status === 'RUNNING' ? undefined : now.toISOString()),
      environment: input.environment,
    },
    generatedAt: now.toISOString(),
    failure: failureAt(failureOf(state), input.failedState),
    qualityReportKey: state.validation?.reportKey,
    timeline: input.timeline ?? timelineFromState(state, input.failedState),
    datasets: datasetLoads(state as Parameters<typeof datasetLoads>[0]),
    loads: (state.loads ?? []).map((l) => ({ table: l.table, rows: l.rowsLoaded })),
    checks: state.validation?.checks ?? [],
    quarantine: await quarantineSamples(lake, state),
    lineage: lineageOf(state),
    clickstream: await clickstreamMinutes(warehouse, date),
    ...(input.comparison ? { comparison: input.comparison } : {}),
  };
}

const failureAt = (failure: string | undefined, state: string | undefined) =>
  failure && state ? `at ${state}: ${failure}` : failure;

/** Renders the report and puts it at the sibling `.html` of the run's quality JSON; returns its key. */
export async function writeRunReport(
  adapters: Pick<Adapters, 'lake' | 'warehouse'>,
  input: RunReportInput,
): Promise<string> {
  const model = await gatherRunReport(adapters, input);
  const key = layout.runReport(model.run.businessDate, model.run.runId);
  await adapters.lake.put(key, renderRunReport(model), 'text/html; charset=utf-8');
  return key;
}

/** The first rows of each dataset's quarantine (and the catalog's unparseable lines) of the date. */
async function quarantineSamples(lake: LakeStore, state: FinishedState): Promise<QuarantineSample[]> {
  const date = state.run!.businessDate;
  const measured = new Map((state.validation?.datasets ?? []).map((d) => [d.dataset, d.rowsQuarantined]));
  const rejected = (state.extract ?? []).flat().find((e) => e.dataset === 'products')?.rejected ?? 0;
  const wanted: {
    dataset: string;
    key: string;
    toRow: (line: Record<string, unknown>) => QuarantineSample['rows'][number];
  }[] = [];
  for (const dataset of DATASETS) {
    if ((measured.get(dataset) ?? 0) > 0) {
      wanted.push({
        dataset,
        key: layout.quarantine(dataset, date),
        toRow: (line) => ({
          reasons: (line.reasons as string[] | undefined) ?? [],
          row: typeof line.row === 'string' ? line.row : JSON.stringify(line.row),
        }),
      });
    }
  }
  if (rejected > 0) {
    wanted.push({
      dataset: 'products (unparseable)',
      key: layout.unparseable('products', date),
      toRow: ({ reasons, ...where }) => ({
        reasons: (reasons as string[] | undefined) ?? [],
        row: JSON.stringify(where),
      }),
    });
  }
  const samples: QuarantineSample[] = [];
  for (const { dataset, key, toRow } of wanted) {
    const object = await findObject(lake, key);
    if (object === undefined) {
      samples.push({
        dataset,
        key,
        rows: [],
        note: 'not in the lake (the run stopped before writing it, or it was moved)',
      });
    } else if (object.size > QUARANTINE_SAMPLE_MAX_BYTES) {
      samples.push({
        dataset,
        key,
        rows: [],
        note: `${object.size} bytes: too large to sample here; read it from the lake`,
      });
    } else {
      const lines = (await lake.getText(key)).split('\n').filter((l) => l.trim() !== '');
      samples.push({
        dataset,
        key,
        total: lines.length,
        rows: lines
          .slice(0, QUARANTINE_SAMPLE_ROWS)
          .map((l) => toRow(JSON.parse(l) as Record<string, unknown>)),
      });
    }
  }
  return samples;
}

/** The business date's minutes (UTC) from the clickstream aggregates, in SQL both Redshift and PostgreSQL run. */
async function clickstreamMinutes(
  warehouse: Warehouse,
  date: string,
): Promise<RunReportModel['clickstream']> {
  const day = `window_start >= DATE ${literal(date)} AND window_start < DATE ${literal(date)} + 1`;
  const minute = `to_char(window_start, 'YYYY-MM-DD"T"HH24:MI')`;
  const events = await warehouse.query<{ minute: string; event_type: string; events: unknown }>(
    `SELECT ${minute} AS minute, event_type, sum(events) AS events
     FROM ${qualifiedName(CLICKSTREAM_TABLES.agg_event_minute)} WHERE ${day} GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const errors = await warehouse.query<{
    minute: string;
    service: string;
    error_code: string;
    errors: unknown;
  }>(
    `SELECT ${minute} AS minute, service, error_code, sum(errors) AS errors
     FROM ${qualifiedName(CLICKSTREAM_TABLES.agg_error_minute)} WHERE ${day} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
  );
  return {
    eventMinutes: events.map((r): EventMinute => ({
      minute: r.minute,
      eventType: r.event_type,
      events: Number(r.events),
    })),
    errorMinutes: errors.map((r): ErrorMinute => ({
      minute: r.minute,
      service: r.service,
      errorCode: r.error_code,
      errors: Number(r.errors),
    })),
  };
}

/**
 * writeRunReport for the steps that end a run (record-run, run-failed): the report is derived from data the
 * run already published or recorded, so failing to write it is logged, not allowed to fail the run (a
 * failed RecordRun would send a published date down the failure path). Returns the key when written.
 */
export async function tryWriteRunReport(
  adapters: Pick<Adapters, 'lake' | 'warehouse' | 'logger'>,
  input: RunReportInput,
): Promise<string | undefined> {
  try {
    return await writeRunReport(adapters, input);
  } catch (error) {
    adapters.logger.error('run report not written', {
      run: input.state.run,
      error: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}
