import type { LoadTableInput, PipelineState, PublishResult } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { PermanentError, SupersededRunError } from '../core/errors';
import { assertClaimHeld, supersededRunStatements } from '../core/run-claim';
import {
  batchStagesOfDateSql,
  dropRegisteredStageBatches,
  publishStatements,
  stageBaseName,
} from '../core/sql';
import { DECLARATIONS, type Declarations } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/** The batch run's whole state (tables from `$.validation.tables`) or a catalog refresh's one table. */
export type PublishInput = Pick<PipelineState, 'run' | 'validation'> | LoadTableInput;

/**
 * Makes the date visible all at once: every table the load Map staged replaces its partition of the date
 * in ONE transaction (Data API BatchExecuteStatement), and the staging tables go with it. Before it, the
 * stages the date's earlier failed batch attempts left (ops.stage_table) are dropped: they are stale.
 * When a table failed to stage, this step never runs and readers keep the previous run's rows in every table.
 * A batch run publishes only while it holds its date (core/run-claim.ts): a redriven run whose date another
 * run took over since drops its own stages, records itself superseded and ends so (SupersededRunError).
 */
export interface PublishDateSettings {
  /** The curated tables (core/tables.ts; a test passes its own). */
  declarations: Declarations;
}

export function makePublishDate(
  { warehouse, logger }: Adapters,
  settings: PublishDateSettings = { declarations: DECLARATIONS },
) {
  return async (input: PublishInput): Promise<PublishResult> => {
    const businessDate = assertBusinessDate(input.run.businessDate, 'run.businessDate');
    const items = 'item' in input ? [input.item] : (input.validation?.tables ?? []);
    if (items.length === 0) {
      throw new PermanentError(`PublishDate: no staged table to publish for run ${input.run.runId}`);
    }
    const tables = items.map((item) => settings.declarations.tables[item.table]);
    const own = new Set(tables.map((table) => stageBaseName(table, input.run.runId)));
    if (!('item' in input)) {
      try {
        await assertClaimHeld(warehouse, input.run);
      } catch (error) {
        if (error instanceof SupersededRunError) {
          for (const batch of dropRegisteredStageBatches([...own])) await warehouse.executeBatch(batch);
          await warehouse.executeBatch(supersededRunStatements(input.run, error));
          logger.warn('run superseded', { ...input.run, reason: error.message });
        }
        throw error;
      }
    }
    // A catalog refresh publishes its own stage only: a batch run of its date may be loading.
    const stale =
      'item' in input
        ? []
        : (await warehouse.query<{ table_name: string }>(batchStagesOfDateSql(businessDate)))
            .map((r) => r.table_name)
            .filter((name) => !own.has(name));
    // Stale stages go first, in batches the Data API takes (a date retried many times leaves many): a
    // failed drop is retried with the step, and the publish transaction holds the date's tables alone.
    for (const batch of dropRegisteredStageBatches(stale)) await warehouse.executeBatch(batch);
    await warehouse.executeBatch(publishStatements(tables, input.run.runId, businessDate));
    logger.info('published', { businessDate, tables: tables.map((t) => t.name), staleStages: stale.length });
    return { tables: items.map((item) => item.table) };
  };
}

export const step: Step<PublishDateSettings, PublishInput, PublishResult> = {
  name: 'publish-date',
  settings: () => ({ declarations: DECLARATIONS }),
  make: makePublishDate,
};
export const handler = awsHandler(step);
