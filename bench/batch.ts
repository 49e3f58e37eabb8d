/**
 * Batch benchmark: transform + validate + load of one day of order lines, through the same handlers the
 * state machine runs (in-process, on the local runtime's adapters: s3rver + PGlite), against DuckDB doing the same
 * join/aggregation on the same raw Parquet in the same run. Prints one table; results are ratios.
 *
 *   npm run bench:batch -- [--lines 1000000] [--dirty 0.001] [--duckdb-threads N] [--profile out.cpuprofile] [--keep]
 *
 * Exits non-zero when DuckDB's curated figures differ from what the pipeline loaded into the warehouse.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import type {
  ExtractResult,
  LoadResult,
  LoadTableInput,
  PipelineState,
  RunContext,
  RunRequest,
  TransformResult,
  ValidationResult,
} from '../lambdas/core/contracts';
import { DIRTY_KINDS, generateDay, type DirtySpec } from '../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX, layout } from '../lambdas/core/layout';
import type { BatchTable, Dataset } from '../lambdas/core/model';
import { parseCents } from '../lambdas/core/dates';
import { seedSourceDatabase } from '../local/embedded-postgres';
// The adapters without the state machines: the benchmark calls the handlers itself, so it skips
// startLocalRuntime's CDK synthesis (which also keeps it runnable while lib/ is being edited).
import { startLocalServices } from '../local/runtime';
import {
  referenceLoad,
  referenceTotals,
  referenceTransform,
  referenceValidate,
  type Totals,
} from './support/duckdb-reference';
import { log, markdownTable, startProfile } from './support/report';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    dirty: { type: 'string', default: '0.001' },
    date: { type: 'string', default: '2026-03-01' },
    'duckdb-threads': { type: 'string' },
    keep: { type: 'boolean', default: false },
    /** Writes a V8 CPU profile of the timed cartflow stages only (open in Chrome DevTools). */
    profile: { type: 'string' },
  },
});
const targetLines = Number(args.lines);
const dirtyShare = Number(args.dirty);
const businessDate = args.date;
if (!Number.isInteger(targetLines) || targetLines < 1) throw new Error('--lines must be a positive integer');
if (!(dirtyShare >= 0 && dirtyShare < 0.05)) throw new Error('--dirty must be a share in [0, 0.05)');

type Handler<I, O> = (input: I) => Promise<O>;
const handler = async <I, O>(name: string): Promise<Handler<I, O>> =>
  ((await import(`../lambdas/handlers/${name}.ts`)) as { handler: Handler<I, O> }).handler;

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
}

