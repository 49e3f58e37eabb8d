import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processBatch, type BatchResult } from '../../../../lambdas/core/clickstream/batch';
import { generateClickEvents, type SampleOptions } from '../../../../lambdas/core/clickstream/sample';
import { Engine, fileList } from '../../../../lambdas/core/engine/engine';

const options: SampleOptions = {
  count: 5000,
  seed: 7,
  start: new Date('2024-05-01T10:30:00Z'),
  minutes: 90,
  duplicateShare: 0.05,
  malformedShare: 0.03,
};

describe('generateClickEvents', () => {
  let engine: Engine;
  let root: string;

  /** The messages as one MSK topic-partition's records, batched. */
  const runBatch = async (values: string[]): Promise<BatchResult> => {
    const dir = await mkdtemp(join(root, 'batch-'));
    const records = values.map((text, offset) => ({
      topic: 'clickstream',
      partition: 0,
      offset,
      timestamp: options.start.getTime(),
      value: Buffer.from(text).toString('base64'),
    }));
    return processBatch(engine, [records], dir);
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cartflow-sample-test-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(root, 'spill'), threads: 1 });
  });

  after(async () => {
    engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('gives the same messages for the same options and others for another seed', () => {
    // Act
    const [a, b, c] = [
      generateClickEvents(options),
      generateClickEvents(options),
      generateClickEvents({ ...options, seed: 8 }),
    ];

    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.values, c.values);
  });

  it('predicts exactly what a batch keeps, drops and quarantines', async () => {
    // Prepare
    const { values, expected } = generateClickEvents(options);

    // Act
    const { stats } = await runBatch(values);

    // Assess
    assert.equal(values.length, options.count);
    assert.equal(expected.valid + expected.malformed, options.count);
    assert.equal(stats.events, expected.distinctEventIds);
    assert.equal(stats.duplicates, expected.valid - expected.distinctEventIds);
    assert.equal(stats.quarantined, expected.malformed);
    // The shares are honoured roughly: 3 % malformed, 5 % of the rest repeated.
    assert.ok(expected.malformed > 100 && expected.malformed < 200, `${expected.malformed} malformed`);
    assert.ok(stats.duplicates > 180 && stats.duplicates < 320, `${stats.duplicates} duplicates`);
  });

  it('spreads event times over the requested minutes and types over the contract', async () => {
    // Prepare
    const { values } = generateClickEvents(options);

    // Act
    const { eventKeys, files } = await runBatch(values);
    const paths = files.filter((f) => eventKeys.includes(f.key)).map((f) => f.path);
    const [seen] = await engine.rows<{
      first: Date;
      last: Date;
      types: number;
      services: number;
      prices: number;
    }>(
      `SELECT min(ts) AS first, max(ts) AS last, CAST(count(DISTINCT event_type) AS INTEGER) AS types,
              CAST(count(service) FILTER (WHERE event_type = 'error') AS INTEGER) AS services,
              CAST(count(price) AS INTEGER) AS prices
       FROM read_parquet(${fileList(paths)})`,
    );

    // Assess
    const end = options.start.getTime() + options.minutes * 60_000;
    assert.ok(seen.first.getTime() >= options.start.getTime() && seen.last.getTime() < end);
    assert.deepEqual(
      eventKeys.map((k) => k.split('/')[3]),
      ['hour=10', 'hour=11'],
    );
    assert.equal(seen.types, 8);
    assert.ok(seen.services > 0);
    assert.ok(seen.prices > 0);
  });
});
