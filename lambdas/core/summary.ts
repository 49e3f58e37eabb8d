/** The run summary printed by the CLI and sent by the notify step: a compact plain-text table. */
import type { CheckResult, DatasetQuality } from './contracts';

export interface RunSummaryInput {
  runId: string;
  businessDate: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** Rows loaded per warehouse table. */
  tables: readonly { table: string; rows: number }[];
  /** Quality per dataset; with `rowsLoaded` (run-record.ts datasetLoads) the table shows a loaded column. */
  datasets: readonly (DatasetQuality & { rowsLoaded?: number })[];
  wallMs: number;
  failureReason?: string;
  /** The run's checks: those with failing rows are listed with an example row. */
  checks?: readonly CheckResult[];
}

/** Longest example row a summary shows: notifications go to e-mail and SNS caps a message at 256 KB. */
export const EXAMPLE_MAX_CHARS = 300;
/** Most failing checks a summary lists one by one; the rest are counted. */
export const FAILED_CHECKS_LISTED = 20;

/** An example row cut to `max` characters (with an ellipsis and how many were cut), on one line. */
export function trimExample(example: string, max = EXAMPLE_MAX_CHARS): string {
  const oneLine = example.replace(/\s*[\r\n]+\s*/g, ' ');
  if (oneLine.length <= max) return oneLine;
  return `${oneLine.slice(0, max)}… (${oneLine.length - max} more characters)`;
}

/** The checks that failed rows, quarantining ones first, each with its (trimmed) example row. */
export function failedCheckLines(checks: readonly CheckResult[]): string[] {
  const failed = checks
    .filter((c) => c.failedRows > 0)
    .sort((a, b) => Number(a.severity === 'report') - Number(b.severity === 'report'));
  if (failed.length === 0) return [];
  const lines = [`failed checks (${failed.length}):`];
  for (const c of failed.slice(0, FAILED_CHECKS_LISTED)) {
    const column = c.column ? ` (${c.column})` : '';
    lines.push(`  ${c.dataset}: ${c.check}${column}: ${count(c.failedRows)} rows [${c.severity}]`);
    if (c.example !== undefined) lines.push(`    e.g. ${trimExample(c.example)}`);
  }
  if (failed.length > FAILED_CHECKS_LISTED) {
    lines.push(`  … and ${failed.length - FAILED_CHECKS_LISTED} more in the quality report`);
  }
  return lines;
}

const count = (n: number): string => n.toLocaleString('en-US');
/** A share (0..1) as '12.34%'. */
export const percent = (share: number): string => `${(share * 100).toFixed(2)}%`;

/** Left-aligns the first column, right-aligns the others. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  return [header, ...rows].map((cells) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}

export function formatRunSummary(input: RunSummaryInput): string {
  const seconds = (input.wallMs / 1000).toFixed(1);
  const lines = [`cartflow run ${input.runId} for ${input.businessDate}: ${input.status} in ${seconds} s`];
  if (input.failureReason !== undefined) lines.push(`reason: ${input.failureReason}`);
  if (input.tables.length > 0) {
    lines.push(
      '',
      ...table(
        ['table', 'rows'],
        input.tables.map((t) => [t.table, count(t.rows)]),
      ),
    );
  }
  if (input.datasets.length > 0) {
    const loaded = input.datasets.some((d) => d.rowsLoaded !== undefined);
    const rows = input.datasets.map((d) => [
      d.dataset,
      count(d.rowsIn),
      count(d.rowsValid),
      ...(loaded ? [count(d.rowsLoaded ?? 0)] : []),
      count(d.rowsQuarantined),
      percent(d.quarantineShare),
      percent(d.threshold),
      d.passed ? 'ok' : 'FAIL',
    ]);
    const header = [
      'dataset',
      'rows in',
      'valid',
      ...(loaded ? ['loaded'] : []),
      'quarantined',
      'share',
      'threshold',
      'gate',
    ];
    lines.push('', ...table(header, rows));
  }
  const checks = failedCheckLines(input.checks ?? []);
  if (checks.length > 0) lines.push('', ...checks);
  return lines.join('\n');
}
