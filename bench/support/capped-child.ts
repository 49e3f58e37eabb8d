/**
 * A step run as Lambda runs it: in a process of its own whose whole resident set (Node heap, the DuckDB
 * binding and its buffers, files being uploaded) is held to the function's memory. The parent samples the
 * child's RSS from /proc and kills it past the cap, as Lambda ends a function that runs out of memory; the
 * child reports its own kernel peak (VmHWM) at the end, so a peak between two samples is still counted.
 *
 * Why sampling and not a kernel cap: this machine's memory cgroup is the v1 one its session runner owns
 * (cgroup v2 is mounted without the memory controller), and RLIMIT_AS (prlimit --as, ulimit -v) caps
 * virtual address space, which V8 and DuckDB reserve far beyond what they touch (Validate at 20M lines:
 * 22.6 GB of address space at 3.1 GB RSS), so no address-space cap corresponds to a function's memory.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { peakRssKb, rssKb } from './proc-memory';

export interface CappedRun<T> {
  /** What the child returned; absent when it was killed or failed. */
  result?: T;
  /** The child's peak RSS: its VmHWM when it finished, else the largest sample. */
  peakRssMb: number;
  capMb: number;
  /** False when the child went over the cap (it was killed there). */
  fits: boolean;
  wallMs: number;
  /** Why the child did not return a result. */
  error?: string;
}

/** What a child writes to its result file (writeChildResult). */
interface ChildReport<T> {
  result: T;
  peakRssKb: number;
}

/**
 * Runs `process.execPath` with this process's exec arguments, `script`, `args` and `--result <file>`,
 * with exactly `env`, and kills it when its RSS passes `capMb` (sampled every `intervalMs`).
 */
export async function runCapped<T>(options: {
  script: string;
  args: readonly string[];
  env: Record<string, string>;
  capMb: number;
  resultFile: string;
  /** The function's timeout: past it the child is killed, as Lambda ends the invocation. */
  timeoutMs: number;
  intervalMs?: number;
}): Promise<CappedRun<T>> {
  const { capMb, resultFile } = options;
  await writeFile(resultFile, '');
  const start = performance.now();
  const child = spawn(
    process.execPath,
    [...process.execArgv, options.script, ...options.args, '--result', resultFile],
    { env: options.env, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  let sampledKb = 0;
  let overKb: number | undefined;
  const timer = setInterval(() => {
    const kb = child.pid === undefined ? undefined : rssKb(child.pid);
    if (kb === undefined) return;
    sampledKb = Math.max(sampledKb, kb);
    if (kb > capMb * 1024 && overKb === undefined) {
      overKb = kb;
      child.kill('SIGKILL');
    }
  }, options.intervalMs ?? 50);
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (exitCode) => resolve(exitCode));
  });
  clearInterval(timer);
  clearTimeout(deadline);
  const wallMs = performance.now() - start;
  const mb = (kb: number) => Math.round(kb / 1024);
  if (overKb !== undefined) {
    return {
      peakRssMb: mb(overKb),
      capMb,
      fits: false,
      wallMs,
      error: `killed at ${mb(overKb)} MB RSS, over the ${capMb} MB cap`,
    };
  }
  if (timedOut) {
    return {
      peakRssMb: mb(sampledKb),
      capMb,
      fits: sampledKb <= capMb * 1024,
      wallMs,
      error: `killed after ${options.timeoutMs / 1000} s, the function's timeout`,
    };
  }
  const text = await readFile(resultFile, 'utf8');
  if (code !== 0 || text === '') {
    return {
      peakRssMb: mb(sampledKb),
      capMb,
      fits: sampledKb <= capMb * 1024,
      wallMs,
      error: `exit ${code}`,
    };
  }
  const report = JSON.parse(text) as ChildReport<T>;
  const peakKb = Math.max(report.peakRssKb, sampledKb);
  return { result: report.result, peakRssMb: mb(peakKb), capMb, fits: peakKb <= capMb * 1024, wallMs };
}

/** In the child: writes what it returns and its peak RSS for runCapped. */
export async function writeChildResult<T>(resultFile: string, result: T): Promise<void> {
  const report: ChildReport<T> = { result, peakRssKb: peakRssKb() };
  await writeFile(resultFile, JSON.stringify(report));
}
