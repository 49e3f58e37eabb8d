/**
 * The stream end to end without a broker: a recorded topic replayed through stream-to-parquet in the
 * exact MSK event shape, then load-events, on the embedded runtime (s3rver + embedded PostgreSQL). Expected values
 * come from the sample generator, independently of the pipeline.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateClickEvents, type SampleEvents } from '../../lambdas/core/clickstream/sample';
import { replayRecording } from '../../local/kafka/stream';
import { recordTopic, spreadTimestamps } from '../../local/kafka/topic';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { clickstreamTableDump, lakeListing, windowMismatches } from '../../local/kafka/checks';

const START = new Date('2026-03-05T10:20:00Z');
const MINUTES = 90; // spans three event hours
const COUNT = 4000;

describe('stream replay end to end (recorded topic, embedded runtime)', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  let sample: SampleEvents;

  const replay = () =>
    replayRecording(runtime, {
      values: sample.values,
      partitions: 3,
      batchSize: 500,
      timestampOf: spreadTimestamps(COUNT, START.getTime(), MINUTES * 60_000),
    });

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-stream-e2e-'));
    runtime = await startLocalRuntime({ dataDir });
    sample = generateClickEvents({ count: COUNT, seed: 'e2e-stream', start: START, minutes: MINUTES });
  });

  after(async () => {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a replayed topic lands every distinct event once, quarantines the malformed and recounts the windows', async () => {
    // Act
    const run = await replay();

    // Assess
    assert.equal(run.totals.records, COUNT);
    assert.equal(run.totals.quarantined, sample.expected.malformed);
    assert.ok(run.replay.invocations >= COUNT / 500, `${run.replay.invocations} invocations`);
    assert.equal(run.after.events, sample.expected.distinctEventIds);
    assert.equal(run.after.distinctEventIds, sample.expected.distinctEventIds);
    assert.deepEqual(await windowMismatches(runtime.warehouse), []);
    const lake = await lakeListing(runtime.lake);
    assert.ok(lake.some((l) => l.startsWith('events/clickstream/dt=2026-03-05/hour=11/clickstream-')));
    assert.ok(lake.some((l) => l.startsWith('quarantine/clickstream/dt=2026-03-05/clickstream-')));
  });

  test('replaying the same recording again writes identical objects and leaves identical tables', async () => {
    // Prepare
    const objectsBefore = await lakeListing(runtime.lake);
    const tablesBefore = await clickstreamTableDump(runtime.warehouse);

    // Act
    const run = await replay();

    // Assess
    assert.equal(run.after.events, sample.expected.distinctEventIds);
    assert.deepEqual(await lakeListing(runtime.lake), objectsBefore);
    assert.equal(await clickstreamTableDump(runtime.warehouse), tablesBefore);
  });

  test('the recording places messages exactly as the topic partitioner would, keys by session', () => {
    // Act
    const records = recordTopic(sample.values.slice(0, 300), { partitions: 3 });

    // Assess
    const perPartition = [0, 1, 2].map((p) => records.filter((r) => r.partition === p));
    for (const log of perPartition) {
      assert.ok(log.length > 50, 'keys spread over every partition');
      assert.deepEqual(
        log.map((r) => r.offset),
        log.map((_, i) => i),
      );
    }
    const bySession = new Map<string, number>();
    for (const r of records) {
      if (r.key === null || r.key.startsWith('msg-')) continue;
      assert.equal(
        bySession.get(r.key) ?? r.partition,
        r.partition,
        `session ${r.key} stays on one partition`,
      );
      bySession.set(r.key, r.partition);
    }
  });
});
