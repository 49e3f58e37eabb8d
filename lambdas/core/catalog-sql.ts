/**
 * Catalog landing files into DuckDB: a well-formed file is read by DuckDB in bulk (read_csv / read_json,
 * every value as text or JSON, nothing coerced), and any other file record by record by the JavaScript
 * reader (catalog.ts), which names each bad record's line. Either way the records land as text in one table
 * and are conformed in SQL (conformProductsSql), so both paths give a record the same candidate and reasons.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { CATALOG_COLUMNS, readCatalogFile, type CatalogRecordError } from './catalog';
import { sqlLiteral, type Engine } from './engine/engine';

/** The columns of a table of raw records: the catalog's columns as text; its rowid is the file order. */
const rawCatalogTableSql = (table: string): string =>
  `CREATE TABLE ${table} (${CATALOG_COLUMNS.map((c) => `"${c}" VARCHAR`).join(', ')})`;

/** What JavaScript's String.prototype.trim removes (WhiteSpace and LineTerminator). */
const BLANK = '[\\s\\p{Z}\\x{FEFF}\\x{000B}]';

/** Trimmed text, blank as NULL: conform.ts `text`. */
const text = (column: string) => `NULLIF(regexp_replace(${column}, '^${BLANK}+|${BLANK}+$', '', 'g'), '')`;

const quoted = (value: string) => `'''' || ${value} || ''''`;

/** dates.ts parseInstant's pattern (case-insensitive): RE2 and JavaScript agree on this syntax. */
const INSTANT_RE =
  `^(\\d{4})-(\\d{2})-(\\d{2})(?:[T ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?)?${BLANK}*` +
  `(Z|[+-]\\d{2}(?::?\\d{2})?)?$`;
/** dates.ts parseCents' pattern. */
const DECIMAL_RE = '^-?[0-9]+([.][0-9]{1,2})?$';
/** The products table keeps prices as DECIMAL(18,2). */
const MAX_INTEGER_DIGITS = 16;

/**
 * `source` (the catalog columns as text, `__record` its 1-based position) conformed as conform.ts
 * conformProduct does: trimmed text, blank as NULL, currency upper-cased, price to DECIMAL(18,2) and
 * updated_at to a UTC TIMESTAMP by the same rules as dates.ts parseCents and parseInstant; `issues` lists
 * a reason per value that does not parse, in the same words.
 */
