import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { PipelineState } from '../../../lambdas/core/contracts';
import {
  readFreshnessObservations,
  readFreshnessRecords,
  type FreshnessRules,
} from '../../../lambdas/core/freshness';
import { warehouseDdl } from '../../../lambdas/core/sql';
import { step } from '../../../lambdas/handlers/record-run';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';

const RULES: FreshnessRules = {
  products: { loadedBy: '06:00' },
  orders: { loadedBy: '06:00' },
  order_items: { loadedBy: '06:00' },
};

describe('record-run step', () => {
  const lake = new MemoryLakeStore('memory-lake');
  let warehouse: SqlWarehouse;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), lake);
    await warehouse.executeBatch(warehouseDdl('postgres'));
  });
  after(() => warehouse.close());

  it('writes each loaded dataset’s freshness record, saying what the warehouse now says', async () => {
    // Prepare
    const state = JSON.parse(
      await readFile(new URL('../../fixtures/pipeline-state/succeeded.json', import.meta.url), 'utf8'),
    ) as PipelineState;
    const recordRun = step.make(stepAdapters({ lake, warehouse }), undefined);

    // Act
    const { finishedAt } = await recordRun(state);

    // Assess: the SLA check (lake) and `cartflow status` (warehouse) see the same load.
    const records = await readFreshnessRecords(lake, RULES);
    assert.deepEqual(
      records.map((r) => [r.dataset, r.businessDate, r.loadedAt?.toISOString()]),
      ['products', 'orders', 'order_items'].map((d) => [d, '2026-03-01', finishedAt]),
    );
    const inWarehouse = await readFreshnessObservations(warehouse, RULES);
    assert.deepEqual(
      records.map((r) => [r.dataset, r.businessDate, r.loadedAt?.getTime()]).sort(),
      inWarehouse.map((r) => [r.dataset, r.businessDate, r.loadedAt?.getTime()]).sort(),
    );
  });
});
