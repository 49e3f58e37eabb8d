/**
 * The fault switch's real crash on the stream, against a REAL Kafka broker (KAFKA_BROKERS): `cartflow
 * stream` with CARTFLOW_FAULT=stream-to-parquet:kill dies by SIGKILL after the handler has written its
 * Parquet and before the poller commits the batch's offsets. The next `cartflow stream` gets the batch
 * again and the warehouse ends with each event exactly once. (The in-process version of this point, a
 * throwing hook: stream-kafka.test.ts.)
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HANDLER_ENV, LAKE } from '../lambdas/contract';
import { generateClickEvents } from '../lambdas/core/clickstream/sample';
import { STREAM_GROUP } from '../local/kafka/esm-poller';
import { kafkaLag } from '../local/kafka/lag';
import { produceMessages } from '../local/kafka/producer';
import { runCartflow } from '../test/support/cartflow-cli';

const BROKERS = process.env.KAFKA_BROKERS;
const HOUR = 3_600_000;
const run = randomUUID().slice(0, 8);
const TOPIC = `clickstream-kill-${run}`;

describe('cartflow stream killed between the handler and the offset commit', { timeout: 300_000 }, () => {
  let dataDir: string;
  let brokers: string[];
  const hour = Math.floor(Date.now() / HOUR) * HOUR - 9 * 24 * HOUR;
  const first = generateClickEvents({
    count: 400,
    seed: `kill-a-${run}`,
    start: new Date(hour),
    minutes: 30,
  });
  const second = generateClickEvents({
    count: 400,
    seed: `kill-b-${run}`,
    start: new Date(hour + HOUR / 2),
    minutes: 30,
  });

  /** A command in a process of its own over the data dir's embedded servers (not the suite's PostgreSQL). */
  const cartflow = (args: string[], fault?: string) => {
    const env: NodeJS.ProcessEnv = { ...process.env, [HANDLER_ENV.fault]: fault ?? '' };
    delete env.SOURCE_DATABASE_URL;
    delete env.WAREHOUSE_DATABASE_URL;
    return runCartflow(args, { dataDir, env });
  };

  const stream = (fault?: string) =>
    cartflow(['stream', '--topic', TOPIC, '--batch-size', '100', '--window-ms', '200'], fault);

  /** Messages of the topic the stream's group has not committed. */
  const lag = async () => (await kafkaLag({ brokers, topic: TOPIC, group: STREAM_GROUP }).lag()).total;

  /** Event objects in the lake (s3rver keeps each object as a `<key>._S3rver_object` file under the data dir). */
  const eventObjects = async () =>
    (await readdir(join(dataDir, 's3'), { recursive: true })).filter(
      (path) => path.includes(LAKE.clickstreamEvents) && path.endsWith('.parquet._S3rver_object'),
    ).length;

  const warehouseEvents = async () => {
    const q = await cartflow([
      'query',
      'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM analytics.fact_click_event',
    ]);
    assert.equal(q.code, 0, q.err);
    const [n, ids] = q.out.split('\n')[1].split(',').map(Number);
    return { n, ids };
  };

  before(async () => {
    assert.ok(
      BROKERS,
      'KAFKA_BROKERS is not set: this suite needs a real broker (export KAFKA_BROKERS="$(bash localstack/kafka/broker.sh start)"; .ci/run does it)',
    );
    brokers = BROKERS.split(',');
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-kafka-kill-'));
    // The embedded PostgreSQL runs as its own user, which must be able to enter the data dir.
    await chmod(dataDir, 0o755);
  });

  after(async () => {
    if (dataDir) {
      // The killed command leaves the embedded server running; a last command over the data dir stops it.
      await cartflow(['status']);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test('the killed batch is delivered again and every event lands exactly once', async () => {
    // Prepare: a first part streamed and committed, then a second part produced
    await produceMessages({ brokers, topic: TOPIC, values: first.values, partitions: 3 });
    const clean = await stream();
    assert.equal(clean.code, 0, clean.err);
    assert.equal(await lag(), 0);
    const objectsBefore = await eventObjects();
    await produceMessages({ brokers, topic: TOPIC, values: second.values, partitions: 3 });

    // Act
    const killed = await stream('stream-to-parquet:kill');
    const lagAfterKill = await lag();
    const objectsAfterKill = await eventObjects();
    const rerun = await stream();

    // Assess
    assert.equal(killed.signal, 'SIGKILL', killed.err);
    assert.ok(objectsAfterKill > objectsBefore, 'the killed handler had written its Parquet');
    assert.equal(lagAfterKill, second.values.length, 'nothing of the killed batch was committed');
    assert.equal(rerun.code, 0, rerun.err);
    assert.equal(await lag(), 0);
    const expected = first.expected.distinctEventIds + second.expected.distinctEventIds;
    assert.deepEqual(await warehouseEvents(), { n: expected, ids: expected });
  });
});
