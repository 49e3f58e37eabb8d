/**
 * Scale benchmark: a day of 20M order lines through the transform and validate steps, each step run as
 * its function would be: in a child process held to the function's memory (`engine.memoryMb` of the
 * environment's config, `--env prod` by default), killed past it (bench/support/capped-child.ts), with
 * DuckDB sized by the engine from that memory as on Lambda. Measures each step's wall time, peak RSS
 * against the cap and peak bytes under its /tmp (spill + working files); from them, the largest day one
 * function takes within 80 % of its timeout and /tmp, and the AWS cost per million lines. With
 * `--buckets N` it then runs the day split as prod splits it (PlanBuckets → per-bucket Transform →
 * Validate → MergeBuckets, one bucket at a time) and checks the merged outputs equal the unsplit run's.
 * Prints tables, then one JSON line with the figures.
 *
 *   npm run bench:scale -- [--lines 20000000] [--env prod] [--memory-mb M] [--buckets N] [--keep]
 *
 * The day is generated in a child process (a base day of at most 1M lines, multiplied with DuckDB under
 * distinct order ids).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HANDLER_ENV } from '../lambdas/contract';
import {
  engineCapacity,
  largestDayLines,
  largestSplitDayOf,
  type MeasuredStep,
} from '../lib/engine-capacity';
import { loadConfig, qualitySettingsOf } from '../lib/config';
import type {
  BucketValidation,
  PipelineState,
  TransformResult,
  ValidationResult,
} from '../lambdas/core/contracts';
import { Engine, engineSettingsFromEnv, sqlLiteral } from '../lambdas/core/engine/engine';
import { layout } from '../lambdas/core/layout';
import { step as mergeStep } from '../lambdas/handlers/merge-buckets';
import { step as transformStep } from '../lambdas/handlers/transform';
import { step as validateStep } from '../lambdas/handlers/validate';
import {
  DirectoryLakeStore,
  directoryBytes,
  replicateRawDay,
  setupInChild,
  writeRawDay,
} from './support/batch-day';
import { runCapped, writeChildResult, type CappedRun } from './support/capped-child';
import { costLine, ENGINE_ARCHITECTURE, lambdaUsd, usdPerMillion } from './support/cost';
import { log, markdownTable, runBench } from './support/report';
import { stepAdapters } from './support/step-adapters';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '20000000' },
    env: { type: 'string', default: 'prod' },
    /** The function memory (the cap); default: the environment's engine.memoryMb. */
    'memory-mb': { type: 'string' },
    /** DuckDB's memory_limit instead of the engine's sizing (to measure what lies outside it). */
    'engine-memory-mb': { type: 'string' },
    buckets: { type: 'string' },
    date: { type: 'string', default: '2026-03-01' },
    keep: { type: 'boolean', default: false },
    /** Internal: generate the raw day into this directory's lake and exit. */
    setup: { type: 'string' },
    /** Internal: run this step over `--data-dir` with the state in `--state`, write to `--result`. */
    step: { type: 'string' },
    state: { type: 'string' },
    'data-dir': { type: 'string' },
    result: { type: 'string' },
  },
});
const targetLines = Number(args.lines);
const businessDate = args.date;
if (!Number.isInteger(targetLines) || targetLines < 1) throw new Error('--lines must be a positive integer');
const BASE_LINES = 1_000_000;
const copies = Math.max(1, Math.ceil(targetLines / BASE_LINES));
const STEPS = { transform: transformStep, validate: validateStep, merge: mergeStep } as const;
type StepName = keyof typeof STEPS;

if (args.setup !== undefined) {
  const lake = new DirectoryLakeStore(join(args.setup, 'lake'));
  const base = await writeRawDay(lake, args.setup, {
    date: businessDate,
    lines: Math.round(targetLines / copies),
    dirtyShare: 0.001,
  });
  if (copies > 1) await replicateRawDay(lake, businessDate, copies, args.setup);
  process.stdout.write(
    JSON.stringify({ orders: base.orders * copies, lines: base.lines * copies, products: base.products }),
  );
  process.exit(0);
}

