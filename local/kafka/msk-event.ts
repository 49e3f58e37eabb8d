/**
 * The event the Lambda MSK event-source mapping delivers, built from Kafka records. The Kafka poller and
 * the replay of recorded topics both go through `buildMskEvent`, so the handler sees one shape whether the
 * records came from a broker or from a recording.
 */
import type { MSKEvent, MSKRecord } from 'aws-lambda';

/** A Kafka record as a consumer sees it (kafkajs gives strings for offsets and timestamps, Buffers for bytes). */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string | number;
  timestamp: string | number;
  key: Buffer | string | null;
  value: Buffer | string | null;
}

/** An MSK record: like @types/aws-lambda's, but `key` is null for a record without one (AWS sends no key). */
export interface MskRecord extends Omit<MSKRecord, 'key'> {
  key: string | null;
}

export interface MskEvent extends Omit<MSKEvent, 'records'> {
  /** `<topic>-<partition>` → that partition's records, in offset order. */
  records: Record<string, MskRecord[]>;
}

export interface MskSource {
  eventSourceArn: string;
  bootstrapServers: string;
}

/** What a local run names its "cluster": the ARN shape of MSK, account 000000000000. */
const LOCAL_MSK_SOURCE: MskSource = {
  eventSourceArn:
    'arn:aws:kafka:us-east-1:000000000000:cluster/cartflow-local/00000000-0000-0000-0000-000000000000-1',
  bootstrapServers: '127.0.0.1:9092',
};

const base64 = (bytes: Buffer | string): string =>
  (typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes).toString('base64');

function toMskRecord(record: KafkaRecord): MskRecord {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: Number(record.offset),
    timestamp: Number(record.timestamp),
    timestampType: 'CREATE_TIME',
    key: record.key === null ? null : base64(record.key),
    value: record.value === null ? '' : base64(record.value),
    headers: [],
  };
}

/** Groups the records by `<topic>-<partition>` (first-seen order of partitions, offsets ascending within one). */
export function buildMskEvent(
  records: readonly KafkaRecord[],
  source: MskSource = LOCAL_MSK_SOURCE,
): MskEvent {
  const grouped: Record<string, MskRecord[]> = {};
  for (const record of records)
    (grouped[`${record.topic}-${record.partition}`] ??= []).push(toMskRecord(record));
  for (const list of Object.values(grouped)) list.sort((a, b) => a.offset - b.offset);
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: source.eventSourceArn,
    bootstrapServers: source.bootstrapServers,
    records: grouped,
  };
}

/** The handler's declared type says `key: string`; a record without a key really arrives without one. */
export const asLambdaEvent = (event: MskEvent): MSKEvent => event as unknown as MSKEvent;

/** The offset range of each topic-partition in a batch (what the ESM reports as KafkaBatchInfo.recordsInfo). */
export interface PartitionRange {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  firstTimestamp: number;
  lastTimestamp: number;
  records: number;
}

export function partitionRanges(records: readonly KafkaRecord[]): PartitionRange[] {
  const ranges = new Map<string, PartitionRange>();
  for (const r of records) {
    const offset = Number(r.offset);
    const timestamp = Number(r.timestamp);
    const id = `${r.topic}-${r.partition}`;
    const range = ranges.get(id);
    if (range === undefined) {
      ranges.set(id, {
        topic: r.topic,
        partition: r.partition,
        firstOffset: offset,
        lastOffset: offset,
        firstTimestamp: timestamp,
        lastTimestamp: timestamp,
        records: 1,
      });
      continue;
    }
    range.records++;
    if (offset < range.firstOffset) {
      range.firstOffset = offset;
      range.firstTimestamp = timestamp;
    }
    if (offset > range.lastOffset) {
      range.lastOffset = offset;
      range.lastTimestamp = timestamp;
    }
  }
  return [...ranges.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
}
