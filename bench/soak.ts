/**
 * Soak benchmark: a backfill of many days at a realistic size and a long clickstream replay, end to end
 * through the local runtime (embedded PostgreSQL for source and warehouse, s3rver lake, the synthesized
 * state machine), measuring the wall time and peak memory of every step, to show that no step holds a
 * whole day or topic in memory and that memory does not grow with the days. It measures time and memory,
 * not speed: it runs no outside reference and claims no rate.
 *
 *   npm run bench:soak -- [--days 30] [--orders 100000] [--events 5000000] [--data-dir DIR] [--memory-mb N]
 *                         [--heap-mb N] [--date 2026-01-01] [--bad-rows 10] [--interval-ms 100] [--keep]
 *
 * With --heap-mb the worker's V8 heap is capped below what a day's rows or the topic would take as
 * objects: a run that succeeds then proves no step held them whole (it dies with "heap out of memory"
 * otherwise).
 *
 * Three processes, so each figure is one thing's own:
 * - this one, the monitor: it samples the worker's RSS and the PostgreSQL server's memory (postmaster and
 *   backends, from /proc) every --interval-ms and attributes each sample to the steps running then;
 * - the worker (`--worker`), what `cartflow backfill` and `cartflow stream` are: the runtime, with the
 *   handlers and s3rver in it; it resets its own kernel peak (VmHWM) at each day and stream window, so
 *   those peaks are exact whatever the sampling missed;
 * - per day, a seeding child (`--seed-date`), as `cartflow seed` in another terminal: the generated day
 *   never sits in the worker's heap.
 * Prints one table per phase, then one JSON line with every figure. Exits non-zero when a day fails or
 * the warehouse does not hold what was seeded and replayed.
 */
import { execFile, spawn } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { loadConfig } from '../lib/config';
import { HANDLER_ENV, LAKE } from '../lambdas/contract';
import type { PipelineState } from '../lambdas/core/contracts';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { DAY_MS, assertBusinessDate, dayBounds, utcDate } from '../lambdas/core/dates';
import { engineSettingsFromEnv } from '../lambdas/core/engine/engine';
import { layout } from '../lambdas/core/layout';
import type { LakeStore } from '../lambdas/adapters/ports';
import { seedDay } from '../cli/commands/batch';
import { warehouseEventCounts } from '../local/kafka/stream';
import { replayRecordedTopic } from '../local/kafka/replay';
import { recordTopic, spreadTimestamps } from '../local/kafka/topic';
import { POSTGRES_DIR, startLocalRuntime, startLocalServices } from '../local/runtime';
import { MemorySampler, peakRssKb, resetPeakRss, rssKb } from './support/proc-memory';
import { log, markdownTable, runBench } from './support/report';

const { values: args } = parseArgs({
  options: {
    days: { type: 'string', default: '30' },
    orders: { type: 'string', default: '100000' },
    events: { type: 'string', default: '5000000' },
    /** First business date of the backfill; the clickstream replays that date's 24 hours. */
    date: { type: 'string', default: '2026-01-01' },
    /** Planted bad rows a day (the quarantine path runs every day). */
    'bad-rows': { type: 'string', default: '10' },
    /** DuckDB's memory_limit in the steps (CARTFLOW_ENGINE_MEMORY_MB); the handlers' default when absent. */
    'memory-mb': { type: 'string' },
    /** Where the runtime keeps its lake, databases and logs; kept after. A fresh temp directory otherwise. */
    'data-dir': { type: 'string' },
    /**
     * Caps the worker's V8 heap (node --max-old-space-size): a day of rows as JavaScript objects is several
     * times its JSON, so a run that succeeds under a cap below that held no day whole in the heap.
     */
    'heap-mb': { type: 'string' },
    'interval-ms': { type: 'string', default: '100' },
    keep: { type: 'boolean', default: false },
    /** Internal: run the pipeline (the worker process). */
    worker: { type: 'boolean', default: false },
    /** Internal: seed this date into the data dir's source database and exit. */
    'seed-date': { type: 'string' },
  },
});

