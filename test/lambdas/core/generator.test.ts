import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DIRTY_KINDS, generateDay } from '../../../lambdas/core/generator';
import { CURRENCIES, ORDER_STATUSES } from '../../../lambdas/core/model';

/** Independent of dates.ts: the generator always writes two fraction digits. */
const cents = (s: string | null): bigint => {
  assert.match(String(s), /^-?\d+\.\d{2}$/);
  return BigInt(String(s).replace('.', ''));
};

describe('generateDay', () => {
  it('is deterministic for the same arguments and varies with the seed', () => {
    // Prepare
    const options = { date: '2024-01-15', orders: 50, seed: 42, dirty: { badStatus: 2 } };

    // Act
    const [a, b, c] = [generateDay(options), generateDay(options), generateDay({ ...options, seed: 43 })];

    // Assess
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.orders, c.orders);
  });

  it('writes well-formed orders inside the UTC day whose totals are the exact sum of their lines', () => {
    // Prepare
    const day = generateDay({ date: '2024-01-15', orders: 300, seed: 1 });

    // Act
    const lineSums = new Map<string, bigint>();
    const linesPerOrder = new Map<string, number>();
    for (const item of day.items) {
      const id = String(item.order_id);
      lineSums.set(
        id,
        (lineSums.get(id) ?? 0n) + BigInt(Number(item.quantity)) * cents(item.unit_price ?? null),
      );
      linesPerOrder.set(id, (linesPerOrder.get(id) ?? 0) + 1);
    }

    // Assess
    assert.equal(day.orders.length, 300);
    assert.equal(new Set(day.orders.map((o) => o.order_id)).size, 300);
    for (const order of day.orders) {
      assert.match(String(order.order_id), /^O-20240115-\d{6}$/);
      assert.ok(String(order.order_ts).startsWith('2024-01-15T'));
      assert.ok(String(order.updated_at) > String(order.order_ts));
      assert.ok((ORDER_STATUSES as readonly string[]).includes(String(order.status).toLowerCase()));
      assert.ok((CURRENCIES as readonly string[]).includes(String(order.currency).toUpperCase()));
      assert.equal(cents(order.total_amount ?? null), lineSums.get(String(order.order_id)));
      const lines = linesPerOrder.get(String(order.order_id)) ?? 0;
      assert.ok(lines >= 1 && lines <= 5);
    }
  });

  it('builds a catalog of sequential product ids that every line refers to', () => {
    // Prepare
    const day = generateDay({ date: '2024-01-15', orders: 100, seed: 3, products: 25 });

    // Act
    const ids = new Set(day.catalog.map((p) => p.product_id));

    // Assess
    assert.equal(day.catalog.length, 25);
    assert.equal(day.catalog[0].product_id, 'P-0001');
    assert.equal(day.catalog[24].product_id, 'P-0025');
    assert.ok(day.catalog.every((p) => p.currency === 'USD' && p.updated_at === '2024-01-14T00:00:00.000Z'));
    assert.ok(day.items.every((item) => ids.has(item.product_id ?? null)));
  });

  it('adds planted rows after the good rows, which stay identical', () => {
    // Prepare
    const dirty = Object.fromEntries(DIRTY_KINDS.map((kind) => [kind, 2]));
    const clean = generateDay({ date: '2024-01-15', orders: 40, seed: 9 });

    // Act
    const dirtyDay = generateDay({ date: '2024-01-15', orders: 40, seed: 9, dirty });

    // Assess
    assert.deepEqual(dirtyDay.orders.slice(0, 40), clean.orders);
    assert.deepEqual(dirtyDay.items.slice(0, clean.items.length), clean.items);
    assert.deepEqual(dirtyDay.planted, dirty);
    // Orders: 2 per kind; lines: one per planted order except nullOrderId and duplicateOrderId.
    assert.equal(dirtyDay.orders.length, 40 + 2 * DIRTY_KINDS.length);
    assert.equal(dirtyDay.items.length, clean.items.length + 2 * (DIRTY_KINDS.length - 2));
  });

  it('plants no duplicates when there is no good order to copy', () => {
    // Prepare
    const options = {
      date: '2024-01-15',
      orders: 0,
      seed: 9,
      dirty: { duplicateOrderId: 3, badCurrency: 1 },
    };

    // Act
    const day = generateDay(options);

    // Assess
    assert.equal(day.planted.duplicateOrderId, 0);
    assert.equal(day.planted.badCurrency, 1);
    assert.equal(day.orders.length, 1);
  });

  it('rejects an invalid date or count', () => {
    // Prepare
    const base = { date: '2024-01-15', orders: 1, seed: 1 };

    // Act / Assess
    assert.throws(() => generateDay({ ...base, date: '2024-02-31' }), /date must be a calendar date/);
    assert.throws(() => generateDay({ ...base, orders: -1 }), /orders must be an integer >= 0/);
    assert.throws(() => generateDay({ ...base, dirty: { badStatus: 1.5 } }), /dirty.badStatus/);
  });
});
