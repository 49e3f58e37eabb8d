/**
 * The warehouse on a laptop: PostgreSQL (the embedded server or one named by URL) running the very SQL sent to Redshift.
 * The one statement PostgreSQL cannot run, COPY … FROM 's3://…' FORMAT AS PARQUET [MANIFEST], is done
 * here with Redshift's rules: columns by position, equal column counts, compatible types, all objects
 * under the prefix, and a prefix that matches nothing is an error; with MANIFEST, exactly the listed
 * objects, each with its meta.content_length, and a mandatory one that is missing fails the COPY.
 * The files are read with DuckDB, as the steps write them; VARCHAR(n) limits count UTF-8 bytes, as
 * Redshift's do (COPY FROM PARQUET has no TRUNCATECOLUMNS: one value too long fails the whole COPY).
 * Like the Data API, it refuses a batch over 40 statements and a statement over 100 KB (data-api-limits.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BatchOptions, LakeStore, Warehouse } from '../lambdas/adapters/ports';
import { assertDataApiLimits } from '../lambdas/core/data-api-limits';
import { CartflowError, CopyMismatchError, PermanentError, TransientError } from '../lambdas/core/errors';
import { Engine, sqlLiteral } from '../lambdas/core/engine/engine';
import { quoteIdent } from '../lambdas/core/engine/table-io';
import type { ColumnKind } from '../lambdas/core/tables';
import { openDatabase, type Database, type DatabaseOptions } from './embedded-postgres';

// MANIFEST may stand before or after FORMAT AS PARQUET, as Redshift takes its options in any order.
/** Rows a COPY reads from a Parquet file and inserts at a time. */
const INSERT_SLICE_ROWS = 50_000;
const COPY_PARQUET =
  /^\s*COPY\s+("?[\w.]+"?)\s+FROM\s+'s3:\/\/([^/']+)\/([^']*)'\s+IAM_ROLE\s+'[^']*'\s+(MANIFEST\s+)?FORMAT\s+AS\s+PARQUET(\s+MANIFEST)?\s*;?\s*$/i;

type FileKind = ColumnKind | 'other';

/** A Parquet file's columns as COPY sees them: by position, with their kinds and decimal scales. */
interface FileColumn {
  name: string;
  kind: FileKind;
  scale: number;
}

/** DuckDB's type of a Parquet column → its kind (DECIMAL carries its scale). */
function fileColumn(name: string, duckType: string): FileColumn {
  const decimal = /^DECIMAL\(\d+,(\d+)\)$/.exec(duckType);
  if (decimal) return { name, kind: 'decimal', scale: Number(decimal[1]) };
  const kinds: Record<string, FileKind> = {
    VARCHAR: 'string',
    TINYINT: 'int32',
    SMALLINT: 'int32',
    INTEGER: 'int32',
    BIGINT: 'int64',
    BOOLEAN: 'bool',
    DATE: 'date',
    TIMESTAMP: 'timestamp',
    TIMESTAMP_MS: 'timestamp',
    TIMESTAMP_NS: 'timestamp',
    TIMESTAMP_S: 'timestamp',
    'TIMESTAMP WITH TIME ZONE': 'timestamp',
  };
  return { name, kind: kinds[duckType] ?? 'other', scale: 0 };
}

/** Which PostgreSQL column types take which Parquet column kind (format_type names). */
const ACCEPTS: Record<FileKind, RegExp> = {
  string: /^(character varying|character|text)\b/,
  int32: /^(smallint|integer|bigint)$/,
  int64: /^bigint$/,
  decimal: /^numeric\b/,
  timestamp: /^timestamp\b/,
  date: /^date$/,
  bool: /^boolean$/,
  other: /^(real|double precision|bytea)$/,
};

interface TargetColumn {
  name: string;
  type: string;
  scale: number | null;
}

// SQLSTATE classes worth a retry: connection, resources, serialization/deadlock, operator intervention.
/** Advisory lock key that serializes the warehouse's write transactions (executeBatch) across processes. */
const WRITE_LOCK = 0x63666c78;
const TRANSIENT_SQLSTATE = /^(08|53|57P0|40001|40P01)/;

function wrap(error: unknown, index: number, statements: string[]): Error {
  const statement = statements[index].replace(/\s+/g, ' ').slice(0, 300);
  const message = `warehouse statement ${index + 1}/${statements.length} failed: ${(error as Error).message}\n  in: ${statement}`;
  if (error instanceof CartflowError) {
    return new (error.constructor as new (m: string, o?: ErrorOptions) => CartflowError)(message, {
      cause: error,
    });
  }
  const code = (error as { code?: unknown }).code;
  const ErrorClass =
    typeof code === 'string' && TRANSIENT_SQLSTATE.test(code) ? TransientError : PermanentError;
  return new ErrorClass(message, { cause: error });
}

export interface SqlWarehouseOptions extends DatabaseOptions {
  lake: LakeStore;
}

export class SqlWarehouse implements Warehouse {
  readonly dialect = 'postgres';
  constructor(
    private readonly db: Database,
    private readonly lake: LakeStore,
  ) {}

  /** node-postgres when `url` (WAREHOUSE_DATABASE_URL) is given, else the embedded server over `dataDir`. */
  static async open({ lake, ...database }: SqlWarehouseOptions): Promise<SqlWarehouse> {
    return new SqlWarehouse(await openDatabase(database), lake);
  }

  /**
   * One transaction, like Redshift's BatchExecuteStatement; calls are serialized on the connection.
   * `beforeCommit` runs inside it after the last statement; when it throws, the transaction rolls back.
   */
  async executeBatch(statements: string[], options?: BatchOptions): Promise<void> {
    // Refused as BatchExecuteStatement refuses it, before anything runs.
    assertDataApiLimits(statements, 'BatchExecuteStatement');
    const unlock = await this.db.lock();
    try {
      await this.db.query('BEGIN');
      // Write transactions one at a time across processes, as Redshift serializes writers of a table:
      // two publishes (dates run by two commands) would otherwise both insert the shared dim_product rows.
      await this.db.query(`SET LOCAL lock_timeout = '300s'`);
      await this.db.query('SELECT pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      for (let i = 0; i < statements.length; i++) {
        try {
          const copy = COPY_PARQUET.exec(statements[i]);
          if (copy && (copy[4] ?? copy[5]) !== undefined) {
            await this.copyManifest(copy[1], copy[2], copy[3]);
          } else if (copy) await this.copyParquet(copy[1], copy[2], copy[3]);
          else await this.db.query(statements[i]);
        } catch (error) {
          await this.db.query('ROLLBACK').catch(() => undefined);
          throw wrap(error, i, statements);
        }
      }
      await options?.beforeCommit?.().catch(async (error: unknown) => {
        await this.db.query('ROLLBACK').catch(() => undefined);
        throw error;
      });
      await this.db.query('COMMIT');
    } finally {
      unlock();
    }
  }

  async query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
    assertDataApiLimits([sql], 'ExecuteStatement');
    const unlock = await this.db.lock();
    try {
      return (await this.db.query<T>(sql)).rows;
    } catch (error) {
      throw wrap(error, 0, [sql]);
    } finally {
      unlock();
    }
  }

  /** Every column in order by position, duplicate and unnamed ones included: what `cartflow query` prints. */
  async queryArrays(sql: string): ReturnType<Database['queryArrays']> {
    const unlock = await this.db.lock();
    try {
      return await this.db.queryArrays(sql);
    } catch (error) {
      throw wrap(error, 0, [sql]);
    } finally {
      unlock();
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }

  private async copyParquet(table: string, bucket: string, prefix: string): Promise<void> {
    const uri = `s3://${bucket}/${prefix}`;
    if (bucket !== this.lake.bucket) {
      throw new PermanentError(`COPY ${table}: ${uri} is outside the lake bucket ${this.lake.bucket}`);
    }
    // Like Redshift, the prefix matches keys, not folders; and it must match something.
    const objects = (await this.lake.list(prefix)).filter((o) => o.size > 0);
    if (objects.length === 0) throw new PermanentError(`COPY ${table}: no objects under ${uri}`);
    await this.insertObjects(
      table,
      objects.map((o) => o.key),
    );
  }

  /**
   * COPY … MANIFEST: the manifest object lists the files (`{"entries":[{"url","mandatory","meta":
   * {"content_length"}}]}`). Like Redshift: Parquet needs every entry's content_length; a mandatory
   * entry whose object is missing fails the COPY (CopyMismatchError naming the url), an optional one is
   * skipped; the column rules apply to each file. Nothing is inserted before every entry is checked.
   */
  private async copyManifest(table: string, bucket: string, key: string): Promise<void> {
    const uri = `s3://${bucket}/${key}`;
    if (bucket !== this.lake.bucket) {
      throw new PermanentError(
        `COPY ${table}: manifest ${uri} is outside the lake bucket ${this.lake.bucket}`,
      );
    }
    const entries = parseManifest(table, uri, await this.lake.getText(key));
    const keys = entries.map((entry) => {
      const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(entry.url);
      if (match === null || match[1] !== this.lake.bucket) {
        throw new PermanentError(
          `COPY ${table}: manifest entry ${entry.url} is not an object in ${this.lake.bucket}`,
        );
      }
      return match[2];
    });
    // One LIST per folder of the entries (an hour of the stream), not one request per entry.
    const sizes = new Map<string, number>();
    for (const folder of new Set(keys.map((k) => k.slice(0, k.lastIndexOf('/') + 1)))) {
      for (const o of await this.lake.list(folder)) sizes.set(o.key, o.size);
    }
    const present: string[] = [];
    entries.forEach((entry, i) => {
      const size = sizes.get(keys[i]);
      if (size === undefined) {
        if (entry.mandatory) {
          throw new CopyMismatchError(
            `COPY ${table} FROM ${uri}: the mandatory manifest entry ${entry.url} does not exist`,
          );
        }
        return;
      }
      if (size !== entry.meta.content_length) {
        throw new CopyMismatchError(
          `COPY ${table} FROM ${uri}: ${entry.url} is ${size} bytes, the manifest says content_length ${entry.meta.content_length}`,
        );
      }
      present.push(keys[i]);
    });
    await this.insertObjects(table, present);
  }

  /**
   * Each Parquet object's rows into `table`, by position, after checking its columns and string lengths
   * against the table's. Every file is checked before the first row is inserted.
   */
  private async insertObjects(table: string, keys: readonly string[]): Promise<void> {
    const target = await this.columnsOf(table);
    const directory = await mkdtemp(join(tmpdir(), 'cartflow-copy-'));
    const engine = await Engine.open({
      memoryLimitMb: 512,
      tempDirectory: join(directory, 'spill'),
      threads: 1,
    });
    try {
      const files: { path: string; columns: FileColumn[] }[] = [];
      for (const [i, key] of keys.entries()) {
        const uri = `s3://${this.lake.bucket}/${key}`;
        const path = join(directory, `${i}.parquet`);
        await this.lake.download(key, path);
        const columns = await describeParquet(engine, uri, path);
        checkColumns(table, uri, columns, target);
        await checkByteLengths(engine, table, uri, path, columns, target);
        files.push({ path, columns });
      }
      for (const { path, columns } of files) {
        // Streamed a slice at a time, so a day's table never sits in the heap whole and is read once.
        for await (const rows of engine.rowBatches(insertSelect(path, columns), INSERT_SLICE_ROWS)) {
          await this.db.insertRows(
            table,
            rows.map((row) => Object.values(row)),
          );
        }
      }
    } finally {
      engine.close();
      await rm(directory, { recursive: true, force: true });
    }
  }

  /** The table's columns in order; resolves temp tables (pg_temp) like any other name. */
  private async columnsOf(table: string): Promise<TargetColumn[]> {
    const { rows } = await this.db.query<{ name: string; type: string; scale: number | null }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type,
              CASE WHEN atttypid = 'numeric'::regtype AND atttypmod >= 4 THEN (atttypmod - 4) & 65535 END AS scale
       FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
      [table],
    );
    return rows;
  }
}

