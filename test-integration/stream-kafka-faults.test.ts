/**
 * Faults of the stream against a REAL Kafka broker (KAFKA_BROKERS, started by localstack/kafka/broker.sh):
 * the broker restarted mid-stream, poison messages, a batch that fails every retry. In each case the
 * warehouse ends with one row per valid event_id produced: nothing lost, nothing duplicated. (A consumer
 * killed between the handler and the commit: stream-kafka.test.ts.)
 *
 * Every test has its own topic, group and sample seed; the warehouse is a database of the suite's own on
 * the PostgreSQL server of WAREHOUSE_DATABASE_URL when that is set, else the embedded one.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { MSKEvent } from 'aws-lambda';
import { generateClickEvents, type SampleEvents } from '../lambdas/core/clickstream/sample';
import { duplicateEventIds, windowMismatches } from '../local/kafka/checks';
import { kafkaClient, runEsmPoller, type ReconnectInfo } from '../local/kafka/esm-poller';
import { ON_FAILURE_PREFIX } from '../local/kafka/invoke';
import { kafkaLag } from '../local/kafka/lag';
import { produceMessages } from '../local/kafka/producer';
import { streamFromKafka, type KafkaStreamOptions } from '../local/kafka/stream';
import { startLocalRuntime, type LocalRuntime } from '../local/runtime';
import { ownWarehouseDatabase, type OwnWarehouse } from './own-warehouse';

const BROKERS = process.env.KAFKA_BROKERS;
const SOURCE_URL = process.env.SOURCE_DATABASE_URL;
const BROKER_SH = fileURLToPath(new URL('../localstack/kafka/broker.sh', import.meta.url));
const HOUR = 3_600_000;
const run = randomUUID().slice(0, 8);
const exec = promisify(execFile);

/** broker.sh with this process's KAFKA_PORT / KAFKA_DATA_DIR: the broker the suite was started with. */
const brokerSh = (...args: string[]) =>
  exec('bash', [BROKER_SH, ...args], { env: { ...process.env, KAFKA_KEEP_DATA: '1' }, timeout: 150_000 });

/** Whether KAFKA_BROKERS is the broker broker.sh manages here (so the suite may restart it). */
async function managedBroker(brokers: string): Promise<boolean> {
  const status = await exec('bash', [BROKER_SH, 'status'], { env: process.env }).catch(() => undefined);
  return status?.stdout.includes(`bootstrap=${brokers} `) ?? false;
}

