import { randomUUID } from 'node:crypto';
import type { RunContext, RunRequest } from '../core/contracts';
import { assertBusinessDate, previousUtcDate } from '../core/dates';
import { recordRunStatements } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/**
 * Fixes the run's business date and id and records the run as RUNNING, as the writer user: EnsureWarehouse
 * (ensure-warehouse.ts, the admin) ran just before it and made the schema.
 */
export function makeResolveRun({ warehouse, logger }: Adapters) {
  return async (event: RunRequest): Promise<RunContext> => {
    const businessDate =
      event.businessDate !== undefined
        ? assertBusinessDate(event.businessDate, 'businessDate')
        : previousUtcDate(event.time ? new Date(event.time) : new Date());
    const run: RunContext = {
      runId: event.executionName ?? `${businessDate}-${randomUUID().slice(0, 8)}`,
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

export const step: Step<void, RunRequest, RunContext> = {
  name: 'resolve-run',
  settings: () => undefined,
  make: makeResolveRun,
};
export const handler = awsHandler(step);
