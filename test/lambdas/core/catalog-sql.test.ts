import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { conformProductsSql } from '../../../lambdas/core/catalog-sql';
import { conformProduct } from '../../../lambdas/core/conform';
import { Engine, sqlLiteral } from '../../../lambdas/core/engine/engine';
import { formatCents } from '../../../lambdas/core/dates';
import type { CatalogProduct } from '../../../lambdas/core/model';

const records = JSON.parse(
  readFileSync(new URL('../../fixtures/catalog-conform/records.json', import.meta.url), 'utf8'),
) as CatalogProduct[];

describe('conformProductsSql', () => {
  let dir: string;
  let engine: Engine;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-catalog-sql-'));
    engine = await Engine.open({ memoryLimitMb: 128, tempDirectory: join(dir, 'spill'), threads: 1 });
  });
  after(async () => {
    engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('conforms every record as conformProduct does: same values, same reasons', async () => {
    // Prepare: the records as text, in order.
    const values = records
      .map((r, k) => {
        const cells = (['product_id', 'name', 'category', 'price', 'currency', 'updated_at'] as const).map(
          (c) => (r[c] === null ? 'NULL' : sqlLiteral(r[c])),
        );
        return `(${k + 1}, ${cells.join(', ')})`;
      })
      .join(', ');
    const source = `(SELECT * FROM (VALUES ${values}) v(__record, product_id, name, category, price, currency, updated_at))`;

    // Act
    const rows = await engine.rows<Record<string, unknown>>(
      `SELECT product_id, name, category, CAST(price AS VARCHAR) AS price, currency,
         strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS updated_at, issues
       FROM (${conformProductsSql(source)}) ORDER BY __record`,
    );

    // Assess
    const expected = records.map((r) => {
      const { row, issues } = conformProduct(r);
      return {
        product_id: row.product_id,
        name: row.name,
        category: row.category,
        price: row.price_cents === null ? null : formatCents(row.price_cents),
        currency: row.currency,
        updated_at: row.updated_at?.toISOString() ?? null,
        issues,
      };
    });
    assert.deepEqual(rows, expected);
  });
});