const positive = (name: keyof typeof args, min = 1) => {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be a whole number >= ${min}, got "${String(args[name])}"`);
  }
  return value;
};
const days = positive('days');
const orders = positive('orders');
const events = positive('events', 0);
const badRows = positive('bad-rows', 0);
const intervalMs = positive('interval-ms', 10);
const firstDate = assertBusinessDate(args.date, '--date');
if (args['memory-mb'] !== undefined) positive('memory-mb', 64);
const heapMb = args['heap-mb'] === undefined ? undefined : positive('heap-mb', 64);
const dayStart = dayBounds(firstDate).start.getTime();
const dates = Array.from({ length: days }, (_, i) => utcDate(new Date(dayStart + i * DAY_MS)));

// ---------------------------------------------------------------------------------------------------
// What the worker tells the monitor (IPC), one message per event.

interface StepMessage {
  kind: 'step';
  phase: 'batch' | 'stream';
  /** The business date of a batch step. */
  date?: string;
  state: string;
  startedAt: number;
  ms: number;
  status: string;
  error?: string;
  /** The worker's RSS when it heard of the end (just after it), kB. */
  endRssKb: number;
  /** Messages in a stream-to-parquet invocation. */
  records?: number;
}

/** What the seeding child prints. */
interface SeededDay {
  orders: number;
  items: number;
  products: number;
  /** The day's source rows as JSON lines: how big the day is as data. */
  dayJsonBytes: number;
  /** The seeding child's own peak RSS, kB. */
  childPeakKb: number;
}

interface SeedMessage extends SeededDay {
  kind: 'seed';
  date: string;
  /** The child's whole run, process start-up included (as `cartflow seed`). */
  startedAt: number;
  ms: number;
}

interface DayMessage {
  kind: 'day';
  date: string;
  status: string;
  error?: string;
  startedAt: number;
  ms: number;
  /** The worker's exact peak RSS during the run (VmHWM reset at its start), kB. */
  peakKb: number;
  /** Raw Parquet the extracts wrote for the date, and the curated Parquet the warehouse loaded. */
  rawBytes: number;
  curatedBytes: number;
  mismatches: string[];
}

interface StreamMessage {
  kind: 'stream';
  startedAt: number;
  ms: number;
  /** Wall time of the replays (generation included) and of the load-events calls, summed over the windows. */
  replayMs: number;
  loadMs: number;
  /** The worker's exact peaks (VmHWM): over the replays (a window's messages held), over the load-events calls. */
  replayPeakKb: number;
  loadPeakKb: number;
  /** load-events runs (a call goes on while its run leaves a backlog) and objects they loaded. */
  loadRuns: number;
  loadObjects: number;
  windows: number;
  /** The worker's exact peak of each window (its replay and its load-events), kB: growth along the topic. */
  windowPeaksKb: number[];
  /** The most messages the worker held at once: one window's. */
  windowMessagesMax: number;
  generateMs: number;
  messages: number;
  /** The messages' UTF-8 bytes: the topic's size. */
  topicBytes: number;
  invocations: number;
  /** Bytes under events/ in the lake after the replay. */
  lakeBytes: number;
  expectedEvents: number;
  warehouseEvents: number;
  mismatches: string[];
}

interface ReadyMessage {
  kind: 'ready';
  at: number;
  memoryLimitMb: number;
  /** The worker's V8 heap limit (--heap-mb, else node's default). */
  heapLimitMb: number;
  threads: number;
  batchSize: number;
  partitions: number;
}

type WorkerMessage = ReadyMessage | SeedMessage | StepMessage | DayMessage | StreamMessage;

const run = promisify(execFile);
/** The replay goes a quarter hour of event time at a time: generated, replayed, then one load-events. */
const STREAM_WINDOW_MS = 15 * 60_000;
const HEAP_FLAG = '--max-old-space-size=';
/**
 * This script again, with the same node flags (tsx, the legacy OpenSSL provider s3rver needs) but the
 * worker's heap cap, which `heapMb` sets: the seeding child holds a whole generated day by design.
 */
const self = (heapMb: number | undefined, ...extra: string[]) => [
  ...process.execArgv.filter((flag) => !flag.startsWith(HEAP_FLAG)),
  ...(heapMb === undefined ? [] : [`${HEAP_FLAG}${heapMb}`]),
  process.argv[1],
  ...extra,
];

// ---------------------------------------------------------------------------------------------------
// Seeding child: one date into the source database, as `cartflow seed` does, then its figures on stdout.

async function seedMain(dataDir: string, date: string): Promise<void> {
  const services = await startLocalServices({ dataDir });
  try {
    const day = await seedDay(
      services,
      { orders: String(orders), 'bad-rows': String(badRows) },
      date,
      orders,
    );
    let dayJsonBytes = 0;
    for (const row of [...day.orders, ...day.items])
      dayJsonBytes += Buffer.byteLength(JSON.stringify(row)) + 1;
    const seeded: SeededDay = {
      orders: day.orders.length,
      items: day.items.length,
      products: day.catalog.length,
      dayJsonBytes,
      childPeakKb: peakRssKb(),
    };
    process.stdout.write(JSON.stringify(seeded));
  } finally {
    await services.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Worker: the backfill, then the replay, through the local runtime.

const lakeBytes = async (lake: LakeStore, prefixes: readonly string[]) => {
  let total = 0;
  for (const prefix of prefixes) for (const o of await lake.list(prefix)) total += o.size;
  return total;
};

async function workerMain(dataDir: string): Promise<void> {
  const send = (message: WorkerMessage) => process.send!(message);
  let date: string | undefined;
  let phase: StepMessage['phase'] = 'batch';
  const runtime = await startLocalRuntime({
    dataDir,
    onStep: (step) =>
      send({ kind: 'step', phase, date, ...step, endRssKb: rssKb('self') ?? 0 } as StepMessage),
  });
  try {
    const engine = engineSettingsFromEnv(runtime.env);
    const { stream: streamConfig } = loadConfig('dev');
    send({
      kind: 'ready',
      at: Date.now(),
      memoryLimitMb: engine.memoryLimitMb,
      heapLimitMb: Math.round(getHeapStatistics().heap_size_limit / 2 ** 20),
      threads: engine.threads,
      batchSize: streamConfig.batchSize,
      partitions: streamConfig.partitions,
    });

    for (date of dates) {
      const seedStart = Date.now();
      const { stdout } = await run(
        process.execPath,
        self(undefined, '--seed-date', date, '--data-dir', dataDir, ...forwarded()),
        { maxBuffer: 1024 * 1024 },
      );
      const seeded = JSON.parse(stdout) as SeededDay;
      send({ kind: 'seed', date, startedAt: seedStart, ms: Date.now() - seedStart, ...seeded });

      resetPeakRss();
      const startedAt = Date.now();
      const outcome = await runtime.runBatch({ businessDate: date });
      const ms = Date.now() - startedAt;
      const peakKb = peakRssKb();
      const state = outcome.state as PipelineState | undefined;
      const tables = state?.validation?.tables ?? [];
      const mismatches: string[] = [];
      if (outcome.status === 'SUCCEEDED' && state?.validation) {
        const ordersIn = state.validation.datasets.find((d) => d.dataset === 'orders')?.rowsIn;
        if (ordersIn !== seeded.orders) mismatches.push(`orders in ${ordersIn}, seeded ${seeded.orders}`);
        for (const table of tables.filter((t) => t.table === 'fact_order' || t.table === 'fact_order_item')) {
          const [{ n }] = await runtime.warehouse.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM analytics.${table.table} WHERE order_date = DATE '${date}'`,
          );
          if (Number(n) !== table.rows)
            mismatches.push(`${table.table}: warehouse ${n}, curated ${table.rows}`);
        }
      }
      send({
        kind: 'day',
        date,
        status: outcome.status,
        ...(outcome.error ? { error: `${outcome.error.name}: ${outcome.error.message}` } : {}),
        startedAt,
        ms,
        peakKb,
        rawBytes: await lakeBytes(
          runtime.lake,
          (['orders', 'order_items', 'products'] as const).map((d) => layout.rawPrefix(d, date!)),
        ),
        curatedBytes: await lakeBytes(
          runtime.lake,
          tables.map((t) => t.prefix),
        ),
        mismatches,
      });
    }
    date = undefined;

    if (events > 0) send(await replay(runtime, streamConfig));
  } finally {
    await runtime.close();
  }

  async function replay(
    local: Awaited<ReturnType<typeof startLocalRuntime>>,
    config: { topic: string; partitions: number; batchSize: number },
  ): Promise<StreamMessage> {
    phase = 'stream';
    const timestampOf = spreadTimestamps(events, dayStart, DAY_MS);
    // Offsets go on across windows, as one producer filling one topic.
    const nextOffset = new Array<number>(config.partitions).fill(0);
    let expectedEvents = 0;
    let topicBytes = 0;
    let generateMs = 0;
    let invocations = 0;
    const handler = async (event: Parameters<typeof local.streamToParquet>[0]) => {
      const startedAt = Date.now();
      const records = Object.values(event.records).reduce((sum, list) => sum + list.length, 0);
      let status = 'ok';
      let error: string | undefined;
      try {
        return await local.streamToParquet(event);
      } catch (thrown) {
        status = 'failed';
        error = (thrown as Error).message;
        throw thrown;
      } finally {
        invocations++;
        send({
          kind: 'step',
          phase: 'stream',
          state: 'StreamToParquet',
          startedAt,
          ms: Date.now() - startedAt,
          status,
          ...(error ? { error } : {}),
          endRssKb: rssKb('self') ?? 0,
          records,
        });
      }
    };

    const streamStart = Date.now();
    const windows = Math.ceil(DAY_MS / STREAM_WINDOW_MS);
    const peaks = { replay: 0, load: 0, replayMs: 0, loadMs: 0, runs: 0, objects: 0, windowMax: 0 };
    const windowPeaksKb: number[] = [];
    for (let w = 0; w < windows; w++) {
      const first = Math.floor((events * w) / windows);
      const count = Math.floor((events * (w + 1)) / windows) - first;
      if (count === 0) continue;
      resetPeakRss();
      const replayStart = Date.now();
      // Each window its own seed (distinct event ids) and its own quarter hour: the topic in time order.
      const sample = generateClickEvents({
        count,
        seed: `soak-${w}`,
        start: new Date(dayStart + w * STREAM_WINDOW_MS),
        minutes: STREAM_WINDOW_MS / 60_000,
      });
      const records = recordTopic(sample.values, {
        topic: config.topic,
        partitions: config.partitions,
        timestampOf: (i) => timestampOf(first + i),
      });
      for (const r of records) r.offset += nextOffset[r.partition];
      for (const r of records) nextOffset[r.partition] = Math.max(nextOffset[r.partition], r.offset + 1);
      generateMs += Date.now() - replayStart;
      expectedEvents += sample.expected.distinctEventIds;
      for (const v of sample.values) topicBytes += Buffer.byteLength(v);
      peaks.windowMax = Math.max(peaks.windowMax, count);
      await replayRecordedTopic({ records, batchSize: config.batchSize, handler });
      peaks.replayMs += Date.now() - replayStart;
      const replayPeak = peakRssKb();
      peaks.replay = Math.max(peaks.replay, replayPeak);

      // load-events as its schedule would run it, once per window of the stream.
      resetPeakRss();
      const loadStart = Date.now();
      const runs = await local.loadEvents();
      const ms = Date.now() - loadStart;
      peaks.loadMs += ms;
      const loadPeak = peakRssKb();
      peaks.load = Math.max(peaks.load, loadPeak);
      windowPeaksKb.push(Math.max(replayPeak, loadPeak));
      peaks.runs += runs.length;
      const objects = runs.reduce((sum, r) => sum + r.objects, 0);
      peaks.objects += objects;
      send({
        kind: 'step',
        phase: 'stream',
        state: 'LoadEvents',
        startedAt: loadStart,
        ms,
        status: 'ok',
        endRssKb: rssKb('self') ?? 0,
        records: objects,
      });
      if ((w + 1) % 8 === 0 || w === windows - 1) {
        log(
          `replayed and loaded ${(first + count).toLocaleString('en-US')} of ${events.toLocaleString('en-US')} messages`,
        );
      }
    }
    const counts = await warehouseEventCounts(local);
    const mismatches: string[] = [];
    if (counts.events !== expectedEvents)
      mismatches.push(`fact_click_event: ${counts.events} rows, expected ${expectedEvents}`);
    if (counts.distinctEventIds !== counts.events)
      mismatches.push(`fact_click_event: ${counts.events} rows but ${counts.distinctEventIds} distinct ids`);
    return {
      kind: 'stream',
      startedAt: streamStart,
      ms: Date.now() - streamStart,
      replayMs: peaks.replayMs,
      loadMs: peaks.loadMs,
      replayPeakKb: peaks.replay,
      loadPeakKb: peaks.load,
      loadRuns: peaks.runs,
      loadObjects: peaks.objects,
      windows,
      windowPeaksKb,
      windowMessagesMax: peaks.windowMax,
      generateMs,
      messages: events,
      topicBytes,
      invocations,
      lakeBytes: await lakeBytes(local.lake, [LAKE.events]),
      expectedEvents,
      warehouseEvents: counts.events,
      mismatches,
    };
  }
}

