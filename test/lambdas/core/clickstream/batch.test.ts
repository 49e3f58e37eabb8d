import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { MSKEvent } from 'aws-lambda';
import {
  clickstreamKeys,
  DeserializationFailure,
  processBatch,
  type StreamRecord,
} from '../../../../lambdas/core/clickstream/batch';
import { CLICKSTREAM_TABLES } from '../../../../lambdas/core/clickstream/tables';
import { InputFormatError } from '../../../../lambdas/core/errors';
import { encodeParquet } from '../../../../lambdas/core/parquet';
import { decodeRecords } from '../../../../lambdas/handlers/stream-to-parquet';

/** 12 records on clickstream-0 (offsets 100-107) and clickstream-1 (7-10); see the test below for what each is. */
const fixtureRecords = (): StreamRecord[] =>
  decodeRecords(
    JSON.parse(
      readFileSync(new URL('../../../fixtures/clickstream/msk-event.json', import.meta.url), 'utf8'),
    ) as MSKEvent,
  );

const record = (partition: number, offset: number, value: unknown): StreamRecord => ({
  topic: 'clickstream',
  partition,
  offset,
  timestamp: Date.parse('2024-05-01T10:00:00Z'),
  value,
});
const event = (id: string, ts: string, extra: object = {}) => ({
  event_id: id,
  event_type: 'page_view',
  ts,
  ...extra,
});

