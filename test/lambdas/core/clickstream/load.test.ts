import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ARRIVALS_PREFIX,
  COMPACTED_PREFIX,
  DEFAULT_MAX_OBJECTS,
  START_STATE,
  advanceArrivals,
  arrivalKey,
  arrivalPrefixes,
  noticeHour,
  copyManifest,
  eventLoadKeys,
  eventLoadStatements,
  ledgerSelectSql,
  newArrivals,
  newLoadId,
  parseArrivalNotice,
  parseArrivalState,
  parsePositive,
  planCompaction,
  planEventLoad,
  type LakeObject,
} from '../../../../lambdas/core/clickstream/load';
import { CLICKSTREAM_TABLES } from '../../../../lambdas/core/clickstream/tables';
import { EVENT_LOAD_LEDGER, copyParquetSql, warehouseDdl } from '../../../../lambdas/core/sql';
import { openDatabase, type Database } from '../../../../local/embedded-postgres';
import { ephemeralCluster } from '../../../../local/postgres-cluster';
import { SqlWarehouse } from '../../../../local/warehouse';
import { startTestLake, type TestLake } from '../../../support/s3';

const ROLE = 'arn:aws:iam::123456789012:role/cartflow-copy';
const key = (hour: string, name: string) => `events/clickstream/dt=2024-05-01/hour=${hour}/${name}.parquet`;
const object = (k: string, etag = '"e1"', size = 100): LakeObject => ({ key: k, etag, size });

describe('planEventLoad', () => {
  it('takes new and rewritten objects, skips loaded ones, and orders oldest hour first', () => {
    // Prepare
    const listed = [
      object(key('13', 'clickstream-0-5-9')),
      object(key('12', 'clickstream-0-0-4'), '"changed"'),
      object(key('12', 'clickstream-1-0-4')),
      object(key('11', 'clickstream-0-0-0')),
    ];
    const ledger = [
      { object_key: key('12', 'clickstream-0-0-4'), etag: '"e1"' },
      { object_key: key('12', 'clickstream-1-0-4'), etag: '"e1"' },
    ];

    // Act
    const plan = planEventLoad(listed, ledger, 10);

    // Assess
    assert.deepEqual(
      plan.objects.map((o) => o.key),
      [key('11', 'clickstream-0-0-0'), key('12', 'clickstream-0-0-4'), key('13', 'clickstream-0-5-9')],
    );
    assert.deepEqual(plan.rest, []);
  });

  it('caps the run and reports the rest as backlog', () => {
    // Prepare
    const listed = Array.from({ length: 7 }, (_, i) => object(key('12', `clickstream-0-${i}-${i}`)));

    // Act
    const plan = planEventLoad(listed, [], 3);

    // Assess
    assert.deepEqual(
      plan.objects.map((o) => o.key),
      [0, 1, 2].map((i) => key('12', `clickstream-0-${i}-${i}`)),
    );
    assert.equal(plan.rest.length, 4);
  });

  it('ignores empty objects, non-Parquet keys and keys outside events/clickstream/', () => {
    // Prepare
    const listed = [
      object(key('12', 'clickstream-0-0-4'), '"e"', 0),
      object('events/clickstream/dt=2024-05-01/hour=12/notes.txt'),
      object('events/_manifests/events-x.ledger.parquet'),
      object('events/aggregates/event_minute/dt=2024-05-01/hour=12/clickstream-0-0-4.parquet'),
    ];

    // Act + Assess
    assert.deepEqual(planEventLoad(listed, [], 10), { objects: [], rest: [] });
  });

  it('compares a large listing with a large ledger in linear time', () => {
    // Prepare: 200,000 objects, all but the last 10 loaded
    const listed = Array.from({ length: 200_000 }, (_, i) =>
      object(key(String(i % 24).padStart(2, '0'), `clickstream-0-${i}-${i}`)),
    );
    const ledger = listed.slice(0, -10).map((o) => ({ object_key: o.key, etag: o.etag }));

    // Act
    const plan = planEventLoad(listed, ledger, DEFAULT_MAX_OBJECTS);

    // Assess
    assert.equal(plan.objects.length, 10);
  });
});

