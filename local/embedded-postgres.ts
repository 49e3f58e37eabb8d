/**
 * PostgreSQL for a laptop: PGlite persisted in a directory, or a real server when a URL is given.
 * Both sides of the pipeline use it: the shop's source database and the stand-in for Redshift.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { SqlClient, SourceDatabase } from '../lambdas/adapters/ports';
import { businessDayFilter } from '../lambdas/core/source-rows';
import { assertBusinessDate } from '../lambdas/core/dates';
import { TransientError } from '../lambdas/core/errors';
import type { SourceOrder, SourceOrderItem } from '../lambdas/core/model';

export interface Database extends SqlClient {
  readonly kind: 'pglite' | 'postgres';
  /** Appends rows, values by column position, to `table` (an SQL name, quoted as needed). */
  insertRows(table: string, rows: readonly (readonly unknown[])[]): Promise<void>;
  /** Waits for exclusive use of the single connection; call the result to hand it back. */
  lock(): Promise<() => void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… — a PostgreSQL server; otherwise PGlite. */
  url?: string;
  /** PGlite data directory (created if missing); in memory when absent. */
  dataDir?: string;
}

/**
 * Result values, the same from PGlite and node-postgres (and as the Redshift adapter maps them):
 * BIGINT → number, NUMERIC → exact text, DATE → 'YYYY-MM-DD', TIMESTAMP (UTC wall clock) and
 * TIMESTAMPTZ → Date. node-postgres would otherwise read TIMESTAMP in the machine's time zone.
 */
const PARSERS: Record<number, (text: string) => unknown> = {
  20: Number,
  1700: (text) => text,
  1082: (text) => text,
  1114: (text) => new Date(`${text.replace(' ', 'T')}Z`),
  // The session runs in UTC, so the offset is '+00' (or '+00:00:00' far in the past).
  1184: (text) => new Date(`${text.replace(' ', 'T').replace(/([+-]\d\d)(?::?\d\d)*$/, '$1:00')}`),
};

function createLock(): () => Promise<() => void> {
  let tail: Promise<void> = Promise.resolve();
  return () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const acquired = tail.then(() => release);
    tail = tail.then(() => released);
    return acquired;
  };
}

const CSV_CHUNK_BYTES = 8 * 1024 * 1024;
const QUOTE = 0x22;
const utf8 = new TextEncoder();

/**
 * Rows → CSV bytes, written straight into large byte chunks: no string per line or per row, which for a
 * million rows is most of the garbage the load would otherwise make.
 */
class CsvWriter {
  private readonly chunks: Uint8Array[] = [];
  private buffer = new Uint8Array(CSV_CHUNK_BYTES);
  private at = 0;

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    this.chunks.push(this.buffer.subarray(0, this.at));
    this.buffer = new Uint8Array(Math.max(CSV_CHUNK_BYTES, bytes));
    this.at = 0;
  }

  byte(code: number): void {
    this.ensure(1);
    this.buffer[this.at++] = code;
  }

  /** ASCII text (numbers, dates) as is. */
  ascii(text: string): void {
    this.ensure(text.length);
    const { buffer } = this;
    let at = this.at;
    for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
    this.at = at;
  }

  /** A quoted field, quotes doubled; UTF-8 beyond ASCII. */
  quoted(text: string): void {
    const n = text.length;
    this.ensure(2 * n + 2);
    const { buffer } = this;
    let at = this.at;
    buffer[at++] = QUOTE;
    for (let i = 0; i < n; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) {
        // Rare: let the encoder write the rest (at most 3 bytes per UTF-16 unit, doubled quotes).
        const rest = text.slice(i).replace(/"/g, '""');
        this.at = at;
        this.ensure(3 * rest.length + 1);
        at = this.at + utf8.encodeInto(rest, this.buffer.subarray(this.at)).written;
        this.buffer[at++] = QUOTE;
        this.at = at;
        return;
      }
      buffer[at++] = code;
      if (code === QUOTE) buffer[at++] = QUOTE;
    }
    buffer[at++] = QUOTE;
    this.at = at;
  }

  blob(): Blob {
    this.chunks.push(this.buffer.subarray(0, this.at));
    return new Blob(this.chunks);
  }
}

/** CSV as PostgreSQL's COPY reads it: NULL is an empty unquoted field, so '' stays a quoted "". */
function toCsvBlob(rows: readonly (readonly unknown[])[]): Blob {
  const csv = new CsvWriter();
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let c = 0; c < row.length; c++) {
      if (c > 0) csv.byte(0x2c);
      const value = row[c];
      if (value === null || value === undefined) continue;
      if (typeof value === 'string') csv.quoted(value);
      else if (typeof value === 'number' || typeof value === 'bigint') csv.ascii(String(value));
      else if (value instanceof Date) csv.ascii(value.toISOString());
      else if (typeof value === 'boolean') csv.byte(value ? 0x74 : 0x66);
      else csv.quoted(String(value));
    }
    csv.byte(0x0a);
  }
  return csv.blob();
}

