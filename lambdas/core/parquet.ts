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
import { ByteWriter } from 'hyparquet-writer';
// The writer bundles its own hyparquet: its schema types come from there.
import type { SchemaElement } from 'hyparquet-writer';
import { writePageHeader } from 'hyparquet-writer/src/datapage.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { writeIndexes } from 'hyparquet-writer/src/indexes.js';
import { writeMetadata } from 'hyparquet-writer/src/metadata.js';
import { DAY_MS, formatDecimal } from './dates';
import { InputFormatError, PermanentError } from './errors';
import type { ColumnDef, ColumnKind, TableDef } from './tables';

export interface EncodeOptions {
  /** Rows per row group; large groups keep the footer small and the reads fast. */
  rowGroupSize?: number;
}

const DEFAULT_ROW_GROUP_SIZE = 200_000; // measured: larger groups only slow the writer down
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

/** Parquet constants of the writer (data page v2, SNAPPY), as hyparquet-writer writes them. */
const PAGE_SIZE = 1 << 20; // target uncompressed bytes of a PLAIN data page
const CREATED_BY = 'hyparquet';
/** A string or date column chunk is dictionary-encoded when a sample of it repeats this much (distinct / sampled). */
const DICTIONARY_SAMPLE = 256;
const DICTIONARY_MAX_DISTINCT_SHARE = 0.25;

type PageHeader = Parameters<typeof writePageHeader>[1];
type FileMetaDataOut = Parameters<typeof writeMetadata>[1];
type RowGroupOut = FileMetaDataOut['row_groups'][number];
type ColumnChunkOut = RowGroupOut['columns'][number];
type PageIndexesOut = Parameters<typeof writeIndexes>[1][number];
type Encoding = 'PLAIN' | 'RLE_DICTIONARY';

interface Statistics {
  min_value?: string | number | bigint | boolean;
  max_value?: string | number | bigint | boolean;
  null_count: bigint;
}

/** One encoded column chunk; offsets are relative to the start of its bytes until the file places it. */
interface EncodedChunk {
  bytes: Uint8Array;
  type: NonNullable<SchemaElement['type']>;
  encoding: Encoding;
  dictionaryPageOffset?: number;
  dataPageOffset: number;
  pages: { offset: number; size: number; firstRow: number }[];
  uncompressedSize: number;
  numValues: number;
  statistics: Statistics;
}

/**
 * The value bytes of the page being built. One buffer for the whole process: pages are compressed
 * (copied) before the next one starts, and encoding is synchronous.
 */
let scratch = Buffer.allocUnsafe(PAGE_SIZE * 2);
let view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
/** The same bytes as a plain Uint8Array: the compressor slices its input, and Buffer slices cost more. */
let scratchBytes = new Uint8Array(scratch.buffer, scratch.byteOffset, scratch.byteLength);
function reserve(end: number): void {
  if (end <= scratch.length) return;
  const grown = Buffer.allocUnsafe(Math.max(end, scratch.length * 2));
  scratch.copy(grown);
  scratch = grown;
  view = new DataView(scratch.buffer, scratch.byteOffset, scratch.byteLength);
  scratchBytes = new Uint8Array(scratch.buffer, scratch.byteOffset, scratch.byteLength);
}

/**
 * Writes `s` as UTF-8 at scratch[at] (room reserved by the caller); returns the byte count. Short ASCII
 * text — ids, codes — is copied by hand, which beats a call into the native encoder.
 */
function writeUtf8(s: string, at: number): number {
  const length = s.length;
  if (length <= 32) {
    let i = 0;
    for (; i < length; i++) {
      const code = s.charCodeAt(i);
      if (code >= 0x80) break;
      scratch[at + i] = code;
    }
    if (i === length) return length;
  }
  return scratch.write(s, at);
}

