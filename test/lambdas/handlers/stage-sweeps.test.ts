import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { Warehouse } from '../../../lambdas/adapters/ports';
import { MAX_BATCH_STATEMENTS } from '../../../lambdas/core/data-api-limits';
import { STAGE_TABLE_MAX_AGE_DAYS, stageBaseName, warehouseDdl } from '../../../lambdas/core/sql';
import { TABLES } from '../../../lambdas/core/tables';
import { dropExpiredStages } from '../../../lambdas/handlers/ensure-warehouse';
import { makePublishDate } from '../../../lambdas/handlers/publish-date';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { leaveStages, stagesLeft } from '../../support/stages';

const DATE = '2024-03-10';
const NOW = new Date('2024-03-11T03:00:00Z');
/** More stale stages than one BatchExecuteStatement may drop: 45 failed attempts of one date. */
const failedRuns = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);

/**
 * The two stage sweeps past the Data API's 40 statements per batch, on the local warehouse, which refuses a
 * bigger batch as the Data API does: PublishDate's drop of the date's stale stages and EnsureWarehouse's
 * drop of the expired ones.
 */
describe('stage sweeps within the Data API batch limit', () => {
  let local: SqlWarehouse;
  const batchSizes: number[] = [];
  const warehouse: Warehouse = {
    dialect: 'postgres',
    executeBatch: (statements, options) => {
      batchSizes.push(statements.length);
      return local.executeBatch(statements, options);
    },
    query: (sql) => local.query(sql),
  };

  before(async () => {
    local = new SqlWarehouse(await openDatabase({}), new MemoryLakeStore());
    await local.executeBatch(warehouseDdl('postgres'));
  });

  after(() => local.close());

  beforeEach(async () => {
    const { tables } = await stagesLeft(local);
    for (const name of tables) await local.executeBatch([`DROP TABLE staging.${name}`]);
    await local.executeBatch([
      'DELETE FROM ops.stage_table',
      'DELETE FROM ops.pipeline_run',
      'DELETE FROM ops.run_claim',
    ]);
    batchSizes.length = 0;
  });

  it('PublishDate drops 45 stale stages of its date and publishes its own, no batch over 40 statements', async () => {
    // Prepare
    await leaveStages(warehouse, failedRuns(45, `${DATE}-failed`), DATE, NOW);
    const [own] = await leaveStages(warehouse, ['run-own'], DATE, NOW);
    const [otherDate] = await leaveStages(warehouse, ['run-other-date'], '2024-03-09', NOW);
    batchSizes.length = 0;
    const publish = makePublishDate(stepAdapters({ lake: new MemoryLakeStore(), warehouse }));

    // Act
    const result = await publish({
      run: { runId: 'run-own', businessDate: DATE, startedAt: NOW.toISOString() },
      validation: {
        passed: true,
        reportKey: `quality/${DATE}/run-own.json`,
        datasets: [],
        checks: [],
        tables: [{ table: 'fact_order', prefix: `curated/fact_order/dt=${DATE}/`, rows: 0 }],
      },
    });

    // Assess
    assert.deepEqual(result, { tables: ['fact_order'] });
    assert.equal(own, stageBaseName(TABLES.fact_order, 'run-own'));
    assert.deepEqual(await stagesLeft(local), { tables: [otherDate], registered: [otherDate] });
    assert.deepEqual(batchSizes, [40, 7, 5]);
    assert.ok(batchSizes.every((n) => n <= MAX_BATCH_STATEMENTS));
  });

  it('EnsureWarehouse drops 45 expired stages and keeps the young one, no batch over 40 statements', async () => {
    // Prepare
    const old = new Date(NOW.getTime() - (STAGE_TABLE_MAX_AGE_DAYS + 1) * 86_400_000);
    await leaveStages(warehouse, failedRuns(45, 'expired'), '2024-02-20', old);
    const [young] = await leaveStages(warehouse, ['run-young'], DATE, NOW);
    batchSizes.length = 0;

    // Act
    const dropped = await dropExpiredStages(warehouse, NOW);

    // Assess
    assert.equal(dropped, 45);
    assert.deepEqual(await stagesLeft(local), { tables: [young], registered: [young] });
    assert.deepEqual(batchSizes, [40, 7]);
  });
});
