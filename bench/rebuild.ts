/**
 * Rebuild benchmark: the warehouse lost and rebuilt from the lake, the recovery time behind the RTO of
 * docs/runbooks/disaster-recovery.md. Several dates are loaded at a realistic size through the local
 * runtime (seeded orders through the batch state machine, a day of clickstream per date through
 * stream-to-parquet and load-events), the warehouse's schemas are dropped, and `cartflow rebuild`'s code
 * (the schema made again, then LoadTable + PublishDate and the events load per date) is timed. Prints one
 * table, then one JSON line with the figures.
 *
 *   npm run bench:rebuild -- [--dates 3] [--orders 100000] [--events 100000] [--date 2026-02-01]
 *                            [--data-dir DIR] [--keep]
 *
 * The outside references load the same Parquet files with the databases' own bulk loads: PostgreSQL's
 * COPY FROM a CSV file (PostgreSQL reads no Parquet: DuckDB converts the files first, timed apart) into
 * tables like the published ones, and DuckDB's CREATE TABLE AS read_parquet. They only load rows: no
 * staging, no publish transaction, no deduplication of events or minute recount, so they are a target,
 * not an equal. Exits non-zero when a table's digest after the rebuild differs from before the drop, or
 * a reference loads other row counts than the rebuild.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../lib/config';
import { COMPACTED_PREFIX } from '../lambdas/core/clickstream/load';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { CLICKSTREAM_TABLES } from '../lambdas/core/clickstream/tables';
import { DAY_MS, assertBusinessDate, dayBounds, utcDate } from '../lambdas/core/dates';
import { engineSettingsFromEnv, fileList, sqlLiteral } from '../lambdas/core/engine/engine';
import { layout } from '../lambdas/core/layout';
import { BATCH_TABLES } from '../lambdas/core/model';
import { qualifiedName } from '../lambdas/core/sql';
import { WAREHOUSE_TABLES, type TableDef } from '../lambdas/core/tables';
import { seedDay } from '../local/commands/batch';
import { localRebuildTarget } from '../local/commands/rebuild';
import { replayRecordedTopic } from '../local/kafka/replay';
import { recordTopic, spreadTimestamps } from '../local/kafka/topic';
import { perMinute, rebuildFromLake, tableDigests } from '../local/rebuild';
import { startLocalRuntime } from '../local/runtime';
import { costLine, ENGINE_ARCHITECTURE, lambdaUsd, redshiftUsd, usdPerMillion } from './support/cost';
import { log, markdownTable, runBench } from './support/report';

const { values: args } = parseArgs({
  options: {
    dates: { type: 'string', default: '3' },
    /** Orders seeded per date (1–5 lines each). */
    orders: { type: 'string', default: '100000' },
    /** Clickstream messages per date, spread over its 24 hours (2 % duplicates, 1 % malformed). */
    events: { type: 'string', default: '100000' },
    date: { type: 'string', default: '2026-02-01' },
    'data-dir': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const positive = (name: 'dates' | 'orders' | 'events', min: number) => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be a whole number >= ${min}, got "${String(args[name])}"`);
  }
  return value;
};
const dateCount = positive('dates', 1);
const orders = positive('orders', 1);
const eventsPerDate = positive('events', 0);
const firstDate = assertBusinessDate(args.date, '--date');
const dayStart = dayBounds(firstDate).start.getTime();
const dates = Array.from({ length: dateCount }, (_, i) => utcDate(new Date(dayStart + i * DAY_MS)));

const seconds = (ms: number) => ms / 1000;
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

const HOUR_MS = 3_600_000;
const FACT_CLICK_EVENT = CLICKSTREAM_TABLES.fact_click_event;
const tableDef = (name: string): TableDef => {
  const table = WAREHOUSE_TABLES.find((t) => t.schema === 'analytics' && t.name === name);
  if (!table) throw new Error(`no analytics table ${name}`);
  return table;
};
/** What the rebuild reads from the lake: each table's Parquet prefixes over the dates. */
const SOURCES = [
  ...BATCH_TABLES.map((name) => ({
    table: tableDef(name),
    prefixes: dates.map((d) => layout.curatedPrefix(name, d)),
  })),
  ...(eventsPerDate === 0
    ? []
    : [{ table: FACT_CLICK_EVENT, prefixes: dates.map((d) => `${COMPACTED_PREFIX}dt=${d}/`) }]),
];
const REFERENCE_SCHEMA = 'bench_reference';

await runBench(
  'cartflow-bench-rebuild-',
  args.keep,
  async (dataDir) => {
    const runtime = await startLocalRuntime({ dataDir });
    try {
      // ---- setup, not timed: the dates through the batch and a day of clickstream each ----
      const { stream } = loadConfig('dev');
      const nextOffset = new Array<number>(stream.partitions).fill(0);
      for (const [i, date] of dates.entries()) {
        const t = performance.now();
        await seedDay(runtime, { orders: String(orders), 'bad-rows': '10' }, date, orders);
        const outcome = await runtime.runBatch({ businessDate: date });
        if (outcome.status !== 'SUCCEEDED')
          throw new Error(`batch of ${date}: ${outcome.status} ${JSON.stringify(outcome.error)}`);
        // The date's clickstream an hour of event time at a time, in Kafka time order (offsets go on, as one
        // producer's topic), each hour then loaded as load-events' schedule would.
        for (let hour = 0; hour < 24 && eventsPerDate > 0; hour++) {
          const first = Math.floor((eventsPerDate * hour) / 24);
          const count = Math.floor((eventsPerDate * (hour + 1)) / 24) - first;
          const start = dayBounds(date).start.getTime() + hour * HOUR_MS;
          const sample = generateClickEvents({
            count,
            seed: `rebuild-${date}-${hour}`,
            start: new Date(start),
            minutes: 60,
          });
          const records = recordTopic(sample.values, {
            topic: stream.topic,
            partitions: stream.partitions,
            timestampOf: spreadTimestamps(count, start, HOUR_MS),
          });
          for (const r of records) r.offset += nextOffset[r.partition];
          for (const r of records) nextOffset[r.partition] = Math.max(nextOffset[r.partition], r.offset + 1);
          await replayRecordedTopic({
            records,
            batchSize: stream.batchSize,
            handler: (event) => runtime.streamToParquet(event),
          });
          await runtime.loadEvents();
        }
        log(`loaded ${date} (${i + 1}/${dates.length}) in ${seconds(performance.now() - t).toFixed(1)} s`);
      }
      const loaded = await tableDigests(runtime.warehouse);
      const lakeBytes = (
        await Promise.all(SOURCES.flatMap((s) => s.prefixes.map((p) => runtime.lake.list(p))))
      )
        .flat()
        .reduce((sum, o) => sum + o.size, 0);

      // ---- the warehouse lost ----
      await runtime.warehouse.executeBatch(
        ['analytics', 'ops', 'staging'].map((schema) => `DROP SCHEMA IF EXISTS ${schema} CASCADE`),
      );

      // ---- cartflow, timed: what `cartflow rebuild` runs (the schema first, as after a lost warehouse) ----
      const rebuilt = await timed(async () =>
        rebuildFromLake(await localRebuildTarget(runtime), dates, {
          onDate: (d, i, total) =>
            log(`rebuilt ${d.date} (${i + 1}/${total}) in ${seconds(d.ms).toFixed(1)} s`),
        }),
      );
      const result = rebuilt.value;
      const digests = await tableDigests(runtime.warehouse);
      const mismatches = Object.keys(loaded)
        .filter((t) => digests[t] !== loaded[t])
        .map((t) => `${t}: before the drop ${loaded[t]}, after the rebuild ${digests[t]}`);

      // ---- references, timed: the same Parquet files, downloaded once (timed apart) ----
      const filesDir = join(dataDir, 'reference');
      // PostgreSQL's server (the `postgres` user when running as root) reads the CSV files itself.
      await mkdir(filesDir, { recursive: true });
      await chmod(filesDir, 0o755);
      const download = await timed(async () => {
        const files = new Map<string, string[]>();
        for (const { table, prefixes } of SOURCES) {
          const paths: string[] = [];
          for (const prefix of prefixes)
            for (const object of await runtime.lake.list(prefix)) {
              if (!object.key.endsWith('.parquet')) continue;
              const path = join(filesDir, `${table.name}-${paths.length}.parquet`);
              await runtime.lake.download(object.key, path);
              paths.push(path);
            }
          files.set(table.name, paths);
        }
        return files;
      });
      const engine = engineSettingsFromEnv(runtime.env);
      const instance = await DuckDBInstance.create(join(dataDir, 'reference.duckdb'), {
        threads: String(engine.threads),
        memory_limit: `${engine.memoryLimitMb}MB`,
        temp_directory: join(dataDir, 'duckdb-spill'),
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
      const duck = await instance.connect();
      await duck.run("SET TimeZone = 'UTC'");
      const parquetOf = (name: string) => `read_parquet(${fileList(download.value.get(name) ?? [])})`;
      const duckdbLoad = await timed(async () => {
        for (const { table } of SOURCES)
          await duck.run(`CREATE TABLE ${table.name} AS SELECT * FROM ${parquetOf(table.name)}`);
      });
      const toCsv = await timed(async () => {
        for (const { table } of SOURCES)
          await duck.run(
            `COPY (SELECT * FROM ${parquetOf(table.name)}) TO ${sqlLiteral(join(filesDir, `${table.name}.csv`))} (FORMAT csv, HEADER false)`,
          );
      });
      const duckCounts = new Map<string, number>();
      for (const { table } of SOURCES) {
        const reader = await duck.runAndReadAll(`SELECT count(*)::BIGINT AS n FROM ${table.name}`);
        duckCounts.set(table.name, Number(reader.getRowObjects()[0].n));
      }
      duck.closeSync();
      instance.closeSync();
      await runtime.warehouse.executeBatch([
        `DROP SCHEMA IF EXISTS ${REFERENCE_SCHEMA} CASCADE`,
        `CREATE SCHEMA ${REFERENCE_SCHEMA}`,
        ...SOURCES.map(
          ({ table }) => `CREATE TABLE ${REFERENCE_SCHEMA}.${table.name} (LIKE ${qualifiedName(table)})`,
        ),
      ]);
      const postgresCopy = await timed(() =>
        runtime.warehouse.executeBatch(
          SOURCES.map(
            ({ table }) =>
              `COPY ${REFERENCE_SCHEMA}.${table.name} FROM ${sqlLiteral(join(filesDir, `${table.name}.csv`))} WITH (FORMAT csv)`,
          ),
        ),
      );
      const pgCounts = new Map<string, number>();
      for (const { table } of SOURCES) {
        const [{ n }] = await runtime.warehouse.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM ${REFERENCE_SCHEMA}.${table.name}`,
        );
        pgCounts.set(table.name, Number(n));
      }
      await runtime.warehouse.executeBatch([`DROP SCHEMA ${REFERENCE_SCHEMA} CASCADE`]);

      // ---- correctness, same run: every reference loaded the rows the rebuild staged ----
      const staged = new Map<string, number>(
        BATCH_TABLES.map((t) => [t, result.dates.reduce((sum, d) => sum + d.tables[t], 0)]),
      );
      const [{ n: distinctEvents }] = await runtime.warehouse.query<{ n: string }>(
        `SELECT count(DISTINCT event_id)::text AS n FROM ${qualifiedName(FACT_CLICK_EVENT)}`,
      );
      for (const { table } of SOURCES) {
        const isEvents = table.name === FACT_CLICK_EVENT.name;
        for (const [side, counts] of [
          ['postgres copy', pgCounts],
          ['duckdb', duckCounts],
        ] as const) {
          const theirs = counts.get(table.name) ?? 0;
          // The compacted files may repeat an event across files; the rebuild keeps one row per event_id.
          const ours = isEvents ? Number(distinctEvents) : (staged.get(table.name) ?? 0);
          if (isEvents ? theirs < ours : theirs !== ours)
            mismatches.push(`${table.name}: rebuild ${ours} rows, ${side} ${theirs}`);
        }
      }

      // ---- the table ----
      const referenceRows = [...pgCounts.values()].reduce((a, b) => a + b, 0);
      const pgMs = toCsv.ms + postgresCopy.ms;
      const row = (side: string, ms: number, rows: number, vs: string) => [
        side,
        seconds(ms).toFixed(1),
        rows.toLocaleString('en-US'),
        perMinute(dates.length, ms).toFixed(1),
        Math.round(perMinute(rows, ms)).toLocaleString('en-US'),
        vs,
      ];
      const body = [
        row('cartflow rebuild (schema + every date)', rebuilt.ms, result.rows, '1.00'),
        row(
          'PostgreSQL COPY FROM csv (+ DuckDB Parquet→CSV)',
          pgMs,
          referenceRows,
          (pgMs / rebuilt.ms).toFixed(2),
        ),
        row(
          '  of which PostgreSQL COPY',
          postgresCopy.ms,
          referenceRows,
          (postgresCopy.ms / rebuilt.ms).toFixed(2),
        ),
        row(
          'DuckDB CREATE TABLE AS read_parquet',
          duckdbLoad.ms,
          referenceRows,
          (duckdbLoad.ms / rebuilt.ms).toFixed(2),
        ),
      ];
      const perTable = SOURCES.map(
        ({ table }) => `${table.name} ${(pgCounts.get(table.name) ?? 0).toLocaleString('en-US')}`,
      );
      const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
      // Priced as prod would run it: every second of the rebuild a DuckDB-sized function and the
      // workgroup at base capacity busy (an upper bound: the steps run one at a time, the warehouse waits
      // on the lake between them).
      const prod = loadConfig('prod');
      const rebuildS = seconds(rebuilt.ms);
      const usd =
        lambdaUsd([
          { seconds: rebuildS, memoryMb: prod.engine.memoryMb, architecture: ENGINE_ARCHITECTURE },
        ]) + redshiftUsd(rebuildS, prod.redshift.baseCapacityRpu);
      const datesPerMin = perMinute(dates.length, rebuilt.ms);
      const rowsPerMin = perMinute(result.rows, rebuilt.ms);
      const out = [
        '',
        `rebuild benchmark — ${dates[0]} … ${dates.at(-1)}, ${cpus().length} cores, node ${process.version}, ` +
          `embedded PostgreSQL warehouse, s3rver lake, load average ${loadavg()[0].toFixed(1)} (other work on ` +
          'the machine skews every column)',
        `input: ${dates.length} dates × ${orders.toLocaleString('en-US')} orders and ` +
          `${eventsPerDate.toLocaleString('en-US')} clickstream messages; Parquet in the lake ` +
          `${(lakeBytes / 1024 / 1024).toFixed(1)} MB; rows per table: ${perTable.join(', ')}`,
        '',
        ...markdownTable(['side', 's', 'rows', 'dates/min', 'rows/min', 'vs cartflow'], body),
        '',
        'vs cartflow = reference time / cartflow time (1.00 = as fast as the reference; higher is better for',
        'cartflow). The rebuild downloads its files from s3rver inside its time; the references read files',
        `downloaded once before (${seconds(download.ms).toFixed(1)} s, not in their time) and only load rows.`,
        `per date: ${result.dates.map((d) => `${d.date} ${seconds(d.ms).toFixed(1)} s`).join(', ')}`,
        `peak RSS: ${peakRssMb} MB (the whole process: runtime, s3rver and the references)`,
        costLine(
          usd,
          result.rows,
          'rows',
          `rebuild time as prod's ${prod.engine.memoryMb} MB ${ENGINE_ARCHITECTURE} Lambda + ` +
            `${prod.redshift.baseCapacityRpu} RPU Redshift Serverless`,
        ),
        mismatches.length === 0
          ? `check: OK — every table's digest after the rebuild equals its digest before the drop ` +
            `(${Object.keys(loaded).length} tables); both references loaded the rows the rebuild staged`
          : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
        '',
        JSON.stringify({
          bench: 'rebuild',
          dates: dates.length,
          rows: result.rows,
          rebuild_s: Number(seconds(rebuilt.ms).toFixed(1)),
          dates_per_min: Number(datesPerMin.toFixed(2)),
          rows_per_min: Math.round(rowsPerMin),
          speed_vs_postgres_copy: Number((pgMs / rebuilt.ms).toFixed(2)),
          speed_vs_postgres_copy_only: Number((postgresCopy.ms / rebuilt.ms).toFixed(2)),
          speed_vs_duckdb: Number((duckdbLoad.ms / rebuilt.ms).toFixed(2)),
          postgres_copy_s: Number(seconds(postgresCopy.ms).toFixed(1)),
          parquet_to_csv_s: Number(seconds(toCsv.ms).toFixed(1)),
          duckdb_s: Number(seconds(duckdbLoad.ms).toFixed(1)),
          peak_rss_mb: peakRssMb,
          load_average: Number(loadavg()[0].toFixed(1)),
          usd_per_million: usdPerMillion(usd, result.rows),
          check: mismatches.length === 0 ? 'ok' : 'mismatch',
        }),
        '',
      ];
      process.stdout.write(out.join('\n'));
      return mismatches.length === 0;
    } finally {
      await runtime.close();
    }
  },
  args['data-dir'],
);
