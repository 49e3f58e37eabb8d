/**
 * Stream benchmark: the stream-to-parquet handler's own work on one core — base64/JSON decode, validate,
 * dedupe, group by partition and hour, Parquet encode — over one MSK batch, against DuckDB turning the
 * same JSON Lines into hour-partitioned Parquet in the same run. The lake is an in-memory LakeStore, so
 * S3 I/O is not measured. Prints one table; results are ratios.
 *
 *   npm run bench:stream -- [--events 1000000] [--partitions 4] [--seed 7] [--profile out.cpuprofile] [--keep]
 *
 * Exits non-zero when the handler and DuckDB do not write the same number of distinct events.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { MSKEvent } from 'aws-lambda';
import type { Adapters } from '../lambdas/adapters/ports';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { EVENT_TYPES } from '../lambdas/core/clickstream/event';
import { asLambdaEvent, buildMskEvent } from '../local/kafka/msk-event';
import { recordTopic } from '../local/kafka/topic';
import { MemoryLakeStore } from './support/memory-lake';
import { log, markdownTable, startProfile } from './support/report';
import { localLogger, RecordedMetrics } from '../lambdas/adapters/observability';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    partitions: { type: 'string', default: '4' },
    seed: { type: 'string', default: '7' },
    /** Event times are spread over this many minutes from 2024-05-01T12:00Z (3 h → 3 hour partitions). */
    minutes: { type: 'string', default: '180' },
    /** Writes a V8 CPU profile of the timed handler call only (open in Chrome DevTools). */
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

// As the handler tests configure Powertools, before the handler module creates its logger and metrics.
Object.assign(process.env, {
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_DEV: 'false',
});
const { handler } = await import('../lambdas/handlers/stream-to-parquet');
const { bindAdapters } = await import('../lambdas/adapters/context');

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const START = Date.parse('2024-05-01T12:00:00Z');

/** One MSK event-source-mapping event: the messages placed on the partitions as `cartflow produce` places them. */
const mskEvent = (values: readonly string[]): MSKEvent =>
  asLambdaEvent(
    buildMskEvent(recordTopic(values, { partitions: partitionCount, timestampOf: (i) => START + i })),
  );

const unused = () => {
  throw new Error('the stream handler must not use this adapter');
};
function bindLake(lake: MemoryLakeStore): void {
  const bound: Adapters = {
    lake,
    source: { connect: unused },
    warehouse: { executeBatch: unused, query: unused },
    alerts: { publish: unused },
    logger: localLogger({}),
    metrics: new RecordedMetrics(),
  };
  bindAdapters(bound);
}

/** Samples the process RSS while async work (DuckDB's own threads) runs; returns the peak seen. */
async function peakRss<T>(work: () => Promise<T>): Promise<{ value: T; peak: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const value = await work();
    return { value, peak: Math.max(peak, process.memoryUsage.rss()) };
  } finally {
    clearInterval(timer);
  }
}

const sqlPath = (p: string) => `'${p.replace(/'/g, "''")}'`;
const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** The columns the reference reads, with explicit types (no schema inference). */
const JSON_COLUMNS = Object.fromEntries(
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
);

/**
 * The reference: JSON Lines → valid events (the handler's rules that the sample exercises: event_id
 * present, event_type accepted, ts ISO-8601 or epoch millis, price with at most 2 decimals) → one row per
 * event_id → Parquet with fact_click_event's columns, one directory per event hour.
 *
 * Each line is parsed on its own (read_ndjson_objects + json_transform with the explicit columns), like
 * one Kafka message: read_json(ignore_errors) joins a truncated line with the next one and drops that
 * valid event too (15 events at 1M messages), which would make the reference wrong.
 */
async function duckdbReference(db: DuckDBConnection, jsonl: string, out: string): Promise<void> {
  await db.run(`COPY (
    WITH src AS (
      SELECT unnest(json_transform(json, '${JSON.stringify(JSON_COLUMNS)}'))
      FROM read_ndjson_objects(${sqlPath(jsonl)}, ignore_errors = true)
    ), parsed AS (
      SELECT *, CASE WHEN regexp_full_match(ts, '[0-9]+') THEN epoch_ms(TRY_CAST(ts AS BIGINT))
                     ELSE TRY_CAST(ts AS TIMESTAMP) END AS t
      FROM src
    ), valid AS (
      SELECT * FROM parsed
      WHERE event_id IS NOT NULL AND trim(event_id) <> ''
        AND event_type IN (${sqlList(EVENT_TYPES)})
        AND t IS NOT NULL AND t >= TIMESTAMP '2000-01-01' AND t < TIMESTAMP '2100-01-01'
        AND (price IS NULL OR regexp_full_match(trim(price), '-?[0-9]{1,10}([.][0-9]{1,2})?'))
    )
    SELECT DISTINCT ON (event_id)
      event_id, event_type, user_id, session_id, product_id, t AS ts, CAST(t AS DATE) AS event_date,
      order_id, CAST(price AS DECIMAL(12, 2)) AS price, service, error_code, hour(t) AS hour
    FROM valid
  ) TO ${sqlPath(out)} (FORMAT PARQUET, PARTITION_BY (event_date, hour), WRITE_PARTITION_COLUMNS true)`);
}

interface Line {
  system: string;
  ms: number;
  peakRss: number;
  /** Distinct event_ids in the Parquet written, and rows written. */
  distinct: number;
  rows: number;
}

