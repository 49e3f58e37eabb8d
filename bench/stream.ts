/**
 * Stream benchmark: the stream-to-parquet handler (DuckDB inside: base64/JSON decode, validate, dedupe,
 * group by partition and hour, minute windows, Parquet) over MSK batches of realistic size (an MSK
 * invocation carries at most 6 MB), against DuckDB alone turning the same records of each batch into
 * the same hour-partitioned Parquet and minute aggregates, with the same threads (see duckdbReference).
 * The lake is an in-memory LakeStore, so S3 I/O is not measured. Prints one table, then one JSON line
 * with the figures.
 *
 *   npm run bench:stream -- [--events 1000000] [--partitions 4] [--seed 7] [--profile out.cpuprofile] [--keep]
 *
 * Exits non-zero when the handler and DuckDB do not write the same number of distinct events.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { loadConfig } from '../lib/config';
import { LAKE } from '../lambdas/contract';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { EVENT_TYPES } from '../lambdas/core/clickstream/event';
import { step } from '../lambdas/handlers/stream-to-parquet';
import { asLambdaEvent, buildMskEvent } from '../local/kafka/msk-event';
import { recordTopic } from '../local/kafka/topic';
import { ENGINE_ARCHITECTURE, lambdaUsd, usdPerMillion } from './support/cost';
import { MemoryLakeStore } from './support/memory-lake';
import { log, markdownTable, runBench, startProfile } from './support/report';
import { stepAdapters } from './support/step-adapters';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '4' },
    seed: { type: 'string', default: '7' },
    /** Event times are spread over this many minutes from 2024-05-01T12:00Z (3 h → 3 hour partitions). */
    minutes: { type: 'string', default: '180' },
    /** Writes a V8 CPU profile of the timed calls, the handler's and DuckDB alone's in turn (open in Chrome DevTools). */
    profile: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const eventCount = Number(args.events);
const partitionCount = Number(args.partitions);
const seed = Number(args.seed);
const minutes = Number(args.minutes);
if (!Number.isInteger(eventCount) || eventCount < 1) throw new Error('--events must be a positive integer');
if (!Number.isInteger(partitionCount) || partitionCount < 1) throw new Error('--partitions must be >= 1');
if (!Number.isInteger(minutes) || minutes < 1) throw new Error('--minutes must be a positive integer');

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const START = Date.parse('2024-05-01T12:00:00Z');

const settings = step.settings(process.env);
const handlerOver = (lake: MemoryLakeStore) => step.make(stepAdapters({ lake }), settings);

