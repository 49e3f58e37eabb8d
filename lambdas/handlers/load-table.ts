import type { LoadResult, LoadTableInput } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { requireEnv, type Env } from '../core/settings';
import { stagedCountSql, stageTableStatements } from '../core/sql';
import { DECLARATIONS, type Declarations } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { HANDLER_ENV } from '../contract';

export interface LoadTableSettings {
  /** The role Redshift assumes to read the lake in COPY. */
  copyRoleArn: string;
  /** The curated tables (core/tables.ts; a test passes its own). */
  declarations: Declarations;
}

export const loadTableSettings = (env: Env): LoadTableSettings => ({
  copyRoleArn: requireEnv(env, HANDLER_ENV.copyRoleArn),
  declarations: DECLARATIONS,
});

/**
 * One curated table of the date → the run's staging table (COPY, in parallel with the other tables),
 * registered in ops.stage_table. Nothing readers see changes here: PublishDate replaces the date in every
 * table in one transaction.
 */
export function makeLoadTable({ lake, warehouse, logger }: Adapters, settings: LoadTableSettings) {
  return async (input: LoadTableInput): Promise<LoadResult> => {
    const businessDate = assertBusinessDate(input.run.businessDate, 'run.businessDate');
    const table = settings.declarations.tables[input.item.table];
    await warehouse.executeBatch(
      stageTableStatements({
        table,
        runId: input.run.runId,
        businessDate,
        createdAt: new Date(),
        s3Uri: `s3://${lake.bucket}/${input.item.prefix}`,
        iamRoleArn: settings.copyRoleArn,
      }),
    );
    const [{ rows }] = await warehouse.query<{ rows: number | string }>(
      stagedCountSql(table, input.run.runId),
    );
    logger.info('staged', { table: table.name, rows });
    return { table: input.item.table, rowsLoaded: Number(rows) };
  };
}

export const step: Step<LoadTableSettings, LoadTableInput, LoadResult> = {
  name: 'load-table',
  settings: loadTableSettings,
  make: makeLoadTable,
};
export const handler = awsHandler(step);
