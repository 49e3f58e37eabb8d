/**
 * Batch benchmark: transform + validate of one day of order lines through the steps the state machine runs
 * (DuckDB inside, over a lake kept in a local directory), against DuckDB alone doing the same SQL work on
 * the same raw Parquet files in the same process, and against PySpark local doing the same job when
 * `pyspark` is importable. Prints one table, then one JSON line with the figures.
 *
 *   npm run bench:batch -- [--lines 1000000] [--dirty 0.001] [--profile out.cpuprofile] [--keep]
 *
 * The day is generated in a child process, so the peak RSS is the steps' own. Exits non-zero when
 * DuckDB's or PySpark's curated figures or quarantine counts differ from the steps'.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type { PipelineState } from '../lambdas/core/contracts';
import { Engine, engineSettingsFromEnv, fileList } from '../lambdas/core/engine/engine';
import { HANDLER_ENV, LAKE } from '../lambdas/contract';
import { layout } from '../lambdas/core/layout';
import { CURRENCIES, ORDER_STATUSES } from '../lambdas/core/model';
import { step as transformStep } from '../lambdas/handlers/transform';
import { step as validateStep } from '../lambdas/handlers/validate';
import { DirectoryLakeStore, setupInChild, writeRawDay } from './support/batch-day';
import {
  curatedFile,
  referenceTransform,
  referenceValidate,
  totalsSql,
  type Totals,
} from './support/duckdb-reference';
import { costLine, ENGINE_ARCHITECTURE, lambdaUsd, usdPerMillion } from './support/cost';
import { log, markdownTable, runBench, startProfile } from './support/report';
import { loadConfig, qualitySettingsOf } from '../lib/config';
import { stepAdapters } from './support/step-adapters';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    dirty: { type: 'string', default: '0.001' },
    date: { type: 'string', default: '2026-03-01' },
    keep: { type: 'boolean', default: false },
    /** Writes a V8 CPU profile of the timed cartflow stages only (open in Chrome DevTools). */
    profile: { type: 'string' },
    /** Internal: generate the raw day into this directory's lake and exit. */
    setup: { type: 'string' },
  },
});
const targetLines = Number(args.lines);
const dirtyShare = Number(args.dirty);
const businessDate = args.date;
if (!Number.isInteger(targetLines) || targetLines < 1) throw new Error('--lines must be a positive integer');
if (!(dirtyShare >= 0 && dirtyShare < 0.05)) throw new Error('--dirty must be a share in [0, 0.05)');

if (args.setup !== undefined) {
  const lake = new DirectoryLakeStore(join(args.setup, 'lake'));
  const day = await writeRawDay(lake, args.setup, { date: businessDate, lines: targetLines, dirtyShare });
  process.stdout.write(JSON.stringify(day));
  process.exit(0);
}

const seconds = (ms: number) => ms / 1000;
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

interface Stage {
  name: string;
  rows: number;
  cartflowMs: number;
  duckdbMs: number;
  /** Absent when pyspark is not importable. */
  pysparkMs?: number;
}

/** What bench/support/pyspark_reference.py prints. */
interface PySparkReport {
  spark_version: string;
  session_start_s: number;
  transform_s: number;
  validate_s: number;
  quarantined: Record<'products' | 'orders' | 'order_items', number>;
  totals: Totals;
}

const PYTHON = 'python3';
/** The JVM heap of the local Spark driver (which is also its executor). */
const PYSPARK_DRIVER_MEMORY = '2g';
const pysparkImportable = () => spawnSync(PYTHON, ['-c', 'import pyspark'], { stdio: 'ignore' }).status === 0;

