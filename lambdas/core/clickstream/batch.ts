/**
 * One MSK batch → the lake objects it becomes, with no I/O. Every key is a function of the batch
 * alone (topic, partition, offset range, event hour), so a redelivered batch overwrites the objects of
 * its first delivery instead of adding new ones: that is what makes the stream exactly once in S3.
 */
import { InputFormatError } from '../errors';
import { EVENT_TYPES, EVENT_TYPE_INDEX, parseClickEvent, type ClickEvent } from './event';
import type { ErrorMinuteRow, EventMinuteRow } from './tables';

/** One Kafka record of the batch, its value already deserialized. */
export interface StreamRecord {
  topic: string;
  partition: number;
  /** Kafka offsets are int64; JSON delivers them as numbers, some clients as strings. */
  offset: number | string;
  /** Kafka record timestamp, epoch milliseconds. */
  timestamp: number;
  /** The deserialized JSON value, or a DeserializationFailure when the bytes were not JSON. */
  value: unknown;
}

/** Marks a record whose bytes could not be deserialized; it is quarantined with its raw text. */
export class DeserializationFailure {
  constructor(
    readonly raw: string,
    readonly reason: string,
  ) {}
}

/** The records of one topic-partition in a batch: the lowest and highest offsets seen. */
export interface OffsetRange {
  topic: string;
  partition: number;
  first: number;
  last: number;
}

export interface QuarantinedRecord {
  topic: string;
  partition: number;
  offset: number;
  reason: string;
  raw: string;
}

export interface EventObject {
  key: string;
  table: 'fact_click_event';
  rows: ClickEvent[];
}

export type WindowObject =
  | { key: string; table: 'agg_event_minute'; rows: EventMinuteRow[] }
  | { key: string; table: 'agg_error_minute'; rows: ErrorMinuteRow[] };

/** The rejected records of one topic-partition, written as one JSON Lines object. */
export interface QuarantineObject {
  key: string;
  records: QuarantinedRecord[];
}

export interface BatchStats {
  records: number;
  /** Valid events kept after dropping duplicates: the rows written. */
  events: number;
  duplicates: number;
  quarantined: number;
  partitions: number;
}

