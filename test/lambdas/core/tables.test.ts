import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigurationError } from '../../../lambdas/core/errors';
import { CURATED, declareDatasets, SOURCES, TABLES, warehouseTables } from '../../../lambdas/core/tables';
import { WITH_CUSTOMERS } from '../../fixtures/datasets/customers';
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

  test('a source dataset a declaration adds gets raw and staged tables, and its curated table is a warehouse table after the product ones', () => {
    // Act
    const { tables } = WITH_CUSTOMERS;

    // Assess
    assert.deepEqual(
      tables.raw_customers.columns.map((c) => [c.name, c.nullable]),
      [
        ['customer_id', true],
        ['name', true],
        ['segment', true],
        ['updated_at', true],
      ],
    );
    assert.deepEqual(
      tables.staged_customers.columns.map((c) => c.name),
      ['customer_id', 'name', 'segment', 'updated_at', 'is_business'],
    );
    assert.equal(tables.raw_customers.schema, undefined, 'lake only');
    assert.deepEqual(
      tables.dim_customer.columns.map((c) => [c.name, c.kind, c.nullable]),
      [
        ['customer_id', 'string', false],
        ['name', 'string', true],
        ['segment', 'string', false],
        ['is_business', 'bool', true],
        ['updated_at', 'timestamp', false],
      ],
    );
    assert.equal(tables.dim_customer.versionColumn, 'updated_at');
    assert.deepEqual(
      warehouseTables(tables).map((t) => t.name),
      [...warehouseTables(TABLES).map((t) => t.name), 'dim_customer'],
    );
  });

  test('a curated table built from an undeclared source dataset is refused, naming both', () => {
    // Prepare
    const dimCustomer = { ...WITH_CUSTOMERS.curated.dim_customer };
    const declare = () => declareDatasets(SOURCES, { ...CURATED, dim_customer: dimCustomer });

    // Assess
    assert.throws(declare, ConfigurationError);
    assert.throws(
      declare,
      /curated table dim_customer is built from source dataset customers, which is not declared/,
    );
  });

  test('a source dataset is refused when its name is not a lower-case SQL name, differs from its key or is products', () => {
    // Prepare
    const { customers } = WITH_CUSTOMERS.sources;
    const declarations = [
      { ...SOURCES, 'my-customers': { ...customers, dataset: 'my-customers' } },
      { ...SOURCES, customers: { ...customers, dataset: 'clients' } },
      { ...SOURCES, products: { ...customers, dataset: 'products' } },
    ];

    // Assess
    for (const sources of declarations) {
      assert.throws(() => declareDatasets(sources, CURATED), ConfigurationError);
    }
    assert.throws(
      () => declareDatasets(declarations[1], CURATED),
      /source dataset "clients" declared as "customers": expected the same lower-case SQL name/,
    );
  });
});