/** Parameter values for node-postgres: Dates as ISO UTC text (it would format them in local time). */
function param(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  return value ?? null;
}

const MAX_PARAMS = 65_535;

export function fromPGlite(db: PGlite): Database {
  return {
    kind: 'pglite',
    query: async <T>(sql: string, params?: unknown[]) => db.query<T>(sql, params),
    async insertRows(table, rows) {
      if (rows.length === 0) return;
      // COPY from an in-memory blob is PGlite's fastest load path.
      await db.query(`COPY ${table} FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: toCsvBlob(rows) });
    },
    lock: createLock(),
    close: () => db.close(),
  };
}

export function fromPgClient(client: pg.Client): Database {
  return {
    kind: 'postgres',
    query: async <T>(sql: string, params?: unknown[]) => {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async insertRows(table, rows) {
      if (rows.length === 0) return;
      const width = rows[0].length;
      const batch = Math.max(1, Math.min(1000, Math.floor(MAX_PARAMS / width)));
      for (let start = 0; start < rows.length; start += batch) {
        const slice = rows.slice(start, start + batch);
        const tuples = slice.map(
          (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`)})`,
        );
        await client.query(`INSERT INTO ${table} VALUES ${tuples.join(',')}`, slice.flat().map(param));
      }
    },
    lock: createLock(),
    close: () => client.end(),
  };
}

export async function openDatabase({ url, dataDir }: DatabaseOptions): Promise<Database> {
  let db: Database;
  if (url) {
    const client = new pg.Client({
      connectionString: url,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          PARSERS[oid] ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    try {
      await client.connect();
    } catch (error) {
      throw new TransientError(
        `Cannot connect to PostgreSQL at ${redact(url)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    db = fromPgClient(client);
  } else {
    if (dataDir) await mkdir(dataDir, { recursive: true });
    db = fromPGlite(await PGlite.create(dataDir, { parsers: PARSERS }));
  }
  await db.query(`SET TIME ZONE 'UTC'`);
  return db;
}

const redact = (url: string) => url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/** The shop database over one connection: each extract holds it until release (a ROLLBACK ends whatever it left open). */
export class PostgresSourceDatabase implements SourceDatabase {
  constructor(private readonly db: Database) {}

  async connect(): Promise<SqlClient & { release(): Promise<void> }> {
    const unlock = await this.db.lock();
    const db = this.db;
    return {
      query: <T>(sql: string, params?: unknown[]) => db.query<T>(sql, params),
      async release() {
        try {
          await db.query('ROLLBACK');
        } finally {
          unlock();
        }
      },
    };
  }
}

/** The source contract of design.md, verbatim, plus the indexes an extract by date needs. */
export const SOURCE_DDL = [
  `CREATE TABLE IF NOT EXISTS orders (
  order_id     TEXT,
  customer_id  TEXT,
  order_ts     TIMESTAMPTZ,
  status       TEXT,
  currency     TEXT,
  total_amount NUMERIC(12,2),
  updated_at   TIMESTAMPTZ
)`,
  `CREATE TABLE IF NOT EXISTS order_items (
  order_id   TEXT,
  line_no    INT,
  product_id TEXT,
  quantity   INT,
  unit_price NUMERIC(12,2)
)`,
  'CREATE INDEX IF NOT EXISTS orders_order_ts_idx ON orders (order_ts)',
  'CREATE INDEX IF NOT EXISTS order_items_order_id_idx ON order_items (order_id)',
];

/**
 * Replaces the business date's source rows with `rows`, kept exactly as given (nulls, dirt and all).
 * Removed first: the date's orders (the extract's own filter), any order with an id in `rows.orders`
 * (so a reseed also drops stray rows an earlier seed put on other days) and their items.
 */
export async function seedSourceDatabase(
  db: Database,
  rows: { orders: readonly SourceOrder[]; items: readonly SourceOrderItem[] },
  businessDate: string,
): Promise<void> {
  const filter = businessDayFilter(assertBusinessDate(businessDate, 'businessDate'));
  const ids = [...new Set(rows.orders.map((o) => o.order_id).filter((id) => id !== null))];
  const unlock = await db.lock();
  try {
    await db.query('BEGIN');
    for (const ddl of SOURCE_DDL) await db.query(ddl);
    await db.query(
      `DELETE FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE ${filter}) OR order_id = ANY($1)`,
      [ids],
    );
    await db.query(`DELETE FROM orders WHERE ${filter} OR order_id = ANY($1)`, [ids]);
    await db.insertRows(
      'orders',
      rows.orders.map((o) => [
        o.order_id,
        o.customer_id,
        o.order_ts,
        o.status,
        o.currency,
        o.total_amount,
        o.updated_at,
      ]),
    );
    await db.insertRows(
      'order_items',
      rows.items.map((i) => [i.order_id, i.line_no, i.product_id, i.quantity, i.unit_price]),
    );
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    unlock();
  }
}
