import type { LoadResult, LoadTableInput } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { requireEnv, type Env } from '../core/settings';
import { loadPartitionStatements, partitionCountSql } from '../core/sql';
import { TABLES } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { HANDLER_ENV } from '../steps';

export interface LoadTableSettings {
  /** The role Redshift assumes to read the lake in COPY. */
  copyRoleArn: string;
}

export const loadTableSettings = (env: Env): LoadTableSettings => ({
  copyRoleArn: requireEnv(env, HANDLER_ENV.copyRoleArn),
});

/** One curated table of the date → warehouse: COPY into a stage, then one transaction that replaces the partition. */
export function makeLoadTable({ lake, warehouse, logger }: Adapters, settings: LoadTableSettings) {
  return async (input: LoadTableInput): Promise<LoadResult> => {
    const businessDate = assertBusinessDate(input.run.businessDate, 'run.businessDate');
    const table = TABLES[input.item.table];
    await warehouse.executeBatch(
      loadPartitionStatements({
        table,
        s3Uri: `s3://${lake.bucket}/${input.item.prefix}`,
        iamRoleArn: settings.copyRoleArn,
        businessDate,
      }),
    );
    const [{ rows }] = await warehouse.query<{ rows: number | string }>(
      partitionCountSql(table, businessDate, input.item),
    );
    logger.info('loaded', { table: table.name, rows });
    return { table: input.item.table, rowsLoaded: Number(rows) };
  };
}

export const step: Step<LoadTableSettings, LoadTableInput, LoadResult> = {
  settings: loadTableSettings,
  make: makeLoadTable,
};
export const handler = awsHandler(step);
