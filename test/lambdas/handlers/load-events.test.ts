import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { MSKEvent } from 'aws-lambda';
import type { Adapters, LakeStore, Warehouse } from '../../../lambdas/adapters/ports';
import { parseClickEvent } from '../../../lambdas/core/clickstream/event';
import { generateClickEvents } from '../../../lambdas/core/clickstream/sample';
import { CopyMismatchError } from '../../../lambdas/core/errors';
import { warehouseDdl } from '../../../lambdas/core/sql';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { startTestLake, type TestLake } from '../../support/s3';
import { localLogger, RecordedMetrics } from '../../../lambdas/adapters/observability';

const COPY_ROLE = 'arn:aws:iam::000000000000:role/cartflow-local-copy';

/** A stream batch of one topic-partition, as the fixtures write it: message values and their first offset. */
interface FixtureBatch {
  partition: number;
  firstOffset: number;
  values: unknown[];
}

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../../fixtures/clickstream/${name}`, import.meta.url), 'utf8')) as T;

type MskRecord = MSKEvent['records'][string][number];

const mskRecord = (partition: number, offset: number, text: string): MskRecord => ({
  topic: 'clickstream',
  partition,
  offset,
  timestamp: Date.parse('2024-05-01T12:00:00Z') + offset,
  timestampType: 'CREATE_TIME',
  key: '',
  value: Buffer.from(text).toString('base64'),
  headers: [],
});

/** The MSK event-source-mapping event carrying `records`, grouped by topic-partition. */
function mskEvent(records: MskRecord[]): MSKEvent {
  const grouped: MSKEvent['records'] = {};
  for (const r of records) (grouped[`${r.topic}-${r.partition}`] ??= []).push(r);
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/cartflow/local',
    bootstrapServers: 'localhost:9092',
    records: grouped,
  };
}

const batchEvent = (...batches: FixtureBatch[]) =>
  mskEvent(
    batches.flatMap((b) =>
      b.values.map((v, i) => mskRecord(b.partition, b.firstOffset + i, JSON.stringify(v))),
    ),
  );

/** Generated messages dealt round-robin over two partitions; message i sits at offset ⌊i/2⌋. */
const generatedRecords = (values: string[]) =>
  values.map((text, i) => mskRecord(i % 2, Math.floor(i / 2), text));

/** Per (minute, type) counts of the distinct valid events among `values`: the oracle, computed without SQL. */
function expectedMinutes(values: string[]): string[] {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (const text of values) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      continue;
    }
    const parsed = parseClickEvent(json);
    if ('reason' in parsed || seen.has(parsed.event.event_id)) continue;
    seen.add(parsed.event.event_id);
    const minute = new Date(Math.floor(parsed.event.ts.getTime() / 60_000) * 60_000).toISOString();
    const id = `${minute} ${parsed.event.event_type}`;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return [...counts].map(([id, n]) => `${id} ${n}`).sort();
}

const unused = () => {
  throw new Error('the events load must not use this adapter');
};

describe('load-events handler against s3rver and PGlite', () => {
  let s3: TestLake;
  let lake: LakeStore;
  let warehouse: SqlWarehouse;
  // Loaded after the environment is set: Powertools reads it when the modules create logger and metrics.
  let loadEvents: typeof import('../../../lambdas/handlers/load-events').handler;
  let streamToParquet: typeof import('../../../lambdas/handlers/stream-to-parquet').handler;
  let bindAdapters: typeof import('../../../lambdas/adapters/context').bindAdapters;
  let metrics: typeof import('../../../lambdas/adapters/observability').metrics;

  const bind = (store: LakeStore, wh: Warehouse = warehouse) => {
    const adapters: Adapters = {
      lake: store,
      source: { connect: unused },
      warehouse: wh,
      alerts: { publish: unused },
      logger: localLogger({}),
      metrics: new RecordedMetrics(),
    };
    bindAdapters(adapters);
  };

  const count = async (table: string) =>
    (await warehouse.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n;
  const eventMinutes = () =>
    warehouse.query('SELECT window_start, event_type, events FROM analytics.agg_event_minute ORDER BY 1, 2');
  const errorMinutes = () =>
    warehouse.query(
      'SELECT window_start, service, error_code, errors FROM analytics.agg_error_minute ORDER BY 1, 2, 3',
    );
  /** Everything a load writes, to compare before and after. */
  const snapshot = async () => ({
    facts: await warehouse.query('SELECT * FROM analytics.fact_click_event ORDER BY event_id'),
    eventMinutes: await eventMinutes(),
    errorMinutes: await errorMinutes(),
    ledger: await warehouse.query(
      'SELECT object_key, etag, "rows", load_id FROM ops.event_load_ledger ORDER BY object_key',
    ),
  });
  /** The aggregates must equal a recount of the fact table, exactly. */
  const assertAggregatesMatchFacts = async () => {
    assert.deepEqual(
      await eventMinutes(),
      await warehouse.query(
        `SELECT DATE_TRUNC('minute', ts) AS window_start, event_type, COUNT(*) AS events
         FROM analytics.fact_click_event GROUP BY 1, 2 ORDER BY 1, 2`,
      ),
    );
    assert.deepEqual(
      await errorMinutes(),
      await warehouse.query(
        `SELECT DATE_TRUNC('minute', ts) AS window_start, COALESCE(service, 'unknown') AS service,
                COALESCE(error_code, 'unknown') AS error_code, COUNT(*) AS errors
         FROM analytics.fact_click_event WHERE event_type = 'error' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      ),
    );
  };
  const fromJson = (rows: Record<string, unknown>[]) =>
    rows.map((r) => ({ ...r, window_start: new Date(r.window_start as string) }));

  before(async () => {
    s3 = await startTestLake('cartflow-load-events');
    lake = s3.lake;
    // As local/runtime.ts configureHandlerEnvironment sets it for the handlers.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      LAKE_BUCKET: lake.bucket,
      REDSHIFT_COPY_ROLE_ARN: COPY_ROLE,
      CARTFLOW_ENV: 'local',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    ({ handler: loadEvents } = await import('../../../lambdas/handlers/load-events'));
    ({ handler: streamToParquet } = await import('../../../lambdas/handlers/stream-to-parquet'));
    ({ bindAdapters } = await import('../../../lambdas/adapters/context'));
    ({ metrics } = await import('../../../lambdas/adapters/observability'));
    warehouse = new SqlWarehouse(await openDatabase({}), lake);
    await warehouse.executeBatch(warehouseDdl());
  });

  beforeEach(async () => {
    bind(lake);
    await lake.deletePrefix('');
    await warehouse.executeBatch([
      'DELETE FROM analytics.fact_click_event',
      'DELETE FROM analytics.agg_event_minute',
      'DELETE FROM analytics.agg_error_minute',
      'DELETE FROM ops.event_load_ledger',
    ]);
  });

  afterEach(() => {
    delete process.env.EVENTS_LOAD_MAX_OBJECTS;
  });

  after(async () => {
    await warehouse.close();
    await s3.close();
  });

  it('loads each object once: a second run finds nothing and changes nothing', async (t) => {
    // Prepare
    const { values, expected } = generateClickEvents({
      count: 4_000,
      seed: 'load-once',
      start: new Date('2024-05-01T11:55:00Z'),
      minutes: 10,
    });
    await streamToParquet(mskEvent(generatedRecords(values)));
    const eventObjects = await lake.list('events/clickstream/');
    const added = t.mock.method(metrics, 'addMetric');

    // Act
    const first = await loadEvents({ 'detail-type': 'Scheduled Event' });
    const loaded = await snapshot();
    const second = await loadEvents({ 'detail-type': 'Scheduled Event' });

    // Assess
    assert.equal(first.objects, eventObjects.length);
    assert.equal(first.events, expected.distinctEventIds);
    assert.match(first.loadId ?? '', /^events-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    assert.deepEqual(second, { objects: 0 });
    assert.deepEqual(await snapshot(), loaded);
    assert.equal(loaded.facts.length, expected.distinctEventIds);
    assert.deepEqual(
      loaded.ledger.map((r) => r.object_key),
      eventObjects.map((o) => o.key).sort(),
    );
    assert.deepEqual(
      added.mock.calls.map((c) => [c.arguments[0], c.arguments[2]]),
      [
        ['EventsLoaded', expected.distinctEventIds],
        ['ObjectsLoaded', eventObjects.length],
      ],
    );
    const manifest = JSON.parse(await lake.getText(`events/_manifests/${first.loadId}.manifest`)) as {
      entries: { url: string; mandatory: boolean; meta: { content_length: number } }[];
    };
    assert.deepEqual(
      manifest.entries,
      eventObjects
        .map((o) => ({
          url: `s3://${lake.bucket}/${o.key}`,
          mandatory: true,
          meta: { content_length: o.size },
        }))
        .sort((a, b) => a.url.localeCompare(b.url)),
    );
  });

  it('keeps each event once when batches are redelivered with other boundaries, and the minutes exact', async () => {
    // Prepare: 3,000 messages over two partitions; the stream sees [0, 2000) and [1000, 3000) as
    // batches, then [0, 1500) again: overlapping offset ranges, so other keys with some same events.
    const { values, expected } = generateClickEvents({
      count: 3_000,
      seed: 'load-redelivery',
      start: new Date('2024-05-01T11:57:00Z'),
      minutes: 6,
      duplicateShare: 0.03,
    });
    const records = generatedRecords(values);

    // Act
    await streamToParquet(mskEvent(records.slice(0, 2_000)));
    const first = await loadEvents();
    await streamToParquet(mskEvent(records.slice(1_000, 3_000)));
    await streamToParquet(mskEvent(records.slice(0, 1_500)));
    const second = await loadEvents();

    // Assess
    assert.ok(first.objects > 0 && second.objects > 0);
    const [facts] = await warehouse.query<{ n: number; ids: number }>(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS ids FROM analytics.fact_click_event',
    );
    assert.deepEqual(facts, { n: expected.distinctEventIds, ids: expected.distinctEventIds });
    await assertAggregatesMatchFacts();
    assert.deepEqual(
      (await eventMinutes())
        .map((r) => `${(r.window_start as Date).toISOString()} ${r.event_type} ${r.events}`)
        .sort(),
      expectedMinutes(values),
    );
    assert.equal(await count('ops.event_load_ledger'), (await lake.list('events/clickstream/')).length);
    // The objects really overlap: they hold more rows than there are events.
    const [{ copied }] = await warehouse.query<{ copied: number }>(
      'SELECT CAST(SUM("rows") AS BIGINT) AS copied FROM ops.event_load_ledger',
    );
    assert.ok(copied > expected.distinctEventIds, `${copied} rows in the objects`);
  });

  it('counts a minute that spans two batches loaded by two runs exactly', async () => {
    // Prepare
    const span = fixture<{
      first: FixtureBatch;
      second: FixtureBatch;
      afterFirst: { eventMinute: Record<string, unknown>[] };
      afterSecond: { eventMinute: Record<string, unknown>[]; errorMinute: Record<string, unknown>[] };
    }>('load-minute-span.json');

    // Act
    await streamToParquet(batchEvent(span.first));
    await loadEvents();
    const afterFirst = await eventMinutes();
    await streamToParquet(batchEvent(span.second));
    const second = await loadEvents();

    // Assess
    assert.deepEqual(afterFirst, fromJson(span.afterFirst.eventMinute));
    assert.equal(second.objects, 1);
    assert.deepEqual(await eventMinutes(), fromJson(span.afterSecond.eventMinute));
    assert.deepEqual(await errorMinutes(), fromJson(span.afterSecond.errorMinute));
    assert.equal(await count('analytics.fact_click_event'), 5);
    await assertAggregatesMatchFacts();
  });

  it('reloads an object rewritten under the same key (new ETag) instead of duplicating it', async () => {
    // Prepare
    const rewrite = fixture<{
      original: FixtureBatch;
      rewritten: FixtureBatch;
      expected: { eventMinute: Record<string, unknown>[]; errorMinute: Record<string, unknown>[] };
    }>('load-rewrite.json');
    await streamToParquet(batchEvent(rewrite.original));
    await loadEvents();
    const [before] = await warehouse.query<{ object_key: string; etag: string }>(
      'SELECT object_key, etag FROM ops.event_load_ledger',
    );

    // Act
    await streamToParquet(batchEvent(rewrite.rewritten));
    const result = await loadEvents();

    // Assess
    const [object] = await lake.list('events/clickstream/');
    assert.equal(object.key, before.object_key);
    assert.notEqual(object.etag, before.etag);
    assert.equal(result.objects, 1);
    assert.deepEqual(
      await warehouse.query('SELECT event_id, event_type FROM analytics.fact_click_event ORDER BY 1'),
      [
        { event_id: 'r1', event_type: 'page_view' },
        { event_id: 'r2', event_type: 'error' },
        { event_id: 'r3', event_type: 'search' },
      ],
    );
    assert.deepEqual(await eventMinutes(), fromJson(rewrite.expected.eventMinute));
    assert.deepEqual(await errorMinutes(), fromJson(rewrite.expected.errorMinute));
    assert.deepEqual(await warehouse.query('SELECT object_key, etag, "rows" FROM ops.event_load_ledger'), [
      { object_key: object.key, etag: object.etag, rows: 3 },
    ]);
  });

  it('fails with CopyMismatchError and changes nothing when a listed object vanishes before the COPY', async () => {
    // Prepare: one loaded batch, then a second whose object is deleted between listing and COPY.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    await streamToParquet(batchEvent(span.first));
    await loadEvents();
    const before = await snapshot();
    const { objects } = await streamToParquet(batchEvent(span.second));
    const vanishing = objects.find((k) => k.startsWith('events/clickstream/'))!;
    const racing: Warehouse = {
      query: (sql) => warehouse.query(sql),
      async executeBatch(statements) {
        if (statements.some((s) => / MANIFEST$/.test(s))) await lake.deletePrefix(vanishing);
        return warehouse.executeBatch(statements);
      },
    };
    bind(lake, racing);

    // Act + Assess
    await assert.rejects(loadEvents(), (error: Error) => {
      assert.equal(error.name, CopyMismatchError.name);
      assert.ok(error.message.includes(`s3://${lake.bucket}/${vanishing}`), error.message);
      return true;
    });
    assert.deepEqual(await snapshot(), before);
  });

  it('loads at most EVENTS_LOAD_MAX_OBJECTS objects per run, oldest first, and reports the backlog', async () => {
    // Prepare: three batches → three objects
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    const rewrite = fixture<{ original: FixtureBatch }>('load-rewrite.json');
    await streamToParquet(batchEvent(span.first));
    await streamToParquet(batchEvent(span.second));
    await streamToParquet(batchEvent({ ...rewrite.original, partition: 2 }));
    process.env.EVENTS_LOAD_MAX_OBJECTS = '2';

    // Act
    const runs = [await loadEvents(), await loadEvents(), await loadEvents()];

    // Assess
    assert.deepEqual(
      runs.map((r) => [r.objects, r.backlog]),
      [
        [2, 1],
        [1, 0],
        [0, undefined],
      ],
    );
    assert.equal(await count('analytics.fact_click_event'), 8);
    await assertAggregatesMatchFacts();
  });

  it('refuses an invalid EVENTS_LOAD_MAX_OBJECTS before touching anything', async () => {
    // Prepare
    process.env.EVENTS_LOAD_MAX_OBJECTS = 'lots';

    // Act + Assess
    await assert.rejects(loadEvents(), { name: 'ConfigurationError', message: /EVENTS_LOAD_MAX_OBJECTS/ });
  });
});