/** The sizing options, passed on to the worker and the seeding child. */
function forwarded(): string[] {
  return [
    ...['--days', String(days), '--orders', String(orders), '--events', String(events)],
    ...['--date', firstDate, '--bad-rows', String(badRows)],
  ];
}

// ---------------------------------------------------------------------------------------------------
// Monitor: starts the worker, samples memory, prints the report.

const mbOf = (kb: number) => kb / 1024;
const fmtMb = (kb: number) => mbOf(kb).toFixed(0);
const fmtBytesMb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const fmtS = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

interface StepFigures {
  step: string;
  runs: number;
  failed: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
  totalMs: number;
  /** Peak worker RSS over the step's windows (sampled, and its RSS at each end), kB. */
  workerPeakKb: number;
  postgresPssPeakKb: number;
  postgresMaxRssKb: number;
}

function stepFigures(name: string, steps: readonly StepMessage[], sampler: MemorySampler): StepFigures {
  const peaks = steps.map((s) => sampler.peak(s.startedAt, s.startedAt + s.ms));
  const ms = steps.map((s) => s.ms);
  return {
    step: name,
    runs: steps.length,
    failed: steps.filter((s) => s.status !== 'ok').length,
    minMs: Math.min(...ms),
    medianMs: median(ms),
    maxMs: Math.max(...ms),
    totalMs: ms.reduce((a, b) => a + b, 0),
    workerPeakKb: Math.max(...peaks.map((p) => p.processKb), ...steps.map((s) => s.endRssKb)),
    postgresPssPeakKb: Math.max(...peaks.map((p) => p.postgresPssKb)),
    postgresMaxRssKb: Math.max(...peaks.map((p) => p.postgresMaxRssKb)),
  };
}

