/**
 * One MSK batch → the lake files it becomes, in SQL: the batch's records are read by DuckDB in bulk,
 * validated (event.ts), deduplicated by event_id, split by topic-partition and event hour, and counted
 * in 1-minute windows. Every key is a function of the batch alone (topic, partition, offset range,
 * event hour), so a redelivered batch overwrites the objects of its first delivery instead of adding
 * new ones: that is what makes the stream exactly once in S3.
 */
import { writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { sqlLiteral, type Engine } from '../engine/engine';
import { InputFormatError } from '../errors';
import { EVENT_TYPES, validateEventsSql } from './event';
import { CLICKSTREAM_TABLES } from './tables';
import { LAKE } from '../../contract';

/** The records of one topic-partition in a batch: the lowest and highest offsets seen. */
export interface OffsetRange {
  topic: string;
  partition: number;
  first: number;
  last: number;
}

export interface BatchStats {
  records: number;
  /** Valid events kept after dropping duplicates: the rows written. */
  events: number;
  duplicates: number;
  quarantined: number;
  partitions: number;
}

/** A file the batch wrote in the workspace, and the lake key it goes to. */
export interface BatchFile {
  key: string;
  path: string;
  contentType: string;
}

export interface BatchResult {
  /** Event objects first, then minute aggregates, then quarantine, each in key order. */
  files: BatchFile[];
  /** The keys of the event objects (what load-events loads). */
  eventKeys: string[];
  /** The batch's offset ranges, by topic then partition. */
  ranges: OffsetRange[];
  stats: BatchStats;
}

/** Stands in for a missing service or error code in the error aggregate's key. */
export const UNKNOWN = 'unknown';
export const PARQUET = 'application/vnd.apache.parquet';
const JSON_LINES = 'application/x-ndjson';

export const rangeName = (r: OffsetRange) => `${r.topic}-${r.partition}-${r.first}-${r.last}`;
export const hourPath = (hour: Date) => {
  const iso = hour.toISOString();
  return `dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
};

/** Lake keys of the stream (docs/architecture.md: `<topic>-<partition>-<firstOffset>-<lastOffset>`). */
export const clickstreamKeys = {
  events: (hour: Date, range: OffsetRange) =>
    `${LAKE.clickstreamEvents}${hourPath(hour)}/${rangeName(range)}.parquet`,
  eventMinute: (hour: Date, range: OffsetRange) =>
    `${LAKE.eventAggregates}event_minute/${hourPath(hour)}/${rangeName(range)}.parquet`,
  errorMinute: (hour: Date, range: OffsetRange) =>
    `${LAKE.eventAggregates}error_minute/${hourPath(hour)}/${rangeName(range)}.parquet`,
  /** `at`: the Kafka timestamp of the range's first record, so the key does not depend on event content. */
  quarantine: (at: Date, range: OffsetRange) =>
    `${LAKE.clickstreamQuarantine}dt=${at.toISOString().slice(0, 10)}/${rangeName(range)}.jsonl`,
} as const;

const FACT_COLUMNS = CLICKSTREAM_TABLES.fact_click_event.columns.map((c) => `"${c.name}"`).join(', ');
const SAFE_OFFSET = Number.MAX_SAFE_INTEGER;
/**
 * The batch's checked records and its kept events: tables of the database, not TEMP, so that the
 * engine's second connection reads them too. Replaced by each batch.
 */
const CHECKED = 'batch_checked';
const KEPT = 'batch_kept';

/**
 * The batch's records in DuckDB: the fields read of each MSK record (others are ignored), as text, in
 * delivery order (seqOf). Replaced by each batch, so the previous batch's rows are freed. One table
 * per engine thread, each holding a contiguous share of the batch: DuckDB scans a table on one thread
 * per row group of 122,880 rows, more than a batch (6 MB, some 20,000 records) fills, so with one
 * table validating a batch would use one thread.
 */
const recordsTable = (i: number) => `batch_records_${i}`;
const RECORD_FIELDS = ['topic', 'partition', 'offset', 'timestamp', 'value'] as const;
const recordsDdl = (i: number) =>
  `CREATE OR REPLACE TEMP TABLE ${recordsTable(i)} (${RECORD_FIELDS.map((f) => `"${f}" VARCHAR`).join(', ')})`;
/** Every record of the batch, in no particular order (ORDER BY seq for the delivery order). */
const allRecords = (loaded: Loaded) =>
  `(${Array.from({ length: loaded.tables }, (_, i) => `SELECT ${seqOf(loaded, i)} AS seq, * FROM ${recordsTable(i)}`).join(' UNION ALL ')})`;
/** Where the records went: table i holds the `share` records from seq i × share on, in delivery order. */
interface Loaded {
  tables: number;
  share: number;
}
/** A record's position in the batch: its table's first, plus its rowid (its position in the table). */
const seqOf = (loaded: Loaded, i: number) => `rowid + ${i * loaded.share}`;

/** What DuckDB writes: Parquet as Redshift's COPY reads it (engine.ts, writeParquet). */
const PARQUET_OPTIONS = 'FORMAT PARQUET, COMPRESSION SNAPPY, PARQUET_VERSION V1';
/** The columns that name an output's files: topic=…/partition=…/dt=…/hour=…, as in the lake keys. */
const HOUR_PARTITIONS = 'topic, "partition", dt, "hour"';

/** The parts of processing a batch: records into DuckDB, validating and deduplicating, writing the files. */
export type BatchPart = 'decode' | 'sql' | 'write';

interface PartitionRow {
  topic: string;
  partition: number;
  first: number;
  last: number;
  first_ts: number;
  records: number;
  valid: number;
  quarantined: number;
  /** Records without a whole offset or a numeric timestamp: no MSK records, the batch fails. */
  malformed: number;
}

/** A record field as DuckDB's JSON reader gives it as VARCHAR: text as is, any other value as JSON, absent as NULL. */
function fieldText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  // MSK's partition, offset and timestamp: per record, so not through JSON.stringify (the same text when finite).
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return value === undefined || value === null ? null : (JSON.stringify(value) ?? null);
}

/**
 * Hands the records to DuckDB through its appender: no file, no JSON text to write and parse again. The
 * only JavaScript per record is reading its five fields; DuckDB decodes and checks them. Returns where
 * they went (no seq column: a record's rowid gives its position).
 */
async function loadRecords(engine: Engine, lists: readonly (readonly unknown[])[]): Promise<Loaded> {
  const count = lists.reduce((sum, list) => sum + list.length, 0);
  // Every table is replaced, empty ones too: none keeps rows of an earlier batch.
  const tables = Math.max(1, engine.settings.threads);
  const share = Math.max(1, Math.ceil(count / tables));
  await engine.run(Array.from({ length: tables }, (_, i) => recordsDdl(i)).join('; '));
  let seq = 0;
  let appender = await engine.appender(recordsTable(0));
  for (const list of lists) {
    for (const record of list) {
      if (seq > 0 && seq % share === 0) {
        appender.closeSync();
        appender = await engine.appender(recordsTable(seq / share));
      }
      seq++;
      const fields = (typeof record === 'object' && record !== null ? record : {}) as Record<string, unknown>;
      for (const name of RECORD_FIELDS) {
        const text = fieldText(fields[name]);
        if (text === null) appender.appendNull();
        else appender.appendVarchar(text);
      }
      appender.endRow();
    }
  }
  appender.closeSync();
  return { tables, share };
}

/**
 * Validates, deduplicates and groups a batch. `lists` are the batch's record lists (one per
 * topic-partition, as MSK delivers them: topic, partition, offset, timestamp, base64 value), taken in
 * delivery order. Duplicates by event_id keep the lowest offset (the first delivered on a tie). Offset
 * ranges cover every record of a topic-partition, quarantined ones included, so the keys depend only on
 * which records were delivered.
 * The files are written in `dir`, a directory of the caller's own (files earlier batches left in it
 * are overwritten or not listed): one partitioned COPY per output, DuckDB naming the files by topic,
 * partition and hour. `lap` is called as each part ends.
 */
export async function processBatch(
  engine: Engine,
  lists: readonly (readonly unknown[])[],
  dir: string,
  lap: (part: BatchPart) => void = () => undefined,
): Promise<BatchResult> {
  if (lists.every((list) => list.length === 0)) {
    return { files: [], eventKeys: [], ranges: [], stats: emptyStats() };
  }
  const loaded = await loadRecords(engine, lists);
  const { tables } = loaded;
  lap('decode');
  // One pass from the records to the checked records: DuckDB decodes the base64 value (TRY: NULL where
  // the bytes are not UTF-8) and validates, each table's share on a thread of its own (the inputs of a
  // union run in parallel when their order does not matter); the result is then put back in delivery
  // order, so rowid is the delivery order (the lists in turn, each list's records as delivered). Only a
  // rejected record keeps its text (`raw`).
  const sources = Array.from(
    { length: tables },
    (_, i) => `SELECT ${seqOf(loaded, i)} AS seq, topic, CAST(partition AS BIGINT) AS partition,
             CASE WHEN regexp_full_match("offset", '[0-9]+') AND TRY_CAST("offset" AS DOUBLE) <= ${SAFE_OFFSET}
                  THEN CAST("offset" AS BIGINT) END AS off,
             CASE WHEN isfinite(TRY_CAST("timestamp" AS DOUBLE)) THEN CAST("timestamp" AS DOUBLE) END AS kafka_ts,
             value, TRY(decode(from_base64(value))) AS text
      FROM ${recordsTable(i)}`,
  );
  await engine.run(`CREATE OR REPLACE TABLE ${CHECKED} AS
    SELECT * EXCLUDE (raw, seq), CASE WHEN reason IS NOT NULL THEN raw END AS raw
    FROM (${validateEventsSql(`(${sources.join(' UNION ALL ')})`, ['seq'])})${tables > 1 ? ' ORDER BY seq' : ''}`);

  // From here every statement reads less than a row group, so runs on one thread: two run at once,
  // one on each connection.
  const side = await engine.second();
  const [partitions] = await settleAll([
    side
      .rows<PartitionRow>(
        `SELECT topic, CAST(partition AS INTEGER) AS partition,
         CAST(min(off) AS DOUBLE) AS first, CAST(max(off) AS DOUBLE) AS last, arg_min(kafka_ts, (off, rowid)) AS first_ts,
         CAST(count(*) AS INTEGER) AS records,
         CAST(count(*) FILTER (WHERE reason IS NULL) AS INTEGER) AS valid,
         CAST(count(*) FILTER (WHERE reason IS NOT NULL) AS INTEGER) AS quarantined,
         CAST(count(*) FILTER (WHERE off IS NULL OR kafka_ts IS NULL) AS INTEGER) AS malformed
         FROM ${CHECKED} GROUP BY ALL ORDER BY topic, partition`,
      )
      .then((rows) => rows.map((p) => ({ ...p, first: Number(p.first), last: Number(p.last) }))),
    // Kept events: the lowest offset of each event_id (then the first delivered), found by a grouped
    // arg_min and a semi-join instead of sorting the batch; rows stay in delivery order.
    engine.run(`CREATE OR REPLACE TABLE ${KEPT} AS
      SELECT ${FACT_COLUMNS}, topic, partition, off, strftime(ts, '%Y-%m-%d') AS dt, strftime(ts, '%H') AS "hour"
      FROM ${CHECKED}
      WHERE reason IS NULL AND rowid IN (
        SELECT arg_min(rowid, (off, rowid)) FROM ${CHECKED} WHERE reason IS NULL GROUP BY event_id)`),
  ]);
  if (partitions.some((p) => p.malformed > 0)) await failOnRecordFields(engine, loaded);

  lap('sql');
  const written: WrittenFile[] = [];
  const copy = async (on: Engine, kind: string, select: string): Promise<number> => {
    const { rows, files } = await copyByHour(on, select, join(dir, kind));
    written.push(...files.map((f) => ({ ...f, kind })));
    return rows;
  };
  // The events on this connection; the minute aggregates and the quarantine lines on the second.
  const [kept, lines] = await settleAll([
    copy(engine, 'events', `SELECT ${FACT_COLUMNS}, ${HOUR_PARTITIONS} FROM ${KEPT}`),
    (async () => {
      // No valid record, no event: no aggregate.
      if (partitions.some((p) => p.valid > 0)) {
        await copy(
          side,
          'event_minute',
          `SELECT ${HOUR_PARTITIONS}, date_trunc('minute', ts) AS window_start, event_type, count(*) AS events
         FROM ${KEPT} GROUP BY ${HOUR_PARTITIONS}, window_start, event_type
         ORDER BY ${HOUR_PARTITIONS}, window_start, list_position(${typeList}, event_type)`,
        );
        await copy(
          side,
          'error_minute',
          `SELECT ${HOUR_PARTITIONS}, date_trunc('minute', ts) AS window_start,
                coalesce(service, '${UNKNOWN}') AS service, coalesce(error_code, '${UNKNOWN}') AS error_code,
                count(*) AS errors
         FROM ${KEPT} WHERE event_type = 'error' GROUP BY ALL ORDER BY ALL`,
        );
      }
      // Quarantine: one JSON Lines file per topic-partition with rejected records. One scan has DuckDB
      // write each line (to_json, as COPY … (FORMAT JSON) writes it, which has no PARTITION_BY); the
      // lines are split by partition below. Few records, few files.
      if (partitions.every((p) => p.quarantined === 0)) return [];
      return side.rows<{ topic: string; partition: number; line: string }>(`
        SELECT topic, CAST(partition AS INTEGER) AS partition,
               CAST(to_json({topic: topic, partition: partition, "offset": off, reason: reason, raw: raw}) AS VARCHAR) AS line
        FROM ${CHECKED} WHERE reason IS NOT NULL ORDER BY rowid`);
    })(),
  ]);
  const rejected: BatchFile[] = [];
  const linesOf = new Map<string, string[]>();
  for (const l of lines) {
    const at = `${l.topic}/${l.partition}`;
    const mine = linesOf.get(at) ?? [];
    if (mine.length === 0) linesOf.set(at, mine);
    mine.push(`${l.line}\n`);
  }
  for (const p of partitions) {
    if (p.quarantined === 0) continue;
    const file = {
      key: clickstreamKeys.quarantine(new Date(p.first_ts), p),
      path: join(dir, `quarantine-${rejected.length}.jsonl`),
      contentType: JSON_LINES,
    };
    await writeFile(file.path, (linesOf.get(`${p.topic}/${p.partition}`) ?? []).join(''));
    rejected.push(file);
  }

  const rangeOf = new Map(partitions.map((p) => [`${p.topic}/${p.partition}`, p]));
  const place = (kind: string, key: (hour: Date, range: OffsetRange) => string): BatchFile[] =>
    written
      .filter((f) => f.kind === kind)
      .map((f) => {
        const range = rangeOf.get(`${f.topic}/${f.partition}`);
        if (range === undefined) throw new Error(`unexpected output ${f.path}`);
        return { key: key(f.hour, range), path: f.path, contentType: PARQUET };
      })
      .sort(byKey);
  const events = place('events', clickstreamKeys.events);
  const windows = [
    ...place('event_minute', clickstreamKeys.eventMinute),
    ...place('error_minute', clickstreamKeys.errorMinute),
  ].sort(byKey);
  lap('write');
  const records = partitions.reduce((sum, p) => sum + p.records, 0);
  const quarantined = partitions.reduce((sum, p) => sum + p.quarantined, 0);
  const valid = partitions.reduce((sum, p) => sum + p.valid, 0);
  return {
    files: [...events, ...windows, ...rejected.sort(byKey)],
    eventKeys: events.map((f) => f.key),
    ranges: partitions.map(({ topic, partition, first, last }) => ({ topic, partition, first, last })),
    stats: {
      records,
      events: kept,
      duplicates: valid - kept,
      quarantined,
      partitions: partitions.length,
    },
  };
}

/** Waits for every promise (none left running), then throws the first failure. */
async function settleAll<T extends readonly unknown[]>(promises: {
  [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

const byKey = (a: BatchFile, b: BatchFile) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

interface WrittenFile {
  kind: string;
  topic: string;
  partition: number;
  hour: Date;
  path: string;
}

/** `topic=…/partition=…/dt=…/hour=…/<file>` under an output's directory. */
const WRITTEN_RE = /^topic=([^/]+)\/partition=(\d+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/[^/]+$/;

/**
 * Writes `select` as Parquet under `root`, one file per topic, partition and hour. Returns the rows
 * written and the files, with the topic, partition and hour their directories name: DuckDB lists them
 * (no directory walk), so files an earlier batch left under `root` are never taken for this batch's.
 */
async function copyByHour(
  engine: Engine,
  select: string,
  root: string,
): Promise<{ rows: number; files: Omit<WrittenFile, 'kind'>[] }> {
  const [result] = await engine.rows<{ Count: bigint; Files: string[] }>(
    `COPY (${select}) TO ${sqlLiteral(root)} (${PARQUET_OPTIONS}, PARTITION_BY (${HOUR_PARTITIONS}), OVERWRITE_OR_IGNORE, RETURN_FILES true)`,
  );
  const files = result.Files.map((path) => {
    const m = WRITTEN_RE.exec(relative(root, path).split(sep).join('/'));
    if (m === null) throw new Error(`unexpected output ${path}`);
    const [, topic, partition, dt, hour] = m;
    return { topic, partition: Number(partition), hour: new Date(`${dt}T${hour}:00:00Z`), path };
  });
  return { rows: Number(result.Count), files };
}

const typeList = `[${EVENT_TYPES.map((t) => `'${t}'`).join(', ')}]`;

const emptyStats = (): BatchStats => ({
  records: 0,
  events: 0,
  duplicates: 0,
  quarantined: 0,
  partitions: 0,
});

/** A record without a whole offset or a numeric timestamp is no MSK record: the batch fails, it is not quarantined. */
async function failOnRecordFields(engine: Engine, loaded: Loaded): Promise<never> {
  const wholeOffset = `coalesce(regexp_full_match("offset", '[0-9]+') AND TRY_CAST("offset" AS DOUBLE) <= ${SAFE_OFFSET}, false)`;
  const [bad] = await engine.rows<{
    topic: string;
    partition: number;
    off_text: string | null;
    ts_text: string | null;
    field: string;
  }>(`
    SELECT topic, CAST(partition AS INTEGER) AS partition, "offset" AS off_text, "timestamp" AS ts_text,
           CASE WHEN NOT ${wholeOffset} THEN 'offset' ELSE 'timestamp' END AS field
    FROM ${allRecords(loaded)}
    WHERE NOT ${wholeOffset} OR NOT coalesce(isfinite(TRY_CAST("timestamp" AS DOUBLE)), false)
    ORDER BY seq LIMIT 1`);
  const where = `record ${bad.topic}-${bad.partition}`;
  throw new InputFormatError(
    bad.field === 'offset'
      ? `${where}: offset expected a non-negative integer, got ${bad.off_text ?? 'null'}`
      : `${where}@${bad.off_text}: timestamp expected epoch milliseconds, got ${bad.ts_text ?? 'null'}`,
  );
}
