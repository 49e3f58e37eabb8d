import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { contractDocs, REGENERATE, SOURCE_CONTRACT, WAREHOUSE_CONTRACT } from '../../scripts/contract-docs';
import { ORDERS_WITH_CHANNEL } from '../fixtures/datasets/orders-with-channel';

describe('docs/source-contract.md and docs/warehouse-contract.md', () => {
  test('are what scripts/contract-docs.ts generates from lambdas/core/tables.ts', async () => {
    // Act
    const generated = await contractDocs();

    // Assess
    for (const [path, markdown] of generated) {
      assert.equal(await readFile(path, 'utf8'), markdown, `${path} is stale: run ${REGENERATE}`);
    }
  });

  test('show a column appended to a declaration in the source table and the warehouse table', async () => {
    // Act
    const generated = await contractDocs(ORDERS_WITH_CHANNEL);

    // Assess
    const source = generated.get(SOURCE_CONTRACT)!;
    assert.match(source, /\n {2}updated_at +TIMESTAMPTZ,\n {2}channel +TEXT\n\);/);
    const warehouse = generated.get(WAREHOUSE_CONTRACT)!;
    const factOrder = warehouse.slice(warehouse.indexOf('### `analytics.fact_order`'));
    assert.match(
      factOrder,
      /\| `item_count` +\| `INTEGER` +\| no +\|\n\| `channel` +\| `VARCHAR\(32\)` +\| yes +\|/,
    );
  });
});
