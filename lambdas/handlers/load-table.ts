import type { LoadResult, LoadTableInput } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { loadPartitionStatements, partitionCountSql } from '../core/sql';
import { TABLES } from '../core/tables';
import { adapters } from '../adapters/context';
import { requireEnv } from '../adapters/aws-adapters';
import { logger } from '../adapters/observability';
import { HANDLER_ENV } from '../steps';

/** One curated table of the date → warehouse: COPY into a stage, then one transaction that replaces the partition. */
export const handler = async (input: LoadTableInput): Promise<LoadResult> => {
  const businessDate = assertBusinessDate(input.run.businessDate, 'run.businessDate');
  const table = TABLES[input.item.table];
  const { lake, warehouse } = adapters();
  await warehouse.executeBatch(
    loadPartitionStatements({
      table,
      s3Uri: `s3://${lake.bucket}/${input.item.prefix}`,
      iamRoleArn: requireEnv(HANDLER_ENV.copyRoleArn),
      businessDate,
    }),
  );
  const [{ rows }] = await warehouse.query<{ rows: number | string }>(
    partitionCountSql(table, businessDate, input.item),
  );
  logger.info('loaded', { table: table.name, rows });
  return { table: input.item.table, rowsLoaded: Number(rows) };
};
