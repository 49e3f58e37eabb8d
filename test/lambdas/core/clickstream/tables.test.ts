import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processBatch } from '../../../../lambdas/core/clickstream/batch';
import { CLICKSTREAM_TABLES } from '../../../../lambdas/core/clickstream/tables';
import { Engine, sqlLiteral } from '../../../../lambdas/core/engine/engine';
import { duckType } from '../../../../lambdas/core/engine/table-io';
import type { TableDef } from '../../../../lambdas/core/tables';
import { describe, it } from 'node:test';

describe('CLICKSTREAM_TABLES', () => {
  it('lays out fact_click_event as the contract, with the extra columns appended', () => {
    // Act
    const names = CLICKSTREAM_TABLES.fact_click_event.columns.map((c) => c.name);

    // Assess: COPY maps Parquet columns by position, so this order is the table's.
    assert.deepEqual(names, [
      'event_id',
      'event_type',
      'user_id',
      'session_id',
      'product_id',
      'ts',
      'event_date',
      'order_id',
      'price',
      'service',
      'error_code',
    ]);
    assert.deepEqual(CLICKSTREAM_TABLES.fact_click_event.primaryKey, ['event_id']);
  });

  it('declares the aggregate tables with their keys', () => {
    // Act
    const shape = Object.values(CLICKSTREAM_TABLES).map((t) => [
      t.name,
      t.schema,
      t.columns.map((c) => `${c.name}:${c.kind}`).join(','),
      t.primaryKey.join(','),
    ]);

    // Assess
    assert.deepEqual(shape.slice(1), [
      [
        'agg_event_minute',
        'analytics',
        'window_start:timestamp,event_type:string,events:int64',
        'window_start,event_type',
      ],
      [
        'agg_error_minute',
        'analytics',
        'window_start:timestamp,service:string,error_code:string,errors:int64',
        'window_start,service,error_code',
      ],
    ]);
  });

  it('is what the stream writes: each Parquet output has the columns of its table, in order and type', async () => {
    // Prepare: one valid error event, so every output is written.
    const root = await mkdtemp(join(tmpdir(), 'cartflow-tables-test-'));
    const engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: join(root, 'spill'), threads: 1 });
    const value = { event_id: 'e1', event_type: 'error', ts: '2024-05-01T10:00:00Z', price: '1.50' };
    const records = [
      {
        topic: 'clickstream',
        partition: 0,
        offset: 1,
        timestamp: 1714557600000,
        value: Buffer.from(JSON.stringify(value)).toString('base64'),
      },
    ];

    try {
      // Act
      const { files } = await processBatch(engine, [records], root);
      const schemas = await Promise.all(
        files.map(async (f) => [
          f.key.split('/')[1] === 'aggregates' ? f.key.split('/')[2] : f.key.split('/')[1],
          (
            await engine.rows<{ column_name: string; column_type: string }>(
              `DESCRIBE SELECT * FROM read_parquet(${sqlLiteral(f.path)}, hive_partitioning = false)`,
            )
          ).map((c) => `${c.column_name} ${c.column_type}`),
        ]),
      );

      // Assess
      const expected = (def: TableDef) => def.columns.map((c) => `${c.name} ${duckType(c)}`);
      assert.deepEqual(schemas, [
        ['clickstream', expected(CLICKSTREAM_TABLES.fact_click_event)],
        ['error_minute', expected(CLICKSTREAM_TABLES.agg_error_minute)],
        ['event_minute', expected(CLICKSTREAM_TABLES.agg_event_minute)],
      ]);
    } finally {
      engine.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