if (args.step !== undefined) {
  // The function: one step over the lake, its settings from this process's environment as on Lambda.
  const name = args.step as StepName;
  const lake = new DirectoryLakeStore(join(args['data-dir']!, 'lake'));
  const state = JSON.parse(await readFile(args.state!, 'utf8')) as PipelineState;
  const step = STEPS[name] as (typeof STEPS)['validate'];
  const run = step.make(stepAdapters({ lake }), step.settings(process.env));
  await writeChildResult(args.result!, await run(state));
  process.exit(0);
}

const config = loadConfig(args.env);
const functionMb = args['memory-mb'] === undefined ? config.engine.memoryMb : Number(args['memory-mb']);
const bucketCount = args.buckets === undefined ? undefined : Number(args.buckets);
if (bucketCount !== undefined && !(Number.isInteger(bucketCount) && bucketCount >= 2)) {
  throw new Error('--buckets must be an integer of at least 2');
}
const seconds = (ms: number) => ms / 1000;
const mb = (bytes: number) => bytes / 1024 / 1024;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Samples the bytes under a directory every 250 ms; `stop` returns the peak. */
function watchDirectory(dir: string): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await directoryBytes(dir));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

interface StepRun<T> extends CappedRun<T> {
  label: string;
  /** Peak bytes under the function's /tmp (DuckDB spill + the step's working files). */
  tmpBytes: number;
}

