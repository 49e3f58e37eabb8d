import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { MSKEvent } from 'aws-lambda';
import type { LakeStore, Warehouse } from '../../../lambdas/adapters/ports';
import { EVENT_TYPES } from '../../../lambdas/core/clickstream/event';
import { generateClickEvents } from '../../../lambdas/core/clickstream/sample';
import { CopyMismatchError, LoaderStateMissingError } from '../../../lambdas/core/errors';
import { readFreshnessObservations, readFreshnessRecords } from '../../../lambdas/core/freshness';
import { warehouseDdl } from '../../../lambdas/core/sql';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { startTestLake, type TestLake } from '../../support/s3';
import { RecordedMetrics } from '../../../lambdas/adapters/observability';
import { stepAdapters } from '../../../bench/support/step-adapters';
import {
  makeLoadEvents,
  step as loadStep,
  type EventsLoadResult,
} from '../../../lambdas/handlers/load-events';
import {
  makeStreamToParquet,
  step as streamStep,
  type StreamResult,
} from '../../../lambdas/handlers/stream-to-parquet';
import {
  ARRIVALS_STATE_KEY,
  COMPACTED_PREFIX,
  LEGACY_ARRIVALS_STATE_KEY,
} from '../../../lambdas/core/clickstream/load';
import { mkdtempSync, rmSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { command as resumeCommand } from '../../../cli/commands/events-resume';
import type { LocalServices } from '../../../local/runtime';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

/**
 * Per (minute, type) counts of the distinct valid events among `values`: the oracle, computed without
 * SQL from the generator's rules (its malformed messages break JSON, event_id, event_type, ts or price).
 */
function expectedMinutes(values: string[]): string[] {
  const seen = new Set<string>();
  const counts = new Map<string, number>();
  for (const text of values) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      continue;
    }
    const { event_id: id, event_type: type, ts, price } = json;
    const t = typeof ts === 'number' ? ts : Date.parse(String(ts));
    const priceOk = price === undefined || /^-?\d+(\.\d{1,2})?$/.test(String(price));
    const typeOk = (EVENT_TYPES as readonly unknown[]).includes(type);
    if (typeof id !== 'string' || !typeOk || Number.isNaN(t) || !priceOk || seen.has(id)) continue;
    seen.add(id);
    const minute = new Date(Math.floor(t / 60_000) * 60_000).toISOString();
    const key = `${minute} ${String(type)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${key} ${n}`).sort();
}

