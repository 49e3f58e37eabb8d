/**
 * Scale benchmark: a day of 20M order lines through the transform and validate steps with DuckDB held to
 * a 2 GB memory limit (it spills past it to its temp directory). Measures wall time, the process's peak
 * RSS and the peak bytes on disk in the spill directory and in the steps' working directory. Prints one
 * table, then one JSON line with the figures.
 *
 *   npm run bench:scale -- [--lines 20000000] [--memory-mb 2048] [--keep]
 *
 * The day is generated in a child process (a base day of at most 1M lines, multiplied with DuckDB under
 * distinct order ids), so the peak RSS is the steps' own.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HANDLER_ENV } from '../lambdas/contract';
import type { PipelineState } from '../lambdas/core/contracts';
import { loadConfig, qualitySettingsOf } from '../lib/config';
import { step as transformStep } from '../lambdas/handlers/transform';
import { step as validateStep } from '../lambdas/handlers/validate';
import {
  DirectoryLakeStore,
  directoryBytes,
  replicateRawDay,
  setupInChild,
  writeRawDay,
} from './support/batch-day';
import { log, markdownTable, runBench } from './support/report';
import { stepAdapters } from './support/step-adapters';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: '20000000' },
    'memory-mb': { type: 'string', default: '2048' },
    date: { type: 'string', default: '2026-03-01' },
    keep: { type: 'boolean', default: false },
    /** Internal: generate the raw day into this directory's lake and exit. */
    setup: { type: 'string' },
  },
});
const targetLines = Number(args.lines);
const businessDate = args.date;
if (!Number.isInteger(targetLines) || targetLines < 1) throw new Error('--lines must be a positive integer');
const BASE_LINES = 1_000_000;
const copies = Math.max(1, Math.ceil(targetLines / BASE_LINES));

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

const seconds = (ms: number) => ms / 1000;
const mb = (bytes: number) => bytes / 1024 / 1024;

/** Samples the bytes under each directory every 250 ms; `stop` returns the peaks. */
function watchDirectories(dirs: readonly string[]): { stop(): Promise<number[]> } {
  const peaks = dirs.map(() => 0);
  let running = true;
  const loop = (async () => {
    while (running) {
      const sizes = await Promise.all(dirs.map(directoryBytes));
      sizes.forEach((size, i) => (peaks[i] = Math.max(peaks[i], size)));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peaks;
    },
  };
}

await runBench('cartflow-scale-', args.keep, async (dataDir) => {
  const t = performance.now();
  const day = setupInChild<{ orders: number; lines: number; products: number }>(dataDir);
  log(
    `generated the raw day (${day.lines} lines in ${copies} parts) in ${seconds(performance.now() - t).toFixed(1)} s`,
  );

  const lake = new DirectoryLakeStore(join(dataDir, 'lake'));
  const env = {
    TMPDIR: join(dataDir, 'tmp'),
    CARTFLOW_ENGINE_MEMORY_MB: args['memory-mb'],
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig('dev')),
  };
  const adapters = stepAdapters({ lake });
  const settings = validateStep.settings(env);
  const transform = transformStep.make(adapters, transformStep.settings(env));
  const validate = validateStep.make(adapters, settings);
  const state: PipelineState = {
    run: { runId: `scale-${Date.now()}`, businessDate, startedAt: new Date().toISOString() },
  };

  const watch = watchDirectories([settings.engine.tempDirectory, settings.workDirectory]);
  const start = performance.now();
  state.transform = await transform(state);
  const transformMs = performance.now() - start;
  log(`transform ${seconds(transformMs).toFixed(1)} s`);
  state.validation = await validate(state);
  const wallMs = performance.now() - start;
  log(`validate ${seconds(wallMs - transformMs).toFixed(1)} s`);
  const [spillPeak, workPeak] = await watch.stop();
  const peakRssMb = Math.round(mb(process.resourceUsage().maxRSS * 1024));

  const header = ['stage', 'seconds', 'order lines/s'];
  const rate = (ms: number) => Math.round(day.lines / seconds(ms)).toLocaleString('en-US');
  const body = [
    ['transform', seconds(transformMs).toFixed(1), rate(transformMs)],
    ['validate', seconds(wallMs - transformMs).toFixed(1), rate(wallMs - transformMs)],
    ['total', seconds(wallMs).toFixed(1), rate(wallMs)],
  ];
  const out = [
    '',
    `scale benchmark — ${businessDate}, ${cpus().length} cores, node ${process.version}, engine threads ` +
      `${settings.engine.threads}, memory limit ${settings.engine.memoryLimitMb} MB, load average ` +
      `${loadavg()[0].toFixed(1)}`,
    `input: ${day.lines.toLocaleString('en-US')} order lines, ${day.orders.toLocaleString('en-US')} orders, ` +
      `${day.products} products`,
    '',
    ...markdownTable(header, body),
    '',
    `peak RSS ${peakRssMb} MB; peak spill ${mb(spillPeak).toFixed(0)} MB (DuckDB temp directory); peak working ` +
      `files ${mb(workPeak).toFixed(0)} MB (inputs fetched + outputs written, sampled every 250 ms)`,
    `gate ${state.validation.passed ? 'passed' : `failed: ${state.validation.failureReason}`}; ` +
      state.validation.tables.map((table) => `${table.table} ${table.rows}`).join(', '),
    '',
    JSON.stringify({
      bench: 'scale',
      rows: day.lines,
      memory_limit_mb: settings.engine.memoryLimitMb,
      wall_s: Number(seconds(wallMs).toFixed(1)),
      transform_s: Number(seconds(transformMs).toFixed(1)),
      validate_s: Number(seconds(wallMs - transformMs).toFixed(1)),
      peak_rss_mb: peakRssMb,
      spill_bytes: spillPeak,
      work_bytes: workPeak,
      passed: state.validation.passed,
    }),
    '',
  ];
  process.stdout.write(out.join('\n'));
  return state.validation.passed;
});