async function monitorMain(dataDir: string): Promise<boolean> {
  const started = Date.now();
  const env = { ...process.env };
  if (args['memory-mb'] !== undefined) env[HANDLER_ENV.engineMemoryMb] = args['memory-mb'];
  const worker = spawn(process.execPath, self(heapMb, '--worker', '--data-dir', dataDir, ...forwarded()), {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env,
  });
  const sampler = new MemorySampler(worker.pid!, join(dataDir, POSTGRES_DIR), intervalMs);
  let ready: ReadyMessage | undefined;
  const seeds: SeedMessage[] = [];
  const steps: StepMessage[] = [];
  const dayRuns: DayMessage[] = [];
  let stream: StreamMessage | undefined;
  worker.on('message', (message: WorkerMessage) => {
    if (message.kind === 'ready') {
      ready = message;
      log(`runtime up in ${fmtS(message.at - started)} s`);
    } else if (message.kind === 'seed') seeds.push(message);
    else if (message.kind === 'step') steps.push(message);
    else if (message.kind === 'stream') stream = message;
    else {
      dayRuns.push(message);
      log(
        `${message.date} ${message.status} in ${fmtS(message.ms)} s, worker peak ${fmtMb(message.peakKb)} MB` +
          (message.error ? ` — ${message.error}` : ''),
      );
    }
  });
  const exitCode = await new Promise<number | null>((resolve) => worker.on('exit', resolve));
  sampler.stop();
  const wallMs = Date.now() - started;
  if (ready === undefined) throw new Error(`the worker exited (code ${exitCode}) before the runtime started`);

  // Baseline: the worker idle after start-up (CDK synthesis, warehouse DDL), before the first seed.
  const baseline = sampler.peak(ready.at - intervalMs * 2, ready.at);

  // ---- per step, over all days ----
  const batchSteps = steps.filter((s) => s.phase === 'batch');
  const stateNames = [...new Set(batchSteps.map((s) => s.state))];
  const batchFigures = stateNames.map((name) =>
    stepFigures(
      name,
      batchSteps.filter((s) => s.state === name),
      sampler,
    ),
  );
  const dayJson = seeds.map((s) => s.dayJsonBytes);
  const dayJsonMax = Math.max(0, ...dayJson);
  const rawMax = Math.max(0, ...dayRuns.map((d) => d.rawBytes));
  const seedFigures: StepFigures = {
    ...stepFigures(
      'seed (bench setup, child)',
      seeds.map((s) => ({
        kind: 'step',
        phase: 'batch',
        state: 'seed',
        startedAt: s.startedAt,
        ms: s.ms,
        status: 'ok',
        endRssKb: 0,
      })),
      sampler,
    ),
    // The seeding child's own peak, not the (idle) worker's.
    workerPeakKb: Math.max(0, ...seeds.map((s) => s.childPeakKb)),
  };

  const stepRow = (f: StepFigures) => [
    f.step,
    String(f.runs) + (f.failed ? ` (${f.failed} failed)` : ''),
    fmtS(f.minMs),
    fmtS(f.medianMs),
    fmtS(f.maxMs),
    fmtMb(f.workerPeakKb),
    fmtMb(Math.max(0, f.workerPeakKb - baseline.processKb)),
    fmtMb(f.postgresPssPeakKb),
    fmtMb(f.postgresMaxRssKb),
  ];
  const stepHeader = [
    'step',
    'runs',
    'min s',
    'median s',
    'max s',
    'worker peak MB',
    'over idle MB',
    'postgres PSS MB',
    'largest backend MB',
  ];

  // ---- per day ----
  const seedOf = (date: string) => seeds.find((s) => s.date === date);
  const dayBody = dayRuns.map((d) => {
    const window = sampler.peak(d.startedAt, d.startedAt + d.ms);
    return [
      d.date,
      d.status,
      fmtS(seedOf(d.date)?.ms ?? 0),
      fmtS(d.ms),
      fmtMb(d.peakKb),
      fmtMb(window.postgresPssKb),
      fmtBytesMb(seedOf(d.date)?.dayJsonBytes ?? 0),
      fmtBytesMb(d.rawBytes),
      fmtBytesMb(d.curatedBytes),
    ];
  });

  // ---- growth with days: first vs last five (fewer on a short run) ----
  const span = Math.min(5, Math.floor(dayRuns.length / 2));
  const postgresPeak = (d: DayMessage) => sampler.peak(d.startedAt, d.startedAt + d.ms).postgresPssKb;
  const growth =
    span === 0
      ? undefined
      : {
          days: span,
          worker_peak_mb_first: Math.round(mbOf(median(dayRuns.slice(0, span).map((d) => d.peakKb)))),
          worker_peak_mb_last: Math.round(mbOf(median(dayRuns.slice(-span).map((d) => d.peakKb)))),
          postgres_pss_mb_first: Math.round(mbOf(median(dayRuns.slice(0, span).map(postgresPeak)))),
          postgres_pss_mb_last: Math.round(mbOf(median(dayRuns.slice(-span).map(postgresPeak)))),
          day_s_first: Number((median(dayRuns.slice(0, span).map((d) => d.ms)) / 1000).toFixed(2)),
          day_s_last: Number((median(dayRuns.slice(-span).map((d) => d.ms)) / 1000).toFixed(2)),
        };

  // ---- stream ----
  const streamSteps = (state: string) => steps.filter((s) => s.phase === 'stream' && s.state === state);
  const streamFigures =
    stream === undefined
      ? undefined
      : {
          toParquet: stepFigures('stream-to-parquet', streamSteps('StreamToParquet'), sampler),
          load: stepFigures('load-events', streamSteps('LoadEvents'), sampler),
        };

  const streamSpan = stream === undefined ? 0 : Math.min(5, Math.floor(stream.windowPeaksKb.length / 2));
  const streamGrowth =
    stream === undefined || streamSpan === 0
      ? undefined
      : {
          windows: streamSpan,
          worker_peak_mb_first: Math.round(mbOf(median(stream.windowPeaksKb.slice(0, streamSpan)))),
          worker_peak_mb_last: Math.round(mbOf(median(stream.windowPeaksKb.slice(-streamSpan)))),
        };

  const mismatches = [
    ...dayRuns.flatMap((d) => [
      ...(d.status === 'SUCCEEDED' ? [] : [`${d.date}: ${d.status} ${d.error ?? ''}`]),
      ...d.mismatches.map((m) => `${d.date}: ${m}`),
    ]),
    ...(dayRuns.length === dates.length ? [] : [`${dates.length - dayRuns.length} days did not run`]),
    ...(events > 0 && stream === undefined ? ['the replay did not finish'] : []),
    ...(stream?.mismatches ?? []),
    ...(exitCode === 0 ? [] : [`the worker exited with code ${exitCode}`]),
  ];

  const totalOrders = seeds.reduce((sum, s) => sum + s.orders, 0);
  const totalLines = seeds.reduce((sum, s) => sum + s.items, 0);
  const out = [
    '',
    `soak benchmark — ${days} days from ${firstDate} at ${orders.toLocaleString('en-US')} orders a day ` +
      `(${badRows} planted bad rows a day), then ${events.toLocaleString('en-US')} clickstream messages; ` +
      `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GB, node ${process.version}, engine threads ` +
      `${ready.threads}, DuckDB memory limit ${ready.memoryLimitMb} MB, worker V8 heap limit ${ready.heapLimitMb} MB${heapMb === undefined ? '' : ' (--heap-mb)'}, load average ${loadavg()[0].toFixed(1)}`,
    `It measures time and memory, not speed (no outside reference runs). Memory sampled every ${intervalMs} ms ` +
      `(${sampler.count.toLocaleString('en-US')} samples): the worker's RSS (handlers, DuckDB, s3rver, all in ` +
      `one process as \`cartflow backfill\`) and the embedded PostgreSQL's (postmaster + backends; PSS, so ` +
      `shared_buffers count once). Steps that run at once (Extract's branches, the LoadTables Map) share ` +
      `their samples.`,
    `worker idle after start-up: ${fmtMb(baseline.processKb)} MB; postgres idle: ${fmtMb(baseline.postgresPssKb)} MB PSS`,
    '',
    `batch: ${dayRuns.length} days, ${totalOrders.toLocaleString('en-US')} orders, ${totalLines.toLocaleString('en-US')} ` +
      `order lines; a day is up to ${fmtBytesMb(dayJsonMax)} MB as JSON lines, ${fmtBytesMb(rawMax)} MB as raw Parquet`,
    '',
    ...markdownTable(stepHeader, [
      ...batchFigures.map(stepRow),
      // The child's peak: "over idle" of the worker does not apply.
      stepRow(seedFigures).map((cell, i) => (i === 6 ? '—' : cell)),
    ]),
    '',
    ...markdownTable(
      [
        'date',
        'status',
        'seed s',
        'run s',
        'worker peak MB',
        'postgres PSS MB',
        'day JSON MB',
        'raw MB',
        'curated MB',
      ],
      dayBody,
    ),
    '',
    growth === undefined
      ? 'growth: too few days to compare'
      : `growth, median of the first ${growth.days} vs the last ${growth.days} days: worker peak ` +
        `${growth.worker_peak_mb_first} → ${growth.worker_peak_mb_last} MB, postgres ` +
        `${growth.postgres_pss_mb_first} → ${growth.postgres_pss_mb_last} MB PSS, run ` +
        `${growth.day_s_first} → ${growth.day_s_last} s`,
    ...(stream === undefined || streamFigures === undefined
      ? []
      : [
          '',
          `stream: ${stream.messages.toLocaleString('en-US')} messages (${fmtBytesMb(stream.topicBytes)} MB of ` +
            `JSON) over ${ready.partitions} partitions in ${fmtS(stream.ms)} s: ${stream.windows} quarter hours of ` +
            `event time, each generated (at most ${stream.windowMessagesMax.toLocaleString('en-US')} messages held ` +
            `at once; ${fmtS(stream.generateMs)} s of generation in all), replayed through stream-to-parquet ` +
            `(${stream.invocations.toLocaleString('en-US')} invocations of at most ${ready.batchSize} records), ` +
            `then load-events as its schedule would (${stream.loadRuns} runs, ${stream.loadObjects.toLocaleString('en-US')} ` +
            `objects); ${fmtBytesMb(stream.lakeBytes)} MB under events/ after. Worker peaks are exact (VmHWM) ` +
            `over each kind of work, the generated window included in stream-to-parquet's.`,
          '',
          ...markdownTable(
            [...stepHeader.slice(0, 5), 'total s', ...stepHeader.slice(5)],
            [
              { ...streamFigures.toParquet, workerPeakKb: stream.replayPeakKb },
              { ...streamFigures.load, workerPeakKb: stream.loadPeakKb },
            ].map((f) => [...stepRow(f).slice(0, 5), fmtS(f.totalMs), ...stepRow(f).slice(5)]),
          ),
          '',
          streamGrowth === undefined
            ? 'growth: too few windows to compare'
            : `growth, median of the first ${streamGrowth.windows} vs the last ${streamGrowth.windows} quarter ` +
              `hours: worker peak ${streamGrowth.worker_peak_mb_first} → ${streamGrowth.worker_peak_mb_last} MB`,
          `warehouse: ${stream.warehouseEvents.toLocaleString('en-US')} events loaded, ` +
            `${stream.expectedEvents.toLocaleString('en-US')} distinct sent`,
        ]),
    '',
    `wall time ${fmtS(wallMs)} s`,
    mismatches.length === 0
      ? 'check: OK — every day succeeded; rows in = seeded and warehouse = curated for fact_order and ' +
        'fact_order_item of every date; fact_click_event = distinct events sent'
      : `check: FAILED\n  ${mismatches.join('\n  ')}`,
    '',
  ];
  const stepJson = (f: StepFigures) => ({
    runs: f.runs,
    failed: f.failed,
    min_s: Number((f.minMs / 1000).toFixed(3)),
    median_s: Number((f.medianMs / 1000).toFixed(3)),
    max_s: Number((f.maxMs / 1000).toFixed(3)),
    total_s: Number((f.totalMs / 1000).toFixed(1)),
    worker_peak_rss_mb: Math.round(mbOf(f.workerPeakKb)),
    postgres_peak_pss_mb: Math.round(mbOf(f.postgresPssPeakKb)),
    postgres_largest_process_rss_mb: Math.round(mbOf(f.postgresMaxRssKb)),
  });
  const json = {
    bench: 'soak',
    days,
    orders_per_day: orders,
    events,
    wall_s: Number((wallMs / 1000).toFixed(1)),
    load_average: Number(loadavg()[0].toFixed(2)),
    memory_limit_mb: ready.memoryLimitMb,
    heap_limit_mb: ready.heapLimitMb,
    idle_worker_rss_mb: Math.round(mbOf(baseline.processKb)),
    idle_postgres_pss_mb: Math.round(mbOf(baseline.postgresPssKb)),
    day_json_mb_max: Number((dayJsonMax / 2 ** 20).toFixed(1)),
    day_raw_parquet_mb_max: Number((rawMax / 2 ** 20).toFixed(1)),
    steps: Object.fromEntries(batchFigures.map((f) => [f.step, stepJson(f)])),
    seed: stepJson(seedFigures),
    days_detail: dayRuns.map((d) => ({
      date: d.date,
      status: d.status,
      seed_s: Number(((seedOf(d.date)?.ms ?? 0) / 1000).toFixed(2)),
      run_s: Number((d.ms / 1000).toFixed(2)),
      worker_peak_rss_mb: Math.round(mbOf(d.peakKb)),
      postgres_peak_pss_mb: Math.round(mbOf(postgresPeak(d))),
      day_json_mb: Number(((seedOf(d.date)?.dayJsonBytes ?? 0) / 2 ** 20).toFixed(1)),
      raw_mb: Number((d.rawBytes / 2 ** 20).toFixed(1)),
      curated_mb: Number((d.curatedBytes / 2 ** 20).toFixed(1)),
    })),
    growth: growth ?? null,
    stream:
      stream === undefined || streamFigures === undefined
        ? null
        : {
            messages: stream.messages,
            topic_mb: Number((stream.topicBytes / 2 ** 20).toFixed(1)),
            wall_s: Number((stream.ms / 1000).toFixed(1)),
            windows: stream.windows,
            window_messages_max: stream.windowMessagesMax,
            generate_s: Number((stream.generateMs / 1000).toFixed(1)),
            stream_to_parquet: {
              ...stepJson(streamFigures.toParquet),
              worker_peak_rss_mb: Math.round(mbOf(stream.replayPeakKb)),
            },
            load_events: {
              ...stepJson(streamFigures.load),
              worker_peak_rss_mb: Math.round(mbOf(stream.loadPeakKb)),
              handler_runs: stream.loadRuns,
              objects: stream.loadObjects,
            },
            growth: streamGrowth ?? null,
            events_lake_mb: Number((stream.lakeBytes / 2 ** 20).toFixed(1)),
            warehouse_events: stream.warehouseEvents,
            expected_events: stream.expectedEvents,
          },
    check: mismatches.length === 0 ? 'ok' : 'failed',
  };
  process.stdout.write(`${out.join('\n')}\n${JSON.stringify(json)}\n`);
  return mismatches.length === 0;
}

if (args['seed-date'] !== undefined) {
  await seedMain(args['data-dir']!, assertBusinessDate(args['seed-date'], '--seed-date'));
} else if (args.worker) {
  await workerMain(args['data-dir']!);
} else {
  await runBench('cartflow-soak-', args.keep, monitorMain, args['data-dir']);
}
