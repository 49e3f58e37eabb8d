/**
 * The events micro-batch load (handlers/load-events.ts), without I/O: which lake objects are the
 * work of a run, the COPY manifest that names them, and the one transaction that loads them.
 *
 * Idempotent by design, at two levels:
 * - the ledger (ops.event_load_ledger) remembers each loaded object by key + ETag, so a run loads
 *   only objects that are new or were rewritten (a redelivered stream batch overwrites its key with
 *   new bytes, hence a new ETag);
 * - and even when an object is loaded again, or two objects with different batch boundaries carry
 *   the same events, the fact keeps one row per event_id (DELETE … USING + INSERT of the ranked
 *   stage), and every minute the load touches is RECOUNTED from the deduplicated fact. Adding the
 *   per-batch partials under events/aggregates/ instead would double-count a redelivered batch and
 *   could never correct itself; a recount is exact however the events were split into objects.
 *   Those partials stay lake-side (for Athena-style reads) and are not loaded.
 */
import { parquetMetadata } from 'hyparquet';
import { ConfigurationError, InputFormatError } from '../errors';
import { EVENT_LOAD_LEDGER, copyParquetSql, ident, qualifiedName } from '../sql';
import { UNKNOWN } from './batch';
import { CLICKSTREAM_TABLES } from './tables';

/** Where the stream handler writes event objects (core/clickstream/batch.ts, `clickstreamKeys.events`). */
export const EVENTS_PREFIX = 'events/clickstream/';
/** Manifests and ledger files of each load; outside EVENTS_PREFIX so they are never taken for events. */
export const MANIFESTS_PREFIX = 'events/_manifests/';
/** Objects per run when EVENTS_LOAD_MAX_OBJECTS is not set: one run's COPY and recount stay bounded. */
export const DEFAULT_MAX_OBJECTS = 500;

export const eventLoadKeys = {
  manifest: (loadId: string) => `${MANIFESTS_PREFIX}${assertLoadId(loadId)}.manifest`,
  ledger: (loadId: string) => `${MANIFESTS_PREFIX}${assertLoadId(loadId)}.ledger.parquet`,
} as const;

/** A listed lake object (structurally adapters/ports.ts LakeObject: core does not import the adapters). */
export interface LakeObject {
  key: string;
  etag: string;
  size: number;
}

/** A row of ops.event_load_ledger as read back for planning. */
export interface LedgerEntry {
  object_key: string;
  etag: string;
}

/** A row of ops.event_load_ledger as written (EVENT_LOAD_LEDGER's fields). */
export interface LedgerRow extends LedgerEntry {
  rows: number | null;
  load_id: string;
  loaded_at: Date;
}

export interface EventLoadPlan<T extends LakeObject = LakeObject> {
  /** The objects of this run, oldest hour first, at most `maxObjects`. */
  objects: T[];
  /** New or changed objects left for the next runs by the cap. */
  backlog: number;
}

/** Selects the ledger as it is compared in memory (one query, however many objects it holds). */
export const ledgerSelectSql = (): string =>
  `SELECT object_key, etag FROM ${qualifiedName(EVENT_LOAD_LEDGER)}`;

// Key and ETag joined by a character neither can contain (ETags are quoted hex, keys have no NUL).
const entryId = (key: string, etag: string) => `${key}\u0000${etag}`;

/**
 * The work of a run: Parquet objects under EVENTS_PREFIX whose key + ETag is not in the ledger (new
 * objects, and rewritten ones: same key, another ETag). A Set of key + ETag makes the comparison
 * O(objects + ledger) with one ledger query. Key order is oldest hour first (`dt=…/hour=…`), so a
 * backlog drains in time order; empty objects are skipped (COPY cannot read a 0-byte Parquet file).
 */
