import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type { MSKEvent } from 'aws-lambda';
import type { LakeStore } from '../../../lambdas/adapters/ports';
import { generateClickEvents } from '../../../lambdas/core/clickstream/sample';
import { makeStreamToParquet, step, type StreamResult } from '../../../lambdas/handlers/stream-to-parquet';
import { asLambdaEvent, buildMskEvent } from '../../../local/kafka/msk-event';
import { startTestLake, type TestLake } from '../../support/s3';
import { RecordedMetrics } from '../../../lambdas/adapters/observability';
import { stepAdapters } from '../../../bench/support/step-adapters';

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

describe('stream-to-parquet handler against s3rver', () => {
  let dir: string;
  let s3: TestLake;
  let lake: LakeStore;
  let duck: DuckDBConnection;
  let instance: DuckDBInstance;
  let fixture: MSKEvent;
  let metrics: RecordedMetrics;
  let handler: (event: MSKEvent) => Promise<StreamResult>;

  const build = (store: LakeStore) => {
    metrics = new RecordedMetrics();
    return step.make(stepAdapters({ lake: store, metrics }), step.settings({ TMPDIR: dir }));
  };

  /** The data keys in the lake with their ETags (s3rver's are MD5s: equal ETags, equal bytes). */
  const listing = async () =>
    (await dataObjects()).map((o) => `${o.key} ${o.etag}`).sort((a, b) => a.localeCompare(b));
  /** Everything but the arrival notices, which each delivery adds under its own time. */
  const dataObjects = async () => (await lake.list('')).filter((o) => !o.key.startsWith('events/_arrivals/'));

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
    s3 = await startTestLake(BUCKET);
    lake = s3.lake;
    instance = await DuckDBInstance.create();
    duck = await instance.connect();
    fixture = JSON.parse(
      await readFile(new URL('../../fixtures/clickstream/msk-event.json', import.meta.url), 'utf8'),
    ) as MSKEvent;
  });

  beforeEach(async () => {
    handler = build(lake);
    await lake.deletePrefix('');
  });

  after(async () => {
    duck.closeSync();
    instance.closeSync();
    await s3.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes events, minute aggregates, quarantine and an arrival notice, and succeeds despite malformed records', async () => {
    // Act
    const result = await handler(fixture);

    // Assess
    assert.equal(result.written, 6);
    assert.equal(result.quarantined, 5);
    assert.deepEqual(result.objects, (await dataObjects()).map((o) => o.key).sort());
    assert.equal(result.objects.length, 10);
    assert.match(
      result.arrival ?? '',
      /^events\/_arrivals\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\/\d{8}T\d{9}Z-clickstream-0-100-107\.json$/,
    );
    const notice = JSON.parse(await lake.getText(result.arrival!)) as { objects: string[] };
    assert.deepEqual(
      notice.objects.sort(),
      result.objects.filter((k) => k.startsWith('events/clickstream/')),
    );
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
      metrics.datapoints.map((d) => [d.name, d.value]),
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
    assert.deepEqual(
      { ...second, arrival: undefined, timings: undefined },
      { ...first, arrival: undefined, timings: undefined },
    );
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
    // Prepare: the third upload fails, as S3 would under throttling.
    let uploads = 0;
    const flaky: LakeStore = Object.create(lake, {
      upload: {
        value: async (...args: Parameters<LakeStore['upload']>) => {
          if (++uploads === 3) throw new Error('SlowDown: please reduce your request rate');
          return lake.upload(...args);
        },
      },
    });
    const failing = build(flaky);

    // Act
    await assert.rejects(failing(fixture), /SlowDown/);
    const noticesAfterFailure = await lake.list('events/_arrivals/');
    const retried = await handler(fixture);

    // Assess: no notice names objects of the failed delivery; the retry's does.
    assert.deepEqual(noticesAfterFailure, []);
    assert.deepEqual(retried.objects, (await dataObjects()).map((o) => o.key).sort());
    const [[rows]] = await query('events/clickstream/', 'SELECT count(*) FROM $files');
    assert.equal(rows, 6n);
  });

  it('keeps no file in its working directory after a batch, and nothing of a failed one', async () => {
    // Prepare: a handler whose second upload fails.
    const work = join(dir, 'cartflow-duckdb');
    const before = new Set(await readdir(work).catch(() => []));
    const failing = build(
      Object.create(lake, {
        upload: { value: () => Promise.reject(new Error('SlowDown: please reduce your request rate')) },
      }) as LakeStore,
    );

    // Act
    await handler(fixture);
    await handler(fixture);
    const files = (await readdir(work, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    const kept = (await readdir(work)).filter((name) => !before.has(name));
    await assert.rejects(failing(fixture), /SlowDown/);

    // Assess: one output tree, reused by the second batch, without files; the failed batch's removed.
    assert.deepEqual(files, []);
    assert.equal(kept.length, 1);
    assert.deepEqual(
      (await readdir(work)).filter((name) => !before.has(name)),
      kept,
    );
  });

  it('fails the batch when its notice is written later after its stamp than load-events keeps an hour open', async () => {
    // Prepare: 15 minutes pass between the stamp and the end of the notice's PUT (the default close time
    // is 15 minutes, less a minute of clock margin, leaves 14).
    const times = [new Date('2024-05-01T12:00:00Z'), new Date('2024-05-01T12:15:00Z')];
    const slow = makeStreamToParquet(stepAdapters({ lake, metrics }), step.settings({ TMPDIR: dir }), () =>
      times.length > 1 ? times.shift()! : times[0],
    );

    // Act + Assess
    await assert.rejects(slow(fixture), (error: Error) => {
      assert.equal(error.name, 'TransientError');
      assert.match(
        error.message,
        /^events\/_arrivals\/dt=2024-05-01\/hour=12\/\S+\.json was written 900000 ms after its stamp, past 840000 ms \(EVENTS_ARRIVAL_CLOSE_SECONDS less 60 s\)/,
      );
      return true;
    });
    assert.equal((await handler(fixture)).objects.length > 0, true);
  });

  it('reports the time of each part of an invocation, also of a second one on the warm engine', async () => {
    // Prepare
    await handler(fixture);

    // Act
    const { timings } = await handler(fixture);

    // Assess
    assert.deepEqual(Object.keys(timings), ['decode', 'sql', 'write', 'upload', 'cleanup']);
    assert.ok(Object.values(timings).every((ms) => ms >= 0));
    assert.ok(timings.sql > 0);
  });

  it('fails on an event that is not an MSK event', async () => {
    // Act / Assess
    await assert.rejects(handler({} as MSKEvent), { name: 'InputFormatError' });
  });
});
