import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PipelineState } from '../core/contracts';
import { datasetLoads } from '../core/run-record';
import { recordRunStatements } from '../core/sql';
import { adapters } from '../adapters/context';
import { metrics } from '../adapters/observability';

/** Writes the run's outcome to ops.pipeline_run, ops.dataset_load and ops.quality_result in one transaction. */
export const handler = async (state: PipelineState): Promise<{ finishedAt: string }> => {
  const finishedAt = new Date().toISOString();
  await adapters().warehouse.executeBatch(
    recordRunStatements({
      ...state.run,
      status: 'SUCCEEDED',
      finishedAt,
      datasets: datasetLoads(state),
      checks: state.validation?.checks ?? [],
    }),
  );
  metrics.addMetric('RunSucceeded', MetricUnit.Count, 1);
  // The freshness alarm treats a missing datapoint as stale: each good load reports a fresh lake.
  metrics.addMetric('MinutesSinceLastLoad', MetricUnit.Count, 0);
  metrics.publishStoredMetrics();
  return { finishedAt };
};
