/**
 * One MSK batch → the lake files it becomes, in SQL: the batch's records are read by DuckDB in bulk,
 * validated (event.ts), deduplicated by event_id, split by topic-partition and event hour, and counted
 * in 1-minute windows. Every key is a function of the batch alone (topic, partition, offset range,
 * event hour), so a redelivered batch overwrites the objects of its first delivery instead of adding
 * new ones: that is what makes the stream exactly once in S3.
 */
import { fileList, sqlLiteral, type Engine } from '../engine/engine';
import { InputFormatError } from '../errors';
import { EVENT_TYPES, validateEventsSql } from './event';
import { CLICKSTREAM_TABLES } from './tables';

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

/** Lake keys of the stream (design.md: `<topic>-<partition>-<firstOffset>-<lastOffset>`). */
export const clickstreamKeys = {
  events: (hour: Date, range: OffsetRange) =>
    `events/clickstream/${hourPath(hour)}/${rangeName(range)}.parquet`,
  eventMinute: (hour: Date, range: OffsetRange) =>
    `events/aggregates/event_minute/${hourPath(hour)}/${rangeName(range)}.parquet`,
  errorMinute: (hour: Date, range: OffsetRange) =>
    `events/aggregates/error_minute/${hourPath(hour)}/${rangeName(range)}.parquet`,
  /** `at`: the Kafka timestamp of the range's first record, so the key does not depend on event content. */
  quarantine: (at: Date, range: OffsetRange) =>
    `quarantine/clickstream/dt=${at.toISOString().slice(0, 10)}/${rangeName(range)}.jsonl`,
} as const;

const FACT_COLUMNS = CLICKSTREAM_TABLES.fact_click_event.columns.map((c) => `"${c.name}"`).join(', ');
const SAFE_OFFSET = Number.MAX_SAFE_INTEGER;

/** The record fields read from each input file (a JSON array of MSK records); others are ignored. */
const RECORD_COLUMNS = `{topic: 'VARCHAR', partition: 'BIGINT', "offset": 'VARCHAR', "timestamp": 'VARCHAR', value: 'VARCHAR'}`;

interface PartitionRow {
  topic: string;
  partition: number;
  first: number;
  last: number;
  first_ts: number;
  quarantined: number;
}

interface GroupRow {
  topic: string;
  partition: number;
  hour: Date;
  errors: number;
}

/**
 * Validates, deduplicates and groups a batch. `inputs` are JSON files, each an array of MSK records
 * (topic, partition, offset, timestamp, base64 value), in delivery order. Duplicates by event_id keep
 * the lowest offset (the first delivered on a tie). Offset ranges cover every record of a
 * topic-partition, quarantined ones included, so the keys depend only on which records were delivered.
 * The files are written under `dir`.
 */