const dataDir = await mkdtemp(join(tmpdir(), 'cartflow-bench-stream-'));
let failed = false;
try {
  // ---- setup (not timed) ----
  let t = performance.now();
  const sample = generateClickEvents({
    count: eventCount,
    seed,
    start: new Date(START),
    minutes,
  });
  const event = mskEvent(sample.values);
  const warmup = mskEvent(sample.values.slice(0, Math.min(20_000, eventCount)));
  const jsonl = join(dataDir, 'events.jsonl');
  await writeFile(jsonl, `${sample.values.join('\n')}\n`);
  const inputBytes = sample.values.reduce((sum, v) => sum + Buffer.byteLength(v), 0);
  log(
    `generated ${eventCount.toLocaleString('en-US')} messages (${mb(inputBytes)} of JSON) ` +
      `in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  // ---- the handler: a warm-up batch (JIT), then the timed batch on the main thread ----
  bindLake(new MemoryLakeStore());
  await handler(warmup);
  const lake = new MemoryLakeStore();
  bindLake(lake);
  const stopProfile = await startProfile(args.profile);
  t = performance.now();
  const result = await handler(event);
  const handlerMs = performance.now() - t;
  const handlerRss = process.resourceUsage().maxRSS * 1024;
  await stopProfile('the handler call');
  log(
    `handler ${(handlerMs / 1000).toFixed(2)} s: ${result.written} written, ${result.quarantined} quarantined`,
  );

  // The handler's event objects, counted by DuckDB (not timed).
  const handlerDir = join(dataDir, 'handler');
  await mkdir(handlerDir, { recursive: true });
  let eventObjects = 0;
  for (const object of await lake.list('events/clickstream/')) {
    await writeFile(join(handlerDir, `${eventObjects++}.parquet`), await lake.get(object.key));
  }
  const handlerParquetBytes = lake.bytes('events/clickstream/');

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
    system: 'cartflow handler (node, 1 thread)',
    ms: handlerMs,
    peakRss: handlerRss,
    ...(await count(check, join(handlerDir, '*.parquet'))),
  });

  // ---- DuckDB: one thread (the reference), then every core ----
  const references: { name: string; threads: number }[] = [
    { name: 'duckdb (1 thread)', threads: 1 },
    { name: `duckdb (${cpus().length} threads)`, threads: cpus().length },
  ];
  let duckdbParquetBytes = 0;
  for (const [i, ref] of references.entries()) {
    const out = join(dataDir, `duckdb-${i}`);
    const instance = await DuckDBInstance.create(':memory:', { threads: String(ref.threads) });
    const db = await instance.connect();
    const run = await peakRss(async () => {
      const start = performance.now();
      await duckdbReference(db, jsonl, out);
      return performance.now() - start;
    });
    db.closeSync();
    instance.closeSync();
    log(`${ref.name} ${(run.value / 1000).toFixed(2)} s`);
    lines.push({
      system: ref.name,
      ms: run.value,
      peakRss: run.peak,
      ...(await count(check, join(out, '**', '*.parquet'))),
    });
    if (i === 0) {
      const [row] = (
        await check.runAndReadAll(
          `SELECT sum(total_compressed_size) AS b FROM parquet_metadata(${sqlPath(join(out, '**', '*.parquet'))})`,
        )
      ).getRowObjectsJS();
      duckdbParquetBytes = Number(row.b);
    }
  }
  check.closeSync();
  checker.closeSync();

  // ---- correctness: the same distinct events on every line, and what the generator planted ----
  const expected = sample.expected.distinctEventIds;
  const mismatches = lines
    .filter((l) => l.distinct !== expected || l.rows !== expected)
    .map((l) => `${l.system}: ${l.rows} rows, ${l.distinct} distinct event_ids (expected ${expected})`);
  if (result.written !== expected) mismatches.push(`handler reported ${result.written} written`);

  // ---- the table ----
  const reference = lines[1].ms;
  const header = ['system', 'seconds', 'events/s', 'ratio to duckdb(1 thread)', 'peak RSS'];
  const body = lines.map((l) => [
    l.system,
    (l.ms / 1000).toFixed(2),
    Math.round(eventCount / (l.ms / 1000)).toLocaleString('en-US'),
    `${(reference / l.ms).toFixed(2)}x`,
    mb(l.peakRss),
  ]);
  const out = [
    '',
    `stream benchmark — ${cpus().length} cores, node ${process.version}, load average ${loadavg()[0].toFixed(1)} ` +
      '(other work on the machine skews both sides)',
    `input: ${eventCount.toLocaleString('en-US')} messages (${mb(inputBytes)} JSON) in one MSK batch over ` +
      `${partitionCount} partitions, seed ${seed}: ${sample.expected.malformed.toLocaleString('en-US')} malformed, ` +
      `${(sample.expected.valid - expected).toLocaleString('en-US')} duplicates, ` +
      `${expected.toLocaleString('en-US')} distinct events`,
    '',
    ...markdownTable(header, body),
    '',
    'events/s = messages in / seconds; ratio = throughput / duckdb(1 thread) throughput (higher is better).',
    `handler: decode + validate + dedupe + group + Parquet encode (events, minute aggregates, quarantine) into an ` +
      `in-memory lake; ${eventObjects} event objects, ${mb(handlerParquetBytes)} of event Parquet.`,
    `duckdb: read_ndjson_objects + json_transform (explicit columns) + filter + DISTINCT ON event_id + COPY … PARTITION_BY (event_date, hour); ` +
      `${mb(duckdbParquetBytes)} of Parquet.`,
    'peak RSS is the whole process, input batch included: the handler line is maxRSS after its call, the ' +
      'duckdb lines the highest RSS sampled during their run.',
    mismatches.length === 0
      ? `check: OK — ${expected.toLocaleString('en-US')} distinct events written by every system`
      : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
  failed = mismatches.length > 0;
} catch (error) {
  failed = true;
  process.stderr.write(`[bench] failed: ${(error as Error).stack ?? String(error)}\n`);
} finally {
  if (args.keep) log(`data kept in ${dataDir}`);
  else await rm(dataDir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
