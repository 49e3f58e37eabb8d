/**
 * DuckDB, the data engine of the steps: reads and writes Parquet natively, runs the transform and the
 * quality rules as SQL, and spills to `tempDirectory` past `memoryLimitMb`, so a day of any size runs
 * within a function's memory. One Engine per invocation; nothing is shared between invocations.
 */
import {
  DuckDBInstance,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import { ConfigurationError } from '../errors';
import { HANDLER_ENV } from '../../contract';
import { engineMemoryLimitMb, engineThreads } from './sizing';

export interface EngineSettings {
  /** DuckDB's memory_limit; past it, operators spill to `tempDirectory`. */
  memoryLimitMb: number;
  /** Where spilled data and the step's working files live (Lambda: under /tmp). */
  tempDirectory: string;
  /** Worker threads: a Lambda gets one vCPU per 1,769 MB. */
  threads: number;
}

/**
 * Engine settings from a function's environment: memory from AWS_LAMBDA_FUNCTION_MEMORY_SIZE (Lambda sets
 * it) or `CARTFLOW_ENGINE_MEMORY_MB` (never more than the function's memory leaves DuckDB), spill
 * directory from TMPDIR, threads from the vCPUs that memory buys.
 */
export function engineSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): EngineSettings {
  const explicit = env[HANDLER_ENV.engineMemoryMb];
  const functionMemory = env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
  let memoryLimitMb: number;
  if (explicit !== undefined && explicit !== '') {
    memoryLimitMb = /^\d+$/.test(explicit) ? Number(explicit) : NaN;
    if (!(Number.isInteger(memoryLimitMb) && memoryLimitMb >= 64)) {
      throw new ConfigurationError(
        `${HANDLER_ENV.engineMemoryMb}="${explicit}" must be a whole number of megabytes, at least 64.`,
      );
    }
    // Past this share, the rest of the process no longer fits the function: Lambda would kill it.
    const most = functionMemory ? engineMemoryLimitMb(Number(functionMemory)) : Infinity;
    if (memoryLimitMb > most) {
      throw new ConfigurationError(
        `${HANDLER_ENV.engineMemoryMb}="${explicit}" must be at most ` +
          `${most} MB in a function of ${functionMemory} MB ` +
          `(AWS_LAMBDA_FUNCTION_MEMORY_SIZE): the rest is Node, the binding and DuckDB's memory outside its limit.`,
      );
    }
  } else {
    const total = functionMemory ? Number(functionMemory) : 2048;
    memoryLimitMb = engineMemoryLimitMb(total);
  }
  const threads = functionMemory ? engineThreads(Number(functionMemory)) : 2;
  return { memoryLimitMb, tempDirectory: `${env.TMPDIR || '/tmp'}/cartflow-duckdb`, threads };
}

/** A string as an SQL literal: single quotes doubled. */
export const sqlLiteral = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/** A list of files as DuckDB's list literal, for read_parquet([...]) / read_json([...]). */
export const fileList = (paths: readonly string[]): string => `[${paths.map(sqlLiteral).join(', ')}]`;

export interface ParquetWriteOptions {
  /** Rows per row group (DuckDB's default is 122,880). */
  rowGroupSize?: number;
}

export class Engine {
  /** The second connection (`second`), once opened. */
  private other: Promise<Engine> | undefined;
  private opened: Engine | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly settings: EngineSettings,
    /** False for a second connection: closing it leaves the database open. */
    private readonly ownsInstance = true,
  ) {}

  static async open(settings: EngineSettings): Promise<Engine> {
    const instance = await DuckDBInstance.create(':memory:', {
      memory_limit: `${settings.memoryLimitMb}MB`,
      temp_directory: settings.tempDirectory,
      threads: String(settings.threads),
      // Results in insertion order: deterministic files, and the "first copy wins" rules stay exact.
      preserve_insertion_order: 'true',
      // No extension is ever downloaded: parquet and json are linked into the binding.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    });
    return new Engine(instance, await Engine.connect(instance), settings);
  }

  private static async connect(instance: DuckDBInstance): Promise<DuckDBConnection> {
    const connection = await instance.connect();
    // ICU (linked in) registers TimeZone only once loaded, so it is not a creation option: set it here.
    await connection.run("SET TimeZone = 'UTC'");
    return connection;
  }

  /**
   * A second connection to the same database, opened once and kept: a statement on it runs alongside one
   * on this connection (a query that reads less than one row group runs on one thread). It sees the
   * database's tables, not this connection's TEMP tables.
   */
  second(): Promise<Engine> {
    this.other ??= Engine.connect(this.instance).then((connection) => {
      this.opened = new Engine(this.instance, connection, this.settings, false);
      return this.opened;
    });
    return this.other;
  }

  /** Runs statements (separated by ';'); returns nothing. */
  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    await this.connection.run(sql, params);
  }

  /** Rows as plain JS objects (BIGINT → bigint, DECIMAL → number-like via getRowObjectsJS, TIMESTAMP → Date). */
  async rows<T = Record<string, unknown>>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    const reader = await this.connection.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as T[];
  }

  /**
   * Rows as `rows` gives them, in batches of at least `batchRows` (the last one smaller) as the query streams:
   * the whole result is never in memory. No other statement may run on the engine until the batches end.
   */
  async *rowBatches<T = Record<string, unknown>>(sql: string, batchRows: number): AsyncGenerator<T[]> {
    const result = await this.connection.stream(sql);
    let batch: T[] = [];
    for await (const rows of result.yieldRowObjectJs()) {
      batch.push(...(rows as T[]));
      if (batch.length >= batchRows) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** The first column of the first row. */
  async scalar<T>(sql: string, params?: DuckDBValue[]): Promise<T> {
    const reader = await this.connection.runAndReadAll(sql, params);
    return reader.getRowsJS()[0]?.[0] as T;
  }

  /**
   * Writes a query's result to one Parquet file, the way Redshift's COPY reads it: format v1 data pages
   * (PARQUET_VERSION V1, DuckDB's default, as Spark and pyarrow write by default), Snappy pages, DECIMAL(p≤18)
   * on INT64 and TIMESTAMP as INT64 micros. Returns the rows written.
   */
  async writeParquet(select: string, path: string, options: ParquetWriteOptions = {}): Promise<number> {
    const groups = options.rowGroupSize ? `, ROW_GROUP_SIZE ${options.rowGroupSize}` : '';
    const reader = await this.connection.runAndReadAll(
      `COPY (${select}) TO ${sqlLiteral(path)} (FORMAT PARQUET, COMPRESSION SNAPPY, PARQUET_VERSION V1${groups})`,
    );
    return Number(reader.getRowsJS()[0]?.[0] ?? 0);
  }

  /** DuckDB's appender on a table: rows from JS go in without SQL text (core/engine/table-io.ts). */
  async appender(table: string): Promise<DuckDBAppender> {
    return this.connection.createAppender(table);
  }

  close(): void {
    this.opened?.close();
    this.connection.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}
