/**
 * How big a day one DuckDB function takes, from what `npm run bench:scale` measured (each step in a child
 * process held to prod's function memory): the order lines it gets through within a share of its timeout,
 * and the lines whose spill and working files fit its /tmp. lib/config.ts checks the volume settings
 * against it, so a threshold that would send a function a day it cannot finish fails at synth.
 */
import { engineMemoryLimitMb, engineThreads } from '../lambdas/core/engine/sizing';
import type { EnvironmentConfig } from './config';

/** One step's run at a day's size, as bench:scale measures it. */
export interface MeasuredStep {
  lines: number;
  seconds: number;
  /** Peak bytes under the function's /tmp (DuckDB's spill and the step's working files). */
  tmpBytes: number;
  /** The engine's threads when measured. */
  threads: number;
  /** The process's peak RSS, and DuckDB's memory_limit then: what lay outside the limit grows with the day. */
  peakRssMb: number;
  memoryLimitMb: number;
}

/** What one function of an environment has for a day. */
export interface EngineCapacity {
  /** The share of the timeout a day may take: the rest is the margin for a slower machine or a retry's cold start. */
  timeShare: number;
  timeoutSeconds: number;
  tmpBytes: number;
  threads: number;
  /** The function's memory, and the memory_limit the engine gives DuckDB in it. */
  memoryMb: number;
  memoryLimitMb: number;
}

const TIME_SHARE = 0.8;

export function engineCapacity(
  cfg: Pick<EnvironmentConfig, 'lambdaTimeoutSeconds' | 'engine'>,
): EngineCapacity {
  return {
    timeShare: TIME_SHARE,
    timeoutSeconds: cfg.lambdaTimeoutSeconds,
    tmpBytes: cfg.engine.ephemeralStorageMb * 1024 * 1024,
    threads: engineThreads(cfg.engine.memoryMb),
    memoryMb: cfg.engine.memoryMb,
    memoryLimitMb: engineMemoryLimitMb(cfg.engine.memoryMb),
  };
}

export type CapacityBound = 'time' | '/tmp' | 'memory';

/**
 * The largest day (order lines) a step takes, scaled linearly from `measured`: time by lines per second
 * (per thread when the function has fewer threads than the measurement had, which overstates the time:
 * a step is never more than thread-parallel), /tmp by bytes per line, memory by the RSS outside DuckDB's
 * memory_limit per line (all of it taken as growing with the day, which overstates it) against the room
 * the function leaves outside its limit. `bound` says which one limits it.
 */
export function largestDayLines(
  measured: MeasuredStep,
  capacity: EngineCapacity,
  considered: readonly CapacityBound[] = ['time', '/tmp', 'memory'],
): { lines: number; bound: CapacityBound } {
  const slowdown = Math.max(1, measured.threads / capacity.threads);
  const outsideMb = measured.peakRssMb - measured.memoryLimitMb;
  const bounds: [CapacityBound, number][] = [
    ['time', (measured.lines * capacity.timeShare * capacity.timeoutSeconds) / (measured.seconds * slowdown)],
    ['/tmp', (measured.lines * capacity.tmpBytes) / measured.tmpBytes],
    [
      'memory',
      outsideMb <= 0 ? Infinity : (measured.lines * (capacity.memoryMb - capacity.memoryLimitMb)) / outsideMb,
    ],
  ];
  const [bound, lines] = bounds
    .filter(([name]) => considered.includes(name))
    .reduce((low, b) => (b[1] < low[1] ? b : low));
  return { lines: Math.floor(lines), bound };
}

/**
 * What `npm run bench:scale` measured at 20,006,160 order lines with prod's function (4,096 MB, 2 threads,
 * DuckDB memory_limit 2,457 MB), each step in a child held to the function's memory, on a shared 2-core
 * machine at load average 11.7 (so the times overstate Lambda's). Run it again when the steps or the
 * engine change, and update these.
 */
export const MEASURED_STEPS: Record<'Transform' | 'Validate', MeasuredStep> = {
  Transform: {
    lines: 20_006_160,
    seconds: 80.0,
    // The larger of two runs (809 and 820 MB; 80.0 and 72.1 s; 2,956 and 2,891 MB RSS).
    tmpBytes: 820 * 1024 * 1024,
    threads: 2,
    peakRssMb: 2956,
    memoryLimitMb: 2457,
  },
  Validate: {
    lines: 20_006_160,
    seconds: 430.3,
    // The larger of two runs (4,912 and 7,411 MB; 430.3 and 420.7 s; 3,689 and 3,408 MB RSS): how far
    // DuckDB spills varies from run to run.
    tmpBytes: 7411 * 1024 * 1024,
    threads: 2,
    peakRssMb: 3689,
    memoryLimitMb: 2457,
  },
};

/** The largest day one function of `cfg` takes, the step that bounds it and by what. */
export function largestDayOf(cfg: Pick<EnvironmentConfig, 'lambdaTimeoutSeconds' | 'engine'>): {
  lines: number;
  step: keyof typeof MEASURED_STEPS;
  bound: CapacityBound;
} {
  const capacity = engineCapacity(cfg);
  const steps = Object.entries(MEASURED_STEPS).map(([step, measured]) => ({
    step: step as keyof typeof MEASURED_STEPS,
    ...largestDayLines(measured, capacity),
  }));
  return steps.reduce((low, s) => (s.lines < low.lines ? s : low));
}

/** Seconds of DuckDB function time per order line of a day (Transform + Validate, as measured). */
export const batchSecondsPerLine = (): number =>
  Object.values(MEASURED_STEPS).reduce((sum, m) => sum + m.seconds / m.lines, 0);

/**
 * The largest day the split path of `cfg` takes: each of volume.bucketCount buckets gets about its share
 * of the lines (a hash of order_id), but each bucket's Transform reads the whole day's raw parts to pick
 * its orders, so the whole day must fit one Transform's time and /tmp as measured unsplit.
 */
export function largestSplitDayOf(
  cfg: Pick<EnvironmentConfig, 'lambdaTimeoutSeconds' | 'engine' | 'volume'>,
): { lines: number; bound: string } {
  const perBucket = largestDayOf(cfg);
  // Its memory is its bucket's (it keeps only those orders); its time and /tmp are the whole day's.
  const wholeDay = largestDayLines(MEASURED_STEPS.Transform, engineCapacity(cfg), ['time', '/tmp']);
  const split = cfg.volume.bucketCount * perBucket.lines;
  return split <= wholeDay.lines
    ? { lines: split, bound: `${cfg.volume.bucketCount} buckets × ${perBucket.step}'s largest day` }
    : { lines: wholeDay.lines, bound: `each bucket's Transform reads the whole day (${wholeDay.bound})` };
}