const dataDir = await mkdtemp(join(tmpdir(), 'cartflow-bench-'));
const runtime = await startLocalServices({ dataDir });
let failed = false;
try {
  // ---- setup (not timed): generate, seed the source, land the catalog, extract to raw/ ----
  // makeOrder draws 1..5 lines per order: 3 on average.
  const orders = Math.max(1, Math.round(targetLines / 3));
  const perKind = Math.round((orders * dirtyShare) / DIRTY_KINDS.length);
  const dirty: DirtySpec = Object.fromEntries(DIRTY_KINDS.map((kind) => [kind, perKind]));
  let t = performance.now();
  const day = generateDay({ date: businessDate, orders, seed: 7, dirty });
  log(
    `generated ${day.orders.length} orders, ${day.items.length} lines in ${seconds(performance.now() - t).toFixed(1)} s`,
  );
  t = performance.now();
  await seedSourceDatabase(runtime.source, { orders: day.orders, items: day.items }, businessDate);
  await runtime.lake.put(
    `${CATALOG_LANDING_PREFIX}products.jsonl`,
    day.catalog.map((p) => JSON.stringify(p)).join('\n'),
  );
  const productCount = day.catalog.length;
  day.orders.length = 0; // the source holds them now
  day.items.length = 0;
  log(`seeded the source in ${seconds(performance.now() - t).toFixed(1)} s`);

  const resolveRun = await handler<RunRequest, RunContext>('resolve-run');
  const extractOrders = await handler<PipelineState, ExtractResult[]>('extract-orders');
  const extractProducts = await handler<PipelineState, ExtractResult[]>('extract-products');
  const transform = await handler<PipelineState, TransformResult>('transform');
  const validate = await handler<PipelineState, ValidationResult>('validate');
  const loadTable = await handler<LoadTableInput, LoadResult>('load-table');

  t = performance.now();
  const run = await resolveRun({ businessDate, executionName: `bench-${Date.now()}` });
  const state: PipelineState = { run };
  state.extract = [await extractOrders(state), await extractProducts(state)];
  log(`extracted to raw/ in ${seconds(performance.now() - t).toFixed(1)} s`);
  const extracted = Object.fromEntries(state.extract.flat().map((e) => [e.dataset, e.rows])) as Record<
    Dataset,
    number
  >;

  // ---- cartflow, timed: the handlers the state machine runs ----
  const stages: Stage[] = [];
  /** Times one cartflow stage and records it (its DuckDB time is filled in later). */
  const stage = async <T>(name: string, rows: number, work: () => Promise<T>): Promise<T> => {
    const { value, ms } = await timed(work);
    stages.push({ name, rows, cartflowMs: ms, duckdbMs: NaN });
    log(`cartflow ${name} ${seconds(ms).toFixed(1)} s`);
    return value;
  };
  const rowsIn = extracted.orders + extracted.order_items + extracted.products;
  const stopProfile = await startProfile(args.profile);
  state.transform = await stage('transform', rowsIn, () => transform(state));
  state.validation = await stage('validate', rowsIn, () => validate(state));
  if (!state.validation.passed) throw new Error(`quality gate failed: ${state.validation.failureReason}`);
  state.loads = [];
  for (const item of state.validation.tables) {
    state.loads.push(await stage(`load ${item.table}`, item.rows, () => loadTable({ run, item })));
  }
  const cartflowRssKb = process.resourceUsage().maxRSS;
  await stopProfile('the cartflow stages');

  const [warehouse] = await runtime.warehouse.query<Record<string, string | number>>(`SELECT
    (SELECT count(*) FROM analytics.fact_order WHERE order_date = '${businessDate}') AS orders,
    (SELECT sum(total_amount) FROM analytics.fact_order WHERE order_date = '${businessDate}') AS order_revenue,
    (SELECT count(*) FROM analytics.fact_order_item WHERE order_date = '${businessDate}') AS lines,
    (SELECT sum(revenue) FROM analytics.agg_daily_sales WHERE order_date = '${businessDate}') AS agg_revenue`);
  const loadedTotals: Totals = {
    orders: Number(warehouse.orders),
    orderRevenue: String(warehouse.order_revenue),
    lines: Number(warehouse.lines),
    aggRevenue: String(warehouse.agg_revenue),
  };

  // ---- DuckDB reference on the same raw Parquet objects (fetching them is not timed) ----
  const refDir = join(dataDir, 'duckdb');
  const raw = {
    orders: join(refDir, 'raw', 'orders'),
    order_items: join(refDir, 'raw', 'order_items'),
    products: join(refDir, 'raw', 'products'),
  };
  let rawBytes = 0;
  let rawFiles = 0;
  for (const dataset of ['orders', 'order_items', 'products'] as const) {
    await mkdir(raw[dataset], { recursive: true });
    for (const object of await runtime.lake.list(layout.rawPrefix(dataset, businessDate))) {
      if (!object.key.endsWith('.parquet')) continue;
      const body = await runtime.lake.get(object.key);
      await writeFile(join(raw[dataset], basename(object.key)), body);
      rawBytes += body.byteLength;
      rawFiles++;
    }
  }
  for (const dir of ['staged', 'curated', 'quarantine']) await mkdir(join(refDir, dir), { recursive: true });
  const threads = args['duckdb-threads'] ?? String(cpus().length);
  const instance = await DuckDBInstance.create(join(refDir, 'warehouse.duckdb'), { threads });
  const db = await instance.connect();
  const paths = { raw, out: refDir };
  const byName = new Map(stages.map((s) => [s.name, s]));
  byName.get('transform')!.duckdbMs = (await timed(() => referenceTransform(db, paths))).ms;
  const refValidate = await timed(() => referenceValidate(db, paths, businessDate));
  byName.get('validate')!.duckdbMs = refValidate.ms;
  const refLoaded: Partial<Record<BatchTable, number>> = {};
  for (const item of state.validation.tables) {
    const loaded = await timed(() => referenceLoad(db, refDir, item.table));
    refLoaded[item.table] = loaded.value;
    byName.get(`load ${item.table}`)!.duckdbMs = loaded.ms;
  }
  const refTotals = await referenceTotals(db);
  db.closeSync();
  instance.closeSync();

  // ---- correctness, same run ----
  const mismatches: string[] = [];
  const expect = (what: string, ours: unknown, reference: unknown) => {
    if (ours !== reference)
      mismatches.push(`${what}: warehouse ${String(ours)}, duckdb ${String(reference)}`);
  };
  expect('fact_order rows', loadedTotals.orders, refTotals.orders);
  expect('fact_order revenue', parseCents(loadedTotals.orderRevenue), parseCents(refTotals.orderRevenue));
  expect('fact_order_item rows', loadedTotals.lines, refTotals.lines);
  expect('agg_daily_sales revenue', parseCents(loadedTotals.aggRevenue), parseCents(refTotals.aggRevenue));
  for (const quality of state.validation.datasets) {
    expect(
      `${quality.dataset} quarantined`,
      quality.rowsQuarantined,
      refValidate.value.quarantined[quality.dataset],
    );
  }
  for (const load of state.loads) expect(`${load.table} rows loaded`, load.rowsLoaded, refLoaded[load.table]);

  // ---- the table ----
  const total: Stage = {
    name: 'total',
    rows: extracted.order_items,
    cartflowMs: stages.reduce((sum, s) => sum + s.cartflowMs, 0),
    duckdbMs: stages.reduce((sum, s) => sum + s.duckdbMs, 0),
  };
  const rate = (rows: number, ms: number) => Math.round(rows / seconds(ms)).toLocaleString('en-US');
  const header = ['stage', 'rows', 'cartflow s', 'cartflow rows/s', 'duckdb s', 'duckdb rows/s', 'ratio'];
  const body = [...stages, total].map((s) => [
    s.name,
    s.rows.toLocaleString('en-US'),
    seconds(s.cartflowMs).toFixed(2),
    rate(s.rows, s.cartflowMs),
    seconds(s.duckdbMs).toFixed(2),
    rate(s.rows, s.duckdbMs),
    `${(s.cartflowMs / s.duckdbMs).toFixed(1)}x`,
  ]);
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const out = [
    '',
    `batch benchmark — ${businessDate}, ${cpus().length} cores, node ${process.version}, duckdb threads ${threads}, ` +
      `load average ${loadavg()[0].toFixed(1)} (other work on the machine skews both columns)`,
    `input: ${extracted.order_items.toLocaleString('en-US')} order lines, ${extracted.orders.toLocaleString('en-US')} orders, ` +
      `${productCount} products (${perKind} planted bad rows per kind × ${DIRTY_KINDS.length} kinds); ` +
      `raw Parquet ${mb(rawBytes)} in ${rawFiles} files`,
    '',
    ...markdownTable(header, body),
    '',
    'ratio = cartflow time / duckdb time (lower is better); transform/validate rows = orders + lines + products in,',
    'load rows = rows loaded, total rows = order lines.',
    `peak RSS: ${mb(cartflowRssKb * 1024)} after the cartflow stages, ${mb(process.resourceUsage().maxRSS * 1024)} ` +
      'at the end (DuckDB runs in the same process)',
    mismatches.length === 0
      ? `check: OK — warehouse = duckdb (fact_order ${refTotals.orders} rows, revenue ${refTotals.orderRevenue}; ` +
        `fact_order_item ${refTotals.lines} rows; agg revenue ${refTotals.aggRevenue}; quarantine counts)`
      : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
    '',
  ];
  process.stdout.write(out.join('\n'));
  failed = mismatches.length > 0;
} catch (error) {
  failed = true;
  process.stderr.write(`[bench] failed: ${(error as Error).stack ?? String(error)}\n`);
} finally {
  await runtime.close();
  if (args.keep) log(`data kept in ${dataDir}`);
  else await rm(dataDir, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
