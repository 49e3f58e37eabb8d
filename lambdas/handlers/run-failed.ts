/**
 * A batch execution ended FAILED, TIMED_OUT or ABORTED: the EventBridge rule on its "Execution Status
 * Change" (lib/constructs/failed-runs.ts; locally the runtime after the run) invokes this step. The state
 * machine has no Catch, so the execution stopped where the failure happened and a redrive resumes there:
 * this step cleans nothing up (the staged data and stage tables are what a redrive resumes from; PublishDate
 * and EnsureWarehouse drop stage tables later). It reads where the run stopped from the execution's
 * history, records the run as FAILED with whatever quality results it got to, writes its report, counts
 * RunFailed and publishes the failure notification.
 */
import type { PipelineState } from '../core/contracts';
import { ConfigurationError } from '../core/errors';
import { datasetLoads, describeRun, type RunFailure, type StateResults } from '../core/run-record';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { tryWriteRunReport } from '../adapters/run-report';
import { METRIC } from '../contract';
import { FAILED_EXECUTION_STATUSES, FAILURE_HANDLERS, QUALITY_GATE_ERROR } from '../steps';
import { notifySettings, type NotifySettings } from './notify';

/** The EventBridge event "Step Functions Execution Status Change" (source aws.states), as much as is read. */
export interface ExecutionStatusChange {
  'detail-type': string;
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: string;
    /** Epoch ms. */
    startDate?: number;
    stopDate?: number | null;
    error?: string | null;
    cause?: string | null;
  };
}

export interface RunFailedResult {
  status: string;
  subject: string;
  failure: RunFailure;
  /** Whether ops.pipeline_run now says FAILED (not when RecordRun had recorded the run's success). */
  recorded: boolean;
  reportKey?: string;
}

/** What an execution that stopped without an error of its own reports. */
const STATUS_ERROR: Record<string, string> = { TIMED_OUT: 'States.Timeout', ABORTED: 'ExecutionAborted' };

const isRunState = (input: unknown): input is StateResults =>
  typeof input === 'object' && input !== null && typeof (input as PipelineState).run?.runId === 'string';

export function makeRunFailed(adapters: Adapters, settings: NotifySettings) {
  const { warehouse, alerts, metrics, logger, executions } = adapters;
  return async (event: ExecutionStatusChange): Promise<RunFailedResult> => {
    const { detail } = event;
    if (!(FAILED_EXECUTION_STATUSES as readonly string[]).includes(detail.status)) {
      throw new ConfigurationError(
        `run-failed: execution ${detail.executionArn} has status ${detail.status}; the rule should match only ${FAILED_EXECUTION_STATUSES.join(', ')}`,
      );
    }
    if (!executions) throw new ConfigurationError('run-failed: no execution history among the adapters');
    const stop = await executions.stopOf(detail.executionArn);
    const failure: RunFailure = {
      state: stop.state ?? '(before the first state)',
      error: detail.error ?? STATUS_ERROR[detail.status] ?? detail.status,
      ...(detail.cause ? { cause: detail.cause } : {}),
    };
    const gate = failure.error === QUALITY_GATE_ERROR;
    // Before ResolveRun the input is the run request: there is no run to record or report.
    const state: StateResults = isRunState(stop.input) ? stop.input : ({} as StateResults);
    const finishedAt = new Date(detail.stopDate ?? Date.now()).toISOString();
    // A run that failed after RecordRun (at NotifySuccess) is published and recorded as a success: keep it.
    const recorded = state.run !== undefined && state.record === undefined;
    let reportKey: string | undefined;
    if (state.run && recorded) {
      await warehouse.executeBatch(
        recordRunStatements({
          ...state.run,
          status: 'FAILED',
          finishedAt,
          message: gate ? `quality gate: ${failure.cause ?? ''}` : `${failure.state}: ${failure.error}`,
          datasets: datasetLoads(state),
          checks: state.validation?.checks ?? [],
        }),
      );
      // A failed run needs its report most: what ran, what failed, which rows.
      reportKey = await tryWriteRunReport(adapters, {
        // No RecordRun result in the state: the run did not get there (the report would show it succeeded).
        state: { ...state, ...(gate ? {} : { error: { Error: failure.error, Cause: failure.cause } }) },
        failedState: failure.state,
        finishedAt,
        status: 'FAILED',
        environment: settings.environment,
      });
    }
    metrics.count(METRIC.runFailed, 1);
    metrics.flush();
    const execution = {
      Id: detail.executionArn,
      Name: detail.name,
      ...(detail.startDate ? { StartTime: new Date(detail.startDate).toISOString() } : {}),
    };
    const reported = reportKey ? { ...state, record: { ...state.record, reportKey } } : state;
    const { status, subject, summary } = describeRun(
      reported,
      { ...settings, execution, now: new Date(finishedAt) },
      failure,
    );
    await alerts.publish(subject, summary);
    logger.warn('run failed', { run: state.run, ...failure });
    return { status, subject, failure, recorded, ...(reportKey ? { reportKey } : {}) };
  };
}

export const step: Step<NotifySettings, ExecutionStatusChange, RunFailedResult> = {
  name: FAILURE_HANDLERS.RunFailed,
  settings: notifySettings,
  make: makeRunFailed,
};
export const handler = awsHandler(step);
