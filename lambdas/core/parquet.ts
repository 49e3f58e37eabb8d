/**
 * Parquet encoding of the tables in core/tables.ts, in the physical types Redshift's
 * COPY … FORMAT AS PARQUET accepts:
 *
 * - string    → BYTE_ARRAY, UTF8/STRING
 * - int32     → INT32; int64 → INT64; bool → BOOLEAN
 * - decimal   → INT64 with DECIMAL(precision, scale). The Parquet spec's representation for
 *               precision ≤ 18 and what Spark/Glue write by default; it is also Redshift's own 8-byte
 *               NUMERIC(p ≤ 18) width (Redshift Spectrum rejects a fixed-length decimal of another
 *               width: "invalid type length. Expecting: 8"). Exact: cents are written as they are.
 * - timestamp → INT64 TIMESTAMP_MILLIS (logical TIMESTAMP, isAdjustedToUTC=false, i.e. a UTC wall
 *               clock for a Redshift TIMESTAMP column). Millis because that is what AWS SDK for pandas
 *               writes for its Redshift COPY loads, and JS Dates hold milliseconds anyway. INT64
 *               nanoseconds are what Redshift misreads; INT96 is deprecated.
 * - date      → INT32 DATE (days since 1970-01-01).
 *
 * Reading gives back the row shapes written: bigint unscaled decimals (no float in between),
 * Date timestamps, 'YYYY-MM-DD' dates.
 */
import { parquetMetadata, parquetRead } from 'hyparquet';
import type { ColumnData, FileMetaData, SchemaElement as FileSchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
// The writer bundles its own hyparquet: its schema types come from there.
import type { ColumnSource, SchemaElement } from 'hyparquet-writer';
import { InputFormatError, PermanentError } from './errors';
import type { ColumnDef, ColumnKind, TableDef } from './tables';

export interface EncodeOptions {
  /** Rows per row group; large groups keep the footer small and the reads fast. */
  rowGroupSize?: number;
}

const DEFAULT_ROW_GROUP_SIZE = 200_000; // measured: larger groups only slow the writer down
const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function schemaElement(column: ColumnDef): SchemaElement {
  const repetition_type = column.nullable ? 'OPTIONAL' : 'REQUIRED';
  const name = column.name;
  switch (column.kind) {
    case 'string':
      return {
        name,
        repetition_type,
        type: 'BYTE_ARRAY',
        converted_type: 'UTF8',
        logical_type: { type: 'STRING' },
      };
    case 'int32':
      return { name, repetition_type, type: 'INT32' };
    case 'int64':
      return { name, repetition_type, type: 'INT64' };
    case 'bool':
      return { name, repetition_type, type: 'BOOLEAN' };
    case 'date':
      return { name, repetition_type, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'timestamp':
      return {
        name,
        repetition_type,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MILLIS' },
      };
    case 'decimal': {
      const { precision, scale } = decimalOf(column);
      return {
        name,
        repetition_type,
        type: 'INT64',
        converted_type: 'DECIMAL',
        precision,
        scale,
        logical_type: { type: 'DECIMAL', precision, scale },
      };
    }
  }
}

function decimalOf(column: ColumnDef): { precision: number; scale: number } {
  const { precision, scale = 0 } = column;
  if (precision === undefined || precision < 1 || precision > 18 || scale < 0 || scale > precision) {
    throw new PermanentError(
      `decimal column ${column.name} needs 1 <= precision <= 18 and 0 <= scale <= precision`,
    );
  }
  return { precision, scale };
}

/** 'YYYY-MM-DD' → days since the epoch, or undefined when it is not a calendar day. */
function daysOf(s: string): number | undefined {
  const m = DATE_RE.exec(s);
  if (m === null) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date.UTC rolls 02-30 over to 03-02: a round trip rejects impossible days.
  return new Date(t).toISOString().slice(0, 10) === s ? t / DAY_MS : undefined;
}

/** Builds one column's values in a single pass, converted to what the writer stores. */
function columnValues(def: TableDef, column: ColumnDef, rows: readonly object[]): unknown[] {
  const out = new Array<unknown>(rows.length);
  const { field, kind, nullable } = column;
  const limit = kind === 'decimal' ? 10n ** BigInt(decimalOf(column).precision) : 0n;
  const dayCache = new Map<string, number | undefined>();
  const reject = (i: number, value: unknown, expected: string): never => {
    const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
    throw new InputFormatError(
      `${def.name}.${column.name} (row ${i}, field ${field}): expected ${expected}, got ${shown ?? String(value)}`,
    );
  };
  for (let i = 0; i < rows.length; i++) {
    const value = (rows[i] as Record<string, unknown>)[field];
    if (value === null || value === undefined) {
      if (!nullable) reject(i, value, `a non-null ${kind}`);
      out[i] = null;
      continue;
    }
    switch (kind) {
      case 'string':
        if (typeof value !== 'string') reject(i, value, 'a string');
        out[i] = value;
        break;
      case 'int32':
        if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX) {
          reject(i, value, 'a 32-bit integer');
        }
        out[i] = value;
        break;
      case 'int64':
        if (typeof value === 'bigint') out[i] = value;
        else if (Number.isSafeInteger(value)) out[i] = BigInt(value as number);
        else reject(i, value, 'an integer');
        break;
      case 'bool':
        if (typeof value !== 'boolean') reject(i, value, 'a boolean');
        out[i] = value;
        break;
      case 'decimal':
        if (typeof value !== 'bigint' || value >= limit || value <= -limit) {
          reject(
            i,
            value,
            `a bigint of at most ${column.precision} digits (unscaled, scale ${column.scale ?? 0})`,
          );
        }
        out[i] = value;
        break;
      case 'timestamp': {
        const t = value instanceof Date ? value.getTime() : NaN;
        if (Number.isNaN(t)) reject(i, value, 'a valid Date');
        out[i] = BigInt(t);
        break;
      }
      case 'date': {
        if (typeof value !== 'string') reject(i, value, "a 'YYYY-MM-DD' string");
        let days = dayCache.get(value as string);
        if (days === undefined) {
          days = daysOf(value as string);
          dayCache.set(value as string, days);
        }
        if (days === undefined) reject(i, value, "a 'YYYY-MM-DD' calendar day");
        out[i] = days;
        break;
      }
    }
  }
  return out;
}

/** Rows (objects keyed by each column's `field`) → one Parquet file, SNAPPY-compressed. */
export function encodeParquet(
  def: TableDef,
  rows: readonly object[],
  options: EncodeOptions = {},
): Uint8Array {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: def.columns.length },
    ...def.columns.map(schemaElement),
  ];
  const columnData = def.columns.map((column) => ({
    name: column.name,
    data: columnValues(def, column, rows) as ColumnSource['data'],
  }));
  const buffer = parquetWriteBuffer({
    columnData,
    schema,
    codec: 'SNAPPY',
    rowGroupSize: options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE,
  });
  return new Uint8Array(buffer);
}

