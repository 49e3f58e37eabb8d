import assert from 'node:assert/strict';
import { batchScenarios } from '../test/e2e/batch-scenarios';

const source = process.env.SOURCE_DATABASE_URL;
const warehouse = process.env.WAREHOUSE_DATABASE_URL;
// .ci/run starts PostgreSQL and sets both; running this suite without them is a setup error, not a skip.
assert.ok(
  source && warehouse,
  'SOURCE_DATABASE_URL and WAREHOUSE_DATABASE_URL must name PostgreSQL databases',
);

batchScenarios('PostgreSQL servers', { source, warehouse });
