import type { PipelineState } from '../core/contracts';
import { layout } from '../core/layout';
import { BATCH_TABLES, DATASETS } from '../core/model';
import { datasetLoads } from '../core/run-record';
import { dropStageStatements, recordRunStatements } from '../core/sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { tryWriteRunReport } from '../adapters/run-report';
import { METRIC } from '../contract';

/**
 * The failure path's "ALL_DONE" step: drops the run's intermediate staged/ data and warehouse staging
 * tables (the date was never published, so readers still see the previous run) and records the run as FAILED with whatever quality results it got to, so ops tables show why.
 * A failed catalog refresh (`catalogArrivals`) only drops its dim_product stage table: it staged nothing in the
 * lake, recorded no run, and its state machine's failed-executions alarm reports it.
 */
export function makeCleanup(adapters: Adapters) {
  const { lake, warehouse, metrics, logger } = adapters;
  return async (state: PipelineState): Promise<{ deletedObjects: number; reportKey?: string }> => {
    if (state.catalogArrivals !== undefined) {
      if (state.run?.runId) {
        await warehouse.executeBatch(dropStageStatements([TABLES.dim_product], state.run.runId));
      }
      logger.warn('catalog refresh failed', {
        run: state.run,
        arrivals: state.catalogArrivals,
        error: state.error,
      });
      return { deletedObjects: 0 };
    }
    let deletedObjects = 0;
    let reportKey: string | undefined;
    if (state.run?.businessDate) {
      for (const dataset of DATASETS) {
        deletedObjects += await lake.deletePrefix(layout.staged(dataset, state.run.businessDate));
      }
      await warehouse.executeBatch([
        ...dropStageStatements(
          BATCH_TABLES.map((t) => TABLES[t]),
          state.run.runId,
        ),
        ...recordRunStatements({
          ...state.run,
          status: 'FAILED',
          finishedAt: new Date().toISOString(),
          datasets: datasetLoads(state),
          checks: state.validation?.checks ?? [],
        }),
      ]);
      // A failed run needs its report most: what ran, what failed, which rows.
      reportKey = await tryWriteRunReport(adapters, { state, status: 'FAILED' });
    }
    metrics.count(METRIC.runFailed, 1);
    metrics.flush();
    logger.warn('run failed', { run: state.run, error: state.error, gate: state.validation?.failureReason });
    return { deletedObjects, reportKey };
  };
}

export const step: Step<void, PipelineState, { deletedObjects: number; reportKey?: string }> = {
  name: 'cleanup',
  settings: () => undefined,
  make: makeCleanup,
};
export const handler = awsHandler(step);
