import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conformProduct } from '../../../lambdas/core/conform';

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
