import type { ResolveRunInput, RunContext } from '../core/contracts';
import { ConfigurationError } from '../core/errors';
import { assertBusinessDate, previousUtcDate } from '../core/dates';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/**
 * Fixes the run's business date and id and records the run as RUNNING, as the writer user: EnsureWarehouse
 * (ensure-warehouse.ts, the admin) ran just before it and made the schema.
 */
export function makeResolveRun({ warehouse, logger }: Adapters) {
  return async ({ request, executionName }: ResolveRunInput): Promise<RunContext> => {
    if (typeof executionName !== 'string' || executionName === '') {
      throw new ConfigurationError(
        'ResolveRun: payload has no executionName; the batch state machine passes $$.Execution.Name (lib/constructs/batch-pipeline.ts)',
      );
    }
    const businessDate =
      request.businessDate !== undefined
        ? assertBusinessDate(request.businessDate, 'businessDate')
        : previousUtcDate(request.time ? new Date(request.time) : new Date());
    const run: RunContext = {
      // The execution's own name: `retry <run id>` redrives exactly this execution.
      runId: executionName,
      businessDate,
      startedAt: new Date().toISOString(),
    };
    await warehouse.executeBatch(
      recordRunStatements({ ...run, status: 'RUNNING', datasets: [], checks: [] }),
    );
    logger.info('run resolved', { ...run });
    return run;
  };
}

export const step: Step<void, ResolveRunInput, RunContext> = {
  name: 'resolve-run',
  settings: () => undefined,
  make: makeResolveRun,
};
export const handler = awsHandler(step);
