/**
 * The stream half of the local runtime, as the CLI runs it: records from Kafka (the ESM poller) or from a
 * recorded topic go through stream-to-parquet, then one run of load-events lands them in the warehouse.
 */
import type { MSKEvent } from 'aws-lambda';
import type { StreamResult } from '../../lambdas/handlers/stream-to-parquet';
import type { LocalRuntime } from '../runtime';
import { runEsmPoller, type EsmPollerOptions, type PollerResult } from './esm-poller';
import { replayRecordedTopic, type ReplayOptions, type ReplayResult } from './replay';

export interface StreamTotals {
  records: number;
  invocations: number;
  /** Events written to Parquet (after each batch dropped its own duplicates). */
  written: number;
  quarantined: number;
  /** Distinct object keys written (events, window and quarantine objects). */
  objects: number;
  onFailure: string[];
}

export interface WarehouseEventCounts {
  events: number;
  distinctEventIds: number;
  eventMinutes: number;
  errorMinutes: number;
}

export function streamTotals(
  run: Pick<PollerResult<StreamResult>, 'records' | 'invocations' | 'results'> & { onFailure?: string[] },
): StreamTotals {
  const keys = new Set<string>();
  let written = 0;
  let quarantined = 0;
  for (const r of run.results) {
    written += r.written;
    quarantined += r.quarantined;
    for (const key of r.objects) keys.add(key);
  }
  return {
    records: run.records,
    invocations: run.invocations,
    written,
    quarantined,
    objects: keys.size,
    onFailure: run.onFailure ?? [],
  };
}

/** Clickstream counts in the warehouse, optionally for events with ts in [from, to). Zeros before the first load. */
export async function warehouseEventCounts(
  runtime: Pick<LocalRuntime, 'warehouse'>,
  window?: { from: Date; to: Date },
): Promise<WarehouseEventCounts> {
  const [{ ready }] = await runtime.warehouse.query<{ ready: boolean }>(
    `SELECT to_regclass('analytics.fact_click_event') IS NOT NULL
        AND to_regclass('analytics.agg_event_minute') IS NOT NULL
        AND to_regclass('analytics.agg_error_minute') IS NOT NULL AS ready`,
  );
  if (!ready) return { events: 0, distinctEventIds: 0, eventMinutes: 0, errorMinutes: 0 };
  const between = (column: string) =>
    window
      ? `WHERE ${column} >= '${window.from.toISOString()}' AND ${column} < '${window.to.toISOString()}'`
      : '';
  const [row] = await runtime.warehouse.query<Record<keyof WarehouseEventCounts, string>>(`
    SELECT (SELECT count(*) FROM analytics.fact_click_event ${between('ts')})::text AS "events",
           (SELECT count(DISTINCT event_id) FROM analytics.fact_click_event ${between('ts')})::text AS "distinctEventIds",
           (SELECT count(DISTINCT window_start) FROM analytics.agg_event_minute ${between('window_start')})::text AS "eventMinutes",
           (SELECT count(DISTINCT window_start) FROM analytics.agg_error_minute ${between('window_start')})::text AS "errorMinutes"`);
  return {
    events: Number(row.events),
    distinctEventIds: Number(row.distinctEventIds),
    eventMinutes: Number(row.eventMinutes),
    errorMinutes: Number(row.errorMinutes),
  };
}

/** The poller's options but those the runtime supplies (handler, on-failure lake); stopWhenIdleMs defaults to 2000. */
export interface KafkaStreamOptions extends Omit<
  EsmPollerOptions<StreamResult>,
  'handler' | 'lake' | 'signal' | 'clientId' | 'source'
> {
  /** Run load-events once the topic is drained. @default true */
  load?: boolean;
}

export interface StreamRun {
  poller: PollerResult<StreamResult>;
  totals: StreamTotals;
  before: WarehouseEventCounts;
  after: WarehouseEventCounts;
}

const streamHandler = (runtime: LocalRuntime) => (event: MSKEvent) => runtime.streamToParquet(event);

/** Consumes the topic until idle (or, replaying, until every partition passed `to`), then loads. */
export async function streamFromKafka(
  runtime: LocalRuntime,
  options: KafkaStreamOptions,
): Promise<StreamRun> {
  const { load = true, ...pollerOptions } = options;
  const before = await warehouseEventCounts(runtime);
  const poller = await runEsmPoller({
    ...pollerOptions,
    handler: streamHandler(runtime),
    lake: runtime.lake,
    stopWhenIdleMs: options.stopWhenIdleMs ?? 2000,
  });
  if (load) await runtime.loadEvents();
  return { poller, totals: streamTotals(poller), before, after: await warehouseEventCounts(runtime) };
}

export interface RecordingRun {
  replay: ReplayResult<StreamResult>;
  totals: StreamTotals;
  after: WarehouseEventCounts;
}

/** Replays a recorded topic through stream-to-parquet, then runs load-events. */
export async function replayRecording(
  runtime: LocalRuntime,
  options: Omit<ReplayOptions<StreamResult>, 'handler'> & {
    /** Counts in the warehouse for events with ts in this window. */
    window?: { from: Date; to: Date };
  },
): Promise<RecordingRun> {
  const replay = await replayRecordedTopic({ ...options, handler: streamHandler(runtime) });
  await runtime.loadEvents();
  return { replay, totals: streamTotals(replay), after: await warehouseEventCounts(runtime, options.window) };
}
