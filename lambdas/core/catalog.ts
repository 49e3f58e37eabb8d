/** Catalog landing files (JSON array, JSON Lines, CSV) → raw product records (the merge is core/catalog-snapshot.ts). */
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

export interface CatalogParseResult {
  records: CatalogProduct[];
  errors: CatalogRecordError[];
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

function parseJsonArray(fileName: string, text: string): CatalogParseResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InputFormatError(
      `${fileName} is not valid JSON (${(error as Error).message}); expected ${EXPECTED_FORMATS}`,
    );
  }
  if (!Array.isArray(parsed))
    throw new InputFormatError(`${fileName} must hold a JSON array of product objects`);
  const result: CatalogParseResult = { records: [], errors: [] };
  parsed.forEach((element, index) => {
    const record = toRecord(element);
    if (typeof record === 'string') result.errors.push({ line: index + 1, reason: record });
    else result.records.push(record);
  });
  return result;
}

function parseJsonLines(fileName: string, text: string): CatalogParseResult {
  const result: CatalogParseResult = { records: [], errors: [] };
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '') return;
    let record: CatalogProduct | string;
    try {
      record = toRecord(JSON.parse(line));
    } catch (error) {
      record = `not valid JSON (${(error as Error).message})`;
    }
    if (typeof record === 'string') result.errors.push({ line: index + 1, reason: record });
    else result.records.push(record);
  });
  if (result.records.length === 0 && result.errors.length > 0) {
    const first = result.errors[0];
    throw new InputFormatError(
      `${fileName}: no line holds a product object (line ${first.line}: ${first.reason}); expected ${EXPECTED_FORMATS}`,
    );
  }
  return result;
}

interface CsvRow {
  line: number;
  fields: string[];
  error?: string;
}

const atLineEnd = (text: string, i: number): boolean =>
  i >= text.length || text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n');

/** RFC 4180: quoted fields may hold commas, newlines and doubled quotes; LF or CRLF line ends. */
function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = 0;
  let line = 1;
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

function parseCsvFile(fileName: string, text: string): CatalogParseResult {
  const [header, ...rows] = parseCsv(text.replace(/^\uFEFF/, ''));
  if (header === undefined || header.error !== undefined) {
    throw new InputFormatError(
      `${fileName} has no readable CSV header${header?.error ? ` (${header.error})` : ''}; expected ${EXPECTED_FORMATS}`,
    );
  }
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const missing = CATALOG_COLUMNS.filter((column) => !names.includes(column));
  if (missing.length > 0) {
    throw new InputFormatError(
      `${fileName}: CSV header lacks ${missing.join(', ')}; expected ${EXPECTED_FORMATS} in any order`,
    );
  }
  const positions = CATALOG_COLUMNS.map((column) => names.indexOf(column));
  const result: CatalogParseResult = { records: [], errors: [] };
  for (const row of rows) {
    if (row.error !== undefined) {
      result.errors.push({ line: row.line, reason: row.error });
    } else if (row.fields.length !== names.length) {
      const reason = `expected ${names.length} fields as in the header, found ${row.fields.length}`;
      result.errors.push({ line: row.line, reason });
    } else {
      const record = Object.fromEntries(
        CATALOG_COLUMNS.map((column, k) => [column, row.fields[positions[k]]]),
      );
      result.records.push(record as unknown as CatalogProduct);
    }
  }
  return result;
}

/**
 * Parses one landing file by its extension. A bad record becomes an error entry (the good ones still
 * parse); an unknown extension or an unreadable file throws InputFormatError naming the file.
 */
export function parseCatalogFile(fileName: string, text: string): CatalogParseResult {
  const extension = /\.[^./\\]+$/.exec(fileName.toLowerCase())?.[0];
  switch (extension) {
    case '.json':
      return parseJsonArray(fileName, text);
    case '.jsonl':
    case '.ndjson':
      return parseJsonLines(fileName, text);
    case '.csv':
      return parseCsvFile(fileName, text);
    default:
      throw new InputFormatError(`unsupported catalog file '${fileName}': expected ${EXPECTED_FORMATS}`);
  }
}
