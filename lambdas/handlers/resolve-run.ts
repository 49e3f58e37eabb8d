import type { ResolveRunInput, RunContext } from '../core/contracts';
import { ConfigurationError, SupersededRunError } from '../core/errors';
import { requestedBusinessDate } from '../core/dates';
import { claimDate, supersededRunStatements } from '../core/run-claim';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/**
 * Fixes the run's business date and id, claims the date (core/run-claim.ts) and records the run as RUNNING,
 * as the writer user: EnsureWarehouse (ensure-warehouse.ts, the admin) ran just before it and made the
 * schema. A date another live run holds ends this run superseded (SupersededRunError, recorded as such).
 */
export function makeResolveRun({ warehouse, logger, liveRuns }: Adapters) {
  return async ({ request, executionName, timeoutMinutes }: ResolveRunInput): Promise<RunContext> => {
    if (typeof executionName !== 'string' || executionName === '') {
      throw new ConfigurationError(
        'ResolveRun: payload has no executionName; the batch state machine passes $$.Execution.Name (lib/constructs/batch-pipeline.ts)',
      );
    }
    if (!Number.isInteger(timeoutMinutes) || timeoutMinutes <= 0) {
      throw new ConfigurationError(
        `ResolveRun: payload timeoutMinutes ${String(timeoutMinutes)} is not a positive integer; the batch state machine passes config slaMinutes (lib/constructs/batch-pipeline.ts)`,
      );
    }
    const run: RunContext = {
      // The execution's own name: `retry <run id>` redrives exactly this execution.
      runId: executionName,
      businessDate: requestedBusinessDate(request),
      startedAt: new Date().toISOString(),
    };
    try {
      await claimDate(warehouse, run, {
        timeoutMinutes,
        ...(liveRuns ? { isRunning: (id: string) => liveRuns.isRunning(id) } : {}),
      });
    } catch (error) {
      if (error instanceof SupersededRunError) {
        await warehouse.executeBatch(supersededRunStatements(run, error));
        logger.warn('run superseded', { ...run, reason: error.message });
      }
      throw error;
    }
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