export function conformProductsSql(source: string): string {
  const int = (part: string) => `coalesce(TRY_CAST(NULLIF(${part}, '') AS INTEGER), 0)`;
  const zone = `replace(iso.z, ':', '')`;
  const offsetMinutes =
    `CASE WHEN iso.z = '' OR upper(iso.z) = 'Z' THEN 0 ELSE ` +
    `(CASE WHEN left(iso.z, 1) = '-' THEN -1 ELSE 1 END) * ` +
    `(CAST(substr(${zone}, 2, 2) AS INTEGER) * 60 + ${int(`substr(${zone}, 4, 2)`)}) END`;
  const day = `TRY_CAST(iso.y || '-' || iso.mo || '-' || iso.d AS DATE)`;
  // Years below 100 are no calendar day to parseInstant (Date.UTC reads them as 19xx).
  const isDay = `(iso.y >= '0100' AND ${day} IS NOT NULL)`;
  const inDay = `(${int('iso.h')} <= 23 AND ${int('iso.mi')} <= 59 AND ${int('iso.s')} <= 59)`;
  const millis =
    `epoch_ms(CAST(${day} AS TIMESTAMP)) + ${int('iso.h')} * 3600000 + ${int('iso.mi')} * 60000 + ` +
    `${int('iso.s')} * 1000 + ${int(`rpad(left(iso.f, 3), 3, '0')`)} - (${offsetMinutes}) * 60000`;
  const priceDigits = `length(regexp_extract(price, '[0-9]+'))`;
  return `
    WITH trimmed AS (
      SELECT __record, ${text('product_id')} AS product_id, ${text('name')} AS name,
             ${text('category')} AS category, ${text('price')} AS price, upper(${text('currency')}) AS currency,
             ${text('updated_at')} AS updated_at
      FROM ${source}
    ), parsed AS (
      SELECT *, regexp_full_match(updated_at, '${INSTANT_RE}', 'i') AS iso_ok,
             regexp_extract(updated_at, '${INSTANT_RE}', ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z'], 'i') AS iso,
             regexp_full_match(price, '${DECIMAL_RE}') AS price_ok
      FROM trimmed
    ), checked AS (
      SELECT *,
             CASE WHEN price IS NULL THEN NULL
                  WHEN NOT price_ok THEN 'price: ' || ${quoted('price')} || ' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)'
                  WHEN ${priceDigits} > ${MAX_INTEGER_DIGITS} THEN 'price: ' || ${quoted('price')} || ' has more than ${MAX_INTEGER_DIGITS} integer digits'
             END AS price_issue,
             CASE WHEN updated_at IS NULL THEN NULL
                  WHEN NOT (iso_ok AND ${isDay}) THEN 'updated_at: ' || ${quoted('updated_at')} || ' is not an ISO-8601 timestamp (expected e.g. 2024-01-15T10:30:00Z)'
                  WHEN NOT ${inDay} THEN 'updated_at: ' || ${quoted('updated_at')} || ' has an impossible time of day (expected hh:mm:ss within 00:00:00–23:59:59)'
             END AS updated_at_issue
      FROM parsed
    )
    SELECT __record, product_id, name, category,
           CASE WHEN price_issue IS NULL THEN CAST(price AS DECIMAL(18, 2)) END AS price,
           currency,
           CASE WHEN updated_at IS NOT NULL AND updated_at_issue IS NULL THEN epoch_ms(${millis}) END AS updated_at,
           list_filter([price_issue, updated_at_issue], x -> x IS NOT NULL) AS issues
    FROM checked`;
}

/** A catalog file's format, by extension; undefined for one the JavaScript reader refuses. */
function formatOf(fileName: string): 'csv' | 'json' | 'jsonl' | undefined {
  const extension = /\.[^./\\]+$/.exec(fileName.toLowerCase())?.[0];
  if (extension === '.csv') return 'csv';
  if (extension === '.json') return 'json';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  return undefined;
}

/** The header line of a CSV file when it is plain (no quote, UTF-8, within the first 64 KiB), else undefined. */
async function plainCsvHeader(path: string): Promise<string[] | undefined> {
  const file = await open(path);
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(65_536), position: 0 });
    const end = buffer.subarray(0, bytesRead).indexOf(0x0a);
    if (end < 0) return undefined;
    const line = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
      .decode(buffer.subarray(0, end))
      .replace(/\r$/, '');
    if (line.includes('"')) return undefined;
    return line.split(',').map((name) => name.trim().toLowerCase());
  } catch {
    return undefined;
  } finally {
    await file.close();
  }
}

const JSON_VALUE_TYPES = `['NULL', 'VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE']`;

/**
 * A SELECT of the file's records as the catalog columns' text, plus `unsure`: true for a record the bulk
 * reading might read otherwise than the JavaScript reader. DuckDB's JSON reader accepts NaN and Infinity,
 * keeps the first of duplicate keys and prints numbers its own way, so such records, and records that are
 * no object or hold a value of another type, send the file to the JavaScript reader. Undefined when the
 * file cannot be read in bulk at all.
 */
