import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { SfnExecutionHistory } from '../../../lambdas/adapters/execution-history';
import { layout } from '../../../lambdas/core/layout';
import { step as ensureWarehouseStep } from '../../../lambdas/handlers/ensure-warehouse';
import { step as runFailedStep, type ExecutionStatusChange } from '../../../lambdas/handlers/run-failed';
import { startLocalServices, type LocalServices } from '../../../local/runtime';

const ARN =
  'arn:aws:states:eu-west-1:123456789012:execution:PipelineStateMachine3A4F3E2B-AbCdEf:2026-03-09-a1';
const STAGED = 'staged/orders/dt=2026-03-09/part-00000.parquet';

/** The failed execution's history, served by a stub of the SFN edge (one page). */
async function recordedHistory() {
  const { events } = JSON.parse(
    await readFile(
      new URL('../../fixtures/execution-history/failed-load-table.json', import.meta.url),
      'utf8',
    ),
  ) as { events: HistoryEvent[] };
  return new SfnExecutionHistory({ send: async () => ({ events }) } as never);
}

/** The EventBridge event of the execution's status change. */
function statusChange(status: string, error: string | null, cause: string | null): ExecutionStatusChange {
  return {
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: ARN,
      stateMachineArn: ARN.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      name: '2026-03-09-a1',
      status,
      startDate: Date.parse('2026-03-10T02:00:00Z'),
      stopDate: Date.parse('2026-03-10T02:09:00Z'),
      error,
      cause,
    },
  };
}

describe('run-failed step', () => {
  let dataDir: string;
  let services: LocalServices;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-run-failed-'));
    services = await startLocalServices({ dataDir });
    await services.build(ensureWarehouseStep)(undefined);
  });

  after(async () => {
    await services.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('records the run FAILED at the state the history names, reports, notifies once and deletes nothing', async () => {
    // Prepare
    await services.lake.put(STAGED, 'parquet bytes');
    const handle = services.build(runFailedStep, { executions: await recordedHistory() });
    const cause = JSON.stringify({
      errorType: 'CopyMismatchError',
      errorMessage: 'fact_order: 12 columns, 13',
    });
    const alerts = services.alerts.published.length;

    // Act
    const result = await handle(statusChange('FAILED', 'CopyMismatchError', cause));

    // Assess
    assert.deepEqual(result.failure, { state: 'LoadTable', error: 'CopyMismatchError', cause });
    assert.equal(result.recorded, true);
    const [run] = await services.warehouse.query<{ status: string; message: string }>(
      `SELECT status, message FROM ops.pipeline_run WHERE run_id = '2026-03-09-a1'`,
    );
    assert.deepEqual(run, { status: 'FAILED', message: 'LoadTable: CopyMismatchError' });
    assert.equal(result.reportKey, layout.runReport('2026-03-09', '2026-03-09-a1'));
    const report = await services.lake.getText(result.reportKey!);
    assert.match(
      report,
      /Why it failed:<\/strong> at LoadTable: CopyMismatchError: fact_order: 12 columns, 13/,
    );
    assert.match(
      report,
      /<tr><td>LoadTable<\/td><td>—<\/td><td class="num">—<\/td><td><span class="badge failed">/,
    );
    assert.doesNotMatch(report, /<td>RecordRun<\/td>/, 'the failed run never reached RecordRun');
    const published = services.alerts.published.slice(alerts);
    assert.equal(published.length, 1);
    assert.equal(published[0].subject, 'cartflow local FAILED 2026-03-09 at LoadTable: CopyMismatchError');
    assert.ok(published[0].message.includes('cartflow retry 2026-03-09-a1'), published[0].message);
    assert.ok(published[0].message.includes('fact_order: 12 columns, 13'));
    assert.equal(await services.lake.getText(STAGED), 'parquet bytes', 'a redrive needs the staged data');
  });

  it('an execution timeout has no error of its own: States.Timeout, at the state it was in', async () => {
    // Prepare
    const handle = services.build(runFailedStep, { executions: await recordedHistory() });

    // Act
    const result = await handle(statusChange('TIMED_OUT', null, null));

    // Assess
    assert.deepEqual(result.failure, { state: 'LoadTable', error: 'States.Timeout' });
    assert.match(result.subject, /FAILED 2026-03-09 at LoadTable: States\.Timeout$/);
  });

  it('leaves a run RecordRun recorded as a success (it failed at NotifySuccess) as it is', async () => {
    // Prepare: the run's state as NotifySuccess received it, RecordRun's result included.
    const stop = {
      state: 'NotifySuccess',
      input: {
        run: { runId: 'r-ok', businessDate: '2026-03-09', startedAt: '2026-03-10T02:00:00.000Z' },
        record: { finishedAt: '2026-03-10T02:08:00.000Z' },
      },
    };
    const handle = services.build(runFailedStep, { executions: { stopOf: async () => stop } });

    // Act
    const result = await handle(statusChange('FAILED', 'Runtime.ExitError', 'killed'));

    // Assess
    assert.equal(result.recorded, false);
    assert.deepEqual(
      await services.warehouse.query(`SELECT status FROM ops.pipeline_run WHERE run_id = 'r-ok'`),
      [],
    );
    assert.match(result.subject, /at NotifySuccess: Runtime\.ExitError$/);
  });

  it('refuses an event that is no failure, naming the status', async () => {
    // Prepare
    const handle = services.build(runFailedStep, { executions: await recordedHistory() });

    // Act + Assess
    await assert.rejects(handle(statusChange('SUCCEEDED', null, null)), /status SUCCEEDED/);
  });
});