export function planEventLoad<T extends LakeObject>(
  listed: readonly T[],
  ledger: readonly LedgerEntry[],
  maxObjects: number,
): EventLoadPlan<T> {
  if (!Number.isSafeInteger(maxObjects) || maxObjects < 1) {
    throw new ConfigurationError(`max objects per load must be a positive integer, got ${maxObjects}`);
  }
  const loaded = new Set<string>();
  for (const entry of ledger) loaded.add(entryId(entry.object_key, entry.etag));
  const work = listed
    .filter(
      (o) =>
        o.key.startsWith(EVENTS_PREFIX) &&
        o.key.endsWith('.parquet') &&
        o.size > 0 &&
        !loaded.has(entryId(o.key, o.etag)),
    )
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { objects: work.slice(0, maxObjects), backlog: Math.max(0, work.length - maxObjects) };
}

/** EVENTS_LOAD_MAX_OBJECTS → a positive integer; unset or empty means DEFAULT_MAX_OBJECTS. */
export function parseMaxObjects(value: string | undefined, name = 'EVENTS_LOAD_MAX_OBJECTS'): number {
  if (value === undefined || value.trim() === '') return DEFAULT_MAX_OBJECTS;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigurationError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

const LOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;

function assertLoadId(loadId: string): string {
  if (!LOAD_ID.test(loadId)) {
    throw new ConfigurationError(`load id must be 1-64 letters, digits, '-' or '_', got ${loadId}`);
  }
  return loadId;
}

/**
 * `events-20240501T120000Z-1a2b3c4d`: sortable by time, unique per run (the suffix), and safe both in a
 * lake key and in SQL (checked by assertLoadId wherever it is used).
 */
export function newLoadId(now: Date, suffix: string): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return assertLoadId(`events-${stamp}-${suffix}`);
}

export interface CopyManifest {
  entries: { url: string; mandatory: boolean; meta: { content_length: number } }[];
}

/**
 * The Redshift COPY manifest of the objects: exactly these are loaded, nothing else under the prefix.
 * `mandatory`: a listed object that vanished fails the COPY rather than loading a partial set the
 * ledger would then record as complete. `meta.content_length` is required for Parquet (Redshift
 * splits the scan and reads the footer by offset).
 */
export function copyManifest(bucket: string, objects: readonly LakeObject[]): CopyManifest {
  return {
    entries: objects.map((o) => ({
      url: `s3://${bucket}/${o.key}`,
      mandatory: true,
      meta: { content_length: o.size },
    })),
  };
}

/** Rows of a Parquet file from its footer alone (the ledger's `rows`, the EventsLoaded metric). */
export function parquetRowCount(bytes: Uint8Array, key: string): number {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    return Number(parquetMetadata(file).num_rows);
  } catch (error) {
    throw new InputFormatError(`${key} is not a Parquet file: ${(error as Error).message}`, { cause: error });
  }
}

export interface EventLoadStatements {
  bucket: string;
  loadId: string;
  iamRoleArn: string;
}

const FACT = CLICKSTREAM_TABLES.fact_click_event;
const EVENT_MINUTE = CLICKSTREAM_TABLES.agg_event_minute;
const ERROR_MINUTE = CLICKSTREAM_TABLES.agg_error_minute;
const STAGE = 'stage_click_event';
const MINUTES = 'stage_click_minute';
const LEDGER_STAGE = 'stage_event_load_ledger';

/**
 * ONE transaction (Warehouse.executeBatch = BatchExecuteStatement) that loads the manifest's objects:
 * readers see the fact, both aggregates and the ledger all before or all after the load, and a failure
 * anywhere (a missing object included) leaves everything as it was.
 *
 * Only SQL that Redshift and PostgreSQL (PGlite) both run the same way: no DISTINCT ON, ON CONFLICT or
 * MERGE, no aliases on the DELETE target, ROW_NUMBER() in a derived table.
 * The statement count is fixed (Data API BatchExecuteStatement takes at most 40) and no statement
 * grows with the number of objects (each is limited to 100 KB): the ledger rows arrive by a COPY of
 * the ledger file the handler wrote next to the manifest, not as literal VALUES.
 */
