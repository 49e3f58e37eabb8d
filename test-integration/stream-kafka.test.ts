/**
 * The stream against a REAL Kafka broker (KAFKA_BROKERS; .ci/run starts one with
 * localstack/kafka/broker.sh): produce → ESM poller → stream-to-parquet → load-events on the embedded
 * lake and warehouse. Each run uses its own topic and groups, so reruns on one broker never interfere.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { generateClickEvents, type SampleEvents } from '../lambdas/core/clickstream/sample';
import {
  clickstreamTableDump,
  duplicateEventIds,
  lakeListing,
  windowMismatches,
} from '../local/kafka/checks';
import { kafkaClient } from '../local/kafka/esm-poller';
import { produceMessages } from '../local/kafka/producer';
import { streamFromKafka, warehouseEventCounts, type KafkaStreamOptions } from '../local/kafka/stream';
import { recordTopic, spreadTimestamps } from '../local/kafka/topic';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { ownWarehouseDatabase, type OwnWarehouse } from './own-warehouse';

const BROKERS = process.env.KAFKA_BROKERS;
const HOUR = 3_600_000;

describe('clickstream through a real Kafka broker', () => {
  const run = randomUUID().slice(0, 8);
  const topic = `clickstream-it-${run}`;
  const group = `cartflow-stream-it-${run}`;
  // Two past hours of traffic: A streamed normally, B streamed with a crash, then B replayed by time.
  const hourB = Math.floor(Date.now() / HOUR) * HOUR - HOUR;
  const hourA = hourB - HOUR;
  const sampleA = generateClickEvents({ count: 3000, seed: `a-${run}`, start: new Date(hourA), minutes: 60 });
  const sampleB = generateClickEvents({ count: 1500, seed: `b-${run}`, start: new Date(hourB), minutes: 60 });
  let runtime: LocalRuntime;
  let dataDir: string;
  let duck: DuckDBConnection;
  let brokers: string[];
  let warehouse: OwnWarehouse | undefined;

  const stream = (options: Partial<KafkaStreamOptions> = {}) =>
    streamFromKafka(runtime, {
      brokers,
      topic,
      groupId: group,
      batchSize: 250,
      maxBatchingWindowMs: 300,
      retryBackoffMs: 20,
      stopWhenIdleMs: 1500,
      ...options,
    });

  /** Committed offsets of a group against the log end, per partition. */
  const lag = async (groupId: string) => {
    const admin = kafkaClient(brokers).admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const ends = await admin.fetchTopicOffsets(topic);
      return ends.map((e) => {
        const c = committed.partitions.find((p) => p.partition === e.partition)?.offset ?? '-1';
        return Number(e.high) - Math.max(0, Number(c));
      });
    } finally {
      await admin.disconnect();
    }
  };

  /** Runs `select` over the Parquet objects under a prefix with DuckDB (each downloaded to a temp file). */
  const duckQuery = async (prefix: string, select: string) => {
    const keys = (await runtime.lake.list(prefix)).map((o) => o.key).filter((k) => k.endsWith('.parquet'));
    assert.ok(keys.length > 0, `objects under ${prefix}`);
    const files = await Promise.all(
      keys.map(async (key, i) => {
        const file = join(dataDir, 'duck', `${i}.parquet`);
        await writeFile(file, await runtime.lake.get(key));
        return `'${file}'`;
      }),
    );
    const reader = await duck.runAndReadAll(select.replace('$files', `read_parquet([${files.join(', ')}])`));
    return reader.getRowObjectsJS();
  };

  const quarantinedLines = async () => {
    let lines = 0;
    for (const o of await runtime.lake.list('quarantine/clickstream/')) {
      lines += (await runtime.lake.getText(o.key)).split('\n').filter(Boolean).length;
    }
    return lines;
  };

  const produce = (sample: SampleEvents, hour: number) =>
    produceMessages({
      brokers,
      topic,
      values: sample.values,
      partitions: 3,
      timestampOf: spreadTimestamps(sample.values.length, hour, HOUR),
    });

  before(async () => {
    assert.ok(
      BROKERS,
      'KAFKA_BROKERS is not set: this suite needs a real broker (export KAFKA_BROKERS="$(bash localstack/kafka/broker.sh start)"; .ci/run does it)',
    );
    brokers = BROKERS.split(',');
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-kafka-it-'));
    await mkdir(join(dataDir, 'duck'));
    // The embedded PostgreSQL runs as its own user, which must be able to enter the data dir.
    await chmod(dataDir, 0o755);
    // This suite is about the broker, and owns its tables outright: a database of its own on the
    // WAREHOUSE_DATABASE_URL server, else the embedded warehouse.
    warehouse = await ownWarehouseDatabase(`cartflow_stream_it_${run}`);
    runtime = await startLocalRuntime({
      dataDir: join(dataDir, 'runtime'),
      warehouseDatabaseUrl: warehouse.url,
      sourceDatabaseUrl: process.env.SOURCE_DATABASE_URL,
    });
    duck = await (await DuckDBInstance.create(':memory:')).connect();
  });

  after(async () => {
    duck?.closeSync();
    await runtime?.close();
    await warehouse?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('produced events with duplicates and malformed ones stream to Parquet and load exactly once', async () => {
    // Prepare
    const produced = await produce(sampleA, hourA);
    const recorded = recordTopic(sampleA.values, { topic, partitions: 3 });

    // Act
    const result = await stream();

    // Assess: the broker placed the messages exactly as a recording would.
    assert.equal(produced.topicCreated, true);
    assert.deepEqual(produced.perPartition, {
      0: recorded.filter((r) => r.partition === 0).length,
      1: recorded.filter((r) => r.partition === 1).length,
      2: recorded.filter((r) => r.partition === 2).length,
    });
    // The poller read everything once, committed everything, sent nothing to the on-failure destination.
    assert.equal(result.totals.records, sampleA.values.length);
    assert.deepEqual(result.totals.onFailure, []);
    assert.deepEqual(await lag(group), [0, 0, 0]);
    assert.ok(result.poller.invocations >= sampleA.values.length / 250);
    // Parquet, read back by DuckDB: every distinct event, and exactly the rows the handler reported.
    const [parquet] = await duckQuery(
      'events/clickstream/',
      'SELECT count(*)::INTEGER AS n, count(DISTINCT event_id)::INTEGER AS ids FROM $files',
    );
    assert.equal(parquet.ids, sampleA.expected.distinctEventIds);
    assert.equal(parquet.n, result.totals.written);
    assert.ok(Number(parquet.n) <= sampleA.expected.valid);
    assert.equal(result.totals.quarantined, sampleA.expected.malformed);
    assert.equal(await quarantinedLines(), sampleA.expected.malformed);
    // The warehouse: one row per event, minutes equal to a recount.
    assert.equal(result.after.events, sampleA.expected.distinctEventIds);
    assert.deepEqual(await duplicateEventIds(runtime.warehouse), []);
    assert.deepEqual(await windowMismatches(runtime.warehouse), []);
  });

  test('a consumer killed after the handler and before the commit redelivers: no duplicates, no loss', async () => {
    // Prepare
    await produce(sampleB, hourB);
    let batches = 0;
    const killed = new Error('consumer killed between the handler and the commit');

    // Act: the second batch is written, then the consumer dies before committing it.
    await assert.rejects(
      stream({
        load: false,
        afterHandlerBeforeCommit: async () => {
          if (++batches === 2) throw killed;
        },
      }),
      (error: Error) => error === killed || error.message === killed.message,
    );
    const lagAfterCrash = (await lag(group)).reduce((a, b) => a + b, 0);
    const restarted = await stream();

    // Assess
    assert.ok(lagAfterCrash > 0, 'the killed batch was not committed');
    assert.ok(
      restarted.totals.records >= lagAfterCrash && lagAfterCrash <= sampleB.values.length,
      `restart read the uncommitted records again (${restarted.totals.records} of ${lagAfterCrash})`,
    );
    assert.deepEqual(await lag(group), [0, 0, 0]);
    const expected = sampleA.expected.distinctEventIds + sampleB.expected.distinctEventIds;
    const [parquet] = await duckQuery(
      'events/clickstream/',
      'SELECT count(DISTINCT event_id)::INTEGER AS ids FROM $files',
    );
    assert.equal(parquet.ids, expected, 'no event lost in the lake');
    assert.equal(restarted.after.events, expected);
    assert.equal(restarted.after.distinctEventIds, expected);
    assert.deepEqual(await duplicateEventIds(runtime.warehouse), []);
    assert.deepEqual(await windowMismatches(runtime.warehouse), []);
  });

  test('replaying an hour by time twice rewrites identical objects and leaves identical tables', async () => {
    // Prepare
    const tablesBefore = await clickstreamTableDump(runtime.warehouse);
    // The default replay group (cartflow-replay-<from>-<to>), not the live one.
    const window = { fromMs: hourB, toMs: hourB + HOUR - 1, groupId: undefined };

    // Act
    const first = await stream(window);
    const objectsAfterFirst = await lakeListing(runtime.lake);
    const tablesAfterFirst = await clickstreamTableDump(runtime.warehouse);
    const second = await stream(window);

    // Assess: only hour B's messages, seeked by timestamp on every partition.
    const recordedA = recordTopic(sampleA.values, { topic, partitions: 3 });
    assert.deepEqual(
      first.poller.startOffsets,
      [0, 1, 2].map((p) => ({
        partition: p,
        offset: String(recordedA.filter((r) => r.partition === p).length),
      })),
    );
    assert.equal(first.poller.groupId, second.poller.groupId);
    assert.match(first.poller.groupId, /^cartflow-replay-/);
    assert.equal(first.totals.records, sampleB.values.length);
    assert.equal(second.totals.records, sampleB.values.length);
    assert.deepEqual(await lakeListing(runtime.lake), objectsAfterFirst);
    assert.equal(tablesAfterFirst, tablesBefore);
    assert.equal(await clickstreamTableDump(runtime.warehouse), tablesBefore);
    assert.deepEqual(await windowMismatches(runtime.warehouse), []);
    const counts = await warehouseEventCounts(runtime);
    assert.equal(counts.events, sampleA.expected.distinctEventIds + sampleB.expected.distinctEventIds);
    // The live group never moved: a backfill runs beside the live consumer.
    assert.deepEqual(await lag(group), [0, 0, 0]);
  });
});
