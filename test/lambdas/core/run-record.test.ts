import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { PipelineState } from '../../../lambdas/core/contracts';
import { datasetLoads, describeRun } from '../../../lambdas/core/run-record';

const fixture = async (name: string): Promise<PipelineState> =>
  JSON.parse(await readFile(new URL(`../../fixtures/pipeline-state/${name}.json`, import.meta.url), 'utf8'));

describe('datasetLoads', () => {
  it('takes rows_loaded from the table each dataset loads into, so rows_in = loaded + quarantined', async () => {
    // Prepare
    const state = await fixture('succeeded');

    // Act
    const loads = datasetLoads(state);

    // Assess
    assert.deepEqual(
      loads.map((l) => [l.dataset, l.rowsLoaded]),
      [
        ['products', 200],
        ['orders', 298],
        ['order_items', 897],
      ],
    );
    for (const load of loads) assert.equal(load.rowsIn, load.rowsLoaded + load.rowsQuarantined);
  });

  it('reports zero rows loaded when the run stopped before the loads', async () => {
    // Prepare
    const state = await fixture('failed-gate');

    // Act
    const loads = datasetLoads(state);

    // Assess
    assert.deepEqual(
      loads.map((l) => l.rowsLoaded),
      [0, 0, 0],
    );
  });
});

describe('describeRun', () => {
  it('summarises a successful run with its loads', async () => {
    // Act
    const { status, subject, summary } = describeRun(await fixture('succeeded'));

    // Assess
    assert.equal(status, 'SUCCEEDED');
    assert.equal(subject, 'cartflow SUCCEEDED 2026-03-01');
    assert.match(summary, /loaded fact_order: 298 rows/);
    assert.match(summary, /orders: 300 in, 298 valid, 2 quarantined/);
  });

  it('names the gate failure reason when the quality gate stopped the run', async () => {
    // Act
    const { status, summary } = describeRun(await fixture('failed-gate'));

    // Assess
    assert.equal(status, 'FAILED');
    assert.match(summary, /quality gate: orders: 16\.67% quarantined/);
  });

  it('unwraps the Lambda error message from a Catch cause', async () => {
    // Act
    const { status, summary } = describeRun(await fixture('lambda-error'));

    // Assess
    assert.equal(status, 'FAILED');
    assert.match(summary, /error: TransientError — Cannot connect to the source database: timeout/);
  });
});
