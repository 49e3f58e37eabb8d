import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClickEvent } from '../../../../lambdas/core/clickstream/event';
import { CLICKSTREAM_TABLES } from '../../../../lambdas/core/clickstream/tables';
import { decodeParquet, readParquetColumns, encodeParquet } from '../../../../lambdas/core/parquet';

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

  it('round-trips click events through Parquet, money exact and in column order', async () => {
    // Prepare
    const event: ClickEvent = {
      event_id: 'e1',
      event_type: 'purchase',
      user_id: 'u1',
      session_id: null,
      product_id: null,
      order_id: 'o1',
      price_cents: 999999999999n,
      ts: new Date('2024-05-01T10:00:00.123Z'),
      event_date: '2024-05-01',
      service: null,
      error_code: null,
    };
    const def = CLICKSTREAM_TABLES.fact_click_event;

    // Act
    const bytes = encodeParquet(def, [event]);
    const [row] = await decodeParquet(def, bytes);
    const { names, rows } = await readParquetColumns(bytes);

    // Assess
    assert.deepEqual(row, event);
    assert.deepEqual(
      names,
      def.columns.map((c) => c.name),
    );
    assert.equal(rows[0][8], '9999999999.99');
  });
});
