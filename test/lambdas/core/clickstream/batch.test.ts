import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MSKEvent, MSKRecord } from 'aws-lambda';
import { clickstreamKeys, processBatch, type BatchResult } from '../../../../lambdas/core/clickstream/batch';
import { Engine, sqlLiteral } from '../../../../lambdas/core/engine/engine';
import { InputFormatError } from '../../../../lambdas/core/errors';

/** 12 records on clickstream-0 (offsets 100-107) and clickstream-1 (7-10); see the tests for what each is. */
const fixtureLists = (): MSKRecord[][] =>
  Object.values(
    (
      JSON.parse(
        readFileSync(new URL('../../../fixtures/clickstream/msk-event.json', import.meta.url), 'utf8'),
      ) as MSKEvent
    ).records,
  );

const record = (partition: number, offset: number | string, value: unknown): MSKRecord => ({
  topic: 'clickstream',
  partition,
  offset: offset as number,
  timestamp: Date.parse('2024-05-01T10:00:00Z'),
  timestampType: 'CREATE_TIME',
  key: '',
  value: Buffer.from(JSON.stringify(value)).toString('base64'),
  headers: [],
});
const event = (id: string, ts: string, extra: object = {}) => ({
  event_id: id,
  event_type: 'page_view',
  ts,
  ...extra,
});

