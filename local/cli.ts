import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { PipelineState } from '../lambdas/core/contracts';
import { assertBusinessDate, dateRange, parseInstant, previousUtcDate } from '../lambdas/core/dates';
import { generateDay } from '../lambdas/core/generator';
import { HANDLER_ENV } from '../lambdas/contract';
import { CATALOG_LANDING_PREFIX } from '../lambdas/core/layout';
import { seedSourceDatabase } from './embedded-postgres';
import { recordsToCsv, toCsv } from './csv';
import { startLocalRuntime, startLocalServices, type LocalRuntime, type LocalServices } from './runtime';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { loadConfig } from '../lib/config';
import { RECONNECT_TIMEOUT_MS, STREAM_GROUP } from './kafka/esm-poller';
import { produceMessages } from './kafka/producer';
import {
  replayRecording,
  streamFromKafka,
  type StreamTotals,
  type WarehouseEventCounts,
} from './kafka/stream';
import { spreadTimestamps } from './kafka/topic';

const USAGE = `Usage: cartflow <command> [options]

Commands:
  demo   [--date D] [--orders N] [--events N] seed a sample day, run the batch pipeline, replay a recorded
                                              clickstream through the stream Lambda + load-events, print a summary
  seed   [--date D] [--orders N] [--seed N] [--bad-rows N]
                                              sample source rows and a catalog file for a date
  run    --date D                             run the batch state machine for one business date
  backfill --from D1 --to D2 [--concurrency N]
                                              run a range of dates
  query  "SQL"                                query the warehouse: RFC 4180 CSV, a header, every column in
                                              order, LF line ends, NULL empty and the empty string ""
  drop   <file>                               put a catalog file into ${CATALOG_LANDING_PREFIX} (fires the catalog refresh)
  status [--json]                             recent runs
  produce [--events N] [--seed S] [--topic T] publish sample clickstream messages (planted duplicates and
                                              malformed ones included) to Kafka ($KAFKA_BROKERS)
  stream [--from ISO] [--to ISO] [--batch-size N] [--window-ms N] [--topic T]
                                              consume Kafka like the MSK event-source mapping until idle, then
                                              run load-events; --from/--to replays a time range (backfill)

Options for every command:
  --data-dir DIR   where the local lake, source and warehouse live (default: $CARTFLOW_DATA_DIR or ./.data)
Environment: SOURCE_DATABASE_URL, WAREHOUSE_DATABASE_URL name PostgreSQL servers to use instead of the embedded one;
KAFKA_BROKERS (host:port,…) names the Kafka broker of produce and stream (bash localstack/kafka/broker.sh start).`;

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {}

