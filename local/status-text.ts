/** `cartflow status` for people: one section per concern, aligned columns, breaches and failures marked. */
import type { StatusReport, StepSummary } from './status';

/** A header and rows as lines, each column as wide as its widest cell, two spaces apart, indented. */
export function tableLines(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  indent = '  ',
): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `${indent}${cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()}\n`;
  return [line(headers), ...rows.map(line)];
}

export const table = (headers: readonly string[], rows: readonly (readonly string[])[], indent = '  ') =>
  tableLines(headers, rows, indent).join('');

/** A table whose rows are each followed by their own detail lines (steps, an example row). */
const tableWithDetails = (
  headers: readonly string[],
  rows: readonly { cells: readonly string[]; details: string }[],
) => {
  const [head, ...lines] = tableLines(
    headers,
    rows.map((r) => r.cells),
  );
  return head + lines.map((l, i) => l + rows[i].details).join('');
};

export function duration(ms: number | null): string {
  if (ms === null) return '…';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Minutes as "45 min", "7 h 05 min" or "1 d 06:00". */
export function age(minutes: number | null): string {
  if (minutes === null) return '–';
  const m = Math.round(minutes);
  if (m < 60) return `${m} min`;
  if (m < 24 * 60) return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
  const d = Math.floor(m / (24 * 60));
  const rest = m % (24 * 60);
  return `${d} d ${String(Math.floor(rest / 60)).padStart(2, '0')}:${String(rest % 60).padStart(2, '0')}`;
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 19).replace('T', ' ')}` : '–');

const MARK: Record<StepSummary['status'], string> = {
  succeeded: '✓',
  failed: '✗',
  caught: '✗',
  retried: '↻',
  replayed: '↺',
  running: '…',
};

function stepLines(steps: readonly StepSummary[]): string {
  return table(
    ['', 'STEP', 'TOOK', 'NOTE'],
    steps.map((s) => [
      MARK[s.status],
      s.state,
      s.status === 'replayed' ? 'done before' : duration(s.ms),
      [
        s.count > 1 ? `×${s.count}` : '',
        s.retries > 0 ? `${s.retries} retried` : '',
        s.error ? s.error.slice(0, 100) : '',
      ]
        .filter(Boolean)
        .join(', '),
    ]),
    '      ',
  );
}

export function formatStatus(report: StatusReport): string {
  const parts: string[] = [`cartflow status · ${report.environment} · ${when(report.generatedAt)} UTC\n`];
  const unread = report.warehouseNote ? '  not read: the warehouse is unavailable (above)\n' : undefined;
  if (report.warehouseNote) parts.push(`\n! ${report.warehouseNote}\n`);

  parts.push(
    `\nRuns (latest run per business date; steps from the ${report.stepSource})\n` +
      (report.runs.length === 0
        ? '  no runs yet\n'
        : tableWithDetails(
            ['DATE', 'STATUS', 'RUNS', 'RUN', 'STARTED (UTC)', 'TOOK'],
            report.runs.map((d) => ({
              cells: [
                d.businessDate,
                d.latest.status,
                String(d.runs) + (d.attempt && d.attempt > 1 ? ` (attempt ${d.attempt})` : ''),
                d.latest.runId,
                when(d.latest.startedAt),
                duration(d.latest.ms),
              ],
              details:
                (d.error ? `      failed: ${d.error.slice(0, 300)}\n` : '') +
                (d.steps ? stepLines(d.steps) : d.stepsNote ? `      (${d.stepsNote})\n` : ''),
            })),
          )),
  );

  parts.push(
    `\nFreshness (SLA per dataset)${report.breaches.length ? ` · BREACHED: ${report.breaches.join(', ')}` : report.freshness.length ? ' · all within SLA' : ''}\n` +
      (report.freshness.length === 0
        ? (unread ?? '  no SLA rules\n')
        : table(
            ['', 'DATASET', 'STATUS', 'AGE', 'LIMIT', 'NEWEST', 'WHY'],
            report.freshness.map((f) => [
              f.status === 'breached' ? '!!' : f.status === 'met' ? '✓' : '?',
              f.dataset,
              f.status === 'breached' ? 'BREACHED' : f.status,
              age(f.ageMinutes),
              age(f.limitMinutes),
              f.businessDate ?? (f.asOf ? when(f.asOf) : '–'),
              f.reason,
            ]),
          )),
  );

  parts.push(
    `\nFailed checks (latest run of each date listed)\n` +
      (report.failedChecks.length === 0
        ? (unread ?? '  none\n')
        : tableWithDetails(
            ['DATE', 'RUN', 'DATASET', 'CHECK', 'COLUMN', 'ROWS', 'SEVERITY'],
            report.failedChecks.map((c) => ({
              cells: [
                c.businessDate,
                c.runId,
                c.dataset,
                c.check,
                c.column || '–',
                String(c.failedRows),
                c.severity,
              ],
              details: c.example ? `      example: ${c.example.slice(0, 300)}\n` : '',
            })),
          )),
  );

  const lag = report.streamLag;
  parts.push(
    `\nStream lag${lag.group ? ` (group ${lag.group} on ${lag.topic})` : lag.functionName ? ` (OffsetLag of ${lag.functionName})` : ''}\n` +
      (lag.partitions && lag.partitions.length > 0
        ? table(
            ['PARTITION', 'COMMITTED', 'END', 'LAG'],
            lag.partitions.map((p) => [String(p.partition), p.committed ?? '–', p.end, String(p.lag)]),
          )
        : '') +
      (lag.total !== null
        ? `  total ${lag.total} record(s) behind${lag.at ? ` at ${when(lag.at)} UTC` : ''}${lag.note ? ` (${lag.note})` : ''}\n`
        : `  ${lag.note ?? 'not measured'}\n`),
  );

  const failures = report.onFailure;
  parts.push(
    `\nOn-failure objects (${failures.prefix}; ${failures.total} in all${failures.total > failures.newest.length ? `, newest ${failures.newest.length}` : ''})\n` +
      (failures.newest.length === 0
        ? '  none\n'
        : table(
            ['LAST MODIFIED (UTC)', 'SIZE', 'KEY'],
            failures.newest.map((o) => [when(o.lastModified), String(o.size), o.key]),
          )),
  );
  return parts.join('');
}
