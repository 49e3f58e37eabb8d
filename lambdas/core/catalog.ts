/**
 * Catalog landing files (JSON array, JSON Lines, CSV) → raw product records, read a chunk at a time so a
 * file of any size streams through (the merge is SQL in extract-products).
 */
import { InputFormatError } from './errors';
import type { CatalogProduct } from './model';

export const CATALOG_COLUMNS = ['product_id', 'name', 'category', 'price', 'currency', 'updated_at'] as const;

const EXPECTED_FORMATS =
  '.json (an array of objects), .jsonl/.ndjson (one object per line) or .csv (with a header naming ' +
  `${CATALOG_COLUMNS.join(',')})`;

export interface CatalogRecordError {
  /** Physical line of the record (CSV, JSON Lines) or its 1-based position in a .json array. */
  line: number;
  reason: string;
}

/** A JSON value → record, or the reason it is not one. Numbers are kept as their decimal text. */
function toRecord(value: unknown): CatalogProduct | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object';
  const source = value as Record<string, unknown>;
  const record: Record<string, string | null> = {};
  for (const column of CATALOG_COLUMNS) {
    const field = source[column];
    if (field === undefined || field === null) record[column] = null;
    else if (typeof field === 'string' || typeof field === 'number') record[column] = String(field);
    else return `${column} must be a string or a number, got ${JSON.stringify(field)}`;
  }
  return record as unknown as CatalogProduct;
}

interface CsvRow {
  line: number;
  fields: string[];
  error?: string;
}

const atLineEnd = (text: string, i: number): boolean =>
  i >= text.length || text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n');

/**
 * RFC 4180: quoted fields may hold commas, newlines and doubled quotes; LF or CRLF line ends. `line` is
 * the physical line `text` starts on.
 */
function parseCsv(text: string, line = 1): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = 0;
  while (i < text.length) {
    const row: CsvRow = { line, fields: [] };
    for (;;) {
      let value = '';
      if (text[i] === '"') {
        let closed = false;
        for (i++; i < text.length; i++) {
          if (text[i] === '"') {
            if (text[i + 1] !== '"') {
              closed = true;
              i++;
              break;
            }
            i++;
          } else if (text[i] === '\n') line++;
          value += text[i];
        }
        if (!closed) {
          row.error = `unterminated quoted field ${row.fields.length + 1}`;
          break;
        }
        if (text[i] !== ',' && !atLineEnd(text, i)) {
          row.error = `unexpected text after the closing quote of field ${row.fields.length + 1}`;
          while (i < text.length && text[i] !== '\n') i++;
          break;
        }
      } else {
        const start = i;
        while (text[i] !== ',' && !atLineEnd(text, i)) i++;
        value = text.slice(start, i);
      }
      row.fields.push(value);
      if (text[i] !== ',') break;
      i++;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    const blank = row.error === undefined && row.fields.length === 1 && row.fields[0].trim() === '';
    if (!blank) rows.push(row);
  }
  return rows;
}

/** One record of a landing file, or the reason one could not be read. */
export type CatalogItem = { line: number; record: CatalogProduct } | CatalogRecordError;

/** A file's bytes, a chunk at a time (a read stream, or one buffer). */
export type Chunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

const NEWLINE = 0x0a;
const BOM = [0xef, 0xbb, 0xbf];

/** A file's lines as bytes (without the LF), numbered from 1; an LF never occurs inside a UTF-8 sequence. */
async function* byteLines(chunks: Chunks): AsyncGenerator<{ n: number; bytes: Uint8Array }> {
  let pending: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of chunks) {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
      pending.push(chunk.subarray(start, end));
      yield { n: ++n, bytes: Buffer.concat(pending) };
      pending = [];
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield { n: ++n, bytes: Buffer.concat(pending) };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes → text (a leading BOM dropped), or the reason they are not UTF-8, naming the first bad byte. */
function decodeUtf8(bytes: Uint8Array): string | { reason: string } {
  try {
    return utf8.decode(bytes);
  } catch {
    const valid = Buffer.from(bytes).toString('utf8').indexOf('\uFFFD');
    const at = Buffer.from(Buffer.from(bytes).toString('utf8').slice(0, Math.max(valid, 0))).length;
    const byte = bytes[at]?.toString(16).padStart(2, '0').toUpperCase() ?? '??';
    return { reason: `not valid UTF-8 (byte 0x${byte} at byte ${at + 1} of the line)` };
  }
}

/** The record of one JSON value, or its error, at `line` (a line number or a position in the array). */
function jsonItem(text: string, line: number): CatalogItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { line, reason: `not valid JSON (${(error as Error).message})` };
  }
  const record = toRecord(value);
  return typeof record === 'string' ? { line, reason: record } : { line, record };
}

