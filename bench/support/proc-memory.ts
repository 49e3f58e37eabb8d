/**
 * Memory of other processes, read from Linux's /proc: a process's resident set, and the embedded
 * PostgreSQL server's (its postmaster and every backend), sampled on a timer so a step's peak can be
 * read back for its time window.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A `Name:   123 kB` field of /proc/<pid>/status (or of smaps_rollup), in kB; undefined once the process is gone. */
function procField(pid: number | 'self', file: 'status' | 'smaps_rollup', field: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** Resident set of a process now (VmRSS), kB. */
export const rssKb = (pid: number | 'self') => procField(pid, 'status', 'VmRSS');

/**
 * This process's peak resident set since the last `resetPeakRss` (VmHWM, exact: the kernel keeps it),
 * kB. Between two resets it is the peak of what ran in between, whatever ran concurrently in the process.
 */
export const peakRssKb = () => procField('self', 'status', 'VmHWM') ?? 0;

/** Resets this process's VmHWM to its current RSS (Linux ≥ 4.0: "5" to clear_refs). */
export function resetPeakRss(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

/** The postmaster's pid, from the first line of `<pgDataDir>/postmaster.pid`; undefined while no server runs. */
function postmasterPid(pgDataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The postmaster and its children (backends, checkpointer, WAL writer, …). */
function postgresPids(pgDataDir: string): number[] {
  const postmaster = postmasterPid(pgDataDir);
  if (postmaster === undefined) return [];
  try {
    const children = readFileSync(`/proc/${postmaster}/task/${postmaster}/children`, 'utf8');
    return [postmaster, ...children.split(' ').filter(Boolean).map(Number)];
  } catch {
    return [];
  }
}

export interface PostgresMemory {
  /**
   * Sum of the processes' PSS (smaps_rollup): shared memory (shared_buffers) counted once, split over the
   * processes that map it, where a sum of their RSS would count it once per process.
   */
  pssKb: number;
  /** The largest single process's RSS (shared pages it touched included). */
  maxRssKb: number;
  processes: number;
}

/** The embedded PostgreSQL server over `pgDataDir` now: zeros while it is not running. */
export function postgresMemory(pgDataDir: string): PostgresMemory {
  let pssKb = 0;
  let maxRssKb = 0;
  let processes = 0;
  for (const pid of postgresPids(pgDataDir)) {
    const pss = procField(pid, 'smaps_rollup', 'Pss');
    const rss = rssKb(pid);
    if (pss === undefined || rss === undefined) continue;
    pssKb += pss;
    maxRssKb = Math.max(maxRssKb, rss);
    processes++;
  }
  return { pssKb, maxRssKb, processes };
}

export interface MemoryPeak {
  /** The watched process's peak RSS in the window, kB. */
  processKb: number;
  postgresPssKb: number;
  postgresMaxRssKb: number;
  /** Samples that fell in the window (0: the nearest sample after its start stood in). */
  samples: number;
}

/**
 * Samples a process's RSS and the PostgreSQL server's memory every `intervalMs`, keeping every sample
 * (a few numbers each: an hour at 100 ms is 36,000). `peak(from, to)` is the largest of each over the
 * samples taken in [from, to] (epoch ms); a window shorter than the interval gets the first sample after
 * its start.
 */
export class MemorySampler {
  private readonly times: number[] = [];
  private readonly process: number[] = [];
  private readonly pss: number[] = [];
  private readonly pgRss: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    private readonly pgDataDir: string,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  sample(): void {
    const processKb = rssKb(this.pid);
    if (processKb === undefined) return;
    const pg = postgresMemory(this.pgDataDir);
    this.times.push(Date.now());
    this.process.push(processKb);
    this.pss.push(pg.pssKb);
    this.pgRss.push(pg.maxRssKb);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get count(): number {
    return this.times.length;
  }

  peak(from: number, to: number): MemoryPeak {
    let i = this.firstAtOrAfter(from);
    const result: MemoryPeak = { processKb: 0, postgresPssKb: 0, postgresMaxRssKb: 0, samples: 0 };
    for (; i < this.times.length && this.times[i] <= to; i++) this.take(result, i);
    if (result.samples === 0 && i < this.times.length) {
      this.take(result, i);
      result.samples = 0;
    }
    return result;
  }

  private take(result: MemoryPeak, i: number): void {
    result.processKb = Math.max(result.processKb, this.process[i]);
    result.postgresPssKb = Math.max(result.postgresPssKb, this.pss[i]);
    result.postgresMaxRssKb = Math.max(result.postgresMaxRssKb, this.pgRss[i]);
    result.samples++;
  }

  private firstAtOrAfter(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
