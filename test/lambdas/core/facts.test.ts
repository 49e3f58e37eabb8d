import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conformItem, conformOrder, conformProduct } from '../../../lambdas/core/conform';
import { PermanentError } from '../../../lambdas/core/errors';
import { buildOrderFacts, toDimProduct } from '../../../lambdas/core/facts';
import { generateDay } from '../../../lambdas/core/generator';
import type { OrderCandidate, OrderItemCandidate } from '../../../lambdas/core/model';

const DATE = '2024-01-15';

const order = (id: string, total: bigint): OrderCandidate => ({
  order_id: id,
  customer_id: 'C-1',
  order_ts: new Date('2024-01-15T10:00:00Z'),
  status: 'paid',
  currency: 'USD',
  total_amount_cents: total,
  updated_at: new Date('2024-01-15T10:05:00Z'),
});

const line = (
  orderId: string,
  lineNo: number,
  category: string,
  quantity: number,
  price: bigint,
): OrderItemCandidate => ({
  order_id: orderId,
  line_no: lineNo,
  product_id: `P-${category}`,
  quantity,
  unit_price_cents: price,
  category,
});

/** Independent of the code under test: sums "12.34" strings as integers. */
const centsOf = (s: string | null): bigint => BigInt(String(s).replace('.', ''));

describe('buildOrderFacts', () => {
  it('counts valid lines, computes line amounts and aggregates per category', () => {
    // Prepare
    const orders = [order('O-1', 1299n), order('O-2', 333n), order('O-3', 0n)];
    const items = [
      line('O-1', 1, 'home', 3, 333n),
      line('O-1', 2, 'books', 1, 300n),
      line('O-2', 1, 'home', 1, 333n),
      line('O-9', 1, 'home', 7, 100n), // its order is not valid
    ];

    // Act
    const facts = buildOrderFacts(orders, items, DATE);

    // Assess
    assert.deepEqual(
      facts.factOrder.map((f) => [f.order_id, f.item_count, f.order_date, f.total_amount_cents]),
      [
        ['O-1', 2, DATE, 1299n],
        ['O-2', 1, DATE, 333n],
        ['O-3', 0, DATE, 0n],
      ],
    );
    assert.deepEqual(
      facts.factOrderItem.map((f) => [f.order_id, f.line_no, f.line_amount_cents]),
      [
        ['O-1', 1, 999n],
        ['O-1', 2, 300n],
        ['O-2', 1, 333n],
      ],
    );
    assert.deepEqual(facts.aggDailySales, [
      { order_date: DATE, category: 'books', orders: 1, units: 1, revenue_cents: 300n },
      { order_date: DATE, category: 'home', orders: 2, units: 4, revenue_cents: 1332n },
    ]);
  });

  it('sums revenue exactly to the cent for a generated day, matching the source strings', () => {
    // Prepare
    const day = generateDay({ date: DATE, orders: 2000, seed: 5 });
    const catalog = new Map(day.catalog.map((p) => [String(p.product_id), { category: String(p.category) }]));
    const orders = day.orders.map((o) => conformOrder(o).row);
    const items = day.items.map((i) => conformItem(i, catalog).row);
    const expectedRevenue = new Map<string, bigint>();
    for (const src of day.items) {
      const category = String(catalog.get(String(src.product_id))?.category);
      const amount = BigInt(Number(src.quantity)) * centsOf(src.unit_price);
      expectedRevenue.set(category, (expectedRevenue.get(category) ?? 0n) + amount);
    }
    const expectedTotal = day.orders.reduce((sum, o) => sum + centsOf(o.total_amount), 0n);

    // Act
    const facts = buildOrderFacts(orders, items, DATE);

    // Assess
    const revenue = new Map(facts.aggDailySales.map((a) => [a.category, a.revenue_cents]));
    assert.deepEqual(revenue, new Map([...expectedRevenue].sort(([a], [b]) => (a < b ? -1 : 1))));
    const aggTotal = facts.aggDailySales.reduce((sum, a) => sum + a.revenue_cents, 0n);
    assert.equal(aggTotal, expectedTotal);
    assert.equal(facts.factOrderItem.length, day.items.length);
    assert.equal(
      facts.aggDailySales.reduce((sum, a) => sum + a.units, 0),
      day.items.reduce((sum, i) => sum + Number(i.quantity), 0),
    );
  });

  it('refuses rows that cannot have passed validation', () => {
    // Prepare
    const orders = [{ ...order('O-1', 100n), customer_id: null }];

    // Act
    const attempt = () => buildOrderFacts(orders, [], DATE);

    // Assess
    assert.throws(
      attempt,
      (error: Error) => error instanceof PermanentError && /customer_id is null in O-1/.test(error.message),
    );
  });
});

describe('toDimProduct', () => {
  it('maps valid products to dim_product rows sorted by product_id', () => {
    // Prepare
    const records = [
      {
        product_id: 'P-2',
        name: 'Kettle',
        category: 'home',
        price: '49.00',
        currency: 'USD',
        updated_at: '2024-01-10',
      },
      {
        product_id: 'P-1',
        name: 'Lamp',
        category: 'home',
        price: '19.99',
        currency: 'USD',
        updated_at: '2024-01-11',
      },
    ];

    // Act
    const dim = toDimProduct(records.map((r) => conformProduct(r).row));

    // Assess
    assert.deepEqual(dim, [
      {
        product_id: 'P-1',
        name: 'Lamp',
        category: 'home',
        price_cents: 1999n,
        currency: 'USD',
        updated_at: new Date('2024-01-11T00:00:00Z'),
      },
      {
        product_id: 'P-2',
        name: 'Kettle',
        category: 'home',
        price_cents: 4900n,
        currency: 'USD',
        updated_at: new Date('2024-01-10T00:00:00Z'),
      },
    ]);
  });
});