await runBench('cartflow-bench-', args.keep, async (dataDir) => {
  // ---- setup (not timed, in a child process): the raw/ parts the extract steps would write ----
  const t = performance.now();
  const day = setupInChild<{ orders: number; lines: number; products: number; perKind: number }>(dataDir);
  log(`generated the raw day (${day.lines} lines) in ${seconds(performance.now() - t).toFixed(1)} s`);
  const lake = new DirectoryLakeStore(join(dataDir, 'lake'));
  const env = {
    TMPDIR: join(dataDir, 'tmp'),
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig('dev')),
  };
  const adapters = stepAdapters({ lake });
  const transform = transformStep.make(adapters, transformStep.settings(env));
  const validate = validateStep.make(adapters, validateStep.settings(env));
  const engineSettings = engineSettingsFromEnv(env);

  // ---- cartflow, timed: the steps the state machine runs ----
  const state: PipelineState = {
    run: { runId: `bench-${Date.now()}`, businessDate, startedAt: new Date().toISOString() },
  };
  const rowsIn = day.orders + day.lines + day.products;
  const stages: Stage[] = [];
  const stopProfile = await startProfile(args.profile);
  const transformed = await timed(() => transform(state));
  state.transform = transformed.value;
  log(`cartflow transform ${seconds(transformed.ms).toFixed(2)} s`);
  const validated = await timed(() => validate(state));
  state.validation = validated.value;
  log(`cartflow validate ${seconds(validated.ms).toFixed(2)} s`);
  const cartflowRssKb = process.resourceUsage().maxRSS;
  await stopProfile('the cartflow stages');
  if (!state.validation.passed) throw new Error(`quality gate failed: ${state.validation.failureReason}`);

  // ---- DuckDB alone on the same raw files, same threads and memory limit ----
  const refDir = join(dataDir, 'duckdb');
  for (const dir of ['staged', 'curated', 'quarantine']) await mkdir(join(refDir, dir), { recursive: true });
  const raw = {
    orders: join(lake.root, layout.rawPrefix('orders', businessDate)),
    order_items: join(lake.root, layout.rawPrefix('order_items', businessDate)),
    products: join(lake.root, layout.rawPrefix('products', businessDate)),
  };
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(engineSettings.threads),
    memory_limit: `${engineSettings.memoryLimitMb}MB`,
    temp_directory: join(dataDir, 'duckdb-spill'),
    // As Engine.open: no extension loading, times in UTC.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const db = await instance.connect();
  await db.run("SET TimeZone = 'UTC'");
  const paths = { raw, out: refDir };
  const refTransform = await timed(() => referenceTransform(db, paths));
  const refValidate = await timed(() => referenceValidate(db, paths, businessDate));
  db.closeSync();
  instance.closeSync();

  // ---- PySpark local on the same raw files, same threads; its session start is not timed ----
  let spark: PySparkReport | undefined;
  if (pysparkImportable()) {
    log('pyspark reference running');
    const stdout = execFileSync(
      PYTHON,
      [
        fileURLToPath(new URL('support/pyspark_reference.py', import.meta.url)),
        ...['--orders', raw.orders, '--order-items', raw.order_items, '--products', raw.products],
        ...['--out', join(dataDir, 'pyspark'), '--date', businessDate],
        ...['--currencies', CURRENCIES.join(','), '--statuses', ORDER_STATUSES.join(',')],
        ...['--threads', String(engineSettings.threads), '--driver-memory', PYSPARK_DRIVER_MEMORY],
      ],
      // Spark's own log goes to stderr: shown only when the script fails (in the thrown error).
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    spark = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as PySparkReport;
    log(
      `pyspark transform ${spark.transform_s.toFixed(2)} s, validate ${spark.validate_s.toFixed(2)} s ` +
        `(session start ${spark.session_start_s.toFixed(1)} s, not timed)`,
    );
  }
  const sparkMs = (s: number | undefined) => (s === undefined ? undefined : s * 1000);
  stages.push(
    {
      name: 'transform',
      rows: rowsIn,
      cartflowMs: transformed.ms,
      duckdbMs: refTransform.ms,
      pysparkMs: sparkMs(spark?.transform_s),
    },
    {
      name: 'validate',
      rows: rowsIn,
      cartflowMs: validated.ms,
      duckdbMs: refValidate.ms,
      pysparkMs: sparkMs(spark?.validate_s),
    },
  );

  // ---- correctness, same run: the curated Parquet and the quarantine counts ----
  const check = await Engine.open({ ...engineSettings, tempDirectory: join(dataDir, 'check-spill') });
  const curated = (table: 'fact_order' | 'fact_order_item' | 'agg_daily_sales') =>
    fileList([join(lake.root, layout.curated(table, businessDate))]);
  const [ours] = await check.rows<Totals>(
    totalsSql(curated('fact_order'), curated('fact_order_item'), curated('agg_daily_sales')),
  );
  const file = (table: 'fact_order' | 'fact_order_item' | 'agg_daily_sales') =>
    fileList([curatedFile(refDir, table)]);
  const [reference] = await check.rows<Totals>(
    totalsSql(file('fact_order'), file('fact_order_item'), file('agg_daily_sales')),
  );
  check.close();
  const mismatches: string[] = [];
  for (const key of Object.keys(ours) as (keyof Totals)[]) {
    if (String(ours[key]) !== String(reference[key])) {
      mismatches.push(`${key}: cartflow ${String(ours[key])}, duckdb ${String(reference[key])}`);
    }
  }
  for (const quality of state.validation.datasets) {
    const theirs = refValidate.value.quarantined[quality.dataset];
    if (quality.rowsQuarantined !== theirs) {
      mismatches.push(
        `${quality.dataset} quarantined: cartflow ${quality.rowsQuarantined}, duckdb ${theirs}`,
      );
    }
  }
  if (spark !== undefined) {
    for (const key of Object.keys(reference) as (keyof Totals)[]) {
      if (String(spark.totals[key]) !== String(reference[key])) {
        mismatches.push(`${key}: pyspark ${String(spark.totals[key])}, duckdb ${String(reference[key])}`);
      }
    }
    for (const [dataset, count] of Object.entries(refValidate.value.quarantined)) {
      const theirs = spark.quarantined[dataset as keyof PySparkReport['quarantined']];
      if (theirs !== count) mismatches.push(`${dataset} quarantined: pyspark ${theirs}, duckdb ${count}`);
    }
  }

  // ---- the table ----
  const total: Stage = {
    name: 'total',
    rows: day.lines,
    cartflowMs: stages.reduce((sum, s) => sum + s.cartflowMs, 0),
    duckdbMs: stages.reduce((sum, s) => sum + s.duckdbMs, 0),
    pysparkMs: sparkMs(spark === undefined ? undefined : spark.transform_s + spark.validate_s),
  };
  const rate = (rows: number, ms: number) => Math.round(rows / seconds(ms)).toLocaleString('en-US');
  const header = ['stage', 'rows', 'cartflow s', 'cartflow rows/s', 'duckdb s', 'duckdb rows/s', 'vs duckdb'];
  if (spark !== undefined) header.push('pyspark s', 'pyspark rows/s', 'vs pyspark');
  const body = [...stages, total].map((s) => [
    s.name,
    s.rows.toLocaleString('en-US'),
    seconds(s.cartflowMs).toFixed(2),
    rate(s.rows, s.cartflowMs),
    seconds(s.duckdbMs).toFixed(2),
    rate(s.rows, s.duckdbMs),
    (s.duckdbMs / s.cartflowMs).toFixed(2),
    ...(s.pysparkMs === undefined
      ? []
      : [
          seconds(s.pysparkMs).toFixed(2),
          rate(s.rows, s.pysparkMs),
          (s.pysparkMs / s.cartflowMs).toFixed(2),
        ]),
  ]);
  const mb = (bytes: number) => bytes / 1024 / 1024;
  const rawBytes = (await lake.list(LAKE.raw)).reduce((sum, o) => sum + o.size, 0);
  const peakRssMb = Math.round(mb(cartflowRssKb * 1024));
  // Transform and Validate as prod's DuckDB functions: their measured times at its engine memory.
  const engineMb = loadConfig('prod').engine.memoryMb;
  const usd = lambdaUsd(
    [transformed.ms, validated.ms].map((ms) => ({
      seconds: seconds(ms),
      memoryMb: engineMb,
      architecture: ENGINE_ARCHITECTURE,
    })),
  );
  const out = [
    '',
    `batch benchmark — ${businessDate}, ${cpus().length} cores, node ${process.version}, engine threads ` +
      `${engineSettings.threads}, memory limit ${engineSettings.memoryLimitMb} MB, load average ` +
      `${loadavg()[0].toFixed(1)} (other work on the machine skews both columns)`,
    `input: ${day.lines.toLocaleString('en-US')} order lines, ${day.orders.toLocaleString('en-US')} orders, ` +
      `${day.products} products (${day.perKind} planted bad rows per kind); raw Parquet ` +
      `${mb(rawBytes).toFixed(1)} MB`,
    spark === undefined
      ? `pyspark: not importable (\`${PYTHON} -c "import pyspark"\` fails), no PySpark reference`
      : `pyspark: Spark ${spark.spark_version} local[${engineSettings.threads}], driver memory ` +
        `${PYSPARK_DRIVER_MEMORY}, session start ${spark.session_start_s.toFixed(1)} s (not timed)`,
    '',
    ...markdownTable(header, body),
    '',
    'vs duckdb = duckdb time / cartflow time (1.00 = as fast as DuckDB alone; higher is better), vs pyspark',
    'likewise; rows = orders + lines + products in, total rows = order lines. The steps include fetching',
    'their inputs from the lake directory and publishing their outputs; the references read and write their',
    'files in place.',
    `peak RSS: ${peakRssMb} MB after the cartflow stages (the day was generated in a child process)`,
    costLine(
      usd,
      day.lines,
      'order lines',
      `Transform + Validate, ${engineMb} MB ${ENGINE_ARCHITECTURE} (prod)`,
    ),
    mismatches.length === 0
      ? `check: OK — cartflow = duckdb${spark === undefined ? '' : ' = pyspark'} (fact_order ${String(ours.orders)} rows, revenue ${String(ours.order_revenue)}; ` +
        `fact_order_item ${String(ours.lines)} rows; agg revenue ${String(ours.agg_revenue)}; quarantine counts)`
      : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
    '',
    JSON.stringify({
      bench: 'batch',
      rows: day.lines,
      speed_vs_duckdb: Number((total.duckdbMs / total.cartflowMs).toFixed(2)),
      ...(total.pysparkMs === undefined
        ? {}
        : { speed_vs_pyspark: Number((total.pysparkMs / total.cartflowMs).toFixed(2)) }),
      transform_speed_vs_duckdb: Number((refTransform.ms / transformed.ms).toFixed(2)),
      validate_speed_vs_duckdb: Number((refValidate.ms / validated.ms).toFixed(2)),
      cartflow_s: Number(seconds(total.cartflowMs).toFixed(2)),
      duckdb_s: Number(seconds(total.duckdbMs).toFixed(2)),
      ...(total.pysparkMs === undefined ? {} : { pyspark_s: Number(seconds(total.pysparkMs).toFixed(2)) }),
      peak_rss_mb: peakRssMb,
      usd_per_million: usdPerMillion(usd, day.lines),
      check: mismatches.length === 0 ? 'ok' : 'mismatch',
    }),
    '',
  ];
  process.stdout.write(out.join('\n'));
  return mismatches.length === 0;
});
