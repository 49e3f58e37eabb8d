import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EsmBatcher, type Batch, type CommitOffset, type Delivery } from '../../../local/kafka/batcher';
import type { KafkaRecord } from '../../../local/kafka/msk-event';

/** A kafkajs eachBatch payload stand-in that logs what the batcher does with it. */
function fakeDelivery(log: string[], partition: number, from: number, count: number): Delivery {
  const records: KafkaRecord[] = Array.from({ length: count }, (_, i) => ({
    topic: 't',
    partition,
    offset: String(from + i),
    timestamp: String(1_700_000_000_000 + from + i),
    key: null,
    value: Buffer.from(`{"n":${from + i}}`),
  }));
  return {
    topic: 't',
    partition,
    records,
    resolveOffset: (offset) => log.push(`resolve ${partition}@${offset}`),
    commit: async (offsets: CommitOffset[]) => {
      log.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
    },
  };
}

const sizes = (batches: Batch[]) => batches.map((b) => b.records.length);

describe('EsmBatcher (event-source mapping batching and commits)', () => {
  it('pools partitions into invocations of batchSize and sends the remainder when the window closes', async () => {
    // Prepare
    const log: string[] = [];
    const batches: Batch[] = [];
    const batcher = new EsmBatcher({
      batchSize: 300,
      maxBatchingWindowMs: 30,
      process: async (batch) => {
        batches.push(batch);
        log.push(`invoke ${batch.records.length}`);
      },
    });

    // Act
    await Promise.all([0, 1, 2].map((p) => batcher.deliver(fakeDelivery(log, p, 0, 250))));

    // Assess
    assert.deepEqual(sizes(batches), [300, 300, 150]);
    assert.deepEqual(batches[0].commits, [
      { topic: 't', partition: 0, offset: '250' },
      { topic: 't', partition: 1, offset: '50' },
    ]);
    assert.deepEqual(
      log.filter((l) => l.startsWith('commit')),
      ['commit 0@250,1@50', 'commit 1@250,2@100', 'commit 2@250'],
    );
    assert.ok(batcher.idle);
  });

  it('holds a small batch for the window, then invokes it once', async () => {
    // Prepare
    const batches: Batch[] = [];
    const batcher = new EsmBatcher({
      batchSize: 100,
      maxBatchingWindowMs: 60,
      process: async (b) => void batches.push(b),
    });
    const started = Date.now();

    // Act
    await batcher.deliver(fakeDelivery([], 0, 10, 7));

    // Assess
    assert.deepEqual(sizes(batches), [7]);
    assert.ok(Date.now() - started >= 50, 'waited for the batching window');
  });

  it('commits only after the handler succeeded: resolve and commit come after the invocation, in order', async () => {
    // Prepare
    const log: string[] = [];
    const batcher = new EsmBatcher({
      batchSize: 4,
      maxBatchingWindowMs: 10,
      process: async (b) => {
        await new Promise((r) => setTimeout(r, 5));
        log.push(`invoke ${b.records[0].offset}-${b.records.at(-1)!.offset}`);
      },
      afterHandlerBeforeCommit: async () => void log.push('hook'),
    });

    // Act
    await batcher.deliver(fakeDelivery(log, 0, 0, 6));

    // Assess
    assert.deepEqual(log, [
      'invoke 0-3',
      'hook',
      'resolve 0@3',
      'commit 0@4',
      'invoke 4-5',
      'hook',
      'resolve 0@5',
      'commit 0@6',
    ]);
  });

  it('a failed invocation commits nothing and fails every waiting delivery', async () => {
    // Prepare
    const log: string[] = [];
    const boom = new Error('handler failed for good');
    const batcher = new EsmBatcher({
      batchSize: 5,
      maxBatchingWindowMs: 10,
      process: async () => {
        throw boom;
      },
    });

    // Act
    const results = await Promise.allSettled([
      batcher.deliver(fakeDelivery(log, 0, 0, 5)),
      batcher.deliver(fakeDelivery(log, 1, 0, 3)),
    ]);

    // Assess
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    assert.deepEqual(log, []);
    assert.equal(batcher.error, boom);
    await assert.rejects(batcher.deliver(fakeDelivery(log, 2, 0, 1)), boom);
  });

  it('aborted while the handler runs (the broker went away): the invocation finishes, nothing is committed', async () => {
    // Prepare
    const log: string[] = [];
    let release!: () => void;
    const handlerRunning = new Promise<void>((started) => {
      release = started;
    });
    let finish!: () => void;
    const batcher = new EsmBatcher({
      batchSize: 3,
      maxBatchingWindowMs: 10,
      process: async () => {
        release();
        await new Promise<void>((resolve) => (finish = resolve));
        log.push('invoked');
      },
      afterHandlerBeforeCommit: async () => void log.push('hook'),
    });
    const delivered = batcher.deliver(fakeDelivery(log, 0, 0, 3));
    delivered.catch(() => undefined);
    await handlerRunning;

    // Act
    const lost = new Error('broker connection lost');
    batcher.abort(lost);
    finish();
    await batcher.settled();

    // Assess
    await assert.rejects(delivered, lost);
    assert.deepEqual(log, ['invoked']);
    assert.ok(batcher.idle);
  });

  it('a consumer killed after the handler and before the commit leaves the batch uncommitted', async () => {
    // Prepare
    const log: string[] = [];
    let invocations = 0;
    const batcher = new EsmBatcher({
      batchSize: 3,
      maxBatchingWindowMs: 10,
      process: async () => void invocations++,
      afterHandlerBeforeCommit: async () => {
        if (invocations === 2) throw new Error('killed');
      },
    });

    // Act
    await assert.rejects(batcher.deliver(fakeDelivery(log, 0, 0, 9)), /killed/);

    // Assess: the first batch was committed, the second ran but was not, the third never ran.
    assert.equal(invocations, 2);
    assert.deepEqual(log, ['resolve 0@2', 'commit 0@3']);
  });

  it('replay mode cuts whole chunks from the delivery start and leaves a partial chunk unless final', async () => {
    // Prepare
    const log: string[] = [];
    const batches: Batch[] = [];
    const batcher = new EsmBatcher({
      batchSize: 4,
      maxBatchingWindowMs: 10,
      process: async (b) => void batches.push(b),
    });

    // Act
    const notFinal = await batcher.deliverAligned(fakeDelivery(log, 0, 100, 10), false);
    const final = await batcher.deliverAligned(fakeDelivery(log, 0, 108, 3), true);

    // Assess
    assert.equal(notFinal, 8);
    assert.equal(final, 3);
    assert.deepEqual(
      batches.map((b) => `${b.records[0].offset}-${b.records.at(-1)!.offset}`),
      ['100-103', '104-107', '108-110'],
    );
    assert.deepEqual(
      log.filter((l) => l.startsWith('commit')),
      ['commit 0@104', 'commit 0@108', 'commit 0@111'],
    );
  });

  it('replay mode invokes a partial chunk that a second fetch could not grow', async () => {
    // Prepare
    const batches: Batch[] = [];
    const batcher = new EsmBatcher({
      batchSize: 50,
      maxBatchingWindowMs: 10,
      process: async (b) => void batches.push(b),
    });

    // Act
    const first = await batcher.deliverAligned(fakeDelivery([], 3, 0, 20), false);
    const again = await batcher.deliverAligned(fakeDelivery([], 3, 0, 20), false);

    // Assess
    assert.equal(first, 0);
    assert.equal(again, 20);
    assert.deepEqual(sizes(batches), [20]);
  });
});
