/** The run summary printed by the CLI and sent by the notify step: a compact plain-text table. */
import type { DatasetQuality } from './contracts';

export interface RunSummaryInput {
  runId: string;
  businessDate: string;
  status: 'SUCCEEDED' | 'FAILED';
  /** Rows loaded per warehouse table. */
  tables: readonly { table: string; rows: number }[];
  datasets: readonly DatasetQuality[];
  wallMs: number;
  failureReason?: string;
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
    const rows = input.datasets.map((d) => [
      d.dataset,
      count(d.rowsIn),
      count(d.rowsValid),
      count(d.rowsQuarantined),
      percent(d.quarantineShare),
      percent(d.threshold),
      d.passed ? 'ok' : 'FAIL',
    ]);
    const header = ['dataset', 'rows in', 'valid', 'quarantined', 'share', 'threshold', 'gate'];
    lines.push('', ...table(header, rows));
  }
  return lines.join('\n');
}