describe('processBatch', () => {
  it('keeps valid distinct events, drops duplicates and quarantines the rest', () => {
    // Prepare
    const records = fixtureRecords();

    // Act
    const { stats } = processBatch(records);

    // Assess
    assert.deepEqual(stats, { records: 12, events: 6, duplicates: 1, quarantined: 5, partitions: 2 });
  });

  it('writes one object per topic, partition and UTC hour, named by the batch offset range', () => {
    // Prepare
    const records = fixtureRecords();

    // Act
    const { objects } = processBatch(records);

    // Assess: the range is the partition's whole batch (100-107, 7-10), quarantined offsets included.
    assert.deepEqual(
      objects.map((o) => [o.key, o.table, o.rows.map((r) => r.event_id)]),
      [
        [
          'events/clickstream/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
          'fact_click_event',
          ['e1', 'e2'],
        ],
        [
          'events/clickstream/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
          'fact_click_event',
          ['e3', 'e4'],
        ],
        [
          'events/clickstream/dt=2024-05-01/hour=09/clickstream-1-7-10.parquet',
          'fact_click_event',
          ['e5', 'e6'],
        ],
      ],
    );
    const e5 = objects[2].rows[0];
    assert.equal(e5.ts.toISOString(), '2024-05-01T09:15:00.000Z');
    assert.equal(e5.price_cents, 12050n);
  });

  it('keeps the lowest offset of a repeated event_id, within and across partitions', () => {
    // Prepare
    const records = [
      record(0, 5, event('a', '2024-05-01T10:00:00Z', { user_id: 'first' })),
      record(0, 6, event('a', '2024-05-01T10:00:00Z', { user_id: 'retry' })),
      record(0, 7, event('b', '2024-05-01T10:01:00Z', { user_id: 'later' })),
      record(1, 2, event('b', '2024-05-01T10:01:00Z', { user_id: 'lower offset' })),
    ];

    // Act
    const { objects, stats } = processBatch(records);

    // Assess
    assert.equal(stats.duplicates, 2);
    assert.deepEqual(
      objects.map((o) => [o.key, o.rows.map((r) => `${r.event_id}:${r.user_id}`)]),
      [
        ['events/clickstream/dt=2024-05-01/hour=10/clickstream-0-5-7.parquet', ['a:first']],
        ['events/clickstream/dt=2024-05-01/hour=10/clickstream-1-2-2.parquet', ['b:lower offset']],
      ],
    );
  });

  it('quarantines each bad record with topic, partition, offset, reason and raw text, one object per partition', () => {
    // Prepare
    const records = fixtureRecords();

    // Act
    const { quarantined } = processBatch(records);

    // Assess: dated by the Kafka timestamp of the partition's first record, not by event content.
    assert.deepEqual(
      quarantined.map((q) => q.key),
      [
        'quarantine/clickstream/dt=2024-05-01/clickstream-0-100-107.jsonl',
        'quarantine/clickstream/dt=2024-05-02/clickstream-1-7-10.jsonl',
      ],
    );
    const rows = quarantined.flatMap((q) => q.records);
    assert.deepEqual(
      rows.map((r) => [r.topic, r.partition, r.offset, r.reason.split(/[:(]/)[0]]),
      [
        ['clickstream', 0, 103, 'value'],
        ['clickstream', 0, 105, 'event_id'],
        ['clickstream', 0, 107, 'value'],
        ['clickstream', 1, 8, 'event_type'],
        ['clickstream', 1, 10, 'value'],
      ],
    );
    assert.match(rows[0].reason, /^value: expected JSON text \(/);
    assert.equal(rows[0].raw, '{"event_id":"e9","event_type":"page_');
    assert.equal(JSON.parse(rows[1].raw).event_type, 'page_view');
    assert.equal(rows[2].raw, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'));
    assert.match(rows[3].reason, /^event_type: expected one of .*, got "click"$/);
    assert.equal(rows[4].reason, 'value: expected a JSON object, got an empty Kafka message');
  });

  it('counts 1-minute windows per event type, and errors per service and code', () => {
    // Prepare
    const records = fixtureRecords();

    // Act
    const { windows } = processBatch(records);

    // Assess
    const shown = windows.map((w) => [
      w.key,
      w.rows.map((r) => [r.window_start.toISOString().slice(11, 16), ...Object.values(r).slice(1)].join(' ')),
    ]);
    assert.deepEqual(shown, [
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
        ['10:59 page_view 1', '10:59 error 1'],
      ],
      [
        'events/aggregates/error_minute/dt=2024-05-01/hour=10/clickstream-0-100-107.parquet',
        ['10:59 checkout-api E500 1'],
      ],
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
        ['11:00 add_to_cart 1', '11:00 error 1'],
      ],
      [
        'events/aggregates/error_minute/dt=2024-05-01/hour=11/clickstream-0-100-107.parquet',
        ['11:00 unknown unknown 1'],
      ],
      [
        'events/aggregates/event_minute/dt=2024-05-01/hour=09/clickstream-1-7-10.parquet',
        ['09:15 purchase 1', '09:20 search 1'],
      ],
    ]);
  });

  it('sums a window over many events, the duplicates counted once', () => {
    // Prepare
    const records = [0, 1, 2, 3, 4, 5].map((i) =>
      record(0, i, event(`e${i % 5}`, `2024-05-01T10:0${i % 2}:30Z`, { event_type: 'search' })),
    );

    // Act
    const { windows } = processBatch(records);

    // Assess: e0..e4, then e0 again at offset 5.
    assert.deepEqual(
      windows[0].rows.map((r) => [r.window_start.toISOString(), 'events' in r ? r.events : r.errors]),
      [
        ['2024-05-01T10:00:00.000Z', 3],
        ['2024-05-01T10:01:00.000Z', 2],
      ],
    );
  });

  it('derives the same keys and the same Parquet bytes from a redelivered batch', () => {
    // Prepare: the redelivery carries its offsets as strings, as some clients do.
    const first = fixtureRecords();
    const again = fixtureRecords().map((r) => ({ ...r, offset: String(r.offset) }));

    // Act
    const [a, b] = [processBatch(first), processBatch(again)];

    // Assess
    const keys = (r: typeof a) => [...r.objects, ...r.windows, ...r.quarantined].map((o) => o.key);
    assert.deepEqual(keys(a), keys(b));
    const bytes = (r: typeof a) =>
      [...r.objects, ...r.windows].map((o) => encodeParquet(CLICKSTREAM_TABLES[o.table], o.rows as object[]));
    assert.deepEqual(bytes(a), bytes(b));
    assert.deepEqual(a.quarantined, b.quarantined);
  });

  it('quarantines a DeserializationFailure with its own reason and raw text', () => {
    // Prepare
    const records = [record(3, 9, new DeserializationFailure('not json', 'value: expected JSON text (x)'))];

    // Act
    const { objects, windows, quarantined, stats } = processBatch(records);

    // Assess
    assert.deepEqual([objects, windows], [[], []]);
    assert.deepEqual(quarantined, [
      {
        key: 'quarantine/clickstream/dt=2024-05-01/clickstream-3-9-9.jsonl',
        records: [
          {
            topic: 'clickstream',
            partition: 3,
            offset: 9,
            reason: 'value: expected JSON text (x)',
            raw: 'not json',
          },
        ],
      },
    ]);
    assert.equal(stats.quarantined, 1);
  });

  it('fails the batch on a record without an integer offset or a timestamp', () => {
    // Prepare
    const value = event('a', '2024-05-01T10:00:00Z');

    // Act / Assess
    assert.throws(() => processBatch([record(0, 1.5, value)]), InputFormatError);
    assert.throws(() => processBatch([{ ...record(0, 1, value), offset: '12a' }]), /offset expected/);
    assert.throws(() => processBatch([{ ...record(0, 1, value), timestamp: NaN }]), /timestamp expected/);
  });

  it('returns nothing to write for an empty batch', () => {
    // Act
    const result = processBatch([]);

    // Assess
    assert.deepEqual(result, {
      objects: [],
      windows: [],
      quarantined: [],
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
