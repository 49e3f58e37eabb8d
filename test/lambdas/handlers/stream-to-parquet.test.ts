import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { MSKEvent } from 'aws-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Adapters, LakeStore } from '../../../lambdas/adapters/ports';
import { generateClickEvents } from '../../../lambdas/core/clickstream/sample';
import { asLambdaEvent, buildMskEvent } from '../../../local/kafka/msk-event';
import { startS3Server, type S3Server } from '../../../local/s3-server';
import { localLogger, RecordedMetrics } from '../../../lambdas/adapters/observability';

const BUCKET = 'cartflow-stream-test';

/** An MSK event-source-mapping event: messages dealt round-robin over partitions, offsets from 1000. */
function mskEvent(values: string[], partitions: number): MSKEvent {
  return asLambdaEvent(
    buildMskEvent(
      values.map((text, i) => ({
        topic: 'clickstream',
        partition: i % partitions,
        offset: 1000 + Math.floor(i / partitions),
        timestamp: Date.parse('2024-05-01T12:00:00Z') + i,
        key: '',
        value: text,
      })),
    ),
  );
}

const unused = () => {
  throw new Error('the stream handler must not use this adapter');
};

describe('stream-to-parquet handler against s3rver', () => {
  let dir: string;
  let s3: S3Server;
  let client: S3Client;
  let lake: LakeStore;
  let duck: DuckDBConnection;
  let instance: DuckDBInstance;
  let fixture: MSKEvent;
  // Loaded after the environment is set: Powertools reads it when the module creates its metrics.
  let handler: typeof import('../../../lambdas/handlers/stream-to-parquet').handler;
  let bindAdapters: typeof import('../../../lambdas/adapters/context').bindAdapters;
  let metrics: typeof import('../../../lambdas/adapters/observability').metrics;

  const bind = (store: LakeStore) => {
    const adapters: Adapters = {
      lake: store,
      source: { connect: unused },
      warehouse: { executeBatch: unused, query: unused },
      alerts: { publish: unused },
      logger: localLogger({}),
      metrics: new RecordedMetrics(),
    };
    bindAdapters(adapters);
  };

  /** All keys in the lake with their ETags (s3rver's are MD5s: equal ETags, equal bytes). */
  const listing = async () =>
    (await lake.list('')).map((o) => `${o.key} ${o.etag}`).sort((a, b) => a.localeCompare(b));

  /** Downloads the Parquet objects under a prefix and runs `select` over them with DuckDB. */
  const query = async (prefix: string, select: string) => {
    const keys = (await lake.list(prefix)).map((o) => o.key);
    const files = await Promise.all(
      keys.map(async (key, i) => {
        const file = join(dir, `${i}-${key.replaceAll('/', '_')}`);
        await writeFile(file, await lake.get(key));
        return `'${file}'`;
      }),
    );
    const reader = await duck.runAndReadAll(select.replace('$files', `read_parquet([${files.join(', ')}])`));
    return reader.getRowsJS();
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-stream-'));
    s3 = await startS3Server({ directory: join(dir, 's3'), bucket: BUCKET });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    const { S3LakeStore, createS3Client } = await import('../../../lambdas/adapters/s3-lake');
    ({ handler } = await import('../../../lambdas/handlers/stream-to-parquet'));
    ({ bindAdapters } = await import('../../../lambdas/adapters/context'));
    ({ metrics } = await import('../../../lambdas/adapters/observability'));
    client = createS3Client();
    lake = new S3LakeStore(client, BUCKET);
    instance = await DuckDBInstance.create();
    duck = await instance.connect();
    fixture = JSON.parse(
      await readFile(new URL('../../fixtures/clickstream/msk-event.json', import.meta.url), 'utf8'),
    ) as MSKEvent;
  });

  beforeEach(async () => {
    bind(lake);
    await lake.deletePrefix('');
  });

  after(async () => {
    duck.closeSync();
    instance.closeSync();
    client.destroy();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes events, minute aggregates and quarantine, and succeeds despite malformed records', async (t) => {
    // Prepare
    const added = t.mock.method(metrics, 'addMetric');

    // Act
    const result = await handler(fixture);

    // Assess
    assert.equal(result.written, 6);
    assert.equal(result.quarantined, 5);
    assert.deepEqual(result.objects, (await lake.list('')).map((o) => o.key).sort());
    assert.equal(result.objects.length, 10);
    const [[events, distinct]] = await query(
      'events/clickstream/',
      'SELECT count(*), count(DISTINCT event_id) FROM $files',
    );
    assert.deepEqual([events, distinct], [6n, 6n]);
    const [[perMinute]] = await query('events/aggregates/event_minute/', 'SELECT sum(events) FROM $files');
    const [[errors]] = await query('events/aggregates/error_minute/', 'SELECT sum(errors) FROM $files');
    assert.deepEqual([perMinute, errors], [6n, 2n]);
    const quarantine = await Promise.all(
      (await lake.list('quarantine/clickstream/')).map(async (o) =>
        (await lake.getText(o.key)).trim().split('\n'),
      ),
    );
    assert.deepEqual(
      quarantine.flat().map((line) => {
        const { partition, offset } = JSON.parse(line) as { partition: number; offset: number };
        return `${partition}@${offset}`;
      }),
      ['0@103', '0@105', '0@107', '1@8', '1@10'],
    );
    assert.deepEqual(
      added.mock.calls.map((c) => [c.arguments[0], c.arguments[2]]),
      [
        ['EventsWritten', 6],
        ['EventsQuarantined', 5],
        ['DuplicatesDropped', 1],
      ],
    );
  });

  it('writes the columns of fact_click_event in table order, with exact prices', async () => {
    // Act
    await handler(fixture);

    // Assess
    const described = await query('events/clickstream/', 'DESCRIBE SELECT * FROM $files');
    assert.deepEqual(
      described.map(([name, type]) => `${name} ${type}`),
      [
        'event_id VARCHAR',
        'event_type VARCHAR',
        'user_id VARCHAR',
        'session_id VARCHAR',
        'product_id VARCHAR',
        'ts TIMESTAMP',
        'event_date DATE',
        'order_id VARCHAR',
        'price DECIMAL(12,2)',
        'service VARCHAR',
        'error_code VARCHAR',
      ],
    );
    const prices = await query(
      'events/clickstream/',
      'SELECT event_id, price::VARCHAR FROM $files WHERE price IS NOT NULL ORDER BY event_id',
    );
    assert.deepEqual(prices, [
      ['e3', '19.99'],
      ['e5', '120.50'],
    ]);
  });

  it('leaves the same objects with the same bytes when the same batch is delivered twice', async () => {
    // Prepare
    const first = await handler(fixture);
    const before = await listing();

    // Act
    const second = await handler(fixture);

    // Assess
    assert.deepEqual(second, first);
    assert.deepEqual(await listing(), before);
  });

  it('lands a generated batch of 20,000 messages over 4 partitions exactly once, even when redelivered', async () => {
    // Prepare
    const { values, expected } = generateClickEvents({
      count: 20_000,
      seed: 'stream-test',
      start: new Date('2024-05-01T11:45:00Z'),
      minutes: 30,
      duplicateShare: 0.03,
      malformedShare: 0.02,
    });
    const event = mskEvent(values, 4);

    // Act
    const first = await handler(event);
    const second = await handler(event);

    // Assess
    assert.deepEqual(second.objects, first.objects);
    assert.equal(first.written, expected.distinctEventIds);
    assert.equal(first.quarantined, expected.malformed);
    const [[rows, distinct]] = await query(
      'events/clickstream/',
      'SELECT count(*), count(DISTINCT event_id) FROM $files',
    );
    assert.deepEqual(
      [rows, distinct],
      [BigInt(expected.distinctEventIds), BigInt(expected.distinctEventIds)],
    );
    // Both hours of the window, for each of the 4 partitions.
    assert.equal((await lake.list('events/clickstream/')).length, 8);
    const [[windowed]] = await query('events/aggregates/event_minute/', 'SELECT sum(events) FROM $files');
    assert.equal(windowed, BigInt(expected.distinctEventIds));
  });

  it('fails the invocation when a write fails, and a redelivery completes the same objects', async () => {
    // Prepare: the third PUT fails, as S3 would under throttling.
    let puts = 0;
    const flaky: LakeStore = Object.create(lake, {
      put: {
        value: async (...args: Parameters<LakeStore['put']>) => {
          if (++puts === 3) throw new Error('SlowDown: please reduce your request rate');
          return lake.put(...args);
        },
      },
    });
    bind(flaky);

    // Act
    await assert.rejects(handler(fixture), /SlowDown/);
    bind(lake);
    const retried = await handler(fixture);

    // Assess
    assert.deepEqual(retried.objects, (await lake.list('')).map((o) => o.key).sort());
    const [[rows]] = await query('events/clickstream/', 'SELECT count(*) FROM $files');
    assert.equal(rows, 6n);
  });

  it('fails on an event that is not an MSK event', async () => {
    // Act / Assess
    await assert.rejects(handler({} as MSKEvent), { name: 'InputFormatError' });
  });
});
