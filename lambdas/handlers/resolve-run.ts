import { randomUUID } from 'node:crypto';
import type { RunContext, RunRequest } from '../core/contracts';
import { assertBusinessDate, previousUtcDate } from '../core/dates';
import { recordRunStatements, warehouseDdl } from '../core/sql';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/** Fixes the run's business date and id, makes sure the warehouse schema exists and records the run as RUNNING. */
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
    await warehouse.executeBatch([
      ...warehouseDdl(),
      ...recordRunStatements({ ...run, status: 'RUNNING', datasets: [], checks: [] }),
    ]);
    logger.info('run resolved', { ...run });
    return run;
  };
}

export const step: Step<void, RunRequest, RunContext> = { settings: () => undefined, make: makeResolveRun };
export const handler = awsHandler(step);
