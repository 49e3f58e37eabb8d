/**
 * CSV for `cartflow query` and `cartflow status`, per RFC 4180 with one documented choice:
 *
 * - a header line with every column name in order, duplicates and `?column?` included;
 * - lines end in LF (`\n`), not CRLF: what Unix tools and spreadsheets read alike, and what a terminal shows;
 * - a field is quoted when it contains a comma, a double quote, CR or LF, and its quotes are doubled;
 * - NULL is an empty unquoted field and the empty string is `""`, as PostgreSQL's COPY … CSV writes them,
 *   so the two stay apart (a header name or value of '' is quoted for the same reason);
 * - `cartflow query` prints values exactly as PostgreSQL writes them as text (what psql and COPY … CSV
 *   show: BIGINT in full, NUMERIC and timestamps to the last digit, booleans `t`/`f`, arrays `{…}`);
 *   other callers' JavaScript values print as strings, Dates as ISO 8601 UTC, objects as JSON.
 */
export function toCsv(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  if (columns.length === 0) return '';
  const lines = [columns.map(csvField).join(',')];
  for (const row of rows) lines.push(columns.map((_, i) => csvField(row[i])).join(','));
  return `${lines.join('\n')}\n`;
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = fieldText(value);
  return text === '' || /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
