/**
 * MSK event-source mapping → Parquet in the lake, exactly once: object keys are derived from the
 * batch's offset ranges (core/clickstream/batch.ts), so when a write fails the handler throws, the
 * mapping redelivers the whole batch, and the retry overwrites the same objects.
 *
 * The records go to DuckDB through its appender (no file), and DuckDB decodes, validates, deduplicates,
 * groups and writes the Parquet. Last, an arrival notice names the event objects written, so load-events
 * finds new objects without listing events/clickstream/. DuckDB and the workspace directory stay warm
 * across the invocations of an execution environment.
 */
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import { DEFAULT_CLOSE_SECONDS, arrivalKey, parsePositive } from '../core/clickstream/load';
import { processBatch, type BatchPart } from '../core/clickstream/batch';
import { Engine, engineSettingsFromEnv, type EngineSettings } from '../core/engine/engine';
import { InputFormatError, TransientError } from '../core/errors';
import type { Env } from '../core/settings';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { ARRIVAL_CLOCK_MARGIN_SECONDS, HANDLER_ENV, METRIC } from '../contract';

export interface StreamResult {
  /** Events written (valid, duplicates dropped). */
  written: number;
  quarantined: number;
  /** Every data key written (events, minute aggregates, quarantine), sorted. */
  objects: string[];
  /** The arrival notice of this delivery (absent for an empty batch). */
  arrival?: string;
  /** Milliseconds of each part of the invocation, so the next gap is visible (bench:stream prints them). */
  timings: StreamTimings;
}

export interface StreamTimings extends Record<BatchPart, number> {
  /** Handing the records to DuckDB (and waiting for DuckDB to start on a cold start). */
  decode: number;
  /** Validating and deduplicating in DuckDB. */
  sql: number;
  /** Writing the Parquet and quarantine files in the workspace. */
  write: number;
  upload: number;
  cleanup: number;
}

export interface StreamSettings {
  engine: EngineSettings;
  /**
   * Longest a notice may take from its stamp until it is written: load-events' close time less the clock
   * margin. On AWS the function's timeout is shorter; anywhere else (the local runtime) this bounds it.
   */
  noticeDeadlineMs: number;
}

export const streamSettings = (env: Env): StreamSettings => ({
  engine: engineSettingsFromEnv(env),
  noticeDeadlineMs:
    (parsePositive(
      env[HANDLER_ENV.eventsArrivalCloseSeconds],
      HANDLER_ENV.eventsArrivalCloseSeconds,
      DEFAULT_CLOSE_SECONDS,
    ) -
      ARRIVAL_CLOCK_MARGIN_SECONDS) *
    1000,
});

/** Parallel PUTs per invocation: enough to hide S3 latency, few enough to keep the memory bounded. */
const WRITE_CONCURRENCY = 8;