describe('parsePositive', () => {
  it('falls back when unset and accepts positive integers only, naming the variable', () => {
    assert.equal(parsePositive(undefined, 'EVENTS_LOAD_MAX_OBJECTS', 500), 500);
    assert.equal(parsePositive(' ', 'EVENTS_LOAD_MAX_OBJECTS', 500), 500);
    assert.equal(parsePositive('25', 'EVENTS_LOAD_MAX_OBJECTS', 500), 25);
    for (const bad of ['0', '-1', '2.5', 'many']) {
      assert.throws(() => parsePositive(bad, 'EVENTS_LOAD_MAX_OBJECTS', 500), {
        name: 'ConfigurationError',
        message: /EVENTS_LOAD_MAX_OBJECTS/,
      });
    }
  });
});

describe('planCompaction', () => {
  const MB = 1024 * 1024;

  it('cuts each hour into parts of at least the target, the remainder joining the last part', () => {
    // Prepare: hour 12 has 30 + 40 + 10 + 5 MB, hour 13 one small object.
    const objects = [
      object(key('12', 'clickstream-0-0-0'), '"a"', 30 * MB),
      object(key('13', 'clickstream-0-9-9'), '"e"', 1 * MB),
      object(key('12', 'clickstream-0-1-1'), '"b"', 40 * MB),
      object(key('12', 'clickstream-0-2-2'), '"c"', 10 * MB),
      object(key('12', 'clickstream-0-3-3'), '"d"', 5 * MB),
    ];

    // Act
    const parts = planCompaction(objects, 64 * MB);

    // Assess: 30 + 40 reaches 64 MB; 10 + 5 would be a small file, so it joins that part.
    assert.deepEqual(
      parts.map((p) => [p.key.replace(/[0-9a-f]{16}/, '<digest>'), p.objects.map((o) => o.etag).join('')]),
      [
        [`${COMPACTED_PREFIX}dt=2024-05-01/hour=12/<digest>-000.parquet`, '"a""b""c""d"'],
        [`${COMPACTED_PREFIX}dt=2024-05-01/hour=13/<digest>-000.parquet`, '"e"'],
      ],
    );
  });

  it('starts a new part each time the target is reached', () => {
    // Prepare
    const objects = [0, 1, 2, 3, 4].map((i) =>
      object(key('12', `clickstream-0-${i}-${i}`), `"${i}"`, 40 * MB),
    );

    // Act
    const parts = planCompaction(objects, 64 * MB);

    // Assess
    assert.deepEqual(
      parts.map((p) => [p.key.slice(-12), p.objects.length]),
      [
        ['-000.parquet', 2],
        ['-001.parquet', 3],
      ],
    );
  });

  it('names the parts by the work: the same objects give the same keys, another ETag other keys', () => {
    // Prepare
    const objects = [object(key('12', 'clickstream-0-0-4')), object(key('12', 'clickstream-1-0-4'))];

    // Act
    const [same, reordered, rewritten] = [
      planCompaction(objects, 64 * MB),
      planCompaction([...objects].reverse(), 64 * MB),
      planCompaction([objects[0], { ...objects[1], etag: '"e2"' }], 64 * MB),
    ];

    // Assess
    assert.deepEqual(
      same.map((p) => p.key),
      reordered.map((p) => p.key),
    );
    assert.notEqual(same[0].key, rewritten[0].key);
  });
});

