import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { SupersededRunError } from '../../../lambdas/core/errors';
import { assertClaimHeld, claimDate } from '../../../lambdas/core/run-claim';
import { recordRunStatements, warehouseDdl } from '../../../lambdas/core/sql';
import { makePublishDate } from '../../../lambdas/handlers/publish-date';
import { makeResolveRun } from '../../../lambdas/handlers/resolve-run';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { leaveStages, stagesLeft } from '../../support/stages';

const DATE = '2026-04-10';
const NOW = new Date('2026-04-11T03:00:00Z');
const TIMEOUT = 60;
const run = (runId: string) => ({ runId, businessDate: DATE, startedAt: NOW.toISOString() });
const supersededBy = (holder: string) => (error: Error) =>
  error instanceof SupersededRunError && error.message.includes(`run ${holder} of the same date`);

/** The date's claim in ops.run_claim, on the local warehouse (PostgreSQL), which serializes writers as Redshift does. */
describe('run-claim: one batch run per business date', () => {
  let warehouse: SqlWarehouse;
  const claim = (runId: string, options: Partial<Parameters<typeof claimDate>[2]> = {}) =>
    claimDate(warehouse, run(runId), { timeoutMinutes: TIMEOUT, now: NOW, ...options });
  const record = (runId: string, status: string) =>
    warehouse.executeBatch(recordRunStatements({ ...run(runId), status, datasets: [], checks: [] }));
  const statusOf = async (runId: string) =>
    (
      await warehouse.query<{ status: string }>(
        `SELECT status FROM ops.pipeline_run WHERE run_id = '${runId}'`,
      )
    )[0]?.status;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), new MemoryLakeStore());
    await warehouse.executeBatch(warehouseDdl('postgres'));
  });

  after(() => warehouse.close());

  beforeEach(() =>
    warehouse.executeBatch([
      'DELETE FROM ops.run_claim',
      'DELETE FROM ops.pipeline_run',
      'DELETE FROM ops.stage_table',
    ]),
  );

  it('gives a date claimed at once by five runs to exactly one; the others are superseded by it', async () => {
    // Act
    const ids = ['r1', 'r2', 'r3', 'r4', 'r5'];
    const results = await Promise.allSettled(ids.map((id) => claim(id)));

    // Assess
    const won = ids.filter((_, i) => results[i].status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const result of results.filter((r) => r.status === 'rejected'))
      assert.ok(supersededBy(won[0])(result.reason as Error), String(result.reason));
    // Its own claim again (a retried ResolveRun) is no conflict.
    await claim(won[0]);
  });

  it('keeps the date for a live holder, and lets a finished, expired or dead holder be taken over', async () => {
    // Prepare + Act + Assess: a live holder (RUNNING, young, its runner alive)
    await claim('first');
    await record('first', 'RUNNING');
    await assert.rejects(claim('second'), supersededBy('first'));
    await assert.rejects(claim('second', { isRunning: async () => true }), supersededBy('first'));

    // its runner gone (a local runner killed with SIGKILL records nothing)
    await claim('second', { isRunning: async (id) => id !== 'first' });
    // older than the state machine's timeout: no execution lives that long
    await claim('third', { now: new Date(NOW.getTime() + (TIMEOUT + 1) * 60_000) });
    // finished, whatever its status
    for (const [holder, next, status] of [
      ['third', 'fourth', 'SUCCEEDED'],
      ['fourth', 'fifth', 'FAILED'],
    ]) {
      await record(holder, status);
      await claim(next);
    }
    await assert.rejects(assertClaimHeld(warehouse, run('fourth')), supersededBy('fifth'));
    await assertClaimHeld(warehouse, run('fifth'));
  });

  it('ResolveRun of a date a live run holds records the run SUPERSEDED and throws', async () => {
    // Prepare
    const resolve = makeResolveRun(stepAdapters({ lake: new MemoryLakeStore(), warehouse }));
    const first = await resolve({
      request: { businessDate: DATE },
      executionName: 'first',
      timeoutMinutes: 60,
    });

    // Act
    const second = resolve({ request: { businessDate: DATE }, executionName: 'second', timeoutMinutes: 60 });

    // Assess
    assert.equal(first.runId, 'first');
    await assert.rejects(second, supersededBy('first'));
    assert.equal(await statusOf('first'), 'RUNNING');
    assert.equal(await statusOf('second'), 'SUPERSEDED');
  });

  it('PublishDate of a run whose date another run took over publishes nothing and drops only its own stages', async () => {
    // Prepare: `old` failed and is redriven after `new` claimed the date and staged its tables.
    const [oldStage, newStage] = await leaveStages(warehouse, ['old', 'new'], DATE, NOW);
    await record('old', 'FAILED');
    await claim('new');
    await record('new', 'RUNNING');
    const publish = makePublishDate(stepAdapters({ lake: new MemoryLakeStore(), warehouse }));

    // Act
    const published = publish({
      run: run('old'),
      validation: {
        passed: true,
        reportKey: `quality/${DATE}/old.json`,
        datasets: [],
        checks: [],
        tables: [{ table: 'fact_order', prefix: `curated/fact_order/dt=${DATE}/`, rows: 0 }],
      },
    });

    // Assess
    await assert.rejects(published, supersededBy('new'));
    assert.ok(oldStage !== newStage);
    assert.deepEqual(await stagesLeft(warehouse), { tables: [newStage], registered: [newStage] });
    assert.equal(await statusOf('old'), 'SUPERSEDED');
    assert.equal(await statusOf('new'), 'RUNNING');
  });
});