describe('load-events handler against s3rver and embedded PostgreSQL', () => {
  let s3: TestLake;
  let lake: LakeStore;
  let warehouse: SqlWarehouse;
  let dir: string;
  let metrics: RecordedMetrics;
  let loadEvents: (event?: unknown) => Promise<EventsLoadResult>;
  let streamToParquet: (event: MSKEvent) => Promise<StreamResult>;

  const env = (extra: Record<string, string> = {}) => ({
    REDSHIFT_COPY_ROLE_ARN: COPY_ROLE,
    TMPDIR: dir,
    ...extra,
  });
  const adaptersOf = (wh: Warehouse) => stepAdapters({ lake, warehouse: wh, metrics });
  const buildLoader = (
    wh: Warehouse = warehouse,
    extra: Record<string, string> = {},
  ): ((event?: unknown) => Promise<EventsLoadResult>) =>
    loadStep.make(adaptersOf(wh), loadStep.settings(env(extra)));
  /** A warehouse that records every call before passing it on. */
  const recording = () => {
    const calls: string[] = [];
    const wh: Warehouse = {
      dialect: warehouse.dialect,
      query: (sql) => (calls.push(sql), warehouse.query(sql)),
      executeBatch: (statements) => (calls.push(...statements), warehouse.executeBatch(statements)),
    };
    return { calls, wh };
  };
  /** The compacted files with their ETags (s3rver's are MD5s: equal ETags, equal bytes). */
  const compacted = async () => (await lake.list(COMPACTED_PREFIX)).map((o) => `${o.key} ${o.etag}`);

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
    dir = mkdtempSync(join(tmpdir(), 'cartflow-load-events-'));
    warehouse = new SqlWarehouse(await openDatabase({}), lake);
    await warehouse.executeBatch(warehouseDdl('postgres'));
  });

  beforeEach(async () => {
    metrics = new RecordedMetrics();
    loadEvents = buildLoader();
    streamToParquet = streamStep.make(adaptersOf(warehouse), streamStep.settings(env()));
    await lake.deletePrefix('');
    await warehouse.executeBatch([
      'DELETE FROM analytics.fact_click_event',
      'DELETE FROM analytics.agg_event_minute',
      'DELETE FROM analytics.agg_error_minute',
      'DELETE FROM ops.event_load_ledger',
    ]);
  });

  after(async () => {
    await warehouse.close();
    await s3.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads each object once from one compacted file per hour: a second run finds nothing and changes nothing', async () => {
    // Prepare
    const { values, expected } = generateClickEvents({
      count: 4_000,
      seed: 'load-once',
      start: new Date('2024-05-01T11:55:00Z'),
      minutes: 10,
    });
    await streamToParquet(mskEvent(generatedRecords(values)));
    const eventObjects = await lake.list('events/clickstream/');

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
      metrics.datapoints.filter((d) => d.name.endsWith('Loaded')).map((d) => [d.name, d.value]),
      [
        ['EventsLoaded', expected.distinctEventIds],
        ['ObjectsLoaded', eventObjects.length],
      ],
    );
    // 10 minutes across 12:00: two event hours, so two compacted files instead of the stream's objects.
    assert.ok(eventObjects.length > 2, `${eventObjects.length} event objects`);
    const files = await lake.list(COMPACTED_PREFIX);
    assert.deepEqual(
      files.map((o) => o.key.replace(/[0-9a-f]{16}-000/, '<digest>-000')),
      [
        `${COMPACTED_PREFIX}dt=2024-05-01/hour=11/<digest>-000.parquet`,
        `${COMPACTED_PREFIX}dt=2024-05-01/hour=12/<digest>-000.parquet`,
      ],
    );
    assert.equal(first.files, 2);
    // The SLA check's freshness record names the newest loaded minute, as the warehouse would.
    const [record] = await readFreshnessRecords(lake, { events: { maxAgeMinutes: 15 } });
    const [inWarehouse] = await readFreshnessObservations(warehouse, { events: { maxAgeMinutes: 15 } });
    assert.equal(record.newestEventAt?.toISOString(), inWarehouse.newestEventAt?.toISOString());
    assert.ok(record.loadedAt, 'the record says when the events were loaded');
    const manifest = JSON.parse(await lake.getText(`events/_manifests/${first.loadId}.manifest`)) as {
      entries: { url: string; mandatory: boolean; meta: { content_length: number } }[];
    };
    assert.deepEqual(
      manifest.entries,
      files.map((o) => ({
        url: `s3://${lake.bucket}/${o.key}`,
        mandatory: true,
        meta: { content_length: o.size },
      })),
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

  it('fails with CopyMismatchError and changes nothing when a compacted file vanishes before the COPY', async () => {
    // Prepare: one loaded batch, then a second whose compacted file is deleted before the COPY.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    await streamToParquet(batchEvent(span.first));
    await loadEvents();
    const before = await snapshot();
    await streamToParquet(batchEvent(span.second));
    let vanishing = '';
    const racing: Warehouse = {
      dialect: warehouse.dialect,
      query: (sql) => warehouse.query(sql),
      async executeBatch(statements) {
        const manifest = statements.find((s) => / MANIFEST$/.test(s));
        if (manifest) {
          const key = /'s3:\/\/[^/]+\/([^']+)'/.exec(manifest)![1];
          const { entries } = JSON.parse(await lake.getText(key)) as { entries: { url: string }[] };
          vanishing = entries[0].url.slice(`s3://${lake.bucket}/`.length);
          await lake.deletePrefix(vanishing);
        }
        return warehouse.executeBatch(statements);
      },
    };

    // Act + Assess
    await assert.rejects(buildLoader(racing)(), (error: Error) => {
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
    const capped = buildLoader(warehouse, { EVENTS_LOAD_MAX_OBJECTS: '2' });

    // Act
    const runs = [await capped(), await capped(), await capped()];

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

  it('refuses an invalid EVENTS_LOAD_MAX_OBJECTS when it reads its settings, before touching anything', () => {
    // Act + Assess
    assert.throws(() => loadStep.settings(env({ EVENTS_LOAD_MAX_OBJECTS: 'lots' })), {
      name: 'ConfigurationError',
      message: /EVENTS_LOAD_MAX_OBJECTS/,
    });
  });

  it('compacts exactly once: a retry after a failed COPY rewrites the same files with the same bytes', async () => {
    // Prepare: the first attempt fails in the warehouse, after compaction.
    const { values, expected } = generateClickEvents({
      count: 2_000,
      seed: 'compact-retry',
      start: new Date('2024-05-01T11:50:00Z'),
      minutes: 20,
    });
    await streamToParquet(mskEvent(generatedRecords(values)));
    const failing: Warehouse = {
      dialect: warehouse.dialect,
      query: (sql) => warehouse.query(sql),
      executeBatch: (statements) =>
        statements.some((s) => / MANIFEST$/.test(s))
          ? Promise.reject(new Error('warehouse unavailable'))
          : warehouse.executeBatch(statements),
    };
    await assert.rejects(buildLoader(failing)(), /warehouse unavailable/);
    const afterFailure = await compacted();

    // Act
    const retried = await loadEvents();
    const tables = await snapshot();
    const again = await loadEvents();

    // Assess
    assert.ok(afterFailure.length > 0);
    assert.deepEqual(await compacted(), afterFailure);
    assert.equal(retried.files, afterFailure.length);
    assert.deepEqual(again, { objects: 0 });
    assert.deepEqual(await snapshot(), tables);
    assert.equal(tables.facts.length, expected.distinctEventIds);
  });

  /** Stream and loader on a shared clock, each set to the time the test names. */
  const clocked = (wh: Warehouse = warehouse) => {
    let streamAt = new Date('2024-05-01T12:00:00Z');
    let loadAt = streamAt;
    const stream = makeStreamToParquet(adaptersOf(wh), streamStep.settings(env()), () => streamAt);
    const load = makeLoadEvents(adaptersOf(wh), loadStep.settings(env()), () => loadAt);
    return {
      /** A delivery whose notice is stamped at `stamp` (whenever its PUT lands). */
      deliver: (batch: FixtureBatch, stamp: string) => (
        (streamAt = new Date(stamp)),
        stream(batchEvent(batch))
      ),
      loadAt: (time: string) => ((loadAt = new Date(time)), load()),
    };
  };
  const readState = async () =>
    JSON.parse(await lake.getText(ARRIVALS_STATE_KEY)) as { openFrom: string; done: string[] };

  it('loads exactly once a notice that lands after runs that a watermark would have moved past its stamp', async () => {
    // Prepare: a delivery stamped 12:05 whose notice lands only after the 12:10 run (a slow PUT); the
    // 12:10 run has loaded another delivery, stamped 12:06.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    const { deliver, loadAt } = clocked();
    await deliver(span.second, '2024-05-01T12:06:00Z');
    const early = await loadAt('2024-05-01T12:10:00Z');

    // Act
    await deliver(span.first, '2024-05-01T12:05:00Z');
    const late = await loadAt('2024-05-01T12:15:00Z');
    const again = await loadAt('2024-05-01T12:20:00Z');
    const afterClose = await loadAt('2024-05-01T13:30:00Z');

    // Assess
    assert.deepEqual([early.objects, late.objects, again.objects, afterClose.objects], [1, 1, 0, 0]);
    assert.equal(await count('analytics.fact_click_event'), 5);
    assert.equal(await count('ops.event_load_ledger'), 2);
    await assertAggregatesMatchFacts();
  });

  it('reconciles a clean hour when it closes: nothing loaded, no warehouse call, the hour listed no more', async () => {
    // Prepare: hour 12's deliveries all loaded.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    const { deliver, loadAt } = clocked();
    await deliver(span.first, '2024-05-01T12:05:00Z');
    await deliver(span.second, '2024-05-01T12:50:00Z');
    await loadAt('2024-05-01T12:55:00Z');
    const open = await readState();
    const { calls, wh } = recording();
    const idle = clocked(wh);

    // Act: 13:15 is hour 12's end plus the default close time (a 14-minute stream function, a minute of margin).
    const beforeClose = await idle.loadAt('2024-05-01T13:14:00Z');
    const atClose = await idle.loadAt('2024-05-01T13:15:00Z');

    // Assess
    assert.deepEqual([beforeClose, atClose], [{ objects: 0 }, { objects: 0 }]);
    assert.deepEqual(calls, []);
    assert.equal(open.openFrom, 'dt=2024-05-01/hour=12');
    assert.equal(open.done.length, 2);
    assert.deepEqual(await readState(), { openFrom: 'dt=2024-05-01/hour=13', done: [] });
  });

  it('loads a redelivered batch that rewrote its object, looking up only the candidate keys in the ledger', async () => {
    // Prepare
    const rewrite = fixture<{ original: FixtureBatch; rewritten: FixtureBatch }>('load-rewrite.json');
    await streamToParquet(batchEvent(rewrite.original));
    await loadEvents();
    await streamToParquet(batchEvent(rewrite.rewritten));
    const { calls, wh } = recording();

    // Act
    const run = await buildLoader(wh)();

    // Assess
    assert.equal(run.objects, 1);
    const lookups = calls.filter((c) => c.startsWith('SELECT object_key, etag FROM ops.event_load_ledger'));
    assert.equal(lookups.length, 1);
    assert.match(lookups[0], /WHERE object_key IN \('events\/clickstream\/[^']+'\)$/);
  });

  it('starts from nothing on its first run (no state, empty ledger) and keeps its state under state/', async () => {
    // Prepare: notices written before the loader ever ran.
    const span = fixture<{ first: FixtureBatch }>('load-minute-span.json');
    await streamToParquet(batchEvent(span.first));

    // Act
    const first = await loadEvents();

    // Assess
    assert.equal(first.objects, 1);
    assert.match(ARRIVALS_STATE_KEY, /^state\//);
    assert.ok((await lake.list(ARRIVALS_STATE_KEY)).length === 1, `${ARRIVALS_STATE_KEY} written`);
    assert.deepEqual(await lake.list('events/_manifests/state/'), []);
  });

  it('stops with LoaderStateMissingError naming the key and the command when its state is lost after loads, and events-resume resumes it', async () => {
    // Prepare: one load, the state lost, a second batch waiting.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    await streamToParquet(batchEvent(span.first));
    await loadEvents();
    await lake.deletePrefix(ARRIVALS_STATE_KEY);
    await streamToParquet(batchEvent(span.second));
    const before = await snapshot();

    // Act
    const failure = await loadEvents().then(
      () => assert.fail('a loader without its state must not run'),
      (error: Error) => error,
    );

    // Assess: nothing loaded, and the message's own command resumes the loader.
    assert.equal(failure.name, LoaderStateMissingError.name);
    assert.ok(
      failure.message.includes(`s3://${lake.bucket}/${ARRIVALS_STATE_KEY} is missing`),
      failure.message,
    );
    assert.deepEqual(await snapshot(), before);
    const [, command] = /`cartflow (events-resume) --from YYYY-MM-DD/.exec(failure.message) ?? [];
    assert.equal(command, 'events-resume', failure.message);
    const [arrival] = await lake.list('events/_arrivals/');
    const [, date] = /dt=(\d{4}-\d{2}-\d{2})\//.exec(arrival.key)!;
    const printed = new PassThrough();
    const exit = await resumeCommand.run({
      values: { from: date },
      rest: [],
      out: printed,
      err: printed,
      services: () => Promise.resolve({ lake } as LocalServices),
      runtime: () => Promise.reject(new Error('events-resume needs only the lake')),
    });
    assert.equal(exit, 0);
    const resumed = await loadEvents();
    assert.equal(resumed.objects, 1);
    assert.equal(await count('analytics.fact_click_event'), 5);
  });

  it('moves a state found at the legacy key under events/_manifests/ to state/ and goes on from it', async () => {
    // Prepare: a loaded batch whose state is where earlier versions kept it.
    const span = fixture<{ first: FixtureBatch; second: FixtureBatch }>('load-minute-span.json');
    await streamToParquet(batchEvent(span.first));
    await loadEvents();
    const kept = await lake.getText(ARRIVALS_STATE_KEY);
    await lake.deletePrefix(ARRIVALS_STATE_KEY);
    await lake.put(LEGACY_ARRIVALS_STATE_KEY, kept, 'application/json');
    await streamToParquet(batchEvent(span.second));

    // Act
    const run = await loadEvents();

    // Assess
    assert.equal(run.objects, 1);
    assert.deepEqual(await lake.list(LEGACY_ARRIVALS_STATE_KEY), []);
    assert.equal((await lake.list(ARRIVALS_STATE_KEY)).length, 1);
  });
});
