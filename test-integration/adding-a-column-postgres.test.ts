import assert from 'node:assert/strict';
import { after } from 'node:test';
import { addingAColumnScenarios } from '../test/e2e/adding-a-column-scenarios';
import { ownWarehouseDatabase } from './own-warehouse';

// .ci/run starts PostgreSQL and sets both; running this suite without them is a setup error, not a skip.
assert.ok(
  process.env.SOURCE_DATABASE_URL && process.env.WAREHOUSE_DATABASE_URL,
  'SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL must name PostgreSQL databases',
);

// Databases of its own on the servers: the scenario adds a column to the source's orders and the warehouse's fact_order.
const source = await ownWarehouseDatabase(
  `cartflow_column_source_${process.pid}`,
  process.env.SOURCE_DATABASE_URL,
);
const warehouse = await ownWarehouseDatabase(`cartflow_column_${process.pid}`);
after(async () => {
  await warehouse.drop();
  await source.drop();
});

addingAColumnScenarios('PostgreSQL server', { source: source.url, warehouse: warehouse.url });
