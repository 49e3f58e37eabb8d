import type { PipelineState } from '../core/contracts';
import { dropStageStatements } from '../core/sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/**
 * The catalog refresh's failure path (CleanupCatalog): drops the dim_product stage table LoadCatalog may have
 * made. The refresh staged nothing in the lake and recorded no run; its state machine's failed-executions
 * alarm reports it. (A failed batch run keeps its stages for a redrive: lambdas/handlers/run-failed.ts.)
 */
export function makeCleanup({ warehouse, logger }: Adapters) {
  return async (state: PipelineState): Promise<{ droppedStages: number }> => {
    const droppedStages = state.run?.runId ? 1 : 0;
    if (state.run?.runId) {
      await warehouse.executeBatch(dropStageStatements([TABLES.dim_product], state.run.runId));
    }
    logger.warn('catalog refresh failed', {
      run: state.run,
      arrivals: state.catalogArrivals,
      error: state.error,
    });
    return { droppedStages };
  };
}

export const step: Step<void, PipelineState, { droppedStages: number }> = {
  name: 'cleanup',
  settings: () => undefined,
  make: makeCleanup,
};
export const handler = awsHandler(step);