describe('processBatch', () => {
  let engine: Engine;
  let root: string;
  let batches = 0;

  /** Runs the batch over each topic-partition's records, as the handler hands them over. */
  const run = async (lists: unknown[][]): Promise<BatchResult> =>
    processBatch(engine, lists, await mkdtemp(join(root, `batch-${batches++}-`)));
  /** The rows of a written Parquet file, as text, in file order. */
  const rows = async (path: string, columns: string): Promise<string[]> =>
    (
      await engine.rows<{ r: string }>(
        `SELECT concat_ws(' ', ${columns}) AS r FROM read_parquet(${sqlLiteral(path)})`,
      )
    ).map((x) => x.r);
  const fileOf = (result: BatchResult, key: string) => {
    const file = result.files.find((f) => f.key === key);
    assert.ok(file, `no file for ${key}`);
    return file.path;
  };

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cartflow-batch-test-'));
    engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(root, 'spill'), threads: 1 });
  });

  after(async () => {
    engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps valid distinct events, drops duplicates and quarantines the rest', async () => {
    // Act
    const { stats, ranges } = await run(fixtureLists());

    // Assess: the ranges are each partition's whole batch, quarantined offsets included.
    assert.deepEqual(stats, { records: 12, events: 6, duplicates: 1, quarantined: 5, partitions: 2 });
    assert.deepEqual(ranges, [
      { topic: 'clickstream', partition: 0, first: 100, last: 107 },
      { topic: 'clickstream', partition: 1, first: 7, last: 10 },
    ]);
  });

  it('writes one event object per topic, partition and UTC hour, named by the batch offset range', async () => {
    // Act
    const result = await run(fixtureLists());

    // Assess
    assert.deepEqual(result.eventKeys, [
      'events/clickstream/dt=2024-05-01/hour=09/clickstream-1-7-10.parquet',
      'events/clickstream/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
      'events/clickstream/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
    ]);
    const ids = await Promise.all(result.eventKeys.map((k) => rows(fileOf(result, k), 'event_id')));
    assert.deepEqual(ids, [
      ['e5', 'e6'],
      ['e1', 'e2'],
      ['e3', 'e4'],
    ]);
    assert.deepEqual(
      await rows(
        fileOf(result, result.eventKeys[0]),
        `strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), event_date, CAST(price AS VARCHAR), typeof(price), order_id`,
      ),
      [
        '2024-05-01T09:15:00.000 2024-05-01 120.50 DECIMAL(12,2) o1',
        '2024-05-01T09:20:00.000 2024-05-01 DECIMAL(12,2)',
      ],
    );
  });

  it('keeps the lowest offset of a repeated event_id, within and across partitions', async () => {
    // Prepare
    const lists = [
      [
        record(0, 5, event('a', '2024-05-01T10:00:00Z', { user_id: 'first' })),
        record(0, 6, event('a', '2024-05-01T10:00:00Z', { user_id: 'retry' })),
        record(0, 7, event('b', '2024-05-01T10:01:00Z', { user_id: 'later' })),
      ],
      [record(1, 2, event('b', '2024-05-01T10:01:00Z', { user_id: 'lower offset' }))],
    ];

    // Act
    const result = await run(lists);

    // Assess
    assert.equal(result.stats.duplicates, 2);
    assert.deepEqual(
      await Promise.all(
        result.eventKeys.map(async (k) => [k, await rows(fileOf(result, k), 'event_id, user_id')]),
      ),
      [
        ['events/clickstream/dt=2024-05-01/hour=10/clickstream-0-5-7.parquet', ['a first']],
        ['events/clickstream/dt=2024-05-01/hour=10/clickstream-1-2-2.parquet', ['b lower offset']],
      ],
    );
  });

  it('quarantines each bad record with topic, partition, offset, reason and raw text, one object per partition', async () => {
    // Act
    const result = await run(fixtureLists());

    // Assess: dated by the Kafka timestamp of the partition's first record, not by event content.
    const quarantine = result.files.filter((f) => f.key.startsWith('quarantine/'));
    assert.deepEqual(
      quarantine.map((q) => [q.key, q.contentType]),
      [
        ['quarantine/clickstream/dt=2024-05-01/clickstream-0-100-107.jsonl', 'application/x-ndjson'],
        ['quarantine/clickstream/dt=2024-05-02/clickstream-1-7-10.jsonl', 'application/x-ndjson'],
      ],
    );
    const lines = (await Promise.all(quarantine.map((q) => readFile(q.path, 'utf8'))))
      .flatMap((text) => text.trim().split('\n'))
      .map(
        (line) =>
          JSON.parse(line) as {
            topic: string;
            partition: number;
            offset: number;
            reason: string;
            raw: string;
          },
      );
    assert.deepEqual(
      lines.map((r) => [r.topic, r.partition, r.offset, r.reason.split(/[:(]/)[0]]),
      [
        ['clickstream', 0, 103, 'value'],
        ['clickstream', 0, 105, 'event_id'],
        ['clickstream', 0, 107, 'value'],
        ['clickstream', 1, 8, 'event_type'],
        ['clickstream', 1, 10, 'value'],
      ],
    );
    // Each line as COPY … (FORMAT JSON) writes it: keys in this order, no spaces.
    assert.equal(
      (await readFile(quarantine[0].path, 'utf8')).split('\n')[0],
      String.raw`{"topic":"clickstream","partition":0,"offset":103,"reason":"value: expected JSON text (not valid JSON)","raw":"{\"event_id\":\"e9\",\"event_type\":\"page_"}`,
    );
    assert.match(lines[0].reason, /^value: expected JSON text \(/);
    assert.equal(lines[0].raw, '{"event_id":"e9","event_type":"page_');
    assert.equal((JSON.parse(lines[1].raw) as { event_type: string }).event_type, 'page_view');
    assert.equal(lines[2].raw, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'));
    assert.match(lines[3].reason, /^event_type: expected one of .*, got "click"$/);
    assert.equal(lines[4].reason, 'value: expected a JSON object, got an empty Kafka message');
  });

  it('counts 1-minute windows per event type, and errors per service and code', async () => {
    // Act
    const result = await run(fixtureLists());

    // Assess
    const windows = result.files.filter((f) => f.key.startsWith('events/aggregates/'));
    const shown = await Promise.all(
      windows.map(async (w) => [
        w.key,
        await rows(
          w.path,
          w.key.includes('/error_minute/')
            ? `strftime(window_start, '%H:%M'), service, error_code, errors`
            : `strftime(window_start, '%H:%M'), event_type, events`,
        ),
      ]),
    );
    assert.deepEqual(shown, [
      [
        'events/aggregates/error_minute/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
        ['10:59 checkout-api E500 1'],
      ],
      [
        'events/aggregates/error_minute/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
        ['11:00 unknown unknown 1'],
      ],
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=09/clickstream-1-7-10.parquet',
        ['09:15 purchase 1', '09:20 search 1'],
      ],
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
        ['10:59 page_view 1', '10:59 error 1'],
      ],
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
        ['11:00 add_to_cart 1', '11:00 error 1'],
      ],
    ]);
  });

  it('sums a window over many events, the duplicates counted once', async () => {
    // Prepare: e0..e4, then e0 again at offset 5.
    const list = [0, 1, 2, 3, 4, 5].map((i) =>
      record(0, i, event(`e${i % 5}`, `2024-05-01T10:0${i % 2}:30Z`, { event_type: 'search' })),
    );

    // Act
    const result = await run([list]);

    // Assess
    const minute = result.files.find((f) => f.key.startsWith('events/aggregates/event_minute/'));
    assert.ok(minute);
    assert.deepEqual(await rows(minute.path, `strftime(window_start, '%H:%M'), events`), [
      '10:00 3',
      '10:01 2',
    ]);
  });

  it('derives the same keys and the same bytes from a redelivered batch', async () => {
    // Prepare: the redelivery carries its offsets as strings, as some clients do.
    const again = fixtureLists().map((list) => list.map((r) => ({ ...r, offset: String(r.offset) })));

    // Act
    const [a, b] = [await run(fixtureLists()), await run(again)];

    // Assess
    assert.deepEqual(
      a.files.map((f) => f.key),
      b.files.map((f) => f.key),
    );
    for (const [i, f] of a.files.entries()) {
      assert.deepEqual(await readFile(f.path), await readFile(b.files[i].path), f.key);
    }
  });

  it('fails the batch on a record without an integer offset or a numeric timestamp', async () => {
    // Prepare
    const value = event('a', '2024-05-01T10:00:00Z');

    // Act / Assess
    await assert.rejects(run([[record(0, 1.5, value)]]), InputFormatError);
    await assert.rejects(
      run([[record(0, '12a', value)]]),
      /clickstream-0: offset expected a non-negative integer, got 12a/,
    );
    await assert.rejects(
      run([[{ ...record(0, 1, value), timestamp: 'soon' }]]),
      /clickstream-0@1: timestamp expected epoch milliseconds, got soon/,
    );
  });

  it('lists only its own files when an earlier batch left files in its directory', async () => {
    // Prepare: the first batch writes hours 09-11; the second, in the same directory, hour 10 of another range.
    const dir = await mkdtemp(join(root, 'shared-'));
    await processBatch(engine, fixtureLists(), dir);
    const later = [[record(0, 200, event('z', '2024-05-01T10:30:00Z'))]];

    // Act
    const result = await processBatch(engine, later, dir);

    // Assess
    assert.deepEqual(
      result.files.map((f) => f.key),
      [
        'events/clickstream/dt=2024-05-01/hour=10/clickstream-0-200-200.parquet',
        'events/aggregates/event_minute/dt=2024-05-01/hour=10/clickstream-0-200-200.parquet',
      ],
    );
    assert.deepEqual(await rows(result.files[0].path, 'event_id'), ['z']);
  });

  it('splits a batch over the engine threads and keeps the delivery order across the split', async () => {
    // Prepare: a 2-thread engine, so the 4 records go to 2 tables of 2; the tie on event a (offset 5 in
    // both partitions) and the quarantine order of partition 0 (offsets 6, 7) span them.
    const twoThreads = await Engine.open({
      memoryLimitMb: 256,
      tempDirectory: join(root, 'spill-2'),
      threads: 2,
    });
    const lists = [
      [
        record(0, 5, event('a', '2024-05-01T10:00:00Z', { user_id: 'first' })),
        record(0, 6, { event_id: 'bad-1' }),
        record(0, 7, { event_id: 'bad-2' }),
      ],
      [record(1, 5, event('a', '2024-05-01T10:00:00Z', { user_id: 'second' }))],
    ];

    try {
      // Act
      const result = await processBatch(twoThreads, lists, await mkdtemp(join(root, 'split-')));

      // Assess
      const [{ tables }] = await twoThreads.rows<{ tables: number }>(
        `SELECT CAST(count(*) AS INTEGER) AS tables FROM duckdb_tables() WHERE table_name LIKE 'batch_records_%'`,
      );
      assert.equal(tables, 2);
      const events = result.files.find((f) => f.key.startsWith('events/clickstream/'));
      assert.ok(events);
      assert.deepEqual(await rows(events.path, 'event_id, user_id'), ['a first']);
      const quarantine = result.files.find((f) => f.key.startsWith('quarantine/'));
      assert.ok(quarantine);
      const offsets = (await readFile(quarantine.path, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { offset: number }).offset);
      assert.deepEqual(offsets, [6, 7]);
    } finally {
      twoThreads.close();
    }
  });

  it('keeps no record of an earlier batch when a smaller one follows on a 2-thread engine', async () => {
    // Prepare
    const twoThreads = await Engine.open({
      memoryLimitMb: 256,
      tempDirectory: join(root, 'spill-3'),
      threads: 2,
    });
    const many = [[0, 1, 2, 3].map((i) => record(0, i, event(`m${i}`, '2024-05-01T10:00:00Z')))];
    const one = [[record(0, 9, event('single', '2024-05-01T10:00:00Z'))]];

    try {
      // Act
      await processBatch(twoThreads, many, await mkdtemp(join(root, 'many-')));
      const result = await processBatch(twoThreads, one, await mkdtemp(join(root, 'one-')));

      // Assess
      const [{ held }] = await twoThreads.rows<{ held: number }>(
        `SELECT CAST((SELECT count(*) FROM batch_records_0) + (SELECT count(*) FROM batch_records_1) AS INTEGER) AS held`,
      );
      assert.equal(held, 1);
      assert.equal(result.stats.records, 1);
    } finally {
      twoThreads.close();
    }
  });

  it('returns nothing to write for an empty batch', async () => {
    // Act
    const result = await processBatch(engine, [], root);

    // Assess
    assert.deepEqual(result, {
      files: [],
      eventKeys: [],
      ranges: [],
      stats: { records: 0, events: 0, duplicates: 0, quarantined: 0, partitions: 0 },
    });
  });
});

describe('clickstreamKeys', () => {
  it('puts the hour partition and the offset range in every key', () => {
    // Prepare
    const hour = new Date('2024-12-31T23:00:00Z');
    const range = { topic: 'click-stream.v2', partition: 11, first: 0, last: 2 ** 40 };

    // Act
    const keys = [
      clickstreamKeys.events(hour, range),
      clickstreamKeys.eventMinute(hour, range),
      clickstreamKeys.errorMinute(hour, range),
      clickstreamKeys.quarantine(hour, range),
    ];

    // Assess
    assert.deepEqual(keys, [
      'events/clickstream/dt=2024-12-31/hour=23/click-stream.v2-11-0-1099511627776.parquet',
      'events/aggregates/event_minute/dt=2024-12-31/hour=23/click-stream.v2-11-0-1099511627776.parquet',
      'events/aggregates/error_minute/dt=2024-12-31/hour=23/click-stream.v2-11-0-1099511627776.parquet',
      'quarantine/clickstream/dt=2024-12-31/click-stream.v2-11-0-1099511627776.jsonl',
    ]);
  });
});