async function bulkSelect(fileName: string, path: string): Promise<string | undefined> {
  const format = formatOf(fileName);
  if (format === 'csv') {
    const header = await plainCsvHeader(path);
    if (header === undefined || CATALOG_COLUMNS.some((c) => !header.includes(c))) return undefined;
    const columns = header.map((_, k) => `'c${k}': 'VARCHAR'`).join(', ');
    const fields = CATALOG_COLUMNS.map((c) => `c${header.indexOf(c)} AS "${c}"`).join(', ');
    // strict_mode: a row with more or fewer fields, or text after a closing quote, fails the reading.
    return `SELECT ${fields}, false AS unsure FROM read_csv(${sqlLiteral(path)}, columns = {${columns}},
      header = true, delim = ',', quote = '"', escape = '"', auto_detect = false, strict_mode = true,
      null_padding = false, encoding = 'utf-8')`;
  }
  if (format === undefined) return undefined;
  const paths = `[${CATALOG_COLUMNS.map((c) => sqlLiteral(`$.${c}`)).join(', ')}]`;
  const source = `read_json(${sqlLiteral(path)}, format = '${format === 'json' ? 'array' : 'newline_delimited'}',
    records = false, columns = {json: 'JSON'})`;
  const value = (k: number) => `texts[${k + 1}]`;
  const type = (k: number) => `types[${k + 1}]`;
  // A number prints as JavaScript's String(n) prints it only when it is a safe integer or a plain decimal.
  const plainNumber = (k: number) =>
    `CASE ${type(k)} WHEN 'DOUBLE' THEN regexp_full_match(${value(k)}, '-?[0-9]{1,15}[.][0-9]*[1-9]') ` +
    `WHEN 'VARCHAR' THEN true WHEN 'NULL' THEN true ` +
    `ELSE ${value(k)} <> '-0' AND abs(TRY_CAST(${value(k)} AS HUGEINT)) <= 9007199254740991 END`;
  const sure = [
    `json_type(json) = 'OBJECT'`,
    `len(json_keys(json)) = len(list_distinct(json_keys(json)))`,
    `NOT regexp_matches(CAST(json AS VARCHAR), '[:,\\[]-?(NaN|Infinity)[,\\]}]')`,
    ...CATALOG_COLUMNS.map(
      (_, k) => `(${type(k)} IS NULL OR list_contains(${JSON_VALUE_TYPES}, ${type(k)}))`,
    ),
    ...CATALOG_COLUMNS.map((_, k) => `(${type(k)} IS NULL OR ${plainNumber(k)})`),
  ].join(' AND ');
  return `SELECT ${CATALOG_COLUMNS.map((c, k) => `CASE WHEN ${type(k)} <> 'NULL' THEN ${value(k)} END AS "${c}"`).join(', ')},
      NOT coalesce(${sure}, false) AS unsure
    FROM (SELECT json, json_type(json, ${paths}) AS types, json_extract_string(json, ${paths}) AS texts FROM ${source})`;
}

/**
 * Reads one landing file into a new table `table` (the catalog columns as text, rowid the file order) and
 * returns the records that could not be read, by line. DuckDB reads the file in bulk when it can read every
 * record as the JavaScript reader would; otherwise (a malformed record, bytes that are not UTF-8, a quoted
 * header…) the JavaScript reader streams it, naming each bad record. Throws InputFormatError for a file
 * that is unreadable as a whole (the caller drops `table`).
 */
export async function readCatalogInto(
  engine: Engine,
  table: string,
  fileName: string,
  path: string,
): Promise<{ errors: CatalogRecordError[]; bulk: boolean }> {
  const select = await bulkSelect(fileName, path);
  if (select !== undefined) {
    try {
      await engine.run(`CREATE TABLE ${table} AS ${select}`);
      const [{ rows, unsure }] = await engine.rows<{ rows: bigint; unsure: boolean | null }>(
        `SELECT count(*) AS rows, bool_or(unsure) AS unsure FROM ${table}`,
      );
      // No record: the JavaScript reader says why (an empty file, a header only, an empty array).
      if (rows > 0n && unsure === false) return { errors: [], bulk: true };
    } catch (error) {
      // DuckDB refuses the file as a whole: the JavaScript reader names the records it cannot read.
      if (!(error instanceof Error)) throw error;
    }
    await engine.run(`DROP TABLE IF EXISTS ${table}`);
  }
  await engine.run(rawCatalogTableSql(table));
  const errors: CatalogRecordError[] = [];
  const appender = await engine.appender(table);
  try {
    for await (const item of readCatalogFile(fileName, createReadStream(path))) {
      if (!('record' in item)) {
        errors.push(item);
        continue;
      }
      for (const column of CATALOG_COLUMNS) {
        const value = item.record[column];
        if (value === null) appender.appendNull();
        else appender.appendVarchar(value);
      }
      appender.endRow();
    }
  } finally {
    appender.closeSync();
  }
  return { errors, bulk: false };
}