/** Runs the uploads with bounded parallelism; after a failure no new one starts, and the first error is thrown. */
async function runAll(writes: (() => Promise<void>)[]): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < writes.length) {
      try {
        await writes[next++]();
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const workers = Array.from({ length: Math.min(WRITE_CONCURRENCY, writes.length) }, worker);
  const rejected = (await Promise.allSettled(workers)).find((r) => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/** Hour directories kept for the next batches (a day of 40 partitions) before the output tree is removed. */
const MAX_KEPT_DIRECTORIES = 1000;

/** `clock` dates the arrival notice (injected by tests). */
export function makeStreamToParquet(
  { lake, logger, metrics }: Adapters,
  settings: StreamSettings,
  clock: () => Date = () => new Date(),
) {
  // Kept warm across invocations, as Lambda reuses the execution environment: DuckDB starts once, not
  // per batch. After a failed invocation the next one starts a fresh instance (no state of the failure kept).
  let warm: Promise<Engine> | undefined;
  const engineFor = () => (warm ??= Engine.open(settings.engine));
  // The batches' output tree is kept too: after a batch its files are removed and its directories (one per
  // topic, partition and hour) left for the next batches, which mostly write the same hours, as removing a
  // directory costs several times removing a file. Past MAX_KEPT_DIRECTORIES, or after a failure, it goes whole.
  let outputs: Promise<string> | undefined;
  const outputDir = () =>
    (outputs ??= mkdir(settings.engine.tempDirectory, { recursive: true }).then(() =>
      mkdtemp(join(settings.engine.tempDirectory, 'batches-')),
    ));
  const keptDirectories = new Set<string>();
  const dropOutputs = async () => {
    const dir = await outputs?.catch(() => undefined);
    outputs = undefined;
    keptDirectories.clear();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
  return async (event: MSKEvent): Promise<StreamResult> => {
    if (typeof event?.records !== 'object' || event.records === null) {
      throw new InputFormatError('MSK event: expected a "records" object of topic-partition → records');
    }
    // DuckDB starts (on a cold start) while the output directory is made. Handled here so that a failed
    // start is thrown by the `await` below, not reported as unhandled meanwhile.
    const opening = engineFor();
    opening.catch(() => undefined);
    const timings: StreamTimings = { decode: 0, sql: 0, write: 0, upload: 0, cleanup: 0 };
    let mark = performance.now();
    const lap = (part: keyof StreamTimings) => {
      const now = performance.now();
      timings[part] += now - mark;
      mark = now;
    };
    try {
      const dir = await outputDir();
      const lists = Object.values(event.records).filter((list) => Array.isArray(list));
      const engine = await opening;
      const { files, eventKeys, ranges, stats } = await processBatch(engine, lists, dir, lap);
      // A failed upload fails the invocation: the mapping retries the batch and the same keys are overwritten.
      await runAll(files.map((f) => () => lake.upload(f.key, f.path, f.contentType)));
      // The notice goes last: it names only objects that exist, and a retried batch notifies again.
      let arrival: string | undefined;
      if (ranges.length > 0) {
        const stamped = clock();
        arrival = arrivalKey(stamped, ranges[0]);
        await lake.put(arrival, JSON.stringify({ objects: eventKeys }), 'application/json');
        // A notice written later than this may land in an arrival hour load-events has closed: fail the
        // batch, whose redelivery writes a fresh notice (the objects are the same, so nothing loads twice).
        const took = clock().getTime() - stamped.getTime();
        if (took > settings.noticeDeadlineMs) {
          throw new TransientError(
            `${arrival} was written ${took} ms after its stamp, past ${settings.noticeDeadlineMs} ms ` +
              `(${HANDLER_ENV.eventsArrivalCloseSeconds} less ${ARRIVAL_CLOCK_MARGIN_SECONDS} s): the batch is retried`,
          );
        }
      }
      lap('upload');
      await Promise.all(files.map((f) => unlink(f.path)));
      for (const f of files) keptDirectories.add(dirname(f.path));
      if (keptDirectories.size > MAX_KEPT_DIRECTORIES) await dropOutputs();
      lap('cleanup');

      metrics.count(METRIC.eventsWritten, stats.events);
      metrics.count(METRIC.eventsQuarantined, stats.quarantined);
      metrics.count(METRIC.duplicatesDropped, stats.duplicates);
      metrics.flush();
      logger.info('stream batch written', { ...stats, objects: files.length });
      return {
        written: stats.events,
        quarantined: stats.quarantined,
        objects: files.map((f) => f.key).sort(),
        ...(arrival === undefined ? {} : { arrival }),
        timings,
      };
    } catch (error) {
      if (warm === opening) warm = undefined;
      (await opening.catch(() => undefined))?.close();
      await dropOutputs();
      throw error;
    }
  };
}

export const step: Step<StreamSettings, MSKEvent, StreamResult> = {
  name: 'stream-to-parquet',
  settings: streamSettings,
  make: makeStreamToParquet,
};
export const handler = awsHandler(step);
