import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigurationError } from '../../../lambdas/core/errors';
import { CURATED, declareDatasets, SOURCES, TABLES } from '../../../lambdas/core/tables';
import { ORDERS_WITH_CHANNEL } from '../../fixtures/datasets/orders-with-channel';

describe('declareDatasets', () => {
  test('a source column appended to a dataset is in its raw and staged tables, nullable, and in the curated table that names it', () => {
    // Act
    const { tables } = ORDERS_WITH_CHANNEL;

    // Assess
    for (const table of ['raw_orders', 'staged_orders'] as const) {
      assert.deepEqual(tables[table].columns.at(-1), {
        name: 'channel',
        field: 'channel',
        kind: 'string',
        nullable: true,
        length: 32,
      });
      assert.equal(tables[table].columns.length, TABLES[table].columns.length + 1);
    }
    assert.deepEqual(tables.fact_order.columns.slice(0, -1), TABLES.fact_order.columns);
    assert.equal(tables.fact_order.columns.at(-1)?.name, 'channel');
    assert.deepEqual(tables.fact_order_item, TABLES.fact_order_item);
  });

  test('the lake holds money with room for dirty amounts and the warehouse as declared', () => {
    // Assess
    const lake = TABLES.raw_order_items.columns.find((c) => c.name === 'unit_price');
    const warehouse = TABLES.fact_order_item.columns.find((c) => c.name === 'unit_price');
    assert.deepEqual([lake?.precision, lake?.nullable], [18, true]);
    assert.deepEqual([warehouse?.precision, warehouse?.nullable], [12, false]);
  });

  test('a curated column its source dataset does not declare is refused, naming both', () => {
    // Prepare
    const factOrder = { ...CURATED.fact_order, columns: [...CURATED.fact_order.columns, 'channel'] };

    // Act
    const declare = () => declareDatasets(SOURCES, { ...CURATED, fact_order: factOrder });

    // Assess
    assert.throws(declare, ConfigurationError);
    assert.throws(declare, /curated table fact_order takes column channel from source dataset orders/);
  });
});