/** UTF-8 byte order (= code point order), as Parquet orders BYTE_ARRAY statistics; lone surrogates as U+FFFD. */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0) {
    const previous = a.charCodeAt(i - 1);
    if (previous >= 0xd800 && previous <= 0xdbff) i--;
  }
  const codePoint = (s: string, j: number) => {
    const code = s.codePointAt(j) ?? 0xfffd;
    return code >= 0xd800 && code <= 0xdfff ? 0xfffd : code;
  };
  while (i < a.length && i < b.length) {
    const x = codePoint(a, i);
    const y = codePoint(b, i);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

/**
 * SNAPPY compression: hyparquet-writer's compressor (the snappyjs algorithm, one block, offsets up to
 * 64 KiB) producing the same bytes, but into one reused output buffer instead of a growing writer that
 * re-copies a 1 MiB page ten times and calls a method per byte.
 */
const SNAPPY_MAX_HASH_TABLE_BITS = 14;
const SNAPPY_MAX_OFFSET = 0xffff;
const SNAPPY_INPUT_MARGIN = 15;
const snappyHashTables: Uint32Array[] = [];
let packed = new Uint8Array(PAGE_SIZE * 2);

const snappyHash = (key: number, shift: number) => Math.imul(key, 0x1e35a7bd) >>> shift;
const load32 = (a: Uint8Array, p: number) => a[p] + (a[p + 1] << 8) + (a[p + 2] << 16) + (a[p + 3] << 24);
const equals32 = (a: Uint8Array, p: number, q: number) =>
  a[p] === a[q] && a[p + 1] === a[q + 1] && a[p + 2] === a[q + 2] && a[p + 3] === a[q + 3];

/** The compressed bytes of `input`: a view of a shared buffer, valid until the next call. */
function snappy(input: Uint8Array): Uint8Array {
  const size = input.length;
  const bound = 32 + size + Math.ceil(size / 6) + 16;
  if (packed.length < bound) packed = new Uint8Array(Math.max(bound, packed.length * 2));
  const out = packed;
  let op = 0;
  for (let v = size; ;) {
    if (v < 0x80) {
      out[op++] = v;
      break;
    }
    out[op++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  const literal = (from: number, length: number) => {
    const value = length - 1;
    if (length <= 60) {
      out[op++] = value << 2;
    } else {
      const bytes = value < 0x100 ? 1 : value < 0x10000 ? 2 : value < 0x1000000 ? 3 : 4;
      out[op++] = (59 + bytes) << 2;
      for (let i = 0; i < bytes; i++) out[op++] = (value >>> (i * 8)) & 0xff;
    }
    out.set(input.subarray(from, from + length), op);
    op += length;
  };
  const copyShort = (offset: number, length: number) => {
    if (length < 12 && offset < 2048) {
      out[op++] = (1 + ((length - 4) << 2) + ((offset >>> 8) << 5)) & 0xff;
      out[op++] = offset & 0xff;
    } else {
      out[op++] = (2 + ((length - 1) << 2)) & 0xff;
      out[op++] = offset & 0xff;
      out[op++] = (offset >>> 8) & 0xff;
    }
  };
  const copy = (offset: number, length: number) => {
    while (length >= 68) {
      copyShort(offset, 64);
      length -= 64;
    }
    if (length > 64) {
      copyShort(offset, 60);
      length -= 60;
    }
    copyShort(offset, length);
  };

  let bits = 1;
  while (1 << bits <= size && bits <= SNAPPY_MAX_HASH_TABLE_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  const table = (snappyHashTables[bits] ??= new Uint32Array(1 << bits));
  table.fill(0);

  let ip = 0;
  let nextEmit = 0;
  if (size >= SNAPPY_INPUT_MARGIN) {
    const ipLimit = size - SNAPPY_INPUT_MARGIN;
    ip++;
    let nextHash = snappyHash(load32(input, ip), shift);
    let going = true;
    while (going) {
      let skip = 32;
      let nextIp = ip;
      let candidate = 0;
      do {
        ip = nextIp;
        const hash = nextHash;
        const step = skip >>> 5;
        skip++;
        nextIp = ip + step;
        if (ip > ipLimit) {
          going = false;
          break;
        }
        nextHash = snappyHash(load32(input, nextIp), shift);
        candidate = table[hash];
        table[hash] = ip;
      } while (ip - candidate > SNAPPY_MAX_OFFSET || !equals32(input, ip, candidate));
      if (!going) break;

      literal(nextEmit, ip - nextEmit);
      do {
        const base = ip;
        let matched = 4;
        while (ip + matched < size && input[ip + matched] === input[candidate + matched]) matched++;
        ip += matched;
        copy(base - candidate, matched);
        nextEmit = ip;
        if (ip >= ipLimit) {
          going = false;
          break;
        }
        const previous = snappyHash(load32(input, ip - 1), shift);
        table[previous] = ip - 1;
        const current = snappyHash(load32(input, ip), shift);
        candidate = table[current];
        table[current] = ip;
      } while (ip - candidate <= SNAPPY_MAX_OFFSET && equals32(input, ip, candidate));
      if (!going) break;
      ip++;
      nextHash = snappyHash(load32(input, ip), shift);
    }
  }
  if (nextEmit < size) literal(nextEmit, size - nextEmit);
  return out.subarray(0, op);
}

/** Writes one compressed page (levels uncompressed, as data page v2 stores them); returns its uncompressed size. */
function writePage(
  out: ByteWriter,
  header: PageHeader,
  levels: Uint8Array | undefined,
  values: Uint8Array,
): number {
  const compressed = snappy(values);
  const levelBytes = levels?.length ?? 0;
  const start = out.offset;
  const v2 = header.data_page_header_v2;
  writePageHeader(out, {
    ...header,
    uncompressed_page_size: levelBytes + values.length,
    compressed_page_size: levelBytes + compressed.length,
    data_page_header_v2: v2 && { ...v2, definition_levels_byte_length: levelBytes },
  });
  const headerSize = out.offset - start;
  if (levels) out.appendBytes(levels);
  out.appendBytes(compressed);
  return headerSize + levelBytes + values.length;
}

/** RLE/bit-packed hybrid of 0/1 definition levels (bit width 1, no length prefix in data page v2). */
function encodeLevels(defs: Uint8Array): Uint8Array {
  const writer = new ByteWriter(64);
  writeRleBitPackedHybrid(writer, defs, 1);
  return writer.getBytes();
}

const physicalType = (column: ColumnDef): EncodedChunk['type'] =>
  column.kind === 'string'
    ? 'BYTE_ARRAY'
    : column.kind === 'bool'
      ? 'BOOLEAN'
      : column.kind === 'int32' || column.kind === 'date'
        ? 'INT32'
        : 'INT64';

/** A data page v2 header; writePage fills in the sizes. */
const dataPageHeader = (rows: number, nulls: number, encoding: 'PLAIN' | 'RLE_DICTIONARY'): PageHeader => ({
  type: 'DATA_PAGE_V2',
  uncompressed_page_size: 0,
  compressed_page_size: 0,
  data_page_header_v2: {
    num_values: rows,
    num_nulls: nulls,
    num_rows: rows,
    encoding,
    definition_levels_byte_length: 0,
    repetition_levels_byte_length: 0,
    is_compressed: true,
  },
});

/**
 * Whether the non-null values of a sample spread over rows[start, end) repeat enough for a dictionary
 * to pay: at most DICTIONARY_SAMPLE non-null values, from at most four times as many probes.
 */
function repetitive(values: readonly unknown[], start: number, end: number): boolean {
  const count = end - start;
  const probes = Math.min(count, DICTIONARY_SAMPLE * 4);
  const seen = new Set<unknown>();
  let sampled = 0;
  for (let i = 0; i < probes && sampled < DICTIONARY_SAMPLE; i++) {
    const index = start + (probes === 1 ? 0 : Math.floor((i * (count - 1)) / (probes - 1)));
    const value = values[index];
    if (value === null || value === undefined) continue;
    sampled++;
    seen.add(value);
  }
  return sampled > 0 && seen.size <= Math.max(1, sampled * DICTIONARY_MAX_DISTINCT_SHARE);
}

/**
 * One column of rows[start, end) → validated, PLAIN- or dictionary-encoded, SNAPPY-compressed pages,
 * in one pass over the rows and without an intermediate value per row: strings go straight into the
 * page buffer as UTF-8, timestamps and int64s as two 32-bit halves (no BigInt unless given one).
 * Statistics (min, max, null count) are kept for every column chunk: Athena and Redshift Spectrum
 * prune row groups with them, and here they cost a comparison per value.
 */
function encodeChunk(
  def: TableDef,
  column: ColumnDef,
  values: readonly unknown[],
  start: number,
  end: number,
): EncodedChunk {
  const { field, kind, nullable } = column;
  const type = physicalType(column);
  const limit = kind === 'decimal' ? 10n ** BigInt(decimalOf(column).precision) : 0n;
  const dayCache = new Map<string, number | undefined>();
  const reject = (i: number, value: unknown, expected: string): never => {
    const shown = typeof value === 'bigint' ? `${value}n` : JSON.stringify(value);
    throw new InputFormatError(
      `${def.name}.${column.name} (row ${i}, field ${field}): expected ${expected}, got ${shown ?? String(value)}`,
    );
  };

  const out = new ByteWriter(4096);
  const pages: EncodedChunk['pages'] = [];
  const defs = nullable ? new Uint8Array(end - start) : undefined;
  let uncompressedSize = 0;
  let nulls = 0;
  let min: string | number | bigint | boolean | undefined;
  let max: string | number | bigint | boolean | undefined;
  let ascii = true;

  // Strings and dates (the partition column: one or two values per file) get a dictionary when they repeat.
  const dictionary =
    (kind === 'string' || kind === 'date') && repetitive(values, start, end)
      ? new Map<string, number>()
      : undefined;
  const indexes = dictionary ? new Int32Array(end - start) : undefined;
  let indexCount = 0;

  let pos = 0;
  let pageStart = start;
  let pageNulls = 0;
  let bits = 0; // bool bit packing: the byte being filled and how many values it holds
  let bitCount = 0;
  // Shared by the PLAIN data pages and the dictionary page: value into scratch, statistics updated.
  const putString = (s: string) => {
    reserve(pos + 4 + s.length * 3);
    const bytes = writeUtf8(s, pos + 4);
    view.setUint32(pos, bytes, true);
    pos += 4 + bytes;
    if (bytes !== s.length) ascii = false;
    if (min === undefined) min = max = s;
    else if (s < (min as string)) min = s;
    else if (s > (max as string)) max = s;
  };
  const putInt32 = (n: number) => {
    reserve(pos + 4);
    view.setInt32(pos, n, true);
    pos += 4;
    if (min === undefined) min = max = n;
    else if (n < (min as number)) min = n;
    else if (n > (max as number)) max = n;
  };
  const putIndex = (s: string) => {
    let index = dictionary!.get(s);
    if (index === undefined) {
      index = dictionary!.size;
      dictionary!.set(s, index);
    }
    indexes![indexCount++] = index;
  };
  const flush = (pageEnd: number) => {
    if (kind === 'bool' && bitCount > 0) {
      scratch[pos++] = bits;
      bits = 0;
      bitCount = 0;
    }
    const offset = out.offset;
    uncompressedSize += writePage(
      out,
      dataPageHeader(pageEnd - pageStart, pageNulls, 'PLAIN'),
      defs && encodeLevels(defs.subarray(pageStart - start, pageEnd - start)),
      scratchBytes.subarray(0, pos),
    );
    pages.push({ offset, size: out.offset - offset, firstRow: pageStart - start });
    pageStart = pageEnd;
    pageNulls = 0;
    pos = 0;
  };

  for (let i = start; i < end; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      if (!nullable) reject(i, value, `a non-null ${kind}`);
      nulls++;
      pageNulls++;
      continue; // defs[i - start] stays 0
    }
    if (defs) defs[i - start] = 1;
    switch (kind) {
      case 'string': {
        if (typeof value !== 'string') reject(i, value, 'a string');
        if (dictionary) {
          putIndex(value as string);
          continue;
        }
        putString(value as string);
        break;
      }
      case 'int32':
      case 'date': {
        let n: number;
        if (kind === 'int32') {
          if (!Number.isInteger(value) || (value as number) < INT32_MIN || (value as number) > INT32_MAX) {
            reject(i, value, 'a 32-bit integer');
          }
          n = value as number;
        } else {
          if (typeof value !== 'string') reject(i, value, "a 'YYYY-MM-DD' string");
          let days = dayCache.get(value as string);
          if (days === undefined) {
            days = daysOf(value as string);
            dayCache.set(value as string, days);
          }
          if (days === undefined) reject(i, value, "a 'YYYY-MM-DD' calendar day");
          n = days!;
          if (dictionary) {
            putIndex(value as string);
            continue;
          }
        }
        putInt32(n);
        break;
      }
      case 'int64':
      case 'timestamp':
      case 'decimal': {
        reserve(pos + 8);
        let n: number | bigint;
        if (kind === 'timestamp') {
          const t = value instanceof Date ? value.getTime() : NaN;
          if (Number.isNaN(t)) reject(i, value, 'a valid Date');
          n = t;
        } else if (kind === 'decimal') {
          if (typeof value !== 'bigint' || value >= limit || value <= -limit) {
            reject(
              i,
              value,
              `a bigint of at most ${column.precision} digits (unscaled, scale ${column.scale ?? 0})`,
            );
          }
          n = value as bigint;
        } else {
          if (typeof value !== 'bigint' && !Number.isSafeInteger(value)) reject(i, value, 'an integer');
          if (typeof value === 'bigint' && (value < INT64_MIN || value > INT64_MAX)) {
            throw new RangeError(`parquet INT64 value out of range: ${value}`);
          }
          n = value as number | bigint;
        }
        if (typeof n === 'bigint') {
          view.setBigInt64(pos, n, true);
        } else {
          // A safe integer as two's complement halves: no BigInt per value.
          const high = Math.floor(n / 4294967296);
          view.setUint32(pos, n - high * 4294967296, true);
          view.setInt32(pos + 4, high, true);
        }
        pos += 8;
        if (min === undefined) min = max = n;
        else if (n < (min as number | bigint)) min = n;
        else if (n > (max as number | bigint)) max = n;
        break;
      }
      case 'bool': {
        if (typeof value !== 'boolean') reject(i, value, 'a boolean');
        reserve(pos + 1);
        if (value) bits |= 1 << bitCount;
        if (++bitCount === 8) {
          scratch[pos++] = bits;
          bits = 0;
          bitCount = 0;
        }
        if (min === undefined) min = max = value as boolean;
        else if (!value) min = false;
        else max = true;
        break;
      }
    }
    if (pos >= PAGE_SIZE) flush(i + 1);
  }

  let dictionaryPageOffset: number | undefined;
  let dataPageOffset = 0;
  if (dictionary && indexes) {
    // Dictionary page (PLAIN strings), then one data page of bit-packed indexes.
    const entries = [...dictionary.keys()];
    for (const s of entries) {
      if (kind === 'date') putInt32(dayCache.get(s)!);
      else putString(s);
    }
    dictionaryPageOffset = 0;
    uncompressedSize += writePage(
      out,
      {
        type: 'DICTIONARY_PAGE',
        uncompressed_page_size: 0,
        compressed_page_size: 0,
        dictionary_page_header: { num_values: entries.length, encoding: 'PLAIN' },
      },
      undefined,
      scratchBytes.subarray(0, pos),
    );
    const bitWidth = Math.ceil(Math.log2(entries.length));
    const packed = new ByteWriter(Math.max(64, (indexCount * bitWidth) >> 3));
    packed.appendUint8(bitWidth);
    writeRleBitPackedHybrid(packed, indexes.subarray(0, indexCount), bitWidth);
    dataPageOffset = out.offset;
    uncompressedSize += writePage(
      out,
      dataPageHeader(end - start, nulls, 'RLE_DICTIONARY'),
      defs && encodeLevels(defs),
      packed.getBytes(),
    );
    pages.push({ offset: dataPageOffset, size: out.offset - dataPageOffset, firstRow: 0 });
  } else if (pageStart < end || pages.length === 0) {
    flush(end);
  }

  if (!ascii && kind === 'string') {
    // Non-ASCII text: JS string order (UTF-16 units) can differ from UTF-8 byte order; recompute exactly.
    min = max = undefined;
    for (let i = start; i < end; i++) {
      const s = values[i] as string | null | undefined;
      if (s === null || s === undefined) continue;
      if (min === undefined || compareUtf8(s, min as string) < 0) min = s;
      if (max === undefined || compareUtf8(s, max as string) > 0) max = s;
    }
  }
  if (typeof min === 'number' && type === 'INT64') min = BigInt(min);
  if (typeof max === 'number' && type === 'INT64') max = BigInt(max);

  return {
    bytes: out.getBytes(),
    type,
    encoding: dictionary ? 'RLE_DICTIONARY' : 'PLAIN',
    dictionaryPageOffset,
    dataPageOffset: dictionary ? dataPageOffset : 0,
    pages,
    uncompressedSize,
    numValues: end - start,
    statistics: { min_value: min, max_value: max, null_count: BigInt(nulls) },
  };
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Rows (objects keyed by each column's `field`) → one Parquet file, SNAPPY-compressed, data page v2.
 * Columns are validated one after the other over all rows (the first bad value of the first bad
 * column is the error), then laid out row group by row group; the footer, page headers and page
 * indexes are written with hyparquet-writer's Thrift code.
 */
export function encodeParquet(
  def: TableDef,
  rows: readonly object[],
  options: EncodeOptions = {},
): Uint8Array {
  const schema: SchemaElement[] = [
    { name: 'root', num_children: def.columns.length },
    ...def.columns.map(schemaElement),
  ];
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  const groups: { start: number; end: number }[] = [];
  for (let start = 0; start < rows.length; start += rowGroupSize) {
    groups.push({ start, end: Math.min(rows.length, start + rowGroupSize) });
  }
  // One pass over the rows (each row object is visited once, not once per column), then chunks[column][group].
  const fields = def.columns.map((c) => c.field);
  const columnValues = fields.map(() => new Array<unknown>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as Record<string, unknown>;
    for (let c = 0; c < fields.length; c++) columnValues[c][i] = row[fields[c]];
  }
  const chunks = def.columns.map((column, c) =>
    groups.map(({ start, end }) => encodeChunk(def, column, columnValues[c], start, end)),
  );

  let size = 4;
  for (const perGroup of chunks) for (const chunk of perGroup) size += chunk.bytes.length;
  const writer = new ByteWriter(size + 4096);
  writer.appendUint32(0x31524150); // PAR1
  const rowGroups: RowGroupOut[] = [];
  const indexes: PageIndexesOut[] = [];
  groups.forEach(({ start, end }, g) => {
    const groupStart = writer.offset;
    const columns: ColumnChunkOut[] = [];
    let totalByteSize = 0n;
    def.columns.forEach((column, c) => {
      const chunk = chunks[c][g];
      const base = writer.offset;
      writer.appendBytes(chunk.bytes);
      const dictionaryPage = chunk.dictionaryPageOffset !== undefined;
      const encodingStats: {
        page_type: 'DICTIONARY_PAGE' | 'DATA_PAGE_V2';
        encoding: Encoding;
        count: number;
      }[] = dictionaryPage ? [{ page_type: 'DICTIONARY_PAGE', encoding: 'PLAIN', count: 1 }] : [];
      encodingStats.push({ page_type: 'DATA_PAGE_V2', encoding: chunk.encoding, count: chunk.pages.length });
      const columnChunk: ColumnChunkOut = {
        file_offset: BigInt(base),
        meta_data: {
          type: chunk.type,
          encodings: dictionaryPage ? ['PLAIN', 'RLE_DICTIONARY'] : ['PLAIN'],
          path_in_schema: [column.name],
          codec: 'SNAPPY',
          num_values: BigInt(chunk.numValues),
          total_uncompressed_size: BigInt(chunk.uncompressedSize),
          total_compressed_size: BigInt(chunk.bytes.length),
          data_page_offset: BigInt(base + chunk.dataPageOffset),
          dictionary_page_offset: dictionaryPage ? BigInt(base + chunk.dictionaryPageOffset!) : undefined,
          statistics: chunk.statistics as NonNullable<ColumnChunkOut['meta_data']>['statistics'],
          encoding_stats: encodingStats,
        },
      };
      columns.push(columnChunk);
      totalByteSize += BigInt(chunk.uncompressedSize);
      indexes.push({
        chunk: columnChunk,
        offsetIndex:
          chunk.pages.length > 1
            ? {
                page_locations: chunk.pages.map((p) => ({
                  offset: BigInt(base + p.offset),
                  compressed_page_size: p.size,
                  first_row_index: BigInt(p.firstRow),
                })),
              }
            : undefined,
      });
    });
    rowGroups.push({
      columns,
      total_byte_size: totalByteSize,
      num_rows: BigInt(end - start),
      total_compressed_size: BigInt(writer.offset - groupStart),
    });
  });
  writeIndexes(writer, indexes);
  const metadata = {
    version: 2,
    created_by: CREATED_BY,
    schema,
    num_rows: BigInt(rows.length),
    row_groups: rowGroups,
  } as unknown as FileMetaDataOut;
  writeMetadata(writer, metadata);
  writer.appendUint32(0x31524150); // PAR1
  return writer.getBytes();
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