async function* readJsonLines(fileName: string, chunks: Chunks) {
  let records = 0;
  let first: CatalogRecordError | undefined;
  for await (const { n, bytes } of byteLines(chunks)) {
    const text = decodeUtf8(bytes);
    if (typeof text === 'string' && text.trim() === '') continue;
    const item: CatalogItem = typeof text === 'string' ? jsonItem(text, n) : { line: n, ...text };
    if ('record' in item) records++;
    else first ??= item;
    yield item;
  }
  if (records === 0) {
    const detail = first === undefined ? 'it is empty' : `line ${first.line}: ${first.reason}`;
    throw new InputFormatError(
      `${fileName}: no line holds a product object (${detail}); expected ${EXPECTED_FORMATS}`,
    );
  }
}

/**
 * The elements of a JSON array, each parsed on its own as soon as it ends, so the array is never held
 * whole: bytes are scanned for the array's structure ('[', ',', ']' outside strings, at depth 0), which
 * is ASCII and so never part of a multi-byte character. An element that is not valid JSON is a record
 * error; a file that is not one array is an InputFormatError.
 */
async function* readJsonArray(fileName: string, chunks: Chunks) {
  const notArray = (why: string) =>
    new InputFormatError(`${fileName} is not valid JSON (${why}); expected ${EXPECTED_FORMATS}`);
  // before: only whitespace or a BOM so far; open: inside the array; done: after its ']'.
  let phase: 'before' | 'open' | 'done' = 'before';
  let pieces: Uint8Array[] = [];
  let start = -1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let position = 0;
  let offset = 0;
  for await (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      const at = offset + i + 1;
      if (phase === 'before') {
        if (c === 0x5b) phase = 'open';
        else if (c === 0x7b)
          throw new InputFormatError(`${fileName} must hold a JSON array of product objects, not an object`);
        else if (!(isJsonSpace(c) || (at <= 3 && c === BOM[at - 1])))
          throw notArray(`unexpected byte 0x${c.toString(16)} at byte ${at}, before the array`);
        continue;
      }
      if (phase === 'done') {
        if (!isJsonSpace(c)) throw notArray(`unexpected text after the closing ']' at byte ${at}`);
        continue;
      }
      if (start < 0) start = i;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === 0x5c) escaped = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x5b || c === 0x7b) depth++;
      else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
      else if (depth === 0 && (c === 0x2c || c === 0x5d)) {
        pieces.push(chunk.subarray(start, i));
        const bytes = Buffer.concat(pieces);
        pieces = [];
        start = -1;
        const text = decodeUtf8(bytes);
        if (typeof text === 'string' && text.trim() === '') {
          // `[]` is an empty array; `[,` `,,` and `,]` are holes JSON does not allow.
          if (c === 0x2c || position > 0) throw notArray(`an empty element before byte ${at}`);
        } else {
          position++;
          yield typeof text === 'string' ? jsonItem(text, position) : { line: position, ...text };
        }
        if (c === 0x5d) phase = 'done';
      }
    }
    if (start >= 0) pieces.push(chunk.subarray(start));
    start = -1;
    offset += chunk.length;
  }
  if (phase !== 'done') {
    throw notArray(phase === 'before' ? 'the file is empty' : 'the file ends inside the array');
  }
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Records of CSV text whose header `names` is known; `positions`: where each catalog column is. */
function csvItems(rows: CsvRow[], names: string[], positions: number[]): CatalogItem[] {
  return rows.map((row): CatalogItem => {
    if (row.error !== undefined) return { line: row.line, reason: row.error };
    if (row.fields.length !== names.length) {
      const reason = `expected ${names.length} fields as in the header, found ${row.fields.length}`;
      return { line: row.line, reason };
    }
    const record = Object.fromEntries(CATALOG_COLUMNS.map((column, k) => [column, row.fields[positions[k]]]));
    return { line: row.line, record: record as unknown as CatalogProduct };
  });
}

