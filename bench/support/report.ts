/** What the benchmarks run, print and profile the same way. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/**
 * Runs a benchmark in a fresh data directory under the OS temp directory (`prefix` names it), or in
 * `dataDir` when given (created if missing, always kept): `body` returns whether its check passed, a
 * throw is a failure and is printed. The fresh directory is removed after, unless `keep`. Sets the
 * process exit code: 0 when the check passed.
 */
export async function runBench(
  prefix: string,
  keep: boolean,
  body: (dataDir: string) => Promise<boolean>,
  dataDir?: string,
): Promise<void> {
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true });
    keep = true;
  } else {
    dataDir = await mkdtemp(join(tmpdir(), prefix));
  }
  let passed = false;
  try {
    passed = await body(dataDir);
  } catch (error) {
    process.stderr.write(`[bench] failed: ${(error as Error).stack ?? String(error)}\n`);
  } finally {
    if (keep) log(`data kept in ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  }
  process.exitCode = passed ? 0 : 1;
}

/**
 * Starts a V8 CPU profile when `path` is given (open it in Chrome DevTools); the returned function stops
 * it and writes it there, naming `what` was profiled in the log.
 */
export async function startProfile(path: string | undefined): Promise<(what: string) => Promise<void>> {
  if (path === undefined) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async (what) => {
    const { profile } = await session.post('Profiler.stop');
    await writeFile(path, JSON.stringify(profile));
    session.disconnect();
    log(`CPU profile of ${what} written to ${path}`);
  };
}

/** A Markdown table's lines: the first column left-aligned, the others right-aligned. */
export function markdownTable(header: readonly string[], body: readonly string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
  ];
}
