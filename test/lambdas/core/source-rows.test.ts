import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cursorSql, fromSource, sourceDdl } from '../../../lambdas/core/source-rows';
import { SOURCES } from '../../../lambdas/core/tables';
import { openDatabase, SOURCE_DDL } from '../../../local/embedded-postgres';
import { ORDERS_WITH_CHANNEL } from '../../fixtures/datasets/orders-with-channel';

describe('source extract SQL', () => {
  it('selects orders of the UTC business date, plus undated orders changed that day', async () => {
    // Prepare
    const db = await openDatabase({});
    for (const ddl of SOURCE_DDL) await db.query(ddl);
    await db.query(`
      INSERT INTO orders (order_id, customer_id, order_ts, status, currency, total_amount, updated_at) VALUES
        ('in-day', 'C', '2026-03-01T00:00:00Z', 'paid', 'USD', 10.50, '2026-03-01T01:00:00Z'),
        ('late-evening-utc', 'C', '2026-03-01T23:59:59.999Z', 'paid', 'USD', 1, '2026-03-01T23:59:59Z'),
        ('next-day', 'C', '2026-03-02T00:00:00Z', 'paid', 'USD', 1, '2026-03-02T00:00:00Z'),
        ('undated-today', 'C', NULL, 'paid', 'USD', 1, '2026-03-01T12:00:00Z'),
        ('undated-other', 'C', NULL, 'paid', 'USD', 1, '2026-02-27T12:00:00Z');
      INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price) VALUES
        ('in-day', 1, 'P-1', 2, 5.25), ('next-day', 1, 'P-1', 1, 1);`);

    // Act
    const orders = await db.query<{ order_id: string; total_amount: string }>(
      cursorSql(SOURCES.orders, '2026-03-01'),
    );
    const items = await db.query<{ order_id: string; unit_price: string }>(
      cursorSql(SOURCES.order_items, '2026-03-01'),
    );

    // Assess
    assert.deepEqual(orders.rows.map((o) => o.order_id).sort(), [
      'in-day',
      'late-evening-utc',
      'undated-today',
    ]);
    assert.equal(orders.rows.find((o) => o.order_id === 'in-day')!.total_amount, '10.50');
    assert.deepEqual(
      items.rows.map((i) => [i.order_id, i.unit_price]),
      [['in-day', '5.25']],
    );
    await db.close();
  });
});

describe('row mapping', () => {
  it('turns NUMERIC text into exact cents and keeps nulls', () => {
    // Act
    const order = fromSource(SOURCES.orders)({
      order_id: 'O-1',
      customer_id: null,
      order_ts: new Date('2026-03-01T10:00:00Z'),
      status: 'paid',
      currency: 'USD',
      total_amount: '1234567.89',
      updated_at: '2026-03-01T10:00:00Z',
    });
    const item = fromSource(SOURCES.order_items)({
      order_id: 'O-1',
      line_no: 1,
      product_id: 'P',
      quantity: 3,
      unit_price: null,
    });

    // Assess
    assert.equal(order.total_amount_cents, 123456789n);
    assert.equal(order.customer_id, null);
    assert.deepEqual(order.updated_at, new Date('2026-03-01T10:00:00Z'));
    assert.equal(item.unit_price_cents, null);
    assert.equal('category' in item, false, 'the transform adds category');
  });
});

describe('source DDL', () => {
  it('adds a column declared after the table was made, so the extract finds it', async () => {
    // Prepare
    const db = await openDatabase({});
    for (const ddl of SOURCE_DDL) await db.query(ddl);
    await db.query(`INSERT INTO orders (order_id) VALUES ('O-1')`);

    // Act
    for (const ddl of sourceDdl(ORDERS_WITH_CHANNEL.sources)) await db.query(ddl);

    // Assess
    const { rows } = await db.query<{ order_id: string; channel: string | null }>(
      'SELECT order_id, channel FROM orders',
    );
    assert.deepEqual(rows, [{ order_id: 'O-1', channel: null }]);
    await db.close();
  });
});
