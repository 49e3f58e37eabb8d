import { randomUUID } from 'node:crypto';
import type { RunContext, RunRequest } from '../core/contracts';
import { assertBusinessDate, previousUtcDate } from '../core/dates';
import {
  createIamUserSql,
  recordRunStatements,
  userExistsSql,
  warehouseDdl,
  writerGrantStatements,
} from '../core/sql';
import { HANDLER_ENV } from '../steps';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Env, Step } from '../adapters/ports';

export interface ResolveRunSettings {
  /**
   * The database user the other warehouse functions act as (IAMR:<role> on AWS). This step is the DDL/grant
   * step: the only one with the admin secret, it creates the schema and grants that user what it writes.
   * Absent on a laptop, where one local user does everything.
   */
  writerUser?: string;
}

/** Fixes the run's business date and id, makes sure the warehouse schema exists and records the run as RUNNING. */
export function makeResolveRun({ warehouse, logger }: Adapters, settings: ResolveRunSettings = {}) {
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
    const { writerUser } = settings;
    // CREATE USER has no IF NOT EXISTS (Redshift Serverless also creates the user at its first IAM login),
    // and runs on its own: Redshift keeps some user DDL out of transaction blocks.
    if (writerUser && (await warehouse.query(userExistsSql(writerUser))).length === 0) {
      await warehouse.executeBatch([createIamUserSql(writerUser)]);
    }
    await warehouse.executeBatch([
      ...warehouseDdl(),
      ...(writerUser ? writerGrantStatements(writerUser) : []),
      ...recordRunStatements({ ...run, status: 'RUNNING', datasets: [], checks: [] }),
    ]);
    logger.info('run resolved', { ...run });
    return run;
  };
}

export const step: Step<ResolveRunSettings, RunRequest, RunContext> = {
  settings: (env: Env) => ({ writerUser: env[HANDLER_ENV.warehouseWriterUser] || undefined }),
  make: makeResolveRun,
};
export const handler = awsHandler(step);