/** An MSK invocation's payload limit; each record also carries ~170 bytes of JSON around its base64 value. */
const MAX_EVENT_BYTES = 6 * 1024 * 1024;
const RECORD_OVERHEAD = 170;
function batchesOf(values: readonly string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const v of values) {
    const size = Math.ceil(Buffer.byteLength(v) / 3) * 4 + RECORD_OVERHEAD;
    if (bytes + size > MAX_EVENT_BYTES && current.length > 0) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(v);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Samples the process RSS every 5 ms (DuckDB's own threads run between the samples) and keeps the peak
 * of each phase: the handler and DuckDB alone take turns, so each peak is seen while that one runs.
 */
function rssSampler() {
  const peaks = { handler: 0, duckdb: 0 };
  let phase: keyof typeof peaks = 'handler';
  const sample = () => {
    peaks[phase] = Math.max(peaks[phase], process.memoryUsage.rss());
  };
  const timer = setInterval(sample, 5);
  return {
    peaks,
    /** Times `work` as `next`, sampling before and after it too. */
    async time(next: keyof typeof peaks, work: () => Promise<unknown>): Promise<number> {
      phase = next;
      sample();
      const start = performance.now();
      await work();
      const ms = performance.now() - start;
      sample();
      return ms;
    },
    stop: () => clearInterval(timer),
  };
}

const sqlPath = (p: string) => `'${p.replace(/'/g, "''")}'`;
const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** The message fields the reference reads, with explicit types (no schema inference). */
const JSON_COLUMNS = JSON.stringify(
  Object.fromEntries(
    [
      'event_id',
      'event_type',
      'user_id',
      'session_id',
      'product_id',
      'order_id',
      'price',
      'ts',
      'service',
      'error_code',
    ].map((c) => [c, 'VARCHAR']),
  ),
);
const RECORD_COLUMNS = `{topic: 'VARCHAR', partition: 'BIGINT', "offset": 'BIGINT', value: 'VARCHAR'}`;
const PARQUET = 'FORMAT PARQUET, COMPRESSION SNAPPY, PARQUET_VERSION V1';
const PARTITIONS = 'topic, "partition", dt, "hour"';

/**
 * The reference: what a DuckDB user writes for the same job, from each batch's MSK record lists in files
 * (the handler hands the same records to DuckDB through its appender). read_json of the records,
 * base64 → text, JSON → columns (json_transform, one parse), the rules the sample exercises (event_id
 * present, event_type accepted, ts ISO-8601 or epoch millis, price with at most 2 decimals), one row per
 * event_id (lowest offset, by a grouped arg_min as the handler: DISTINCT ON sorts the whole batch and is
 * several times slower), then Parquet with fact_click_event's
 * columns partitioned by topic, partition and event hour, and the event and error minute aggregates
 * partitioned the same way. No reasons and no quarantine: that is the handler's extra work.
 */
async function duckdbReference(db: DuckDBConnection, inputs: readonly string[], out: string): Promise<void> {
  const files = `[${inputs.map(sqlPath).join(', ')}]`;
  await db.run(`CREATE OR REPLACE TEMP TABLE valid AS
    WITH records AS (
      SELECT topic, partition, "offset" AS off, TRY(decode(from_base64(value))) AS text
      FROM read_json(${files}, format = 'array', columns = ${RECORD_COLUMNS})
    ), src AS (
      SELECT topic, partition, off, unnest(json_transform(text, '${JSON_COLUMNS}'))
      FROM records WHERE json_valid(text) AND json_type(text) = 'OBJECT'
    ), parsed AS (
      SELECT *, CASE WHEN regexp_full_match(ts, '[0-9]+') THEN epoch_ms(TRY_CAST(ts AS BIGINT))
                     ELSE TRY_CAST(ts AS TIMESTAMP) END AS t
      FROM src
    )
    SELECT * FROM parsed
    WHERE event_id IS NOT NULL AND trim(event_id) <> ''
      AND event_type IN (${sqlList(EVENT_TYPES)})
      AND t IS NOT NULL AND t >= TIMESTAMP '2000-01-01' AND t < TIMESTAMP '2100-01-01'
      AND (price IS NULL OR regexp_full_match(trim(price), '-?[0-9]{1,10}([.][0-9]{1,2})?'))`);
  await db.run(`CREATE OR REPLACE TEMP TABLE kept AS
    SELECT
      event_id, event_type, user_id, session_id, product_id, t AS ts, CAST(t AS DATE) AS event_date,
      order_id, CAST(price AS DECIMAL(12, 2)) AS price, service, error_code,
      topic, partition, strftime(t, '%Y-%m-%d') AS dt, strftime(t, '%H') AS "hour"
    FROM valid WHERE rowid IN (SELECT arg_min(rowid, (off, rowid)) FROM valid GROUP BY event_id)`);
  await db.run(
    `COPY (SELECT * FROM kept) TO ${sqlPath(join(out, 'events'))} (${PARQUET}, PARTITION_BY (${PARTITIONS}))`,
  );
  await db.run(`COPY (SELECT ${PARTITIONS}, date_trunc('minute', ts) AS window_start, event_type, count(*) AS events
    FROM kept GROUP BY ALL) TO ${sqlPath(join(out, 'event_minute'))} (${PARQUET}, PARTITION_BY (${PARTITIONS}))`);
  await db.run(`COPY (SELECT ${PARTITIONS}, date_trunc('minute', ts) AS window_start, coalesce(service, 'unknown') AS service,
      coalesce(error_code, 'unknown') AS error_code, count(*) AS errors
    FROM kept WHERE event_type = 'error' GROUP BY ALL) TO ${sqlPath(join(out, 'error_minute'))} (${PARQUET}, PARTITION_BY (${PARTITIONS}))`);
}

interface Line {
  system: string;
  ms: number;
  peakRss: number;
  /** Distinct event_ids in the Parquet written, and rows written. */
  distinct: number;
  rows: number;
}

await runBench('cartflow-bench-stream-', args.keep, async (dataDir) => {
  // ---- setup (not timed) ----
  const t = performance.now();
  const sample = generateClickEvents({ count: eventCount, seed, start: new Date(START), minutes });
  const batches = batchesOf(sample.values);
  let offset = 0;
  const events = batches.map((values) => {
    // Each batch continues the topic where the last one stopped (offsets and timestamps go on).
    const from = offset;
    offset += values.length;
    return asLambdaEvent(
      buildMskEvent(
        recordTopic(values, { partitions: partitionCount, timestampOf: (i) => START + from + i }).map(
          (r) => ({
            ...r,
            offset: r.offset + Math.floor(from / partitionCount),
          }),
        ),
      ),
    );
  });
  const eventBytes = events.map((e) => Buffer.byteLength(JSON.stringify(e)));
  // The reference reads each batch's topic-partition record lists from files, written here untimed.
  const referenceInputs = await Promise.all(
    events.map((event, i) =>
      Promise.all(
        Object.values(event.records).map(async (list, p) => {
          const path = join(dataDir, `batch-${i}-${p}.json`);
          await writeFile(path, JSON.stringify(list));
          return path;
        }),
      ),
    ),
  );
  const inputBytes = sample.values.reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  log(
    `generated ${eventCount.toLocaleString('en-US')} messages (${mb(inputBytes)} of JSON) in ${batches.length} MSK ` +
      `events of at most ${mb(Math.max(...eventBytes))} in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  // ---- the handler and DuckDB alone, batch by batch in turn (each after a warm-up batch), so that both
  // run under the same machine load; DuckDB alone keeps one instance with the handler's threads ----
  const out = join(dataDir, 'duckdb');
  for (let i = 0; i < referenceInputs.length; i++) await mkdir(join(out, String(i)), { recursive: true });
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(settings.engine.threads),
    preserve_insertion_order: 'true',
  });
  const db = await instance.connect();
  await db.run("SET TimeZone = 'UTC'");
  const warmUp = join(dataDir, 'warm-up');
  await mkdir(warmUp);
  await handlerOver(new MemoryLakeStore())(events[0]);
  await duckdbReference(db, referenceInputs[0], warmUp);
  await rm(warmUp, { recursive: true });

  const lake = new MemoryLakeStore();
  const handler = handlerOver(lake);
  // The machine is shared: the load average before and after the timed turns goes with the figures.
  const loadAtStart = loadavg()[0];
  const rss = rssSampler();
  const stopProfile = await startProfile(args.profile);
  let handlerMs = 0;
  let referenceMs = 0;
  let written = 0;
  let quarantined = 0;
  const parts = { decode: 0, sql: 0, write: 0, upload: 0, cleanup: 0 };
  try {
    for (const [i, event] of events.entries()) {
      handlerMs += await rss.time('handler', async () => {
        const r = await handler(event);
        written += r.written;
        quarantined += r.quarantined;
        for (const k of Object.keys(parts) as (keyof typeof parts)[]) parts[k] += r.timings[k];
      });
      referenceMs += await rss.time('duckdb', () =>
        duckdbReference(db, referenceInputs[i], join(out, String(i))),
      );
    }
  } finally {
    rss.stop();
  }
  await stopProfile('the handler and DuckDB alone calls');
  db.closeSync();
  instance.closeSync();
  log(`handler ${(handlerMs / 1000).toFixed(2)} s: ${written} written, ${quarantined} quarantined`);
  log(`duckdb ${(referenceMs / 1000).toFixed(2)} s`);
  const partsS = Object.fromEntries(Object.entries(parts).map(([k, ms]) => [k, Math.round(ms) / 1000]));
  log(`handler parts (s): ${JSON.stringify(partsS)}`);

  // The handler's event objects, counted by DuckDB (not timed).
  const handlerDir = join(dataDir, 'handler');
  await mkdir(handlerDir, { recursive: true });
  const eventObjects = await lake.list(LAKE.clickstreamEvents);
  for (const [i, object] of eventObjects.entries()) {
    await writeFile(join(handlerDir, `${i}.parquet`), await lake.get(object.key));
  }
  const handlerParquetBytes = lake.bytes(LAKE.clickstreamEvents);
  const allObjects = lake.objects.size;
  const allBytes = lake.bytes('');

  const count = async (db: DuckDBConnection, glob: string) => {
    const [row] = (
      await db.runAndReadAll(
        `SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM read_parquet(${sqlPath(glob)})`,
      )
    ).getRowObjectsJS();
    return { rows: Number(row.n), distinct: Number(row.d) };
  };

  const lines: Line[] = [];
  const checker = await DuckDBInstance.create(':memory:');
  const check = await checker.connect();
  lines.push({
    system: `cartflow handler (duckdb, ${settings.engine.threads} threads)`,
    ms: handlerMs,
    peakRss: rss.peaks.handler,
    ...(await count(check, join(handlerDir, '*.parquet'))),
  });

  lines.push({
    system: `duckdb alone (${settings.engine.threads} threads)`,
    ms: referenceMs,
    peakRss: rss.peaks.duckdb,
    ...(await count(check, join(out, '*', 'events', '**', '*.parquet'))),
  });
  const [row] = (
    await check.runAndReadAll(
      `SELECT count(DISTINCT file_name) AS files, sum(total_compressed_size) AS b FROM parquet_metadata(${sqlPath(join(out, '*', 'events', '**', '*.parquet'))})`,
    )
  ).getRowObjectsJS();
  const duckdbFiles = Number(row.files);
  const duckdbParquetBytes = Number(row.b);
  check.closeSync();
  checker.closeSync();

  // ---- correctness: the same distinct events, and the same rows (each batch deduplicates on its own) ----
  const expected = sample.expected.distinctEventIds;
  const mismatches = lines
    .filter((l) => l.distinct !== expected || l.rows !== lines[1].rows)
    .map((l) => `${l.system}: ${l.rows} rows, ${l.distinct} distinct event_ids (expected ${expected})`);

  // ---- the table ----
  const loadAtEnd = loadavg()[0];
  const speed = referenceMs / handlerMs;
  const header = ['system', 'seconds', 'events/s', 'speed vs duckdb', 'peak RSS', 'event files', 'mean file'];
  const body = lines.map((l, i) => [
    l.system,
    (l.ms / 1000).toFixed(2),
    Math.round(eventCount / (l.ms / 1000)).toLocaleString('en-US'),
    `${(referenceMs / l.ms).toFixed(2)}x`,
    mb(l.peakRss),
    String(i === 0 ? eventObjects.length : duckdbFiles),
    `${((i === 0 ? handlerParquetBytes / eventObjects.length : duckdbParquetBytes / duckdbFiles) / 1024).toFixed(0)} KB`,
  ]);
  const report = [
    '',
    `stream benchmark — ${cpus().length} cores, node ${process.version}, load average ${loadAtStart.toFixed(1)} ` +
      `before the timed turns, ${loadAtEnd.toFixed(1)} after`,
    `input: ${eventCount.toLocaleString('en-US')} messages (${mb(inputBytes)} JSON) in ${batches.length} MSK events ` +
      `(≤ 6 MB each) over ${partitionCount} partitions, seed ${seed}: ${sample.expected.malformed.toLocaleString('en-US')} malformed, ` +
      `${(sample.expected.valid - expected).toLocaleString('en-US')} duplicates, ${expected.toLocaleString('en-US')} distinct events`,
    '',
    ...markdownTable(header, body),
    '',
    `handler: every object written: ${allObjects} objects (events, minute aggregates, quarantine, arrival notices), ` +
      `mean ${(allBytes / allObjects / 1024).toFixed(0)} KB; event objects ${eventObjects.length}, mean ` +
      `${(handlerParquetBytes / eventObjects.length / 1024).toFixed(0)} KB (load-events compacts them per hour before COPY).`,
    'duckdb alone, per batch, from the record lists in files: read_json + base64 decode + json_transform + filter + first row per event_id (arg_min), ' +
      'then events and both minute aggregates by COPY … PARTITION_BY (topic, partition, dt, hour); no reasons, no quarantine.',
    'timing: the handler and DuckDB alone take turns batch by batch, each after one warm-up batch, so both see the same machine load.',
    "peak RSS: the whole process, highest sampled during each one's turns (inputs of every batch included).",
    mismatches.length === 0
      ? `check: OK — ${expected.toLocaleString('en-US')} distinct events, the same rows on both lines`
      : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
    '',
  ];
  process.stdout.write(report.join('\n'));
  process.stdout.write(
    `${JSON.stringify({
      bench: 'stream',
      events: eventCount,
      batches: batches.length,
      handler_s: Number((handlerMs / 1000).toFixed(2)),
      duckdb_s: Number((referenceMs / 1000).toFixed(2)),
      speed_vs_duckdb: Number(speed.toFixed(2)),
      handler_parts_s: partsS,
      load_average: { start: Number(loadAtStart.toFixed(2)), end: Number(loadAtEnd.toFixed(2)) },
      event_objects: eventObjects.length,
      mean_event_object_kb: Math.round(handlerParquetBytes / eventObjects.length / 1024),
      objects_written: allObjects,
      peak_rss_mb: Math.round(rss.peaks.handler / 1024 / 1024),
      // The handler's time as prod's stream-to-parquet (engine memory, DuckDB's architecture), per million events.
      usd_per_million: usdPerMillion(
        lambdaUsd([
          {
            seconds: handlerMs / 1000,
            memoryMb: loadConfig('prod').engine.memoryMb,
            architecture: ENGINE_ARCHITECTURE,
          },
        ]),
        eventCount,
      ),
    })}\n`,
  );
  return mismatches.length === 0;
});
