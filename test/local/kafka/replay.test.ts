import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { MSKEvent } from 'aws-lambda';
import { generateClickEvents } from '../../../lambdas/core/clickstream/sample';
import { recordedBatches, replayRecordedTopic } from '../../../local/kafka/replay';
import {
  formatRecording,
  messageKey,
  parseRecording,
  recordTopic,
  spreadTimestamps,
} from '../../../local/kafka/topic';

const FIXTURE = new URL('../../fixtures/clickstream/topic/clickstream-small.jsonl', import.meta.url);

describe('recorded topics', () => {
  it('the committed recording is what recording the seeded sample gives (placement is deterministic)', async () => {
    // Prepare
    const start = new Date('2024-05-01T12:00:00Z');
    const sample = generateClickEvents({
      count: 40,
      seed: 'topic-fixture',
      start,
      minutes: 10,
      duplicateShare: 0.1,
      malformedShare: 0.1,
    });

    // Act
    const recorded = recordTopic(sample.values, {
      partitions: 3,
      timestampOf: spreadTimestamps(40, start.getTime(), 600_000),
    });

    // Assess
    const text = await readFile(FIXTURE, 'utf8');
    assert.equal(formatRecording(recorded), text);
    assert.deepEqual(parseRecording(text), recorded);
  });

  it('keys by session, then user, then event id; a message that is not JSON by its index', () => {
    // Act / Assess
    assert.equal(messageKey('{"session_id":"s1","user_id":"u1","event_id":"e1"}', 0), 's1');
    assert.equal(messageKey('{"user_id":"u1","event_id":"e1"}', 0), 'u1');
    assert.equal(messageKey('{"session_id":"","event_id":"e1"}', 0), 'e1');
    assert.equal(messageKey('{"event_id":', 17), 'msg-17');
  });

  it('rejects a recording line without the record fields', () => {
    // Act / Assess
    assert.throws(
      () => parseRecording('{"topic":"t","partition":0}\n'),
      /line 1: expected \{topic, partition, offset/,
    );
  });

  it('batches mix partitions, never pass batchSize, and cover every record once in offset order', () => {
    // Prepare
    const records = parseRecording(
      formatRecording(
        recordTopic(generateClickEvents({ count: 1000, seed: 3, start: new Date(0), minutes: 5 }).values),
      ),
    );

    // Act
    const batches = recordedBatches(records, 100);

    // Assess
    assert.ok(batches.every((b) => b.length <= 100));
    assert.ok(new Set(batches[0].map((r) => r.partition)).size === 3, 'a batch holds several partitions');
    const seen = batches.flat().map((r) => `${r.partition}:${r.offset}`);
    assert.equal(new Set(seen).size, records.length);
    assert.deepEqual(recordedBatches(records, 100), batches, 'the same recording makes the same batches');
  });

  it('replays through the handler in the MSK event shape', async () => {
    // Prepare
    const records = parseRecording(await readFile(FIXTURE, 'utf8'));
    const events: MSKEvent[] = [];

    // Act
    const result = await replayRecordedTopic({
      records,
      batchSize: 9,
      handler: async (event) => {
        events.push(event);
        return Object.values(event.records).flat().length;
      },
    });

    // Assess
    assert.equal(result.records, 40);
    assert.equal(result.invocations, events.length);
    assert.equal(
      result.results.reduce((a, b) => a + b, 0),
      40,
    );
    assert.ok(
      events.every(
        (e) =>
          e.eventSource === 'aws:kafka' && Object.keys(e.records).every((k) => /^clickstream-\d$/.test(k)),
      ),
    );
    const first = events[0].records['clickstream-0'][0];
    assert.equal(
      JSON.parse(Buffer.from(first.value, 'base64').toString()).session_id,
      Buffer.from(first.key, 'base64').toString(),
    );
  });
});