/** How a file column is read back; `other` columns (floats, binary) pass through as hyparquet decodes them. */
interface ReadColumn {
  name: string;
  kind: ColumnKind | 'other';
  scale: number;
}

function readKind(element: FileSchemaElement): ColumnKind | 'other' {
  const { type, converted_type: ctype, logical_type: ltype } = element;
  if (ctype === 'DECIMAL' || ltype?.type === 'DECIMAL') return 'decimal';
  if (ctype === 'DATE' || ltype?.type === 'DATE') return 'date';
  if (type === 'INT96' || ctype?.startsWith('TIMESTAMP') || ltype?.type === 'TIMESTAMP') return 'timestamp';
  if (type === 'BYTE_ARRAY' && (ctype === 'UTF8' || ltype?.type === 'STRING')) return 'string';
  if (type === 'INT32') return 'int32';
  if (type === 'INT64') return 'int64';
  if (type === 'BOOLEAN') return 'bool';
  return 'other';
}

interface ColumnarFile {
  columns: ReadColumn[];
  numRows: number;
  /** One array per file column, already converted (decimals as bigint, dates as 'YYYY-MM-DD'). */
  data: unknown[][];
}

/** Big-endian two's complement bytes (FIXED_LEN_BYTE_ARRAY / BYTE_ARRAY decimals) → bigint. */
function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return bytes.length > 0 && bytes[0] & 0x80 ? value - (1n << BigInt(bytes.length * 8)) : value;
}

async function readColumnar(bytes: Uint8Array): Promise<ColumnarFile> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(file);
  } catch (error) {
    throw new InputFormatError(`not a Parquet file: ${(error as Error).message}`, { cause: error });
  }
  const [root, ...elements] = metadata.schema;
  if (elements.length !== (root.num_children ?? 0) || elements.some((e) => e.num_children)) {
    throw new InputFormatError('nested Parquet schemas are not supported; expected flat columns');
  }
  const columns = elements.map((element) => ({
    name: element.name,
    kind: readKind(element),
    scale: element.scale ?? 0,
  }));
  // hyparquet turns decimals into floats and dates into Dates; reading them as their raw integers
  // keeps decimals exact and lets dates become strings without a Date per value.
  const raw = elements.map((element, i) =>
    columns[i].kind === 'decimal' || columns[i].kind === 'date'
      ? { ...element, converted_type: undefined, logical_type: undefined }
      : element,
  );
  const numRows = Number(metadata.num_rows);
  const data = columns.map(() => new Array<unknown>(numRows));
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const onChunk = ({ columnName, columnData, rowStart }: ColumnData) => {
    const target = data[index.get(columnName)!];
    const end = Math.min(columnData.length, numRows - rowStart);
    for (let j = 0; j < end; j++) target[rowStart + j] = columnData[j];
  };
  await parquetRead({ file, metadata: { ...metadata, schema: [root, ...raw] }, onChunk });
  columns.forEach((column, i) => convertColumn(column, data[i]));
  return { columns, numRows, data };
}

