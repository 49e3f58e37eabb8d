import type { PipelineState } from '../core/contracts';
import { datasetLoads } from '../core/run-record';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { METRIC } from '../contract';

/** Writes the run's outcome to ops.pipeline_run, ops.dataset_load and ops.quality_result in one transaction. */
export function makeRecordRun({ warehouse, metrics }: Adapters) {
  return async (state: PipelineState): Promise<{ finishedAt: string }> => {
    const finishedAt = new Date().toISOString();
    await warehouse.executeBatch(
      recordRunStatements({
        ...state.run,
        status: 'SUCCEEDED',
        finishedAt,
        datasets: datasetLoads(state),
        checks: state.validation?.checks ?? [],
      }),
    );
    metrics.count(METRIC.runSucceeded, 1);
    // The freshness alarm treats a missing datapoint as stale: each good load reports a fresh lake.
    metrics.count(METRIC.minutesSinceLastLoad, 0);
    metrics.flush();
    return { finishedAt };
  };
}

export const step: Step<void, PipelineState, { finishedAt: string }> = {
  settings: () => undefined,
  make: makeRecordRun,
};
export const handler = awsHandler(step);
