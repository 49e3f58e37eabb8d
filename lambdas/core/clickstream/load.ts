/**
 * The events micro-batch load (handlers/load-events.ts), without I/O: how new objects are found, which
 * of them are the work of a run, how they are compacted, the COPY manifest that names the compacted
 * files, and the one transaction that loads them.
 *
 * Finding new objects without listing events/clickstream/: each stream delivery writes an arrival
 * notice under a time-ordered key (`events/_arrivals/dt=…/hour=…/<UTC stamp>-<range>.json`) naming its
 * event objects. The loader keeps a watermark in the lake and lists only the arrival hours after it,
 * so its cost follows the new data, not the history; an idle run reads the lake and nothing else.
 *
 * Idempotent by design, at two levels:
 * - the ledger (ops.event_load_ledger) remembers each loaded object by key + ETag, and only the
 *   candidate keys are looked up in it, so a run loads only objects that are new or were rewritten (a
 *   redelivered stream batch overwrites its key with new bytes, hence a new ETag);
 * - and even when an object is loaded again, or two objects with different batch boundaries carry
 *   the same events, the fact keeps one row per event_id (DELETE … USING + INSERT of the ranked
 *   stage), and every minute the load touches is RECOUNTED from the deduplicated fact. Adding the
 *   per-batch partials under events/aggregates/ instead would double-count a redelivered batch and
 *   could never correct itself; a recount is exact however the events were split into objects.
 *   Those partials stay lake-side (for Athena-style reads) and are not loaded.
 */
import { createHash } from 'node:crypto';
import { ConfigurationError, InputFormatError, LoaderStateMissingError } from '../errors';
import { EVENT_LOAD_LEDGER, EVENT_LOAD_MUTEX, copyParquetSql, ident, literal, qualifiedName } from '../sql';
import { UNKNOWN, hourPath, rangeName, type OffsetRange } from './batch';
import { CLICKSTREAM_TABLES } from './tables';
import { ARRIVAL_CLOCK_MARGIN_SECONDS, EVENT_LOAD_ID_PREFIX, LAKE } from '../../contract';

/** Where the stream handler writes event objects (core/clickstream/batch.ts, `clickstreamKeys.events`). */
export const EVENTS_PREFIX = LAKE.clickstreamEvents;
/** The loader's own area: manifests, ledger files and compacted files. */
export const MANIFESTS_PREFIX = LAKE.eventManifests;
/** Arrival notices of the stream handler, under time-ordered keys. */
export const ARRIVALS_PREFIX = LAKE.eventArrivals;
/** Hour-compacted event files: what COPY reads. */
export const COMPACTED_PREFIX = LAKE.eventCompacted;
/** The loader's position over the arrival notices: under state/, which no lifecycle rule expires. */
export const ARRIVALS_STATE_KEY = `${LAKE.eventLoadState}arrivals.json`;
/**
 * Where the state was kept before, under events/ (whose lifecycle may expire it): read when the state is
 * not at ARRIVALS_STATE_KEY yet, so a deployed loader moves over without losing its position.
 */
export const LEGACY_ARRIVALS_STATE_KEY = `${LAKE.eventLoadStateLegacy}arrivals.json`;
/** Objects per run when EVENTS_LOAD_MAX_OBJECTS is not set: one run's COPY and recount stay bounded. */
export const DEFAULT_MAX_OBJECTS = 500;
/** Compacted files are at least this big, or the whole of an hour's new objects (Firehose buffers 64–128 MB). */
export const DEFAULT_COMPACT_TARGET_MB = 64;
/**
 * When EVENTS_ARRIVAL_CLOSE_SECONDS is not set: the longest stream function an MSK mapping allows
 * (14 minutes) and the clock margin, so no notice of a closed arrival hour can still land.
 */
export const DEFAULT_CLOSE_SECONDS = 14 * 60 + ARRIVAL_CLOCK_MARGIN_SECONDS;

export const eventLoadKeys = {
  manifest: (loadId: string) => `${MANIFESTS_PREFIX}${assertLoadId(loadId)}.manifest`,
  ledger: (loadId: string) => `${MANIFESTS_PREFIX}${assertLoadId(loadId)}.ledger.parquet`,
} as const;

const HOUR_MS = 3_600_000;

/** `20240501T120000123Z`: sorts as time does. */
const stamp = (at: Date) => at.toISOString().replace(/[-:.]/g, '');
const arrivalHour = (at: Date) => `${ARRIVALS_PREFIX}${hourPath(at)}/`;