/** In place: raw reader values → the row value types of core/tables.ts (int64 stays bigint here). */
function convertColumn(column: ReadColumn, values: unknown[]): void {
  const dates = new Map<number, string>();
  for (let j = 0; j < values.length; j++) {
    const v = values[j];
    if (v === null || v === undefined) {
      values[j] = null;
    } else if (column.kind === 'decimal') {
      values[j] = v instanceof Uint8Array ? bytesToBigInt(v) : BigInt(v as number | bigint);
    } else if (column.kind === 'date') {
      let s = dates.get(v as number);
      if (s === undefined) {
        s = new Date((v as number) * DAY_MS).toISOString().slice(0, 10);
        dates.set(v as number, s);
      }
      values[j] = s;
    }
  }
}

/** Unscaled integer → exact decimal text ('-12.34'). */
export function formatDecimal(unscaled: bigint, scale: number): string {
  if (scale === 0) return unscaled.toString();
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${unscaled < 0n ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/**
 * A Parquet file → row objects. With `def`, columns are matched by name and returned under their
 * `field` keys (a missing column or another decimal scale is an error); without it, every file column
 * is returned under its own name.
 */
export async function decodeParquet(def: TableDef | undefined, bytes: Uint8Array): Promise<object[]> {
  const { columns, numRows, data } = await readColumnar(bytes);
  const plan = (def?.columns ?? columns).map((want) => {
    const i = columns.findIndex((c) => c.name === want.name);
    const found = columns[i];
    if (found === undefined) {
      throw new InputFormatError(`Parquet file has no column ${want.name} (expected by ${def?.name})`);
    }
    if (found.kind !== want.kind || (found.kind === 'decimal' && found.scale !== (want.scale ?? 0))) {
      const scale = (c: { kind: string; scale?: number }) =>
        c.kind === 'decimal' ? `(scale ${c.scale ?? 0})` : '';
      throw new InputFormatError(
        `${def?.name}.${want.name} is ${found.kind}${scale(found)} in the file, expected ${want.kind}${scale(want)}`,
      );
    }
    const values = data[i];
    if (found.kind === 'int64') {
      for (let j = 0; j < numRows; j++) if (values[j] !== null) values[j] = Number(values[j]);
    }
    return { field: 'field' in want ? want.field : want.name, values };
  });
  const rows = new Array<object>(numRows);
  for (let j = 0; j < numRows; j++) {
    const row: Record<string, unknown> = {};
    for (const { field, values } of plan) row[field] = values[j];
    rows[j] = row;
  }
  return rows;
}

export interface ParquetColumns {
  names: string[];
  /** Each column's logical kind; decimals carry their scale in `scales`. */
  kinds: (ColumnKind | 'other')[];
  scales: number[];
  /**
   * Row-major values by position: string, number, bigint (int64), boolean, Date (timestamp),
   * exact decimal text ('12.34') and 'YYYY-MM-DD' dates; null for nulls.
   */
  rows: unknown[][];
}

/** Positional read of a whole file, as a COPY sees it (used by the local warehouse). */
export async function readParquetColumns(bytes: Uint8Array): Promise<ParquetColumns> {
  const { columns, numRows, data } = await readColumnar(bytes);
  columns.forEach((column, i) => {
    if (column.kind !== 'decimal') return;
    const values = data[i];
    for (let j = 0; j < numRows; j++) {
      if (values[j] !== null) values[j] = formatDecimal(values[j] as bigint, column.scale);
    }
  });
  const rows = new Array<unknown[]>(numRows);
  for (let j = 0; j < numRows; j++) {
    const row = new Array<unknown>(columns.length);
    for (let i = 0; i < columns.length; i++) row[i] = data[i][j];
    rows[j] = row;
  }
  return {
    names: columns.map((c) => c.name),
    kinds: columns.map((c) => c.kind),
    scales: columns.map((c) => c.scale),
    rows,
  };
}
