/**
 * The extract side of the source datasets declared in core/tables.ts: the cursor SQL, the mapping of rows as
 * PostgreSQL returns them (timestamptz → Date, NUMERIC cast to text) to typed lake rows, the columns the
 * extract checks are there, and the source tables' DDL (the embedded source database creates exactly these).
 */
import { parseCents } from './dates';
import { quoteIdent } from './engine/table-io';
import { PLAIN_SQL_TYPES, type ColumnDef, type SourceDataset, type SourceDatasetName } from './tables';

/** ±infinity (which TIMESTAMPTZ can hold) is no instant: null, as an unknown time. */
function toDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(String(value));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** NUMERIC's NaN is no amount: null, which the amount's range check quarantines. */
const toCents = (value: unknown): bigint | null =>
  value === null || value === undefined || value === 'NaN' ? null : parseCents(String(value));

const fromValue = (column: ColumnDef): ((value: unknown) => unknown) => {
  if (column.kind === 'timestamp') return toDate;
  if (column.kind === 'decimal') return toCents;
  return (value) => value ?? null;
};

/**
 * A source row (keyed by column name, as the cursor SQL returns it) → the raw/ row (keyed by field: money
 * in integer cents, timestamps as Date), for writeRowsParquet with the dataset's raw table.
 */
export function fromSource(dataset: SourceDataset): (row: object) => Record<string, unknown> {
  const columns = dataset.columns.map((c) => ({ name: c.name, field: c.field, value: fromValue(c) }));
  return (row) =>
    Object.fromEntries(columns.map((c) => [c.field, c.value((row as Record<string, unknown>)[c.name])]));
}

/** The dataset's rows of a business date, every declared column (NUMERIC as exact text), in a stable order. */
export function cursorSql(dataset: SourceDataset, businessDate: string): string {
  const columns = dataset.columns.map((c) =>
    c.kind === 'decimal' ? `${quoteIdent(c.name)}::text AS ${quoteIdent(c.name)}` : quoteIdent(c.name),
  );
  return `SELECT ${columns.join(', ')}
FROM ${quoteIdent(dataset.table)} WHERE ${dataset.where(businessDate)}
ORDER BY ${dataset.orderBy}`;
}

/** The columns of the source contract (docs/source-contract.md) the extract reads, per source table. */
export const sourceColumns = (sources: Record<SourceDatasetName, SourceDataset>): Record<string, string[]> =>
  Object.fromEntries(Object.values(sources).map((d) => [d.table, d.columns.map((c) => c.name)]));

/** The PostgreSQL type of a source column. */
export function sourceType(column: ColumnDef): string {
  switch (column.kind) {
    case 'string':
      return 'TEXT';
    case 'decimal':
      return `NUMERIC(${column.precision},${column.scale ?? 0})`;
    case 'timestamp':
      return 'TIMESTAMPTZ';
    case 'int32':
      return 'INT';
    default:
      return PLAIN_SQL_TYPES[column.kind];
  }
}

/**
 * The source tables as the contract declares them, plus the indexes the extract by date needs. Columns
 * declared after a table was made are added to it, so a database seeded before keeps working.
 */
export function sourceDdl(sources: Record<SourceDatasetName, SourceDataset>): string[] {
  return Object.values(sources).flatMap((d) => {
    const table = quoteIdent(d.table);
    const width = Math.max(...d.columns.map((c) => c.name.length));
    const columns = d.columns.map((c) => `  ${c.name.padEnd(width)} ${sourceType(c)}`);
    return [
      `CREATE TABLE IF NOT EXISTS ${table} (\n${columns.join(',\n')}\n)`,
      ...d.columns.map(
        (c) => `ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${sourceType(c)}`,
      ),
      ...d.indexes.map(
        (column) =>
          `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${d.table}_${column}_idx`)} ON ${table} (${quoteIdent(column)})`,
      ),
    ];
  });
}