/** The arrival notice of a delivery, dated by the writer's clock when the delivery's objects are written. */
export const arrivalKey = (at: Date, range: OffsetRange): string =>
  `${arrivalHour(at)}${stamp(at)}-${rangeName(range)}.json`;

/** An arrival hour as its notices' keys hold it, `dt=2024-05-01/hour=12`: sorts as time does. */
const HOUR_ID = /^dt=(\d{4})-(\d{2})-(\d{2})\/hour=(\d{2})$/;

const hourId = (ms: number) => hourPath(new Date(ms));

function hourStart(hour: string): number {
  const m = HOUR_ID.exec(hour);
  if (m === null) throw new InputFormatError(`${hour} is not an arrival hour (dt=YYYY-MM-DD/hour=HH)`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
}

/** The arrival hour of a notice key; undefined for any other key under the arrivals prefix. */
export function noticeHour(key: string): string | undefined {
  if (!key.startsWith(ARRIVALS_PREFIX) || !key.endsWith('.json')) return undefined;
  const hour = key.slice(ARRIVALS_PREFIX.length, key.lastIndexOf('/'));
  return HOUR_ID.test(hour) ? hour : undefined;
}

/**
 * The loader's position: every notice of an hour before `openFrom` is done, and so are those of the
 * open hours listed in `done`. No watermark passes a notice by its stamp: an hour is left only when it is
 * closed (advanceArrivals), so a notice that lands late is still found in its open hour.
 */
export interface ArrivalState {
  /** The oldest open arrival hour (`dt=…/hour=…`); '' before the first run. */
  openFrom: string;
  done: string[];
}

export const START_STATE: ArrivalState = { openFrom: '', done: [] };

const isStrings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string');

/** The state as stored; the earlier format (a watermark key and the done notices above it) goes on from the watermark's hour. */
export function parseArrivalState(text: string): ArrivalState {
  const json = JSON.parse(text) as Record<string, unknown>;
  const { openFrom, done, watermark, recent } = json;
  if (typeof openFrom === 'string' && (openFrom === '' || HOUR_ID.test(openFrom)) && isStrings(done)) {
    return { openFrom, done };
  }
  if (typeof watermark === 'string' && isStrings(recent)) {
    const hour = watermark.slice(ARRIVALS_PREFIX.length, watermark.lastIndexOf('/'));
    if (watermark === '' || (watermark.startsWith(ARRIVALS_PREFIX) && HOUR_ID.test(hour))) {
      return { openFrom: watermark === '' ? '' : hour, done: recent };
    }
  }
  throw new InputFormatError(
    `${ARRIVALS_STATE_KEY}: expected {"openFrom": "dt=YYYY-MM-DD/hour=HH", "done": [notice keys]}`,
  );
}

/**
 * The state that sets a lost position again (`cartflow events-resume`): every arrival hour from the start
 * of `date` (UTC) open, nothing done. Notices of loaded objects are read again and skipped by the ledger.
 */
export const resumeState = (date: string): ArrivalState => ({ openFrom: `dt=${date}/hour=00`, done: [] });

/** Whether anything was ever loaded: tells a first run (start from nothing) from a lost state. */
export const ledgerAnySql = (): string =>
  `SELECT object_key FROM ${qualifiedName(EVENT_LOAD_LEDGER)} LIMIT 1`;

/**
 * The error of a loader whose state is gone after it has loaded: it names the key and how to set a
 * position again (a fresh scan of every notice ever written would outlast the function's timeout).
 */
export function missingStateError(bucket: string): LoaderStateMissingError {
  return new LoaderStateMissingError(
    `s3://${bucket}/${ARRIVALS_STATE_KEY} is missing, but ${qualifiedName(EVENT_LOAD_LEDGER)} holds loaded ` +
      `objects: the events loader lost its position and will not rescan every arrival notice ever written. ` +
      `To resume, run \`cartflow events-resume --from YYYY-MM-DD [--env <name>]\` with the UTC date of the ` +
      `last load (SELECT MAX(loaded_at) FROM ${qualifiedName(EVENT_LOAD_LEDGER)}) or earlier: an earlier date ` +
      `is safe, as the ledger skips loaded objects, only slower. It writes ` +
      `${JSON.stringify(resumeState('YYYY-MM-DD'))} to that key.`,
  );
}

/**
 * The prefixes to list for new notices: each open hour up to the hour after `now` (a writer's clock may
 * run ahead), or the whole arrivals prefix on a first run.
 */
export function arrivalPrefixes(state: ArrivalState, now: Date): string[] {
  if (state.openFrom === '') return [ARRIVALS_PREFIX];
  const prefixes: string[] = [];
  const to = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS;
  for (let hour = hourStart(state.openFrom); hour <= to; hour += HOUR_MS) {
    prefixes.push(`${ARRIVALS_PREFIX}${hourId(hour)}/`);
  }
  return prefixes;
}

/** Listed notices not done yet, in arrival order (other keys under the prefix are ignored). */
export function newArrivals(listed: readonly string[], state: ArrivalState): string[] {
  const done = new Set(state.done);
  return listed.filter((k) => noticeHour(k) !== undefined && !done.has(k)).sort();
}

/**
 * The state after a run that finished `processed` and left `pending` for later. Open hours close in
 * order, each once `closeMs` has passed since it ended (no notice of it can appear any more) and none of
 * its notices is pending; a closed hour's done notices are forgotten and it is never listed again. That
 * last listing is the hour's reconciliation: whatever landed late in it is found there, and a clean hour
 * yields nothing. A first run starts at its oldest notice's hour, or at the oldest hour still open to
 * late notices.
 */
export function advanceArrivals(
  state: ArrivalState,
  processed: readonly string[],
  pending: readonly string[],
  now: Date,
  closeMs: number,
): ArrivalState {
  const pendingHours = new Set(pending.map(noticeHour));
  let from: number;
  if (state.openFrom !== '') {
    from = hourStart(state.openFrom);
  } else {
    const oldest = [...processed, ...pending]
      .map(noticeHour)
      .filter((h) => h !== undefined)
      .sort()[0];
    const lateOpen = Math.floor((now.getTime() - closeMs) / HOUR_MS) * HOUR_MS;
    from = oldest === undefined ? lateOpen : Math.min(hourStart(oldest), lateOpen);
  }
  while (from + HOUR_MS + closeMs <= now.getTime() && !pendingHours.has(hourId(from))) from += HOUR_MS;
  const openFrom = hourId(from);
  const done = [...new Set([...state.done, ...processed])].filter((k) => (noticeHour(k) ?? '') >= openFrom);
  return { openFrom, done: done.sort() };
}

/** A notice's body: the event object keys of one delivery. */
export function parseArrivalNotice(key: string, text: string): string[] {
  const json = JSON.parse(text) as { objects?: unknown };
  if (!Array.isArray(json.objects) || json.objects.some((o) => typeof o !== 'string')) {
    throw new InputFormatError(`${key}: expected {"objects": [event object keys]}`);
  }
  return json.objects as string[];
}

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

export interface EventLoadPlan<T extends LakeObject = LakeObject> {
  /** The objects of this run, oldest hour first, at most `maxObjects`. */
  objects: T[];
  /** New or changed objects left for the next runs by the cap. */
  rest: T[];
}

/** Keys per ledger lookup: the statement stays far below the Data API's 100 KB. */
export const LEDGER_LOOKUP_KEYS = 500;

/** Selects the ledger entries of some candidate keys (never the whole ledger). */
export const ledgerSelectSql = (keys: readonly string[]): string =>
  `SELECT object_key, etag FROM ${qualifiedName(EVENT_LOAD_LEDGER)} WHERE object_key IN (${keys
    .map(literal)
    .join(', ')})`;

// Key and ETag joined by a character neither can contain (ETags are quoted hex, keys have no NUL).
const entryId = (key: string, etag: string) => `${key}\u0000${etag}`;

/**
 * The work of a run among the candidates: Parquet objects under EVENTS_PREFIX whose key + ETag is not
 * in the ledger (new objects, and rewritten ones: same key, another ETag). Key order is oldest hour
 * first (`dt=…/hour=…`), so a backlog drains in time order; empty objects are skipped (COPY cannot
 * read a 0-byte Parquet file).
 */
export function planEventLoad<T extends LakeObject>(
  candidates: readonly T[],
  ledger: readonly LedgerEntry[],
  maxObjects: number,
): EventLoadPlan<T> {
  const loaded = new Set<string>();
  for (const entry of ledger) loaded.add(entryId(entry.object_key, entry.etag));
  const work = candidates
    .filter(
      (o) =>
        o.key.startsWith(EVENTS_PREFIX) &&
        o.key.endsWith('.parquet') &&
        o.size > 0 &&
        !loaded.has(entryId(o.key, o.etag)),
    )
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { objects: work.slice(0, maxObjects), rest: work.slice(maxObjects) };
}

/** A compacted file: the objects it gathers (in key order) and its deterministic key. */
export interface CompactionPart<T extends LakeObject = LakeObject> {
  key: string;
  objects: T[];
}

/** `dt=…/hour=…` of an event object key. */
const hourOf = (key: string) => key.slice(EVENTS_PREFIX.length, key.lastIndexOf('/'));

/**
 * The compacted files of a run: per event hour, the hour's objects of this run in key order, cut into
 * parts of at least `targetBytes` (the last part joins the one before when it is smaller, so a part
 * is either that big or all of the hour's objects). The name carries a digest of the hour's object keys
 * and ETags: a retry of the same work rewrites the same files, and other work never overwrites them.
 */
export function planCompaction<T extends LakeObject>(
  objects: readonly T[],
  targetBytes: number,
): CompactionPart<T>[] {
  const byHour = new Map<string, T[]>();
  for (const o of [...objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const hour = hourOf(o.key);
    const list = byHour.get(hour);
    if (list === undefined) byHour.set(hour, [o]);
    else list.push(o);
  }
  const parts: CompactionPart<T>[] = [];
  for (const [hour, list] of byHour) {
    const digest = createHash('sha256')
      .update(list.map((o) => `${o.key}\u0000${o.etag}`).join('\n'))
      .digest('hex')
      .slice(0, 16);
    const groups: T[][] = [];
    let current: T[] = [];
    let bytes = 0;
    for (const o of list) {
      current.push(o);
      bytes += o.size;
      if (bytes >= targetBytes) {
        groups.push(current);
        current = [];
        bytes = 0;
      }
    }
    if (current.length > 0) {
      if (groups.length > 0) groups[groups.length - 1].push(...current);
      else groups.push(current);
    }
    groups.forEach((group, i) =>
      parts.push({
        key: `${COMPACTED_PREFIX}${hour}/${digest}-${String(i).padStart(3, '0')}.parquet`,
        objects: group,
      }),
    );
  }
  return parts;
}

/** A positive whole number from the environment; unset or empty means `fallback`. */
export function parsePositive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
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
  const compact = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  // The prefix the manifests' lifecycle rule matches (lib/constructs/data-lake.ts).
  return assertLoadId(`${EVENT_LOAD_ID_PREFIX}${compact}-${suffix}`);
}

export interface CopyManifest {
  entries: { url: string; mandatory: boolean; meta: { content_length: number } }[];
}

/**
 * The Redshift COPY manifest of the files: exactly these are loaded, nothing else under the prefix.
 * `mandatory`: a file that vanished fails the COPY rather than loading a partial set the ledger would
 * then record as complete. `meta.content_length` is required for Parquet (Redshift splits the scan and
 * reads the footer by offset).
 */
export function copyManifest(bucket: string, files: readonly { key: string; size: number }[]): CopyManifest {
  return {
    entries: files.map((o) => ({
      url: `s3://${bucket}/${o.key}`,
      mandatory: true,
      meta: { content_length: o.size },
    })),
  };
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
 * Only SQL that Redshift and PostgreSQL both run the same way: no DISTINCT ON, ON CONFLICT or
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
    // does not enforce primary keys. The lock is on a table nobody reads, so readers of the ledger,
    // the fact and the aggregates never wait for a load.
    `LOCK TABLE ${qualifiedName(EVENT_LOAD_MUTEX)}`,
    `CREATE TEMP TABLE ${STAGE} (LIKE ${fact})`,
    copyParquetSql(STAGE, {
      s3Uri: `s3://${bucket}/${eventLoadKeys.manifest(loadId)}`,
      iamRoleArn,
      manifest: true,
    }),
    // An event already in the fact (an earlier object, a redelivered batch with other boundaries)
    // is replaced, not duplicated. DELETE … USING removes each matching row once, however often its
    // event_id repeats in the stage. Only the batch's dates are searched (the sort key's first column,
    // so Redshift skips every other date's blocks): a redelivery carries the event's own ts, hence
    // its date, and the cost of a load follows the batch, not the history.
    `DELETE FROM ${fact} USING ${STAGE} WHERE ${fact}.event_id = ${STAGE}.event_id ` +
      `AND ${fact}.event_date >= (SELECT MIN(event_date) FROM ${STAGE}) ` +
      `AND ${fact}.event_date <= (SELECT MAX(event_date) FROM ${STAGE})`,
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
