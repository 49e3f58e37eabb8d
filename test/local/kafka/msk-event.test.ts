import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  asLambdaEvent,
  buildMskEvent,
  partitionRanges,
  type KafkaRecord,
} from '../../../local/kafka/msk-event';

const record = (
  partition: number,
  offset: number,
  value: string | null,
  key: string | null = `k${offset}`,
): KafkaRecord => ({
  topic: 'clickstream',
  partition,
  offset: String(offset),
  timestamp: String(1714561200000 + offset),
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(value),
});

describe('MSK event building', () => {
  it('builds the exact event-source-mapping shape: base64 key and value, numbers, CREATE_TIME, no headers', async () => {
    // Prepare
    const fixture = JSON.parse(
      await readFile(new URL('../../fixtures/clickstream/msk-event.json', import.meta.url), 'utf8'),
    ) as {
      records: Record<string, Record<string, unknown>[]>;
    };
    const text = '{"event_id":"e1","event_type":"page_view","ts":1714561200000}';

    // Act
    const event = buildMskEvent([record(0, 100, text, 'k100')], {
      eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/x/y',
      bootstrapServers: 'b:9092',
    });

    // Assess
    assert.deepEqual(Object.keys(event).sort(), [
      'bootstrapServers',
      'eventSource',
      'eventSourceArn',
      'records',
    ]);
    assert.equal(event.eventSource, 'aws:kafka');
    const [only] = event.records['clickstream-0'];
    assert.deepEqual(Object.keys(only).sort(), Object.keys(fixture.records['clickstream-0'][0]).sort());
    assert.deepEqual(only, {
      topic: 'clickstream',
      partition: 0,
      offset: 100,
      timestamp: 1714561200100,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('k100').toString('base64'),
      value: Buffer.from(text).toString('base64'),
      headers: [],
    });
  });

  it('groups records by topic-partition in offset order and keeps a missing key null', () => {
    // Act
    const event = buildMskEvent([record(1, 7, '{}'), record(0, 3, '{}', null), record(1, 5, '{}')]);

    // Assess
    assert.deepEqual(Object.keys(event.records), ['clickstream-1', 'clickstream-0']);
    assert.deepEqual(
      event.records['clickstream-1'].map((r) => r.offset),
      [5, 7],
    );
    assert.equal(event.records['clickstream-0'][0].key, null);
  });

  it('carries each value as the base64 of its bytes, an absent value as an empty string', () => {
    // Prepare
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const event = buildMskEvent([
      record(0, 1, '{"event_id":"é1"}'),
      { ...record(0, 2, null), value: bytes },
      record(2, 9, null),
    ]);

    // Act
    const decoded = Object.values(asLambdaEvent(event).records)
      .flat()
      .map((r) => [r.topic, r.partition, r.offset, r.timestamp, Buffer.from(r.value, 'base64')]);

    // Assess
    assert.deepEqual(decoded, [
      ['clickstream', 0, 1, 1714561200001, Buffer.from('{"event_id":"é1"}')],
      ['clickstream', 0, 2, 1714561200002, bytes],
      ['clickstream', 2, 9, 1714561200009, Buffer.alloc(0)],
    ]);
  });

  it('reports each partition range with its first and last offsets and timestamps', () => {
    // Act
    const ranges = partitionRanges([
      record(2, 11, '{}'),
      record(0, 4, '{}'),
      record(2, 10, '{}'),
      record(2, 12, '{}'),
    ]);

    // Assess
    assert.deepEqual(ranges, [
      {
        topic: 'clickstream',
        partition: 0,
        firstOffset: 4,
        lastOffset: 4,
        firstTimestamp: 1714561200004,
        lastTimestamp: 1714561200004,
        records: 1,
      },
      {
        topic: 'clickstream',
        partition: 2,
        firstOffset: 10,
        lastOffset: 12,
        firstTimestamp: 1714561200010,
        lastTimestamp: 1714561200012,
        records: 3,
      },
    ]);
  });
});