await runBench('cartflow-scale-', args.keep, async (dataDir) => {
  const t = performance.now();
  const day = setupInChild<{ orders: number; lines: number; products: number }>(dataDir);
  log(
    `generated the raw day (${day.lines} lines in ${copies} parts) in ${seconds(performance.now() - t).toFixed(1)} s`,
  );
  const lake = new DirectoryLakeStore(join(dataDir, 'lake'));
  const functionEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(functionMb),
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(config),
    ...(args['engine-memory-mb'] === undefined
      ? {}
      : { [HANDLER_ENV.engineMemoryMb]: args['engine-memory-mb'] }),
  };
  const engineSettings = engineSettingsFromEnv(functionEnv);
  const runs: StepRun<unknown>[] = [];

  /** One invocation of `step`'s function in a capped child, with a fresh /tmp of its own. */
  async function invoke<T>(step: StepName, label: string, state: PipelineState): Promise<T> {
    const name = label.replaceAll(' ', '-');
    const tmp = join(dataDir, 'tmp', name);
    await mkdir(tmp, { recursive: true });
    const statePath = join(dataDir, 'tmp', `${name}.state.json`);
    await writeFile(statePath, JSON.stringify(state));
    const watch = watchDirectory(tmp);
    const run = await runCapped<T>({
      script: process.argv[1],
      args: ['--step', step, '--state', statePath, '--data-dir', dataDir, '--lines', args.lines!],
      env: { ...functionEnv, TMPDIR: tmp },
      capMb: functionMb,
      timeoutMs: config.lambdaTimeoutSeconds * 1000,
      resultFile: join(dataDir, 'tmp', `${name}.result.json`),
    });
    const tmpBytes = await watch.stop();
    await rm(tmp, { recursive: true, force: true });
    runs.push({ ...run, label, tmpBytes });
    log(
      `${label}: ${seconds(run.wallMs).toFixed(1)} s, peak RSS ${run.peakRssMb} / ${run.capMb} MB, /tmp ` +
        `${mb(tmpBytes).toFixed(0)} MB${run.error ? ` — ${run.error}` : ''}`,
    );
    if (run.result === undefined) {
      // The figures of the step that did not finish, as the last line, before the bench fails.
      process.stdout.write(
        `${JSON.stringify({ bench: 'scale', rows: day.lines, env: config.envName, failed: label, error: run.error, peak_rss_mb: run.peakRssMb, cap_mb: run.capMb, fits: run.fits, passed: false })}\n`,
      );
      throw new Error(`${label} did not finish: ${run.error}`);
    }
    return run.result;
  }

  /** The day's figures to compare: rows per table, agg revenue, quarantined rows per dataset. */
  async function figures(validation: ValidationResult): Promise<Record<string, string | number>> {
    const engine = await Engine.open({ ...engineSettings, tempDirectory: join(dataDir, 'spill') });
    try {
      const agg = join(lake.root, layout.curated('agg_daily_sales', businessDate));
      const revenue = String(
        await engine.scalar(`SELECT sum(revenue)::VARCHAR FROM read_parquet(${sqlLiteral(agg)})`),
      );
      return {
        ...Object.fromEntries(validation.tables.map((t) => [t.table, t.rows])),
        revenue,
        ...Object.fromEntries(
          validation.datasets.map((d) => [`quarantined ${d.dataset}`, d.rowsQuarantined]),
        ),
      };
    } finally {
      engine.close();
    }
  }

  const run = { runId: `scale-${Date.now()}`, businessDate, startedAt: new Date().toISOString() };
  const state: PipelineState = { run };
  state.transform = await invoke<TransformResult>('transform', 'transform', state);
  state.validation = await invoke<ValidationResult>('validate', 'validate', state);
  const unsplit = await figures(state.validation);

  let mismatches: string[] = [];
  if (bucketCount !== undefined) {
    // PlanBuckets → SplitDay (one bucket at a time) → MergeBuckets, as the state machine runs them.
    const buckets: BucketValidation[] = [];
    for (let index = 0; index < bucketCount; index++) {
      const bucketState: PipelineState = { run, bucket: { index, count: bucketCount } };
      bucketState.transform = await invoke<TransformResult>(
        'transform',
        `transform bucket ${index}`,
        bucketState,
      );
      const validated = await invoke<ValidationResult>('validate', `validate bucket ${index}`, bucketState);
      buckets.push({ reportKey: validated.reportKey, tables: validated.tables });
    }
    const volume = { buckets: [...Array(bucketCount).keys()], count: bucketCount };
    const merged = await invoke<ValidationResult>('merge', 'merge buckets', { run, volume, buckets });
    const split = await figures(merged);
    mismatches = Object.keys({ ...unsplit, ...split })
      .filter((key) => unsplit[key] !== split[key])
      .map((key) => `${key}: unsplit ${unsplit[key]}, ${bucketCount} buckets ${split[key]}`);
  }

  // ---- figures ----
  const byLabel = (label: string) => runs.find((r) => r.label === label)!;
  const measured = (label: string): MeasuredStep => ({
    lines: day.lines,
    seconds: seconds(byLabel(label).wallMs),
    tmpBytes: byLabel(label).tmpBytes,
    threads: engineSettings.threads,
    peakRssMb: byLabel(label).peakRssMb,
    memoryLimitMb: engineSettings.memoryLimitMb,
  });
  const capacity = engineCapacity(config);
  const largest = {
    transform: largestDayLines(measured('transform'), capacity),
    validate: largestDayLines(measured('validate'), capacity),
  };
  const split = largestSplitDayOf(config);
  const fits = runs.every((r) => r.fits);
  const peakRssMb = Math.max(...runs.map((r) => r.peakRssMb));
  const unsplitRuns = [byLabel('transform'), byLabel('validate')];
  const unsplitMs = unsplitRuns.reduce((sum, r) => sum + r.wallMs, 0);
  const work = (list: readonly StepRun<unknown>[]) =>
    list.map((r) => ({
      seconds: seconds(r.wallMs),
      memoryMb: functionMb,
      architecture: ENGINE_ARCHITECTURE,
    }));
  const usd = lambdaUsd(work(unsplitRuns));
  const splitRuns = runs.filter((r) => !unsplitRuns.includes(r));
  const splitUsd = lambdaUsd(work(splitRuns));

  const rate = (ms: number) => fmt(day.lines / seconds(ms));
  const body = runs.map((r) => [
    r.label,
    seconds(r.wallMs).toFixed(1),
    rate(r.wallMs),
    `${r.peakRssMb} / ${r.capMb}`,
    r.fits ? 'yes' : 'NO',
    mb(r.tmpBytes).toFixed(0),
  ]);
  const out = [
    '',
    `scale benchmark — ${businessDate}, ${cpus().length} cores, node ${process.version}, config ${config.envName}: ` +
      `function memory ${functionMb} MB (the cap), timeout ${config.lambdaTimeoutSeconds} s, /tmp ` +
      `${config.engine.ephemeralStorageMb} MB; engine threads ${engineSettings.threads}, memory_limit ` +
      `${engineSettings.memoryLimitMb} MB; load average ${loadavg()[0].toFixed(1)}`,
    `input: ${fmt(day.lines)} order lines, ${fmt(day.orders)} orders, ${day.products} products`,
    '',
    ...markdownTable(
      ['function invocation', 'seconds', 'order lines/s', 'peak RSS / cap MB', 'fits', '/tmp peak MB'],
      body,
    ),
    '',
    `${fits ? 'every step fits' : 'a step went OVER the cap'}: peak RSS ${peakRssMb} MB of ${functionMb} MB ` +
      `(each step a child process killed past the cap; RSS sampled every 50 ms and the child's own VmHWM)`,
    `largest day one function takes within ${capacity.timeShare * 100} % of ${config.lambdaTimeoutSeconds} s and ` +
      `${config.engine.ephemeralStorageMb} MB of /tmp, at ${day.lines.toLocaleString('en-US')} lines' rates: ` +
      `Transform ${fmt(largest.transform.lines)} (${largest.transform.bound}), Validate ` +
      `${fmt(largest.validate.lines)} (${largest.validate.bound}); volume.bucketThresholdLines is ` +
      `${fmt(config.volume.bucketThresholdLines)}; a split day of ${config.volume.bucketCount} buckets takes up to ` +
      `${fmt(split.lines)} (${split.bound}; from the figures in lib/engine-capacity.ts)`,
    `gate ${state.validation.passed ? 'passed' : `failed: ${state.validation.failureReason}`}; ` +
      state.validation.tables.map((table) => `${table.table} ${table.rows}`).join(', '),
    costLine(usd, day.lines, 'order lines', `Transform + Validate, ${functionMb} MB ${ENGINE_ARCHITECTURE}`),
    ...(bucketCount === undefined
      ? []
      : [
          costLine(splitUsd, day.lines, 'order lines', `${bucketCount} buckets + MergeBuckets`),
          mismatches.length === 0
            ? `check: ${bucketCount} buckets merged = unsplit (${Object.entries(unsplit)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : `check: MISMATCH\n  ${mismatches.join('\n  ')}`,
        ]),
    '',
    JSON.stringify({
      bench: 'scale',
      rows: day.lines,
      env: config.envName,
      memory_limit_mb: engineSettings.memoryLimitMb,
      wall_s: Number(seconds(unsplitMs).toFixed(1)),
      transform_s: Number(seconds(byLabel('transform').wallMs).toFixed(1)),
      validate_s: Number(seconds(byLabel('validate').wallMs).toFixed(1)),
      peak_rss_mb: peakRssMb,
      cap_mb: functionMb,
      fits,
      tmp_peak_bytes: Math.max(...runs.map((r) => r.tmpBytes)),
      largest_day_lines: { transform: largest.transform.lines, validate: largest.validate.lines },
      usd_per_million: usdPerMillion(usd, day.lines),
      ...(bucketCount === undefined
        ? {}
        : {
            buckets: bucketCount,
            bucket_s: splitRuns.map((r) => Number(seconds(r.wallMs).toFixed(1))),
            bucket_peak_rss_mb: splitRuns.map((r) => r.peakRssMb),
            split_usd_per_million: usdPerMillion(splitUsd, day.lines),
            check: mismatches.length === 0 ? 'ok' : 'mismatch',
          }),
      passed: state.validation.passed,
    }),
    '',
  ];
  process.stdout.write(out.join('\n'));
  return state.validation.passed && fits && mismatches.length === 0;
});