export interface BatchResult {
  objects: EventObject[];
  windows: WindowObject[];
  quarantined: QuarantineObject[];
  stats: BatchStats;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
/** Stands in for a missing service or error code in the error aggregate's key. */
export const UNKNOWN = 'unknown';

const rangeName = (r: OffsetRange) => `${r.topic}-${r.partition}-${r.first}-${r.last}`;
const hourPath = (hour: Date) => {
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

interface PartitionState extends OffsetRange {
  firstTimestamp: number;
  quarantined: QuarantinedRecord[];
  /** Hours since the epoch (a small integer: a fast Map key) → the kept events of that hour. */
  hours: Map<number, ClickEvent[]>;
}

function offsetOf(record: StreamRecord): number {
  const { offset } = record;
  const n = typeof offset === 'string' && /^\d+$/.test(offset) ? Number(offset) : offset;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new InputFormatError(
      `record ${record.topic}-${record.partition}: offset expected a non-negative integer, got ${JSON.stringify(offset)}`,
    );
  }
  return n;
}

const rawText = (value: unknown): string =>
  value instanceof DeserializationFailure ? value.raw : (JSON.stringify(value) ?? '');

/**
 * Validates, deduplicates and groups a batch. Duplicates by event_id keep the lowest offset (the
 * first occurrence on a tie). Offset ranges cover every record of a topic-partition in the batch,
 * quarantined ones included, so the keys depend only on which records were delivered.
 *
 * `records` may be lazy (the handler decodes while this validates), so a record's deserialized value
 * can be dropped as soon as it is validated instead of living until the whole batch is decoded.
 */
export function processBatch(records: Iterable<StreamRecord>): BatchResult {
  const partitions = new Map<string, PartitionState>();
  // Kept events as parallel arrays: no wrapper object per record.
  const kept: ClickEvent[] = [];
  const keptOffset: number[] = [];
  const keptPartition: PartitionState[] = [];
  const byId = new Map<string, number>();
  let duplicates = 0;
  let quarantined = 0;
  let count = 0;

  // Records arrive grouped by topic-partition: look the state up only when it changes.
  let state: PartitionState | undefined;
  for (const record of records) {
    count++;
    const offset = offsetOf(record);
    if (!Number.isFinite(record.timestamp)) {
      throw new InputFormatError(
        `record ${record.topic}-${record.partition}@${offset}: timestamp expected epoch milliseconds, got ${JSON.stringify(record.timestamp)}`,
      );
    }
    if (state === undefined || state.topic !== record.topic || state.partition !== record.partition) {
      const id = `${record.topic}\u0000${record.partition}`;
      state = partitions.get(id);
      if (state === undefined) {
        state = {
          topic: record.topic,
          partition: record.partition,
          first: offset,
          last: offset,
          firstTimestamp: record.timestamp,
          quarantined: [],
          hours: new Map(),
        };
        partitions.set(id, state);
      }
    }
    if (offset < state.first) {
      state.first = offset;
      state.firstTimestamp = record.timestamp;
    } else if (offset > state.last) {
      state.last = offset;
    }

    const { value } = record;
    const parsed =
      value instanceof DeserializationFailure ? { reason: value.reason } : parseClickEvent(value);
    if ('reason' in parsed) {
      state.quarantined.push({
        topic: record.topic,
        partition: record.partition,
        offset,
        reason: parsed.reason,
        raw: rawText(value),
      });
      quarantined++;
      continue;
    }
    const { event } = parsed;
    const seen = byId.get(event.event_id);
    if (seen === undefined) {
      byId.set(event.event_id, kept.length);
      kept.push(event);
      keptOffset.push(offset);
      keptPartition.push(state);
    } else {
      duplicates++;
      if (offset < keptOffset[seen]) {
        kept[seen] = event;
        keptOffset[seen] = offset;
        keptPartition[seen] = state;
      }
    }
  }

  for (let i = 0; i < kept.length; i++) {
    const event = kept[i];
    const hour = Math.floor(event.ts.getTime() / HOUR_MS);
    const { hours } = keptPartition[i];
    const rows = hours.get(hour);
    if (rows === undefined) hours.set(hour, [event]);
    else rows.push(event);
  }

  const objects: EventObject[] = [];
  const windows: WindowObject[] = [];
  const quarantine: QuarantineObject[] = [];
  const ordered = [...partitions.values()].sort(
    (a, b) => compare(a.topic, b.topic) || a.partition - b.partition,
  );
  for (const p of ordered) {
    for (const hourIndex of [...p.hours.keys()].sort((a, b) => a - b)) {
      const hour = new Date(hourIndex * HOUR_MS);
      const rows = p.hours.get(hourIndex)!;
      objects.push({ key: clickstreamKeys.events(hour, p), table: 'fact_click_event', rows });
      const { eventRows, errorRows } = minuteWindows(rows);
      windows.push({ key: clickstreamKeys.eventMinute(hour, p), table: 'agg_event_minute', rows: eventRows });
      if (errorRows.length > 0) {
        windows.push({
          key: clickstreamKeys.errorMinute(hour, p),
          table: 'agg_error_minute',
          rows: errorRows,
        });
      }
    }
    if (p.quarantined.length > 0) {
      quarantine.push({
        key: clickstreamKeys.quarantine(new Date(p.firstTimestamp), p),
        records: p.quarantined,
      });
    }
  }

  return {
    objects,
    windows,
    quarantined: quarantine,
    stats: {
      records: count,
      events: kept.length,
      duplicates,
      quarantined,
      partitions: partitions.size,
    },
  };
}

/** 1-minute tumbling windows: events per (minute, type) and errors per (minute, service, code), sorted. */
function minuteWindows(events: readonly ClickEvent[]): {
  eventRows: EventMinuteRow[];
  errorRows: ErrorMinuteRow[];
} {
  // Minutes since the epoch → one counter per event type (by EVENT_TYPES position): no key string per event.
  const counts = new Map<number, number[]>();
  const errors = new Map<string, ErrorMinuteRow>();
  for (const event of events) {
    const minute = Math.floor(event.ts.getTime() / MINUTE_MS);
    let slots = counts.get(minute);
    if (slots === undefined) {
      slots = new Array<number>(EVENT_TYPES.length).fill(0);
      counts.set(minute, slots);
    }
    slots[EVENT_TYPE_INDEX.get(event.event_type)!]++;
    if (event.event_type === 'error') {
      const service = event.service ?? UNKNOWN;
      const errorCode = event.error_code ?? UNKNOWN;
      const id = `${minute}\u0000${service}\u0000${errorCode}`;
      const row = errors.get(id);
      if (row === undefined) {
        errors.set(id, {
          window_start: new Date(minute * MINUTE_MS),
          service,
          error_code: errorCode,
          errors: 1,
        });
      } else {
        row.errors++;
      }
    }
  }
  const eventRows: EventMinuteRow[] = [];
  for (const minute of [...counts.keys()].sort((a, b) => a - b)) {
    const slots = counts.get(minute)!;
    slots.forEach((events, i) => {
      if (events > 0)
        eventRows.push({ window_start: new Date(minute * MINUTE_MS), event_type: EVENT_TYPES[i], events });
    });
  }
  const errorRows = [...errors.values()].sort(
    (a, b) =>
      a.window_start.getTime() - b.window_start.getTime() ||
      compare(a.service, b.service) ||
      compare(a.error_code, b.error_code),
  );
  return { eventRows, errorRows };
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