interface ManifestEntry {
  url: string;
  mandatory: boolean;
  meta: { content_length: number };
}

function parseManifest(table: string, uri: string, text: string): ManifestEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PermanentError(`COPY ${table}: manifest ${uri} is not JSON: ${(error as Error).message}`);
  }
  const entries = (json as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new PermanentError(`COPY ${table}: manifest ${uri} has no "entries"`);
  }
  return entries.map((raw: unknown, i) => {
    const entry = raw as Partial<ManifestEntry> | null;
    if (typeof entry?.url !== 'string') {
      throw new PermanentError(`COPY ${table}: manifest ${uri} entry ${i + 1} has no "url"`);
    }
    const length = entry.meta?.content_length;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw new CopyMismatchError(
        `COPY ${table}: manifest ${uri} entry ${entry.url} has no meta.content_length, which COPY FORMAT AS PARQUET requires`,
      );
    }
    return { url: entry.url, mandatory: entry.mandatory === true, meta: { content_length: length } };
  });
}

async function describeParquet(engine: Engine, uri: string, path: string): Promise<FileColumn[]> {
  try {
    const described = await engine.rows<{ column_name: string; column_type: string }>(
      `DESCRIBE SELECT * FROM read_parquet(${sqlLiteral(path)})`,
    );
    return described.map((c) => fileColumn(c.column_name, c.column_type));
  } catch (error) {
    throw new CopyMismatchError(`${uri} is not a Parquet file COPY can read: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Values as the warehouse connection takes them: decimals, dates and timestamps as exact text. */
function insertSelect(path: string, columns: FileColumn[]): string {
  const exactText = new Set<FileKind>(['decimal', 'date', 'timestamp']);
  // Aliased c_0, c_1…: positional, and never integer-like keys, which objects would reorder.
  const list = columns.map((c, i) => {
    const value = exactText.has(c.kind) ? `CAST(${quoteIdent(c.name)} AS VARCHAR)` : quoteIdent(c.name);
    return `${value} AS c_${i}`;
  });
  return `SELECT ${list.join(', ')} FROM read_parquet(${sqlLiteral(path)})`;
}

function checkColumns(table: string, uri: string, file: FileColumn[], target: TargetColumn[]): void {
  if (file.length !== target.length) {
    throw new CopyMismatchError(
      `COPY ${table} FROM ${uri}: the Parquet file has ${file.length} columns, the table has ${target.length}; ` +
        'COPY FROM PARQUET maps columns by position and needs equal counts',
    );
  }
  target.forEach((column, i) => {
    const { kind, scale, name } = file[i];
    const scaleDiffers = kind === 'decimal' && column.scale !== null && column.scale !== scale;
    if (!ACCEPTS[kind].test(column.type) || scaleDiffers) {
      const parquetType = kind === 'decimal' ? `decimal(scale ${scale})` : kind;
      throw new CopyMismatchError(
        `COPY ${table} FROM ${uri}: column ${i + 1} is ${parquetType} '${name}' in the file ` +
          `but ${column.type} '${column.name}' in the table`,
      );
    }
  });
}

/**
 * Redshift's CHAR(n)/VARCHAR(n) hold n bytes, not n characters (PostgreSQL counts characters), and COPY
 * FROM PARQUET cannot truncate: the first value whose UTF-8 length exceeds its column fails the COPY.
 */
async function checkByteLengths(
  engine: Engine,
  table: string,
  uri: string,
  path: string,
  file: FileColumn[],
  target: TargetColumn[],
): Promise<void> {
  for (const [i, column] of target.entries()) {
    const limit = /^character(?: varying)?\((\d+)\)$/.exec(column.type);
    if (limit === null || file[i].kind !== 'string') continue;
    const name = quoteIdent(file[i].name);
    const [over] = await engine.rows<{ row: bigint; bytes: bigint; chars: bigint }>(
      `SELECT file_row_number AS row, strlen(${name}) AS bytes, length(${name}) AS chars
       FROM read_parquet(${sqlLiteral(path)}, file_row_number = true)
       WHERE strlen(${name}) > ${Number(limit[1])} ORDER BY file_row_number LIMIT 1`,
    );
    if (over !== undefined) {
      throw new CopyMismatchError(
        `COPY ${table} FROM ${uri}: row ${over.row} column ${i + 1} '${column.name}' is ${over.bytes} bytes of UTF-8 ` +
          `(${over.chars} characters), longer than ${column.type}, whose limit is ${limit[1]} bytes on Redshift ` +
          '(COPY FROM PARQUET has no TRUNCATECOLUMNS)',
      );
    }
  }
}