export async function processBatch(
  engine: Engine,
  inputs: readonly string[],
  dir: string,
): Promise<BatchResult> {
  if (inputs.length === 0) {
    return { files: [], eventKeys: [], ranges: [], stats: emptyStats() };
  }
  // The Kafka value is base64: DuckDB decodes it; TRY leaves NULL where the bytes are not UTF-8. `seq`
  // (input file, then offset) is the delivery order: inputs are one topic-partition each, in order.
  await engine.run(`CREATE OR REPLACE TEMP TABLE records AS
    SELECT filename AS seq, topic, partition, "offset" AS off_text, "timestamp" AS ts_text, value
    FROM read_json(${fileList(inputs)}, format = 'array', columns = ${RECORD_COLUMNS}, filename = true)`);
  await assertRecordFields(engine);
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE checked AS ${validateEventsSql(
      `(SELECT seq, topic, partition, CAST(off_text AS BIGINT) AS off, CAST(ts_text AS DOUBLE) AS kafka_ts, value,
             TRY(decode(from_base64(value))) AS text FROM records)`,
    )}`,
  );
  // Kept events (DISTINCT ON: the lowest offset of each event_id), in object order: each object's rows
  // are one contiguous, offset-ordered run of the table.
  await engine.run(`CREATE OR REPLACE TEMP TABLE kept AS
    SELECT * FROM (
      SELECT DISTINCT ON (event_id) *, date_trunc('hour', ts) AS hour
      FROM checked WHERE reason IS NULL ORDER BY event_id, off, seq
    ) ORDER BY topic, partition, hour, off, seq`);

  const partitions = (
    await engine.rows<PartitionRow>(`SELECT topic, CAST(partition AS INTEGER) AS partition,
      CAST(min(off) AS DOUBLE) AS first, CAST(max(off) AS DOUBLE) AS last, arg_min(kafka_ts, (off, seq)) AS first_ts,
      CAST(count(*) FILTER (WHERE reason IS NOT NULL) AS INTEGER) AS quarantined
      FROM checked GROUP BY ALL ORDER BY topic, partition`)
  ).map((p) => ({ ...p, first: Number(p.first), last: Number(p.last) }));
  const groups = await engine.rows<GroupRow>(`SELECT topic, CAST(partition AS INTEGER) AS partition, hour,
      CAST(count(*) FILTER (WHERE event_type = 'error') AS INTEGER) AS errors
      FROM kept GROUP BY ALL ORDER BY ALL`);
  const [counts] = await engine.rows<{ records: number; valid: number; kept: number }>(`SELECT
      CAST((SELECT count(*) FROM checked) AS INTEGER) AS records,
      CAST((SELECT count(*) FROM checked WHERE reason IS NULL) AS INTEGER) AS valid,
      CAST((SELECT count(*) FROM kept) AS INTEGER) AS kept`);

  const rangeOf = new Map(partitions.map((p) => [`${p.topic}\u0000${p.partition}`, p]));
  const events: BatchFile[] = [];
  const windows: BatchFile[] = [];
  const quarantine: BatchFile[] = [];
  let n = 0;
  const file = (key: string, contentType = PARQUET) => ({ key, path: `${dir}/out-${n++}`, contentType });
  for (const group of groups) {
    const range = rangeOf.get(`${group.topic}\u0000${group.partition}`)!;
    const where = `FROM kept WHERE topic = ${sqlLiteral(group.topic)} AND partition = ${group.partition}
      AND hour = epoch_ms(${group.hour.getTime()})`;
    const fact = file(clickstreamKeys.events(group.hour, range));
    await engine.writeParquet(`SELECT ${FACT_COLUMNS} ${where} ORDER BY off, seq`, fact.path);
    events.push(fact);
    const minute = file(clickstreamKeys.eventMinute(group.hour, range));
    await engine.writeParquet(
      `SELECT date_trunc('minute', ts) AS window_start, event_type, count(*) AS events ${where}
       GROUP BY window_start, event_type ORDER BY window_start, list_position(${typeList}, event_type)`,
      minute.path,
    );
    windows.push(minute);
    if (group.errors > 0) {
      const errors = file(clickstreamKeys.errorMinute(group.hour, range));
      await engine.writeParquet(
        `SELECT date_trunc('minute', ts) AS window_start, coalesce(service, '${UNKNOWN}') AS service,
                coalesce(error_code, '${UNKNOWN}') AS error_code, count(*) AS errors
         ${where} AND event_type = 'error' GROUP BY ALL ORDER BY ALL`,
        errors.path,
      );
      windows.push(errors);
    }
  }
  for (const p of partitions) {
    if (p.quarantined === 0) continue;
    const rejected = file(clickstreamKeys.quarantine(new Date(p.first_ts), p), JSON_LINES);
    await engine.run(`COPY (
      SELECT topic, partition, off AS "offset", reason, raw FROM checked
      WHERE reason IS NOT NULL AND topic = ${sqlLiteral(p.topic)} AND partition = ${p.partition} ORDER BY seq
    ) TO ${sqlLiteral(rejected.path)} (FORMAT JSON)`);
    quarantine.push(rejected);
  }

  const quarantined = counts.records - counts.valid;
  return {
    files: [...events, ...windows, ...quarantine],
    eventKeys: events.map((f) => f.key),
    ranges: partitions.map(({ topic, partition, first, last }) => ({ topic, partition, first, last })),
    stats: {
      records: counts.records,
      events: counts.kept,
      duplicates: counts.valid - counts.kept,
      quarantined,
      partitions: partitions.length,
    },
  };
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
async function assertRecordFields(engine: Engine): Promise<void> {
  const [bad] = await engine.rows<{
    topic: string;
    partition: number;
    off_text: string | null;
    ts_text: string | null;
    field: string;
  }>(`
    SELECT topic, CAST(partition AS INTEGER) AS partition, off_text, ts_text,
           CASE WHEN NOT coalesce(regexp_full_match(off_text, '[0-9]+') AND TRY_CAST(off_text AS DOUBLE) <= ${SAFE_OFFSET}, false)
                THEN 'offset' ELSE 'timestamp' END AS field
    FROM records
    WHERE NOT coalesce(regexp_full_match(off_text, '[0-9]+') AND TRY_CAST(off_text AS DOUBLE) <= ${SAFE_OFFSET}, false)
       OR NOT coalesce(isfinite(TRY_CAST(ts_text AS DOUBLE)), false)
    ORDER BY seq LIMIT 1`);
  if (bad === undefined) return;
  const where = `record ${bad.topic}-${bad.partition}`;
  throw new InputFormatError(
    bad.field === 'offset'
      ? `${where}: offset expected a non-negative integer, got ${bad.off_text ?? 'null'}`
      : `${where}@${bad.off_text}: timestamp expected epoch milliseconds, got ${bad.ts_text ?? 'null'}`,
  );
}
