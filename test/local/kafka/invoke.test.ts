import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MSKEvent } from 'aws-lambda';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { invokeBatch } from '../../../local/kafka/invoke';
import type { KafkaRecord } from '../../../local/kafka/msk-event';

const records: KafkaRecord[] = [
  {
    topic: 'clickstream',
    partition: 1,
    offset: '40',
    timestamp: '1714561200000',
    key: 's1',
    value: '{"a":1}',
  },
  {
    topic: 'clickstream',
    partition: 1,
    offset: '41',
    timestamp: '1714561201000',
    key: 's1',
    value: '{"a":2}',
  },
  {
    topic: 'clickstream',
    partition: 2,
    offset: '7',
    timestamp: '1714561202000',
    key: 's2',
    value: '{"a":3}',
  },
];

describe('invoking the stream handler like the event-source mapping', () => {
  it('retries a failing invocation with exponential backoff and returns the result that succeeded', async () => {
    // Prepare
    const sleeps: number[] = [];
    let calls = 0;
    const handler = async (event: MSKEvent) => {
      if (++calls < 3) throw new Error(`transient ${calls}`);
      return Object.keys(event.records);
    };

    // Act
    const outcome = await invokeBatch(records, {
      handler,
      retries: 3,
      backoffMs: 100,
      sleep: async (ms) => void sleeps.push(ms),
    });

    // Assess
    assert.deepEqual(outcome, { status: 'ok', attempts: 3, result: ['clickstream-1', 'clickstream-2'] });
    assert.deepEqual(sleeps, [100, 200]);
  });

  it('after the last retry writes each partition of the batch to the on-failure destination, with the error', async () => {
    // Prepare
    const lake = new MemoryLakeStore();
    const handler = async (): Promise<never> => {
      throw new TypeError('cannot write Parquet');
    };

    // Act
    const outcome = await invokeBatch(records, {
      handler,
      retries: 2,
      backoffMs: 1,
      lake,
      sleep: async () => undefined,
    });

    // Assess
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.attempts, 3);
    assert.deepEqual([...lake.objects.keys()].sort(), [
      'aws/lambda/local/clickstream-1/40-41.json',
      'aws/lambda/local/clickstream-2/7-7.json',
    ]);
    const body = JSON.parse(await lake.getText('aws/lambda/local/clickstream-1/40-41.json')) as {
      requestContext: { condition: string; approximateInvokeCount: number };
      errorType: string;
      errorMessage: string;
      KafkaBatchInfo: {
        batchSize: number;
        recordsInfo: Record<string, { firstRecordOffset: string; lastRecordOffset: string }>;
      };
      payload: { eventSource: string; records: Record<string, { offset: number; value: string }[]> };
    };
    assert.equal(body.requestContext.condition, 'RetryAttemptsExhausted');
    assert.equal(body.requestContext.approximateInvokeCount, 3);
    assert.equal(body.errorType, 'TypeError');
    assert.equal(body.errorMessage, 'cannot write Parquet');
    assert.equal(body.KafkaBatchInfo.batchSize, 3);
    assert.deepEqual(
      Object.entries(body.KafkaBatchInfo.recordsInfo).map(
        ([id, r]) => `${id}:${r.firstRecordOffset}-${r.lastRecordOffset}`,
      ),
      ['clickstream-1:40-41', 'clickstream-2:7-7'],
    );
    assert.equal(body.payload.eventSource, 'aws:kafka');
    assert.deepEqual(Object.keys(body.payload.records), ['clickstream-1']);
    assert.equal(Buffer.from(body.payload.records['clickstream-1'][1].value, 'base64').toString(), '{"a":2}');
  });

  it('without an on-failure destination a batch that keeps failing is an error', async () => {
    // Act / Assess
    await assert.rejects(
      invokeBatch(records, {
        handler: async () => {
          throw new Error('always');
        },
        retries: 1,
        backoffMs: 1,
        sleep: async () => undefined,
      }),
      /always/,
    );
  });

  it('gives every attempt its own copy of the event', async () => {
    // Prepare
    const seen: number[] = [];
    const handler = async (event: MSKEvent) => {
      seen.push(event.records['clickstream-1'].length);
      event.records['clickstream-1'].pop();
      if (seen.length === 1) throw new Error('retry me');
    };

    // Act
    await invokeBatch(records, { handler, retries: 1, backoffMs: 1, sleep: async () => undefined });

    // Assess
    assert.deepEqual(seen, [2, 2]);
  });
});