/**
 * CSV a record at a time: physical lines are gathered until their quotes balance (a quoted field may
 * hold newlines), then parsed. A record that is not UTF-8 is a record error.
 */
async function* readCsv(fileName: string, chunks: Chunks) {
  let header: { names: string[]; positions: number[] } | undefined;
  let gathered: string[] = [];
  let firstLine = 0;
  let quotes = 0;
  const parse = (): CatalogItem[] => {
    const rows = parseCsv(`${gathered.join('\n')}\n`, firstLine);
    gathered = [];
    quotes = 0;
    if (header !== undefined) return csvItems(rows, header.names, header.positions);
    const [first, ...rest] = rows;
    if (first === undefined) return [];
    if (first.error !== undefined) {
      throw new InputFormatError(
        `${fileName} has no readable CSV header (${first.error}); expected ${EXPECTED_FORMATS}`,
      );
    }
    const names = first.fields.map((name) => name.trim().toLowerCase());
    const missing = CATALOG_COLUMNS.filter((column) => !names.includes(column));
    if (missing.length > 0) {
      throw new InputFormatError(
        `${fileName}: CSV header lacks ${missing.join(', ')}; expected ${EXPECTED_FORMATS} in any order`,
      );
    }
    header = { names, positions: CATALOG_COLUMNS.map((column) => names.indexOf(column)) };
    return csvItems(rest, header.names, header.positions);
  };
  for await (const { n, bytes } of byteLines(chunks)) {
    const text = decodeUtf8(bytes);
    if (typeof text !== 'string') {
      if (header === undefined) {
        throw new InputFormatError(`${fileName}: the CSV header is ${text.reason}; expected UTF-8 text`);
      }
      // The record this line belongs to is unreadable: report it from its first line, drop its lines.
      yield { line: gathered.length > 0 ? firstLine : n, reason: text.reason };
      gathered = [];
      quotes = 0;
      continue;
    }
    if (gathered.length === 0) firstLine = n;
    gathered.push(text);
    for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) quotes++;
    if (quotes % 2 === 0) yield* parse();
  }
  if (gathered.length > 0) yield* parse();
  if (header === undefined) {
    throw new InputFormatError(
      `${fileName} has no readable CSV header (the file is empty); expected ${EXPECTED_FORMATS}`,
    );
  }
}

/**
 * Reads one landing file by its extension, a chunk of bytes at a time, yielding its records in file order
 * as they end (the file is never held whole). A bad record is an error item naming its line (the good ones
 * still flow); an unknown extension, an unreadable file or a file with no record throws InputFormatError
 * naming the file — possibly after records were yielded, so a caller keeps a file's records apart until
 * the file ends.
 */
export async function* readCatalogFile(fileName: string, chunks: Chunks): AsyncGenerator<CatalogItem> {
  const extension = /\.[^./\\]+$/.exec(fileName.toLowerCase())?.[0];
  let read: (name: string, input: Chunks) => AsyncGenerator<CatalogItem>;
  switch (extension) {
    case '.json':
      read = readJsonArray;
      break;
    case '.jsonl':
    case '.ndjson':
      read = readJsonLines;
      break;
    case '.csv':
      read = readCsv;
      break;
    default:
      throw new InputFormatError(`unsupported catalog file '${fileName}': expected ${EXPECTED_FORMATS}`);
  }
  let items = 0;
  for await (const item of read(fileName, chunks)) {
    items++;
    yield item;
  }
  if (items === 0) {
    throw new InputFormatError(`${fileName} holds no product record; expected ${EXPECTED_FORMATS}`);
  }
}
