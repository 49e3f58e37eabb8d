/** What both benchmarks print and profile the same way. */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

export const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

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
