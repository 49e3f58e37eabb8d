import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { latestByProduct, withRejected } from '../../../lambdas/core/catalog-snapshot';
import type { DatasetQuality } from '../../../lambdas/core/contracts';
import type { ProductCandidate } from '../../../lambdas/core/model';

const product = (id: string | null, updatedAt: string | null, price: bigint): ProductCandidate => ({
  product_id: id,
  name: `name ${id}`,
  category: 'home',
  price_cents: price,
  currency: 'USD',
  updated_at: updatedAt === null ? null : new Date(updatedAt),
});

describe('latestByProduct', () => {
  it('keeps the latest updated_at per product, the later file winning a tie', () => {
    // Prepare
    const rows = [
      product('P-2', '2026-01-02T00:00:00Z', 200n),
      product('P-1', '2026-01-05T00:00:00Z', 150n),
      product('P-1', '2026-01-01T00:00:00Z', 100n),
      product('P-2', '2026-01-02T00:00:00Z', 250n),
    ];

    // Act
    const merged = latestByProduct(rows);

    // Assess
    assert.deepEqual(
      merged.map((p) => [p.product_id, p.price_cents]),
      [
        ['P-1', 150n],
        ['P-2', 250n],
      ],
    );
  });

  it('keeps rows without a key so validation can quarantine them', () => {
    // Act
    const merged = latestByProduct([product(null, '2026-01-01T00:00:00Z', 1n), product('P-1', null, 2n)]);

    // Assess
    assert.equal(merged.length, 2);
  });
});

describe('withRejected', () => {
  it('adds unparseable records to rows_in and quarantined, and re-judges the threshold', () => {
    // Prepare
    const quality: DatasetQuality = {
      dataset: 'products',
      rowsIn: 96,
      rowsValid: 96,
      rowsQuarantined: 0,
      quarantineShare: 0,
      threshold: 0.03,
      passed: true,
    };

    // Act
    const result = withRejected(quality, 4);

    // Assess
    assert.deepEqual(
      { rowsIn: result.rowsIn, rowsQuarantined: result.rowsQuarantined, share: result.quarantineShare },
      { rowsIn: 100, rowsQuarantined: 4, share: 0.04 },
    );
    assert.equal(result.passed, false);
  });
});
