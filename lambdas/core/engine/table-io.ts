/**
 * core/tables.ts definitions as DuckDB tables: their column types, the SELECT that casts any input to them
 * in definition order (so a Parquet file written from it has the warehouse table's columns by position, as
 * Redshift's COPY FROM PARQUET requires), and the appender path for rows that come from JavaScript
 * (PostgreSQL cursor chunks, parsed catalog files).
 */
import {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBTimestampValue,
  type DuckDBAppender,
} from '@duckdb/node-api';
import { DAY_MS } from '../dates';
import { InputFormatError, PermanentError } from '../errors';
import { PLAIN_SQL_TYPES, type ColumnDef, type TableDef } from '../tables';
import { fileList, type Engine, type ParquetWriteOptions } from './engine';

/** An SQL identifier, double-quoted: column names such as `orders` or `date` stay names. */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

function decimalOf(column: ColumnDef): { precision: number; scale: number } {
  const { precision, scale = 0 } = column;
  // ≤ 18 digits: DuckDB then writes the Parquet DECIMAL on INT64, Redshift's own NUMERIC(p ≤ 18) width.
  if (precision === undefined || precision < 1 || precision > 18 || scale < 0 || scale > precision) {
    throw new PermanentError(
      `decimal column ${column.name} needs 1 <= precision <= 18 and 0 <= scale <= precision`,
    );
  }
  return { precision, scale };
}

/** The DuckDB type of a column. VARCHAR without a length: DuckDB ignores it; byte limits are checked at COPY. */
export function duckType(column: ColumnDef): string {
  switch (column.kind) {
    case 'string':
      return 'VARCHAR';
    case 'decimal': {
      const { precision, scale } = decimalOf(column);
      return `DECIMAL(${precision},${scale})`;
    }
    default:
      return PLAIN_SQL_TYPES[column.kind];
  }
}

/** CREATE TABLE for `def` under `name`, columns in definition order, NOT NULL where the definition says so. */
export function createTableSql(def: TableDef, name: string): string {
  const columns = def.columns.map(
    (c) => `${quoteIdent(c.name)} ${duckType(c)}${c.nullable ? '' : ' NOT NULL'}`,
  );
  return `CREATE TABLE ${quoteIdent(name)} (${columns.join(', ')})`;
}

/**
 * SELECT every column of `def`, in definition order, cast to its type, from `from` (a table name or a table
 * function such as read_parquet([...])): extra input columns are dropped and the order is always the table's.
 */
export function castSelect(def: TableDef, from: string): string {
  const columns = def.columns.map(
    (c) => `CAST(${quoteIdent(c.name)} AS ${duckType(c)}) AS ${quoteIdent(c.name)}`,
  );
  return `SELECT ${columns.join(', ')} FROM ${from}`;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** 'YYYY-MM-DD' → days since the epoch, or undefined when it is not a calendar day. */
function daysOf(s: string): number | undefined {
  const m = DATE_RE.exec(s);
  if (m === null) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 02-30 over to 03-02: a round trip rejects impossible days.
  return new Date(t).toISOString().slice(0, 10) === s ? t / DAY_MS : undefined;
}

type Append = (appender: DuckDBAppender, value: unknown) => boolean;

/**
 * One appending function per column: appends `value` and returns true, or returns false when the value is
 * not of the column's row type (the caller names table, column and row).
 */
function appendOf(column: ColumnDef): Append {
  switch (column.kind) {
    case 'string':
      return (a, v) => typeof v === 'string' && (a.appendVarchar(v), true);
    case 'int32':
      return (a, v) =>
        typeof v === 'number' &&
        Number.isInteger(v) &&
        v >= -(2 ** 31) &&
        v < 2 ** 31 &&
        (a.appendInteger(v), true);
    case 'int64':
      return (a, v) =>
        (typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v))) &&
        (a.appendBigInt(BigInt(v)), true);
    case 'bool':
      return (a, v) => typeof v === 'boolean' && (a.appendBoolean(v), true);
    case 'timestamp':
      return (a, v) =>
        v instanceof Date &&
        !Number.isNaN(v.getTime()) &&
        (a.appendTimestamp(new DuckDBTimestampValue(BigInt(v.getTime()) * 1000n)), true);
    case 'date': {
      const days = new Map<string, number | undefined>();
      return (a, v) => {
        if (typeof v !== 'string') return false;
        if (!days.has(v)) days.set(v, daysOf(v));
        const d = days.get(v);
        return d !== undefined && (a.appendDate(new DuckDBDateValue(d)), true);
      };
    }
    case 'decimal': {
      const { precision, scale } = decimalOf(column);
      const limit = 10n ** BigInt(precision);
      // Unscaled integers only: cents go in exactly, never through a float.
      return (a, v) =>
        typeof v === 'bigint' &&
        v < limit &&
        v > -limit &&
        (a.appendDecimal(new DuckDBDecimalValue(v, precision, scale)), true);
    }
  }
}

const EXPECTED: Record<ColumnDef['kind'], string> = {
  string: 'a string',
  int32: 'a 32-bit integer',
  int64: 'a safe integer or a bigint',
  bool: 'a boolean',
  timestamp: 'a valid Date',
  date: 'a calendar day YYYY-MM-DD',
  decimal: 'a bigint of unscaled units within the precision',
};

/**
 * Appends rows (objects keyed by each column's `field`: money as bigint cents in `<name>_cents`, timestamps
 * as Date, dates as 'YYYY-MM-DD') to `table`, created with createTableSql(def, …). A value of the wrong type
 * is an InputFormatError naming table, column, row and field; rows before it may already be in `table`, so
 * append into a scratch table that is dropped on failure (as writeRowsParquet does).
 */
export async function appendRows(
  engine: Engine,
  def: TableDef,
  table: string,
  rows: readonly object[],
): Promise<void> {
  const columns = def.columns.map((column) => ({ column, append: appendOf(column) }));
  const appender = await engine.appender(table);
  try {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as Record<string, unknown>;
      for (const { column, append } of columns) {
        const value = row[column.field];
        if (value === null || value === undefined) {
          if (!column.nullable) rejectValue(def, column, i, value, 'a non-null value');
          appender.appendNull();
        } else if (!append(appender, value)) {
          rejectValue(def, column, i, value, EXPECTED[column.kind]);
        }
      }
      appender.endRow();
    }
  } catch (error) {
    // The row in progress and the pending chunk are dropped; chunks the appender already flushed stay.
    appender.clear();
    throw error;
  } finally {
    appender.closeSync();
  }
}

function rejectValue(def: TableDef, column: ColumnDef, row: number, value: unknown, expected: string): never {
  const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
  throw new InputFormatError(
    `${def.name}.${column.name} (row ${row}, field ${column.field}): expected ${expected}, got ${shown ?? String(value)}`,
  );
}

let scratch = 0;

/**
 * Rows from JS → one Parquet file at `path`, columns in `def` order and types (see Engine.writeParquet for
 * the physical layout). Returns the rows written.
 */
export async function writeRowsParquet(
  engine: Engine,
  def: TableDef,
  rows: readonly object[],
  path: string,
  options: ParquetWriteOptions = {},
): Promise<number> {
  const table = `rows_${def.name}_${++scratch}`;
  await engine.run(createTableSql(def, table));
  try {
    await appendRows(engine, def, table, rows);
    return await engine.writeParquet(castSelect(def, quoteIdent(table)), path, options);
  } finally {
    await engine.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}

/** read_parquet over local files, for castSelect: `castSelect(def, readParquetSql(paths))`. */
export const readParquetSql = (paths: readonly string[]): string => `read_parquet(${fileList(paths)})`;
