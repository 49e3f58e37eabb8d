/**
 * How clickstream messages spread over a topic's partitions, shared by the producer (which sends them to
 * a broker) and recorded topics (which stand in for a broker): both key a message by its session (else its
 * user) and place it with kafkajs' DefaultPartitioner (murmur2 of the key, like the Java client), so a
 * recording holds exactly the partitions and offsets a fresh topic would after `cartflow produce`.
 */
import { Partitioners } from 'kafkajs';
import type { KafkaRecord } from './msk-event';

export const DEFAULT_TOPIC = 'clickstream';
export const DEFAULT_PARTITIONS = 3;

/** A record of a recorded topic: the message texts as produced, with the offset the broker gave them. */
export interface TopicRecord extends KafkaRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string;
}

/**
 * The message key: session_id, else user_id, else event_id of the JSON text; a message that is not
 * JSON gets `msg-<index>` so its placement stays deterministic (a null key would go round-robin from a
 * random start).
 */
export function messageKey(value: string, index: number): string {
  try {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const { session_id: session, user_id: user, event_id: id } = parsed as Record<string, unknown>;
      for (const candidate of [session, user, id]) {
        if (typeof candidate === 'string' && candidate !== '') return candidate;
      }
    }
  } catch {
    // not JSON: fall through
  }
  return `msg-${index}`;
}

/** Every partition led by broker 1: the partitioner only needs the count and leaders. */
const partitionMetadata = (partitions: number) =>
  Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));

export interface RecordTopicOptions {
  topic?: string;
  partitions?: number;
  /** Kafka timestamp of message i, epoch ms. @default start + i (one message a millisecond from 2024-05-01) */
  timestampOf?: (index: number) => number;
}

/** Message timestamps spread evenly over [startMs, startMs + spanMs): "produced over the hour". */
export const spreadTimestamps =
  (count: number, startMs: number, spanMs: number) =>
  (index: number): number =>
    startMs + Math.floor((index * spanMs) / Math.max(1, count));

/** The topic a producer would leave after sending `values` in order: per-partition logs from offset 0. */
export function recordTopic(values: readonly string[], options: RecordTopicOptions = {}): TopicRecord[] {
  const topic = options.topic ?? DEFAULT_TOPIC;
  const partitions = options.partitions ?? DEFAULT_PARTITIONS;
  const timestampOf = options.timestampOf ?? ((i: number) => Date.UTC(2024, 4, 1) + i);
  const partitioner = Partitioners.DefaultPartitioner();
  const metadata = partitionMetadata(partitions);
  const next = new Array<number>(partitions).fill(0);
  return values.map((value, i) => {
    const key = messageKey(value, i);
    const partition = partitioner({ topic, partitionMetadata: metadata, message: { key, value } });
    return { topic, partition, offset: next[partition]++, timestamp: timestampOf(i), key, value };
  });
}

/** One JSON object a line: topic, partition, offset, timestamp, key, value (UTF-8 text). */
export function formatRecording(records: readonly TopicRecord[]): string {
  return records
    .map((r) =>
      JSON.stringify({
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key,
        value: r.value,
      }),
    )
    .join('\n')
    .concat(records.length ? '\n' : '');
}

export function parseRecording(text: string): TopicRecord[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const r = JSON.parse(line) as Partial<TopicRecord>;
      if (
        typeof r.topic !== 'string' ||
        !Number.isInteger(r.partition) ||
        !Number.isInteger(r.offset) ||
        !Number.isFinite(r.timestamp) ||
        typeof r.value !== 'string' ||
        (r.key !== null && typeof r.key !== 'string')
      ) {
        throw new Error(
          `recording line ${i + 1}: expected {topic, partition, offset, timestamp, key, value}, got ${line.slice(0, 120)}`,
        );
      }
      return r as TopicRecord;
    });
}

/** The records of each partition in offset order, partitions ascending. */
export function byPartition<T extends { partition: number; offset: number | string }>(
  records: readonly T[],
): T[][] {
  const logs = new Map<number, T[]>();
  for (const r of records) {
    const log = logs.get(r.partition);
    if (log === undefined) logs.set(r.partition, [r]);
    else log.push(r);
  }
  return [...logs.keys()]
    .sort((a, b) => a - b)
    .map((p) => logs.get(p)!.sort((a, b) => Number(a.offset) - Number(b.offset)));
}