const OPTIONS = {
  'data-dir': { type: 'string' },
  date: { type: 'string' },
  orders: { type: 'string' },
  seed: { type: 'string' },
  'bad-rows': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  concurrency: { type: 'string' },
  events: { type: 'string' },
  topic: { type: 'string' },
  'batch-size': { type: 'string' },
  'window-ms': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    err.write(`cartflow: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (!command || values.help) {
    out.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  // query and status need only the services: no synthesis, no warehouse DDL that could wait on a running load.
  const commands: Record<
    string,
    (runtime: () => Promise<LocalRuntime>, services: () => Promise<LocalServices>) => Promise<number>
  > = {
    demo: (rt) => demo(rt, values, out, err),
    seed: (rt) => seed(rt, values, out),
    run: (rt) => runDate(rt, values, out, err),
    backfill: (rt) => backfill(rt, values, out, err),
    query: (_, svc) => query(svc, rest, out),
    drop: (rt) => drop(rt, rest, out, err),
    status: (_, svc) => status(svc, values, out),
    produce: () => produce(values, out, err),
    stream: (rt) => stream(rt, values, out, err),
  };
  const run = commands[command];
  if (!run) {
    err.write(
      `cartflow: unknown command "${command}"; expected one of ${Object.keys(commands).join(', ')}\n`,
    );
    return 2;
  }
  let runtime: LocalRuntime | undefined;
  let services: LocalServices | undefined;
  const where = {
    dataDir: values['data-dir'] ?? process.env.CARTFLOW_DATA_DIR ?? '.data',
    sourceDatabaseUrl: process.env[HANDLER_ENV.sourceDatabaseUrl],
    warehouseDatabaseUrl: process.env[HANDLER_ENV.warehouseDatabaseUrl],
  };
  const lazyServices = async () => (services ??= await startLocalServices(where));
  const lazyRuntime = async () =>
    (runtime ??= await startLocalRuntime({
      ...where,
      onStep: (step) => {
        if (step.status === 'ok') err.write(`  ✓ ${step.state.padEnd(16)} ${ms(step.ms)}\n`);
        else if (step.status !== 'caught')
          err.write(`  ✗ ${step.state.padEnd(16)} ${ms(step.ms)} ${step.status}: ${step.error ?? ''}\n`);
      },
    }));
  try {
    return await run(lazyRuntime, lazyServices);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`cartflow ${command}: ${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    err.write(`cartflow ${command}: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await runtime?.close();
    await services?.close();
  }
}

const ms = (value: number) => (value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value} ms`);

function dateOption(values: Values, name: 'date' | 'from' | 'to', fallback?: string): string {
  const value = values[name] ?? fallback;
  if (value === undefined) throw new UsageError(`--${name} is required (YYYY-MM-DD)`);
  try {
    return assertBusinessDate(value, `--${name}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function intOption(
  values: Values,
  name: 'orders' | 'seed' | 'bad-rows' | 'concurrency' | 'events' | 'batch-size' | 'window-ms',
  fallback: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new UsageError(`--${name} must be a whole number >= 0, got "${raw}"`);
  return value;
}

async function seedDay(runtime: LocalRuntime, values: Values, date: string, defaultOrders: number) {
  const orders = intOption(values, 'orders', defaultOrders);
  const day = generateDay({
    date,
    orders,
    seed: intOption(values, 'seed', 42),
    dirty: plantedBadRows(intOption(values, 'bad-rows', 0)),
  });
  await seedSourceDatabase(runtime.source, { orders: day.orders, items: day.items }, date);
  await runtime.lake.put(
    `${CATALOG_LANDING_PREFIX}products.jsonl`,
    day.catalog.map((p) => JSON.stringify(p)).join('\n') + '\n',
    'application/x-ndjson',
  );
  return day;
}

/** Spreads N planted bad rows over the kinds the rules catch. */
function plantedBadRows(count: number) {
  const kinds = ['nullOrderId', 'badCurrency', 'negativeTotal', 'zeroQuantity', 'unknownProduct'] as const;
  const dirty: Partial<Record<(typeof kinds)[number], number>> = {};
  for (let i = 0; i < count; i++) dirty[kinds[i % kinds.length]] = (dirty[kinds[i % kinds.length]] ?? 0) + 1;
  return dirty;
}

async function seed(rt: () => Promise<LocalRuntime>, values: Values, out: NodeJS.WritableStream) {
  const date = dateOption(values, 'date', previousUtcDate(new Date()));
  const day = await seedDay(await rt(), values, date, 1000);
  out.write(
    `seeded ${date}: ${day.orders.length} orders, ${day.items.length} order items, ${day.catalog.length} products\n`,
  );
  return 0;
}

async function runOne(runtime: LocalRuntime, date: string, err: NodeJS.WritableStream) {
  err.write(`run ${date}\n`);
  const outcome = await runtime.runBatch({ businessDate: date });
  if (outcome.status !== 'SUCCEEDED') {
    const alert = runtime.alerts.published.at(-1);
    err.write(`run ${date} ${outcome.status}: ${outcome.error?.name} ${outcome.error?.message ?? ''}\n`);
    if (alert) err.write(`${alert.message}\n`);
  }
  return outcome;
}

async function runDate(
  rt: () => Promise<LocalRuntime>,
  values: Values,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) {
  const date = dateOption(values, 'date');
  const started = Date.now();
  const runtime = await rt();
  const outcome = await runOne(runtime, date, err);
  if (outcome.state) out.write(await summary(runtime, outcome.state, Date.now() - started));
  return outcome.status === 'SUCCEEDED' ? 0 : 1;
}

async function backfill(
  rt: () => Promise<LocalRuntime>,
  values: Values,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) {
  const dates = dateRange(dateOption(values, 'from'), dateOption(values, 'to'));
  const concurrency = Math.max(1, intOption(values, 'concurrency', 1));
  const runtime = await rt();
  const failed: string[] = [];
  const queue = [...dates];
  const worker = async () => {
    for (let date = queue.shift(); date !== undefined; date = queue.shift()) {
      const outcome = await runOne(runtime, date, err);
      if (outcome.status !== 'SUCCEEDED') failed.push(date);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  out.write(
    `backfill ${dates.length} dates: ${dates.length - failed.length} succeeded, ${failed.length} failed${failed.length ? ` (${failed.sort().join(', ')})` : ''}\n`,
  );
  return failed.length ? 1 : 0;
}

async function demo(
  rt: () => Promise<LocalRuntime>,
  values: Values,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) {
  const started = Date.now();
  const date = dateOption(values, 'date', previousUtcDate(new Date()));
  const runtime = await rt();
  err.write(`seeding ${date} …\n`);
  const day = await seedDay(runtime, { ...values, 'bad-rows': values['bad-rows'] ?? '10' }, date, 5000);
  err.write(
    `seeded ${day.orders.length} orders, ${day.items.length} order items, ${day.catalog.length} products\n`,
  );
  const outcome = await runOne(runtime, date, err);
  const clickstream = await demoStream(runtime, values, date, err);
  if (outcome.state) out.write(await summary(runtime, outcome.state, Date.now() - started, clickstream));
  else out.write(`${clickstream.join('\n')}\n`);
  return outcome.status === 'SUCCEEDED' ? 0 : 1;
}

/**
 * The stream half of the demo, without a broker: an hour of sample clickstream (noon to 1 pm of the date),
 * recorded the way the producer would place it, replayed through stream-to-parquet, then load-events.
 */
async function demoStream(runtime: LocalRuntime, values: Values, date: string, err: NodeJS.WritableStream) {
  const events = intOption(values, 'events', 20_000);
  const { stream: config } = loadConfig('dev');
  const from = new Date(`${date}T12:00:00.000Z`);
  const to = new Date(from.getTime() + 3_600_000);
  const sample = generateClickEvents({
    count: events,
    seed: intOption(values, 'seed', 42),
    start: from,
    minutes: 60,
  });
  err.write(`replaying a recorded clickstream: ${events} messages over ${config.partitions} partitions …\n`);
  const run = await replayRecording(runtime, {
    values: sample.values,
    topic: config.topic,
    partitions: config.partitions,
    batchSize: config.batchSize,
    timestampOf: spreadTimestamps(events, from.getTime(), 3_600_000),
    window: { from, to },
  });
  const { totals, after } = run;
  const duplicates = totals.records - totals.quarantined - after.events;
  return [
    `clickstream ${from.toISOString().slice(0, 16)}Z +1h: ${totals.records} messages, ${totals.invocations} invocations of stream-to-parquet, ${totals.objects} objects, then load-events`,
    `  events loaded ${after.events} · duplicates dropped ${duplicates} · quarantined ${totals.quarantined} · minutes in agg_event_minute ${after.eventMinutes}, agg_error_minute ${after.errorMinutes}`,
  ];
}

function kafkaBrokers(): string[] {
  const brokers = (process.env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokers.length === 0) {
    throw new UsageError(
      'KAFKA_BROKERS is not set; start a broker with: export KAFKA_BROKERS="$(bash localstack/kafka/broker.sh start)"',
    );
  }
  return brokers;
}

function timeOption(values: Values, name: 'from' | 'to'): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  // A date alone is its UTC midnight; a time without an offset is UTC too (never the laptop's zone).
  try {
    return parseInstant(raw).getTime();
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}

async function produce(values: Values, out: NodeJS.WritableStream, err: NodeJS.WritableStream) {
  const brokers = kafkaBrokers();
  const count = intOption(values, 'events', 10_000);
  const seedValue = intOption(values, 'seed', 42);
  const { stream: config } = loadConfig('dev');
  const topic = values.topic ?? config.topic;
  // The last hour: events and their Kafka timestamps both spread over it, so --from/--to replays make sense.
  const start = Date.now() - 3_600_000;
  const sample = generateClickEvents({ count, seed: seedValue, start: new Date(start), minutes: 60 });
  err.write(`producing ${count} messages to ${topic} on ${brokers.join(',')} …\n`);
  const result = await produceMessages({
    brokers,
    topic,
    values: sample.values,
    partitions: config.partitions,
    timestampOf: spreadTimestamps(count, start, 3_600_000),
  });
  const { valid, distinctEventIds, malformed } = sample.expected;
  out.write(
    `produced ${result.sent} messages to ${topic}${result.topicCreated ? ` (created with ${config.partitions} partitions)` : ''}: ` +
      `${distinctEventIds} valid events, ${valid - distinctEventIds} duplicates, ${malformed} malformed\n` +
      `messages in the topic by partition: ${Object.entries(result.perPartition)
        .map(([p, n]) => `${p}=${n}`)
        .join(' ')}\n`,
  );
  return 0;
}

async function stream(
  rt: () => Promise<LocalRuntime>,
  values: Values,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) {
  const brokers = kafkaBrokers();
  const { stream: config } = loadConfig('dev');
  const topic = values.topic ?? config.topic;
  const fromMs = timeOption(values, 'from');
  const toMs = timeOption(values, 'to');
  if (toMs !== undefined && fromMs === undefined) throw new UsageError('--to needs --from (a replay window)');
  if (fromMs !== undefined && toMs !== undefined && toMs < fromMs)
    throw new UsageError(
      `--to (${new Date(toMs).toISOString()}) is before --from (${new Date(fromMs).toISOString()})`,
    );
  const batchSize = intOption(values, 'batch-size', config.batchSize);
  if (batchSize < 1 || batchSize > 10_000)
    throw new UsageError(`--batch-size must be 1..10000 (the mapping's BatchSize range), got ${batchSize}`);
  const runtime = await rt();
  err.write(
    fromMs === undefined
      ? `consuming ${topic} as the event-source mapping (group ${STREAM_GROUP}) until idle …\n`
      : `replaying ${topic} from ${new Date(fromMs).toISOString()}${toMs === undefined ? '' : ` to ${new Date(toMs).toISOString()}`} …\n`,
  );
  const run = await streamFromKafka(runtime, {
    brokers,
    topic,
    batchSize,
    maxBatchingWindowMs: intOption(values, 'window-ms', 1000),
    retries: config.retryAttempts,
    fromMs,
    toMs,
    onBatch: (b) => {
      if (b.error)
        err.write(
          `  batch of ${b.records} failed after ${b.attempts} attempts (${b.error}) → ${b.onFailureKeys?.join(', ')}\n`,
        );
    },
    onReconnect: (r) =>
      err.write(
        `  broker ${brokers.join(',')} lost (${r.error}); reconnecting in ${(r.waitMs / 1000).toFixed(1)} s ` +
          `(attempt ${r.attempt}, down ${Math.round(r.downForMs / 1000)} s; gives up after ${RECONNECT_TIMEOUT_MS / 1000} s)\n`,
      ),
  });
  out.write(streamSummary(run.poller.groupId, run.totals, run.before, run.after));
  return 0;
}

function streamSummary(
  group: string,
  totals: StreamTotals,
  before: WarehouseEventCounts,
  after: WarehouseEventCounts,
): string {
  return [
    `stream (group ${group}): ${totals.records} records in ${totals.invocations} invocations → ${totals.objects} objects written`,
    `  events written ${totals.written} · duplicates dropped in batches ${totals.records - totals.written - totals.quarantined} · quarantined ${totals.quarantined} · on-failure batches ${totals.onFailure.length}`,
    `  load-events: events loaded ${after.events - before.events} (fact_click_event ${after.events} rows) · minutes in agg_event_minute ${after.eventMinutes}, agg_error_minute ${after.errorMinutes}`,
    '',
  ].join('\n');
}

async function summary(
  runtime: LocalRuntime,
  state: PipelineState,
  wallMs: number,
  extra: string[] = [],
): Promise<string> {
  const date = state.run.businessDate;
  const counts = await runtime.warehouse.query<{ table_name: string; rows: string; revenue: string | null }>(`
    SELECT 'dim_product' AS table_name, count(*)::text AS rows, NULL AS revenue FROM analytics.dim_product
    UNION ALL SELECT 'fact_order', count(*)::text, sum(total_amount)::text FROM analytics.fact_order WHERE order_date = '${date}'
    UNION ALL SELECT 'fact_order_item', count(*)::text, sum(line_amount)::text FROM analytics.fact_order_item i
      WHERE i.order_id IN (SELECT order_id FROM analytics.fact_order WHERE order_date = '${date}')
    UNION ALL SELECT 'agg_daily_sales', count(*)::text, sum(revenue)::text FROM analytics.agg_daily_sales WHERE order_date = '${date}'`);
  const lines = [
    `\ncartflow run ${state.run.runId} — business date ${date}`,
    '',
    'warehouse table      rows      amount',
  ];
  for (const c of counts)
    lines.push(`${c.table_name.padEnd(20)} ${c.rows.padStart(8)}  ${(c.revenue ?? '').padStart(12)}`);
  lines.push('', 'dataset        rows in   loaded  quarantined  share   gate');
  for (const d of state.validation?.datasets ?? []) {
    lines.push(
      `${d.dataset.padEnd(14)} ${String(d.rowsIn).padStart(7)} ${String(d.rowsValid).padStart(8)} ${String(d.rowsQuarantined).padStart(12)}  ${(d.quarantineShare * 100).toFixed(2).padStart(5)}%  ${d.passed ? 'pass' : 'FAIL'}`,
    );
  }
  const failedChecks = (state.validation?.checks ?? []).filter((c) => !c.passed);
  if (failedChecks.length) {
    lines.push('', 'checks with failures:');
    for (const c of failedChecks)
      lines.push(`  ${c.dataset}: ${c.check}: ${c.failedRows} rows [${c.severity}]`);
  }
  if (extra.length) lines.push('', ...extra);
  lines.push(
    '',
    `quality report: s3://${runtime.lake.bucket}/${state.validation?.reportKey}`,
    `wall time: ${(wallMs / 1000).toFixed(1)} s`,
    '',
  );
  return lines.join('\n');
}

async function query(rt: () => Promise<LocalServices>, rest: string[], out: NodeJS.WritableStream) {
  if (rest.length !== 1)
    throw new UsageError('query takes exactly one SQL string, e.g. cartflow query "SELECT 1"');
  // By position, not by name: `SELECT 1 AS a, 2 AS a` and `SELECT count(*), count(DISTINCT x)` keep every column.
  const { columns, rows } = await (await rt()).warehouse.queryArrays(rest[0]);
  out.write(toCsv(columns, rows));
  return 0;
}

async function drop(
  rt: () => Promise<LocalRuntime>,
  rest: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) {
  if (rest.length !== 1)
    throw new UsageError('drop takes one file path (.json, .jsonl or .csv catalog file)');
  const body = await readFile(rest[0]).catch((error: Error) => {
    throw new UsageError(`cannot read ${rest[0]}: ${error.message}`);
  });
  const runtime = await rt();
  const key = `${CATALOG_LANDING_PREFIX}${basename(rest[0])}`;
  await runtime.lake.put(key, body);
  err.write(`dropped s3://${runtime.lake.bucket}/${key}; running the catalog refresh\n`);
  const outcome = await runtime.refreshCatalog(key);
  if (outcome.status !== 'SUCCEEDED') {
    err.write(`catalog refresh ${outcome.status}: ${outcome.error?.name}: ${outcome.error?.message}\n`);
    return 1;
  }
  const [{ products }] = await runtime.warehouse.query<{ products: string }>(
    'SELECT count(*)::text AS products FROM analytics.dim_product',
  );
  out.write(`catalog refreshed: analytics.dim_product has ${products} products\n`);
  return 0;
}

async function status(rt: () => Promise<LocalServices>, values: Values, out: NodeJS.WritableStream) {
  const runtime = await rt();
  // Before the first run the table does not exist yet; any other failure is an error worth showing.
  const [{ exists }] = await runtime.warehouse.query<{ exists: boolean }>(
    `SELECT to_regclass('ops.pipeline_run') IS NOT NULL AS exists`,
  );
  const runs = exists
    ? await runtime.warehouse.query<Record<string, unknown>>(
        `SELECT run_id, business_date, status, started_at, finished_at FROM ops.pipeline_run ORDER BY started_at DESC LIMIT 20`,
      )
    : [];
  out.write(
    values.json ? `${JSON.stringify(runs, null, 2)}\n` : runs.length ? recordsToCsv(runs) : 'no runs yet\n',
  );
  return 0;
}