describe('arrival notices and the open hours', () => {
  const range = { topic: 'clickstream', partition: 0, first: 10, last: 12 };
  const at = (iso: string) => new Date(iso);
  const notice = (iso: string) => arrivalKey(at(iso), range);
  /** The default: a 14-minute stream function and a minute of clock margin. */
  const CLOSE = 15 * 60_000;

  it('names a notice by its hour and its time to the millisecond', () => {
    // Act
    const k = notice('2024-05-01T12:03:04.567Z');

    // Assess
    assert.equal(k, `${ARRIVALS_PREFIX}dt=2024-05-01/hour=12/20240501T120304567Z-clickstream-0-10-12.json`);
    assert.equal(noticeHour(k), 'dt=2024-05-01/hour=12');
    assert.equal(noticeHour(`${ARRIVALS_PREFIX}notes.txt`), undefined);
  });

  it('lists everything on a first run, then each open hour up to the hour after now', () => {
    // Prepare
    const state = { openFrom: 'dt=2024-05-01/hour=10', done: [] };

    // Act
    const [first, later] = [
      arrivalPrefixes(START_STATE, at('2024-05-01T12:30:00Z')),
      arrivalPrefixes(state, at('2024-05-01T12:30:00Z')),
    ];

    // Assess
    assert.deepEqual(first, [ARRIVALS_PREFIX]);
    assert.deepEqual(
      later,
      ['10', '11', '12', '13'].map((h) => `${ARRIVALS_PREFIX}dt=2024-05-01/hour=${h}/`),
    );
  });

  it('finds the listed notices not done yet, whatever their stamp, in arrival order', () => {
    // Prepare: `late` is stamped before the done ones (its PUT was slow).
    const [late, done, fresh] = ['10:00', '10:05', '10:07'].map((t) => notice(`2024-05-01T${t}:00Z`));
    const state = { openFrom: 'dt=2024-05-01/hour=10', done: [done] };

    // Act
    const found = newArrivals([fresh, `${ARRIVALS_PREFIX}notes.txt`, done, late], state);

    // Assess
    assert.deepEqual(found, [late, fresh]);
  });

  it('keeps an hour open until its close time has passed since it ended, remembering its done notices', () => {
    // Prepare
    const [a, b] = ['12:00', '12:50'].map((t) => notice(`2024-05-01T${t}:00Z`));
    const state = { openFrom: 'dt=2024-05-01/hour=12', done: [a] };

    // Act: 13:14:59 is within the close time of hour 12, 13:15 is not.
    const open = advanceArrivals(state, [b], [], at('2024-05-01T13:14:59Z'), CLOSE);
    const closed = advanceArrivals(open, [], [], at('2024-05-01T13:15:00Z'), CLOSE);

    // Assess
    assert.deepEqual(open, { openFrom: 'dt=2024-05-01/hour=12', done: [a, b] });
    assert.deepEqual(closed, { openFrom: 'dt=2024-05-01/hour=13', done: [] });
  });

  it('keeps an hour with a pending notice open, and the hours after it with their done notices', () => {
    // Prepare
    const [a, pending, c] = ['11:00', '11:01', '12:02'].map((t) => notice(`2024-05-01T${t}:00Z`));

    // Act
    const state = advanceArrivals(
      { openFrom: 'dt=2024-05-01/hour=10', done: [] },
      [a, c],
      [pending],
      at('2024-05-01T14:00:00Z'),
      CLOSE,
    );

    // Assess
    assert.deepEqual(state, { openFrom: 'dt=2024-05-01/hour=11', done: [a, c] });
  });

  it("starts a first run at its oldest notice's hour, or at the oldest hour still open to late notices", () => {
    // Prepare
    const old = notice('2024-05-01T09:30:00Z');

    // Act
    const withNotices = advanceArrivals(START_STATE, [old], [], at('2024-05-01T09:40:00Z'), CLOSE);
    const empty = advanceArrivals(START_STATE, [], [], at('2024-05-01T12:10:00Z'), CLOSE);

    // Assess: at 12:10 a notice stamped in hour 11 may still land.
    assert.deepEqual(withNotices, { openFrom: 'dt=2024-05-01/hour=09', done: [old] });
    assert.deepEqual(empty, { openFrom: 'dt=2024-05-01/hour=11', done: [] });
  });

  it('parses a notice and the state (the earlier watermark format too), and names a malformed one', () => {
    assert.deepEqual(parseArrivalNotice('n.json', '{"objects":["events/clickstream/a.parquet"]}'), [
      'events/clickstream/a.parquet',
    ]);
    assert.throws(() => parseArrivalNotice('n.json', '{"objects":[1]}'), {
      name: 'InputFormatError',
      message: /^n\.json/,
    });
    const done = notice('2024-05-01T12:09:30Z');
    assert.deepEqual(parseArrivalState(JSON.stringify({ openFrom: 'dt=2024-05-01/hour=12', done: [done] })), {
      openFrom: 'dt=2024-05-01/hour=12',
      done: [done],
    });
    assert.deepEqual(
      parseArrivalState(
        JSON.stringify({
          watermark: `${ARRIVALS_PREFIX}dt=2024-05-01/hour=12/20240501T120800000Z`,
          recent: [done],
        }),
      ),
      { openFrom: 'dt=2024-05-01/hour=12', done: [done] },
    );
    assert.throws(() => parseArrivalState('{"watermark":1}'), {
      name: 'InputFormatError',
      message: /^state\/events\/arrivals\.json: expected \{"openFrom"/,
    });
    assert.throws(() => parseArrivalState('{"openFrom":"12","done":[]}'), { name: 'InputFormatError' });
  });
});

describe('load ids, keys and the manifest', () => {
  it('builds a sortable load id that is safe in keys and SQL', () => {
    // Act
    const id = newLoadId(new Date('2024-05-01T12:03:04.567Z'), '1a2b3c4d');

    // Assess
    assert.equal(id, 'events-20240501T120304Z-1a2b3c4d');
    assert.equal(eventLoadKeys.manifest(id), 'events/_manifests/events-20240501T120304Z-1a2b3c4d.manifest');
    assert.equal(
      eventLoadKeys.ledger(id),
      'events/_manifests/events-20240501T120304Z-1a2b3c4d.ledger.parquet',
    );
    assert.throws(() => eventLoadKeys.manifest("x' OR '1'='1"), { name: 'ConfigurationError' });
  });

  it('lists every object as mandatory with its content length', () => {
    // Act
    const manifest = copyManifest('lake', [object(key('12', 'a'), '"e"', 321)]);

    // Assess
    assert.deepEqual(manifest, {
      entries: [
        {
          url: 's3://lake/events/clickstream/dt=2024-05-01/hour=12/a.parquet',
          mandatory: true,
          meta: { content_length: 321 },
        },
      ],
    });
  });
});

describe('eventLoadStatements', () => {
  const statements = eventLoadStatements({ bucket: 'lake-bucket', loadId: 'events-1', iamRoleArn: ROLE });

  it('copies through the manifest and the ledger file, in a bounded batch of portable SQL', () => {
    // Assess
    assert.ok(
      statements.includes(
        `COPY stage_click_event FROM 's3://lake-bucket/events/_manifests/events-1.manifest' IAM_ROLE '${ROLE}' FORMAT AS PARQUET MANIFEST`,
      ),
    );
    assert.ok(
      statements.includes(
        `COPY stage_event_load_ledger FROM 's3://lake-bucket/events/_manifests/events-1.ledger.parquet' IAM_ROLE '${ROLE}' FORMAT AS PARQUET`,
      ),
    );
    // BatchExecuteStatement takes at most 40 statements; none grows with the objects.
    assert.ok(statements.length <= 40);
    assert.ok(statements.every((s) => s.length < 2_000));
    for (const s of statements) assert.doesNotMatch(s, /DISTINCT ON|ON CONFLICT|\bMERGE\b/i);
    assert.equal(statements.at(-1), 'DROP TABLE stage_click_event');
  });

  it('quotes the ledger lookup keys with literal(), backslashes included', () => {
    // Act
    const sql = ledgerSelectSql([String.raw`events/clickstream/it's\x.parquet`]);

    // Assess: Redshift would read a bare backslash inside a literal as an escape.
    assert.equal(
      sql,
      String.raw`SELECT object_key, etag FROM ops.event_load_ledger WHERE object_key IN ('events/clickstream/it''s' || CHR(92) || 'x.parquet')`,
    );
  });

  it('refuses an unsafe role or load id', () => {
    assert.throws(
      () => eventLoadStatements({ bucket: 'lake-bucket', loadId: 'events-1', iamRoleArn: "x' --" }),
      { name: 'ConfigurationError' },
    );
    assert.throws(() => eventLoadStatements({ bucket: 'lake-bucket', loadId: 'a/b', iamRoleArn: ROLE }), {
      name: 'ConfigurationError',
    });
    assert.throws(
      () => copyParquetSql('t', { s3Uri: "s3://lake-bucket/x' --", iamRoleArn: ROLE, manifest: true }),
      { name: 'ConfigurationError', message: /s3:\/\/bucket/ },
    );
  });
});

describe('warehouse DDL for the clickstream', () => {
  let s3: TestLake;
  let warehouse: SqlWarehouse;

  before(async () => {
    s3 = await startTestLake('cartflow-load-ddl');
    warehouse = new SqlWarehouse(await openDatabase({}), s3.lake);
  });

  after(async () => {
    await warehouse.close();
    await s3.close();
  });

  it('creates the clickstream tables and the ledger with their declared columns, idempotently', async () => {
    // Act
    await warehouse.executeBatch(warehouseDdl('postgres'));
    await warehouse.executeBatch(warehouseDdl('postgres'));
    const columns = await warehouse.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema IN ('analytics', 'ops') ORDER BY table_name, ordinal_position`,
    );

    // Assess
    for (const table of [...Object.values(CLICKSTREAM_TABLES), EVENT_LOAD_LEDGER]) {
      assert.deepEqual(
        columns.filter((c) => c.table_name === table.name).map((c) => c.column_name),
        table.columns.map((c) => c.name),
        table.name,
      );
    }
  });
});

describe('the load transaction on PostgreSQL', () => {
  let loader: Database;
  let reader: Database;
  let rival: Database;
  const LEDGER_KEY = 'events/clickstream/dt=2024-05-01/hour=12/a.parquet';

  before(async () => {
    const cluster = await ephemeralCluster();
    const url = cluster.url(await cluster.createDatabase());
    [loader, reader, rival] = await Promise.all([1, 2, 3].map(() => openDatabase({ url })));
    for (const statement of warehouseDdl('postgres')) await loader.query(statement);
    await loader.query(
      `INSERT INTO ops.event_load_ledger VALUES ('${LEDGER_KEY}', '"e1"', 3, 'events-0', TIMESTAMP '2024-05-01 12:00:00')`,
    );
  });

  after(async () => {
    await Promise.all([loader, reader, rival].map((db) => db.close()));
  });

  it("searches only the batch's dates for events to replace", async () => {
    // Prepare: `old` already in the fact on another date than the batch, `again` on the batch's date.
    const statements = eventLoadStatements({ bucket: 'lake-bucket', loadId: 'events-2', iamRoleArn: ROLE });
    const row = (id: string, day: string) =>
      `('${id}', 'page_view', TIMESTAMP '${day} 12:00:00', DATE '${day}')`;
    const insert = (table: string, rows: string[]) =>
      loader.query(`INSERT INTO ${table} (event_id, event_type, ts, event_date) VALUES ${rows.join(', ')}`);
    await loader.query('BEGIN');
    try {
      await insert('analytics.fact_click_event', [row('old', '2024-04-01'), row('again', '2024-05-01')]);
      await loader.query(statements.find((s) => s.startsWith('CREATE TEMP TABLE stage_click_event'))!);
      await insert('stage_click_event', [row('old', '2024-05-01'), row('again', '2024-05-01')]);

      // Act
      await loader.query(statements.find((s) => s.startsWith('DELETE FROM analytics.fact_click_event'))!);
      const kept = await loader.query<{ event_id: string; event_date: string }>(
        'SELECT event_id, event_date FROM analytics.fact_click_event',
      );

      // Assess
      assert.deepEqual(kept.rows, [{ event_id: 'old', event_date: '2024-04-01' }]);
    } finally {
      await loader.query('ROLLBACK');
    }
  });

  it('keeps readers of the ledger from waiting while a load holds it, and still serializes loads', async () => {
    // Prepare: a load inside its transaction, holding every lock it takes before its COPY.
    const statements = eventLoadStatements({ bucket: 'lake-bucket', loadId: 'events-1', iamRoleArn: ROLE });
    await loader.query('BEGIN');
    for (const statement of statements.slice(
      0,
      statements.findIndex((s) => s.startsWith('COPY ')),
    )) {
      await loader.query(statement);
    }
    await reader.query(`SET statement_timeout = '2s'`);
    await rival.query(`SET lock_timeout = '500ms'`);

    try {
      // Act
      const ledger = await reader.query<{ object_key: string }>(ledgerSelectSql([LEDGER_KEY]));
      await rival.query('BEGIN');
      const second = rival.query(statements[0]);

      // Assess
      assert.deepEqual(
        ledger.rows.map((r) => r.object_key),
        [LEDGER_KEY],
      );
      await assert.rejects(second, /lock timeout/);
    } finally {
      await rival.query('ROLLBACK');
      await loader.query('ROLLBACK');
    }
  });
});
