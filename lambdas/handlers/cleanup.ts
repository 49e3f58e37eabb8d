import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PipelineState } from '../core/contracts';
import { layout } from '../core/layout';
import { DATASETS } from '../core/model';
import { datasetLoads } from '../core/run-record';
import { recordRunStatements } from '../core/sql';
import { adapters } from '../adapters/context';
import { logger, metrics } from '../adapters/observability';

/**
 * The failure path's "ALL_DONE" step: drops the run's intermediate staged/ data and records the
 * run as FAILED with whatever quality results it got to, so ops tables show why.
 */
export const handler = async (state: PipelineState): Promise<{ deletedObjects: number }> => {
  const { lake, warehouse } = adapters();
  let deletedObjects = 0;
  if (state.run?.businessDate) {
    for (const dataset of DATASETS) {
      deletedObjects += await lake.deletePrefix(layout.staged(dataset, state.run.businessDate));
    }
    await warehouse.executeBatch(
      recordRunStatements({
        ...state.run,
        status: 'FAILED',
        finishedAt: new Date().toISOString(),
        datasets: datasetLoads(state),
        checks: state.validation?.checks ?? [],
      }),
    );
  }
  metrics.addMetric('RunFailed', MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  logger.warn('run failed', { run: state.run, error: state.error, gate: state.validation?.failureReason });
  return { deletedObjects };
};
