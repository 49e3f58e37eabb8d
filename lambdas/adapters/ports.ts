/**
 * The edges the handlers talk through. On AWS they are backed by S3, PostgreSQL, the Redshift
 * Data API and SNS; on a laptop by s3rver, PGlite and a console. Handlers never know which.
 */

export interface LakeObject {
  key: string;
  etag: string;
  size: number;
  lastModified?: Date;
}

/** The data-lake bucket. Keys are relative to the bucket (see core/layout.ts). */
export interface LakeStore {
  readonly bucket: string;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  get(key: string): Promise<Uint8Array>;
  getText(key: string): Promise<string>;
  /** All objects under a prefix, following pagination. */
  list(prefix: string): Promise<LakeObject[]>;
  deletePrefix(prefix: string): Promise<number>;
}

/** The common subset of node-postgres' Client and PGlite. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

/** The shop's OLTP database, read-only. */
export interface SourceDatabase {
  /** A connection for one extract; `release` closes or returns it. */
  connect(): Promise<SqlClient & { release(): Promise<void> }>;
}

/** The warehouse. `executeBatch` runs statements as ONE transaction (Redshift Data API BatchExecuteStatement). */
export interface Warehouse {
  executeBatch(statements: string[]): Promise<void>;
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export interface Alerts {
  publish(subject: string, message: string): Promise<void>;
}

export interface Adapters {
  lake: LakeStore;
  source: SourceDatabase;
  warehouse: Warehouse;
  alerts: Alerts;
}
