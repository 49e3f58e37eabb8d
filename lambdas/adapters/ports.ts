import type { Logger } from '@aws-lambda-powertools/logger';
import type { MetricName } from '../contract';
import type { Env } from '../core/settings';
import type { WarehouseDialect } from '../core/sql';
import type { FailureHandlerEntry, HandlerEntry, MonitoringHandlerEntry, StreamHandlerEntry } from '../steps';

/**
 * The edges the handlers talk through. On AWS they are backed by S3, PostgreSQL, the Redshift
 * Data API and SNS; on a laptop by s3rver, an embedded PostgreSQL and a console. Handlers never know which.
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
  /** Moves one object to another key (copy, then delete the source). */
  move(from: string, to: string): Promise<void>;
  /** Streams an object to a local file (the engine reads files, never whole objects in memory). */
  download(key: string, path: string): Promise<void>;
  /** Streams a local file to an object. */
  upload(key: string, path: string, contentType?: string): Promise<void>;
  /**
   * Streams a local file to an object only while the object is as the caller read it: `etag` its ETag as
   * listed, undefined for "not there yet" (S3 conditional writes: If-Match, If-None-Match: *). False, and
   * nothing written, when another writer changed it first.
   */
  uploadIf(key: string, path: string, etag: string | undefined, contentType?: string): Promise<boolean>;
}

/** The common subset of node-postgres' Client and the local Database. */
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
  /** The SQL it runs: table DDL differs (core/sql.ts createTableSql), every other statement is shared. */
  readonly dialect: WarehouseDialect;
  executeBatch(statements: string[], options?: BatchOptions): Promise<void>;
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

export interface BatchOptions {
  /**
   * Runs after the last statement, inside the transaction, before COMMIT; when it throws, the transaction
   * rolls back (the fault switch's point, fault-injection.ts). A warehouse that commits server-side in one
   * call (the Redshift Data API) has no such point and does not call it.
   */
  beforeCommit?: () => Promise<void>;
}

export interface Alerts {
  publish(subject: string, message: string): Promise<void>;
}

/** Structured logs: Powertools' Logger on AWS, the same class at a quieter level on a laptop. */
export type Log = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** Counts a step reports (EMF through Powertools Metrics on AWS; recorded per run on a laptop). */
export interface MetricSink {
  /** One datapoint of `name` (lambdas/contract.ts METRIC), with optional dimensions of its own. */
  count(name: MetricName, value: number, dimensions?: Readonly<Record<string, string>>): void;
  /** Emits what was counted since the last flush. */
  flush(): void;
}

/** Where a batch execution stopped, read from its history. */
export interface ExecutionStop {
  /**
   * The state it was in when it failed, timed out or was aborted: the innermost one (a Map iteration's or a
   * Parallel branch's Task by its own name); undefined when it stopped before entering any.
   */
  state?: string;
  /** The run's state (PipelineState, or the RunRequest before ResolveRun) as the last top-level state received it. */
  input?: unknown;
}

/** A state machine's execution history: GetExecutionHistory on AWS, the local runner's event log on a laptop. */
export interface ExecutionHistory {
  stopOf(executionArn: string): Promise<ExecutionStop>;
}

export interface Adapters {
  lake: LakeStore;
  source: SourceDatabase;
  warehouse: Warehouse;
  alerts: Alerts;
  logger: Log;
  metrics: MetricSink;
  /** Only the run-failed step reads executions; other steps' adapters may leave it out. */
  executions?: ExecutionHistory;
  /** Local runner only: whether a batch run's runner lives (core/run-claim.ts ClaimOptions.isRunning). */
  liveRuns?: LiveRuns;
}

export interface LiveRuns {
  isRunning(runId: string): Promise<boolean>;
}

/**
 * A step: settings parsed and validated once from the environment, and a factory that makes the handler
 * over injected adapters. The AWS entry (aws-entry.ts) and the local runtime build the same step.
 */
export type { Env };

export interface Step<S, I, O> {
  /** The handler entry (lambdas/steps.ts): what the fault switch names. */
  readonly name: HandlerEntry | StreamHandlerEntry | MonitoringHandlerEntry | FailureHandlerEntry;
  settings(env: Env): S;
  make(adapters: Adapters, settings: S): (input: I) => Promise<O>;
}
