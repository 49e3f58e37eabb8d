import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_MAX_OBJECTS,
  copyManifest,
  eventLoadKeys,
  eventLoadStatements,
  newLoadId,
  parquetRowCount,
  parseMaxObjects,
  planEventLoad,
  type LakeObject,
} from '../../../../lambdas/core/clickstream/load';
import { CLICKSTREAM_TABLES } from '../../../../lambdas/core/clickstream/tables';
import { encodeParquet } from '../../../../lambdas/core/parquet';
import { EVENT_LOAD_LEDGER, copyParquetSql, warehouseDdl } from '../../../../lambdas/core/sql';
import { openDatabase } from '../../../../local/embedded-postgres';
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
    assert.equal(plan.backlog, 0);
  });

  it('caps the run and reports the rest as backlog', () => {
    // Prepare
    const listed = Array.from({ length: 7 }, (_, i) => object(key('12', `clickstream-0-${i}-${i}`)));

    // Act
    const plan = planEventLoad(listed, [], 3);

    // Assess
    assert.equal(plan.objects.length, 3);
    assert.equal(plan.backlog, 4);
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
    assert.deepEqual(planEventLoad(listed, [], 10), { objects: [], backlog: 0 });
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

  it('refuses a cap that is not a positive integer', () => {
    assert.throws(() => planEventLoad([], [], 0), { name: 'ConfigurationError' });
  });
});

describe('parseMaxObjects', () => {
  it('defaults to 500 and accepts positive integers only', () => {
    assert.equal(parseMaxObjects(undefined), 500);
    assert.equal(parseMaxObjects(''), 500);
    assert.equal(parseMaxObjects('25'), 25);
    for (const bad of ['0', '-1', '2.5', 'many']) {
      assert.throws(() => parseMaxObjects(bad), {
        name: 'ConfigurationError',
        message: /EVENTS_LOAD_MAX_OBJECTS/,
      });
    }
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

  it('counts rows from the Parquet footer and names a file that is not Parquet', () => {
    // Prepare
    const bytes = encodeParquet(EVENT_LOAD_LEDGER, [
      { object_key: 'k', etag: 'e', rows: 1, load_id: 'l', loaded_at: new Date() },
      { object_key: 'k2', etag: 'e', rows: null, load_id: 'l', loaded_at: new Date() },
    ]);

    // Act + Assess
    assert.equal(parquetRowCount(bytes, 'k.parquet'), 2);
    assert.throws(() => parquetRowCount(new TextEncoder().encode('not parquet'), 'x.parquet'), {
      name: 'InputFormatError',
      message: /x\.parquet/,
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
    await warehouse.executeBatch(warehouseDdl());
    await warehouse.executeBatch(warehouseDdl());
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