describe('clickstream faults against a real Kafka broker', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  let brokers: string[];
  let restartable = false;
  let warehouse: OwnWarehouse | undefined;

  before(async () => {
    assert.ok(
      BROKERS,
      'KAFKA_BROKERS is not set: this suite needs a real broker (export KAFKA_BROKERS="$(bash localstack/kafka/broker.sh start)"; .ci/run does it)',
    );
    brokers = BROKERS.split(',');
    restartable = await managedBroker(BROKERS);
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-kafka-faults-'));
    // The embedded PostgreSQL runs as its own user, which must be able to enter the data dir.
    await chmod(dataDir, 0o755);
    warehouse = await ownWarehouseDatabase(`cartflow_kafka_faults_${run}`);
    runtime = await startLocalRuntime({
      dataDir: join(dataDir, 'runtime'),
      warehouseDatabaseUrl: warehouse.url,
      sourceDatabaseUrl: SOURCE_URL,
    });
  });

  after(async () => {
    await runtime?.close();
    await warehouse?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A topic of its own, the sample's events in an hour of their own (days back, so tests never share one). */
  const scenario = (name: string, count: number, daysBack: number) => {
    const hour = Math.floor(Date.now() / HOUR) * HOUR - daysBack * 24 * HOUR;
    const seed = `${name}-${run}`;
    return {
      topic: `clickstream-faults-${name}-${run}`,
      group: `cartflow-stream-faults-${name}-${run}`,
      seed,
      sample: generateClickEvents({ count, seed, start: new Date(hour), minutes: 60 }),
    };
  };

  const produce = (topic: string, sample: SampleEvents) =>
    produceMessages({ brokers, topic, values: sample.values, partitions: 3 });

  const stream = (topic: string, group: string, options: Partial<KafkaStreamOptions> = {}) =>
    streamFromKafka(runtime, {
      brokers,
      topic,
      groupId: group,
      batchSize: 100,
      maxBatchingWindowMs: 200,
      retryBackoffMs: 20,
      stopWhenIdleMs: 1500,
      ...options,
    });

  /** The sample's rows in the warehouse: all of them and distinct event_ids (ids are `evt-<seed>-…`). */
  const warehouseRows = async (seed: string) => {
    const [row] = await runtime.warehouse.query<{ rows: string; ids: string }>(
      `SELECT count(*)::text AS rows, count(DISTINCT event_id)::text AS ids
       FROM analytics.fact_click_event WHERE event_id LIKE '${`evt-${seed}-`.replace(/'/g, "''")}%'`,
    );
    return { rows: Number(row.rows), ids: Number(row.ids) };
  };

  /** Messages produced but not committed by the group, summed over partitions. */
  const lag = async (topic: string, group: string) => (await kafkaLag({ brokers, topic, group }).lag()).total;

  /** CI starts the broker with broker.sh, so there a broker it cannot restart is a failure, not a skip. */
  const canRestartBroker = (t: TestContext): boolean => {
    if (restartable) return true;
    const why = `KAFKA_BROKERS (${BROKERS}) is not the broker localstack/kafka/broker.sh runs here: cannot restart it`;
    assert.ok(!process.env.CI, why);
    t.skip(why);
    return false;
  };

  const assertExactlyOnce = async (seed: string, sample: SampleEvents) => {
    assert.deepEqual(await warehouseRows(seed), {
      rows: sample.expected.distinctEventIds,
      ids: sample.expected.distinctEventIds,
    });
    assert.deepEqual(await duplicateEventIds(runtime.warehouse), []);
    assert.deepEqual(await windowMismatches(runtime.warehouse), []);
  };

  test('the broker restarted between a handler and its commit: the poller reconnects and loads every event once', async (t) => {
    if (!canRestartBroker(t)) return;
    // Prepare
    const { topic, group, seed, sample } = scenario('restart', 2500, 3);
    await produce(topic, sample);
    let batches = 0;
    let restarted: Promise<unknown> | undefined;
    const reconnects: ReconnectInfo[] = [];
    const started = Date.now();

    // Act: the third batch's handler has written its objects; the broker goes down before the commit, and
    // comes back (same port, same data) while the poller keeps trying.
    const result = await stream(topic, group, {
      afterHandlerBeforeCommit: async () => {
        if (++batches !== 3) return;
        await brokerSh('stop');
        restarted = brokerSh('start');
      },
      onReconnect: (r) => reconnects.push(r),
    });
    await restarted;

    // Assess
    t.diagnostic(
      `${reconnects.length} reconnect(s) in ${Date.now() - started} ms: ${reconnects.map((r) => r.error).join(' | ')}`,
    );
    assert.ok(reconnects.length >= 1, 'the poller reconnected');
    assert.ok(
      result.totals.records > sample.values.length,
      `the uncommitted batch was delivered again (${result.totals.records} records read of ${sample.values.length})`,
    );
    assert.deepEqual(result.totals.onFailure, []);
    assert.equal(await lag(topic, group), 0);
    await assertExactlyOnce(seed, sample);
  });

  test('the broker down while the poller waits for records: it keeps polling and takes what arrives after', async (t) => {
    if (!canRestartBroker(t)) return;
    // Prepare: a first part of the sample; the rest is produced once the broker is back.
    const { topic, group, seed, sample } = scenario('idle-outage', 1200, 6);
    await produce(topic, { ...sample, values: sample.values.slice(0, 600) });
    const reconnects: ReconnectInfo[] = [];
    let outage: Promise<void> | undefined;
    let backAt = 0;
    const started = Date.now();

    // Act: once the first part is committed and the poller is waiting, the broker goes away for longer
    // than stopWhenIdleMs (a silent broker is not an idle topic), then the rest is produced.
    let read = 0;
    const streaming = stream(topic, group, {
      stopWhenIdleMs: 4000,
      onBatch: (b) => {
        read += b.records;
        if (read < 600) return;
        outage ??= (async () => {
          await new Promise((resolve) => setTimeout(resolve, 500));
          await brokerSh('stop');
          await new Promise((resolve) => setTimeout(resolve, 3000));
          await brokerSh('start');
          backAt = Date.now();
          await produce(topic, { ...sample, values: sample.values.slice(600) });
        })();
      },
      onReconnect: (r) => reconnects.push(r),
    });
    const result = await streaming;
    await outage;

    // Assess
    t.diagnostic(`${reconnects.length} reconnect(s) in ${Date.now() - started} ms`);
    assert.ok(reconnects.length >= 1, 'the poller reconnected');
    assert.ok(
      backAt > 0 && result.totals.records >= sample.values.length,
      'read what arrived after the outage',
    );
    assert.deepEqual(result.totals.onFailure, []);
    assert.equal(await lag(topic, group), 0);
    await assertExactlyOnce(seed, sample);
  });

  test('poison messages (invalid UTF-8, no value, not JSON, huge) are quarantined and the stream goes on', async () => {
    // Prepare: the sample, with poison messages among its messages.
    const { topic, group, seed, sample } = scenario('poison', 1500, 4);
    const poison: { key: string; value: Buffer | string | null }[] = [
      { key: 'p-utf8', value: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]) },
      { key: 'p-binary', value: Buffer.from([0x00, 0x01, 0x02, 0x80, 0x9f, 0xed, 0xa0, 0x80]) },
      { key: 'p-tombstone', value: null },
      { key: 'p-empty', value: '' },
      { key: 'p-text', value: 'not json at all' },
      { key: 'p-array', value: '[1,2,3]' },
      { key: 'p-truncated', value: '{"event_id": "evt-x", "event_type": "page_v' },
      { key: 'p-huge', value: `{"event_id":"${'x'.repeat(300_000)}"}` },
    ];
    await produce(topic, { ...sample, values: sample.values.slice(0, 700) });
    const producer = kafkaClient(brokers, 'cartflow-poison').producer();
    await producer.connect();
    await producer.send({ topic, messages: poison, acks: -1 });
    await producer.disconnect();
    await produce(topic, { ...sample, values: sample.values.slice(700) });

    // Act
    const result = await stream(topic, group);

    // Assess: every message read once, no batch failed, each poison message quarantined with a reason.
    assert.equal(result.totals.records, sample.values.length + poison.length);
    assert.deepEqual(result.totals.onFailure, []);
    assert.equal(result.totals.quarantined, sample.expected.malformed + poison.length);
    const quarantined: { reason: string; raw: string | null }[] = [];
    for (const o of await runtime.lake.list('quarantine/clickstream/')) {
      if (!o.key.includes(topic)) continue;
      for (const line of (await runtime.lake.getText(o.key)).split('\n').filter(Boolean)) {
        quarantined.push(JSON.parse(line) as { reason: string; raw: string | null });
      }
    }
    assert.equal(quarantined.length, sample.expected.malformed + poison.length);
    assert.ok(quarantined.every((q) => typeof q.reason === 'string' && q.reason !== ''));
    assert.equal(await lag(topic, group), 0);
    await assertExactlyOnce(seed, sample);
  });

  test('a batch failing every retry goes to the on-failure destination, the poller moves on, a redrive completes it', async () => {
    // Prepare: the handler always throws for a batch holding partition 1's offsets 200-249.
    const { topic, group, seed, sample } = scenario('onfailure', 1500, 5);
    await produce(topic, sample);
    const poisoned = (event: MSKEvent) =>
      Object.values(event.records)
        .flat()
        .some((r) => r.partition === 1 && r.offset >= 200 && r.offset < 250);
    let failedAttempts = 0;
    const handler = async (event: MSKEvent) => {
      if (poisoned(event)) {
        failedAttempts++;
        throw new Error('injected: this batch always fails');
      }
      return runtime.streamToParquet(event);
    };

    // Act: the poller as `cartflow stream` runs it, with the failing handler; then load-events.
    const poller = await runEsmPoller({
      brokers,
      topic,
      groupId: group,
      handler,
      lake: runtime.lake,
      batchSize: 100,
      maxBatchingWindowMs: 200,
      retries: 2,
      retryBackoffMs: 20,
      stopWhenIdleMs: 1500,
    });
    await runtime.loadEvents();
    const afterStream = await warehouseRows(seed);

    // Assess: the failed batch's partitions each have an on-failure object, the group committed past it.
    assert.ok(poller.onFailure.length >= 1);
    assert.ok(poller.onFailure.some((k) => k.includes(`${topic}-1/`)));
    assert.equal(failedAttempts % 3, 0, 'every failed batch was tried 1 + 2 times');
    assert.equal(await lag(topic, group), 0);
    assert.ok(afterStream.ids < sample.expected.distinctEventIds, 'the failed batch is not in the warehouse');
    assert.equal(afterStream.rows, afterStream.ids);
    const onFailure = (await runtime.lake.list(ON_FAILURE_PREFIX)).map((o) => o.key).sort();
    assert.deepEqual(onFailure, [...poller.onFailure].sort());

    // Act: redrive, as an operator would: each on-failure object's payload is an MSK event for the handler.
    for (const key of onFailure) {
      const body = JSON.parse(await runtime.lake.getText(key)) as {
        requestContext: { condition: string; approximateInvokeCount: number };
        errorMessage: string;
        payload: MSKEvent;
      };
      assert.equal(body.requestContext.condition, 'RetryAttemptsExhausted');
      assert.equal(body.requestContext.approximateInvokeCount, 3);
      assert.match(body.errorMessage, /injected/);
      await runtime.streamToParquet(body.payload);
    }
    await runtime.loadEvents();

    // Assess: now every event, once.
    await assertExactlyOnce(seed, sample);
  });
});