export function eventLoadStatements({ bucket, loadId, iamRoleArn }: EventLoadStatements): string[] {
  const fact = qualifiedName(FACT);
  const eventMinute = qualifiedName(EVENT_MINUTE);
  const errorMinute = qualifiedName(ERROR_MINUTE);
  const ledger = qualifiedName(EVENT_LOAD_LEDGER);
  const columns = FACT.columns.map((c) => ident(c.name));
  const list = columns.join(', ');
  // One row per event_id; ties broken by ts, then every other column, so Redshift and PostgreSQL
  // keep the same row (ascending puts NULLs last in both).
  const order = ['ts', ...FACT.columns.map((c) => c.name).filter((n) => n !== 'ts' && n !== 'event_id')]
    .map(ident)
    .join(', ');
  // The minutes of the load, and bounds on ts so the recount reads only their range of the fact
  // (zone maps on Redshift); the IN keeps it exact.
  const inMinutes = `DATE_TRUNC('minute', ts) IN (SELECT window_start FROM ${MINUTES})`;
  const tsRange =
    `ts >= (SELECT MIN(window_start) FROM ${MINUTES}) ` +
    `AND ts < (SELECT MAX(window_start) FROM ${MINUTES}) + INTERVAL '1 minute'`;
  const unknown = `'${UNKNOWN}'`;
  return [
    // Serializes loads: a second run that planned the same objects waits, then replaces the same
    // rows again (harmless), instead of racing this one into duplicate event_ids on Redshift, which
    // does not enforce primary keys.
    `LOCK TABLE ${ledger}`,
    `CREATE TEMP TABLE ${STAGE} (LIKE ${fact})`,
    copyParquetSql(STAGE, {
      s3Uri: `s3://${bucket}/${eventLoadKeys.manifest(loadId)}`,
      iamRoleArn,
      manifest: true,
    }),
    // An event already in the fact (an earlier object, a redelivered batch with other boundaries)
    // is replaced, not duplicated. DELETE … USING removes each matching row once, however often its
    // event_id repeats in the stage.
    `DELETE FROM ${fact} USING ${STAGE} WHERE ${fact}.event_id = ${STAGE}.event_id`,
    `INSERT INTO ${fact} (${list}) SELECT ${list} FROM (` +
      `SELECT ${list}, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY ${order}) AS event_rank ` +
      `FROM ${STAGE}) ranked WHERE event_rank = 1`,
    `CREATE TEMP TABLE ${MINUTES} AS SELECT DISTINCT DATE_TRUNC('minute', ts) AS window_start FROM ${STAGE}`,
    // Recount every touched minute from the deduplicated fact: exact when a minute spans several
    // objects or runs, and when an object comes again.
    `DELETE FROM ${eventMinute} WHERE window_start IN (SELECT window_start FROM ${MINUTES})`,
    `INSERT INTO ${eventMinute} (window_start, event_type, events) ` +
      `SELECT DATE_TRUNC('minute', ts), event_type, COUNT(*) FROM ${fact} ` +
      `WHERE ${tsRange} AND ${inMinutes} GROUP BY 1, 2`,
    `DELETE FROM ${errorMinute} WHERE window_start IN (SELECT window_start FROM ${MINUTES})`,
    `INSERT INTO ${errorMinute} (window_start, service, error_code, errors) ` +
      `SELECT DATE_TRUNC('minute', ts), COALESCE(service, ${unknown}), COALESCE(error_code, ${unknown}), COUNT(*) ` +
      `FROM ${fact} WHERE event_type = 'error' AND ${tsRange} AND ${inMinutes} GROUP BY 1, 2, 3`,
    // The ledger last, in the same transaction: an object is recorded exactly when its rows are in.
    // Its old entry goes first, so a rewritten object (new ETag) replaces it.
    `CREATE TEMP TABLE ${LEDGER_STAGE} (LIKE ${ledger})`,
    copyParquetSql(LEDGER_STAGE, { s3Uri: `s3://${bucket}/${eventLoadKeys.ledger(loadId)}`, iamRoleArn }),
    `DELETE FROM ${ledger} USING ${LEDGER_STAGE} WHERE ${ledger}.object_key = ${LEDGER_STAGE}.object_key`,
    `INSERT INTO ${ledger} SELECT * FROM ${LEDGER_STAGE}`,
    `DROP TABLE ${LEDGER_STAGE}`,
    `DROP TABLE ${MINUTES}`,
    `DROP TABLE ${STAGE}`,
  ];
}
