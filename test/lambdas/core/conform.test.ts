import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  conformItem,
  conformOrder,
  conformProduct,
  enrichItem,
  normalizeOrder,
} from '../../../lambdas/core/conform';
import type { OrderCandidate, SourceOrder } from '../../../lambdas/core/model';

const catalog = new Map([['P-0001', { category: 'home' }]]);

const sourceOrder: SourceOrder = {
  order_id: ' O-1 ',
  customer_id: 'C-7',
  order_ts: '2024-01-15T10:00:00Z',
  status: 'Paid ',
  currency: 'usd',
  total_amount: '12.30',
  updated_at: '2024-01-15T11:00:00+01:00',
};

describe('conformOrder', () => {
  it('trims, cases and types a clean source row without issues', () => {
    // Prepare
    const src = sourceOrder;

    // Act
    const { row, issues } = conformOrder(src);

    // Assess
    assert.deepEqual(issues, []);
    assert.deepEqual(row, {
      order_id: 'O-1',
      customer_id: 'C-7',
      order_ts: new Date('2024-01-15T10:00:00Z'),
      status: 'paid',
      currency: 'USD',
      total_amount_cents: 1230n,
      updated_at: new Date('2024-01-15T10:00:00Z'),
    });
  });

  it('turns blank strings into null and unparseable values into null with a named issue', () => {
    // Prepare
    const src = { ...sourceOrder, customer_id: '   ', order_ts: 'noon', total_amount: '12.345', status: '' };

    // Act
    const { row, issues } = conformOrder(src);

    // Assess
    assert.equal(row.customer_id, null);
    assert.equal(row.status, null);
    assert.equal(row.order_ts, null);
    assert.equal(row.total_amount_cents, null);
    assert.deepEqual(issues, [
      "order_ts: 'noon' is not an ISO-8601 timestamp (expected e.g. 2024-01-15T10:30:00Z)",
      "total_amount: '12.345' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)",
    ]);
  });
});

describe('normalizeOrder', () => {
  it('only trims and cases an already-typed row', () => {
    // Prepare
    const typed: OrderCandidate = {
      order_id: 'O-2 ',
      customer_id: '',
      order_ts: new Date('2024-01-15T10:00:00Z'),
      status: 'SHIPPED',
      currency: ' eur',
      total_amount_cents: 500n,
      updated_at: null,
    };

    // Act
    const row = normalizeOrder(typed);

    // Assess
    assert.deepEqual(row, {
      ...typed,
      order_id: 'O-2',
      customer_id: null,
      status: 'shipped',
      currency: 'EUR',
    });
  });
});

describe('conformItem and enrichItem', () => {
  it('types an item and takes its category from the catalog', () => {
    // Prepare
    const src = { order_id: 'O-1', line_no: 1, product_id: ' P-0001', quantity: 2, unit_price: '4.5' };

    // Act
    const { row, issues } = conformItem(src, catalog);

    // Assess
    assert.deepEqual(issues, []);
    assert.deepEqual(row, {
      order_id: 'O-1',
      line_no: 1,
      product_id: 'P-0001',
      quantity: 2,
      unit_price_cents: 450n,
      category: 'home',
    });
  });

  it('leaves the category null for an unknown product and reports non-integers', () => {
    // Prepare
    const src = { order_id: 'O-1', line_no: 1.5, product_id: 'P-9999', quantity: 2, unit_price: 'free' };

    // Act
    const { row, issues } = conformItem(src, catalog);

    // Assess
    assert.equal(row.category, null);
    assert.equal(row.line_no, null);
    assert.equal(row.unit_price_cents, null);
    assert.deepEqual(issues, [
      'line_no: 1.5 is not an integer',
      "unit_price: 'free' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)",
    ]);
  });

  it('enriches an already-typed item', () => {
    // Prepare
    const typed = { order_id: 'O-1', line_no: 2, product_id: 'P-0001', quantity: 1, unit_price_cents: 100n };

    // Act
    const row = enrichItem({ ...typed, category: null }, catalog);

    // Assess
    assert.deepEqual(row, { ...typed, category: 'home' });
  });
});

describe('conformProduct', () => {
  it('types a catalog record and reports a bad price', () => {
    // Prepare
    const src = {
      product_id: 'P-0001',
      name: ' Eco Lamp ',
      category: 'home',
      price: '1.999',
      currency: 'usd',
      updated_at: '2024-01-10T08:00:00Z',
    };

    // Act
    const { row, issues } = conformProduct(src);

    // Assess
    assert.deepEqual(row, {
      product_id: 'P-0001',
      name: 'Eco Lamp',
      category: 'home',
      price_cents: null,
      currency: 'USD',
      updated_at: new Date('2024-01-10T08:00:00Z'),
    });
    assert.deepEqual(issues, [
      "price: '1.999' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)",
    ]);
  });
});
