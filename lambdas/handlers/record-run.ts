import type { PipelineState } from '../core/contracts';
import { writeFreshnessRecords } from '../core/freshness';
import { isDataset } from '../core/model';
import { datasetLoads } from '../core/run-record';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { tryWriteRunReport } from '../adapters/run-report';
import { METRIC } from '../contract';

/**
 * Writes the run's outcome to ops.pipeline_run, ops.dataset_load and ops.quality_result in one transaction,
 * then each dataset's freshness record to the lake, then the run's HTML report next to its quality JSON.
 */
export function makeRecordRun(adapters: Adapters) {
  const { warehouse, metrics } = adapters;
  return async (state: PipelineState): Promise<{ finishedAt: string; reportKey?: string }> => {
    const finishedAt = new Date().toISOString();
    const datasets = datasetLoads(state);
    await warehouse.executeBatch(
      recordRunStatements({
        ...state.run,
        status: 'SUCCEEDED',
        finishedAt,
        datasets,
        checks: state.validation?.checks ?? [],
      }),
    );
    // What the scheduled SLA check reads instead of the warehouse. After the commit: a failure here fails
    // the step, whose retry records the same run again.
    await writeFreshnessRecords(
      adapters.lake,
      // The freshness SLA covers the product's datasets (core/freshness.ts), not ones a test declares.
      datasets.flatMap(({ dataset }) =>
        isDataset(dataset)
          ? [{ dataset, businessDate: state.run.businessDate, loadedAt: new Date(finishedAt) }]
          : [],
      ),
    );
    metrics.count(METRIC.runSucceeded, 1);
    for (const d of datasets) metrics.count(METRIC.rowsLoaded, d.rowsLoaded, { dataset: d.dataset });
    metrics.flush();
    const reportKey = await tryWriteRunReport(adapters, {
      state: { ...state, record: { finishedAt } },
      status: 'SUCCEEDED',
    });
    return { finishedAt, reportKey };
  };
}

export const step: Step<void, PipelineState, { finishedAt: string; reportKey?: string }> = {
  name: 'record-run',
  settings: () => undefined,
  make: makeRecordRun,
};
export const handler = awsHandler(step);
