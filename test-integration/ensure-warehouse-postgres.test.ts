import assert from 'node:assert/strict';
import { schemaMigrationScenarios } from '../test/lambdas/handlers/ensure-warehouse-migration';
import { openDatabase } from '../local/embedded-postgres';
import { ownWarehouseDatabase } from './own-warehouse';

// .ci/run starts PostgreSQL and sets it; running this suite without it is a setup error, not a skip.
assert.ok(process.env.WAREHOUSE_DATABASE_URL, 'WAREHOUSE_DATABASE_URL must name a PostgreSQL database');

let databases = 0;
// A database of its own on the server per test: each test changes the warehouse's tables.
schemaMigrationScenarios('PostgreSQL server', async () => {
  const own = await ownWarehouseDatabase(`cartflow_schema_${process.pid}_${++databases}`);
  return { db: await openDatabase({ url: own.url }), drop: own.drop };
});
