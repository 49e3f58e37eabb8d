import assert from 'node:assert/strict';
import { after } from 'node:test';
import { rebuildScenarios } from '../test/e2e/rebuild-scenarios';
import { ownWarehouseDatabase } from './own-warehouse';

const source = process.env.SOURCE_DATABASE_URL;
// .ci/run starts PostgreSQL and sets both; running this suite without them is a setup error, not a skip.
assert.ok(
  source && process.env.WAREHOUSE_DATABASE_URL,
  'SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL must name PostgreSQL databases',
);

// A database of its own on the server: the scenarios drop the warehouse's schemas entirely.
const warehouse = await ownWarehouseDatabase(`cartflow_rebuild_${process.pid}`);
after(() => warehouse.drop());

rebuildScenarios('PostgreSQL server', { source, warehouse: warehouse.url });
