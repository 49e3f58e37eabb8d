/** Registered stage tables in a local warehouse, as failed batch runs leave them (ops.stage_table). */
import type { Warehouse } from '../../lambdas/adapters/ports';
import { chunked, MAX_BATCH_STATEMENTS } from '../../lambdas/core/data-api-limits';
import { insertSql, STAGE_TABLE_REGISTRY, stageBaseName } from '../../lambdas/core/sql';
import { TABLES } from '../../lambdas/core/tables';

/**
 * One empty fact_order stage per run, registered for `businessDate` at `createdAt`, and each run recorded
 * FAILED in ops.pipeline_run (a date's PublishDate drops only the stages of the date's batch runs).
 * Returns the stage names.
 */
export async function leaveStages(
  warehouse: Warehouse,
  runIds: readonly string[],
  businessDate: string,
  createdAt: Date,
): Promise<string[]> {
  const names = runIds.map((runId) => stageBaseName(TABLES.fact_order, runId));
  for (const slice of chunked(names, MAX_BATCH_STATEMENTS)) {
    await warehouse.executeBatch(
      slice.map((name) => `CREATE TABLE staging.${name} (LIKE analytics.fact_order)`),
    );
  }
  await warehouse.executeBatch([
    ...insertSql(
      STAGE_TABLE_REGISTRY,
      runIds.map((runId, i) => ({
        table_name: names[i],
        run_id: runId,
        business_date: businessDate,
        created_at: createdAt,
      })),
    ),
    ...insertSql(
      TABLES.pipeline_run,
      runIds.map((runId) => ({
        run_id: runId,
        business_date: businessDate,
        status: 'FAILED',
        started_at: createdAt,
      })),
    ),
  ]);
  return names;
}

/** The stage tables that exist in the staging schema and those registered, by name. */
export async function stagesLeft(warehouse: Warehouse): Promise<{ tables: string[]; registered: string[] }> {
  const tables = await warehouse.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'staging' ORDER BY 1`,
  );
  const registered = await warehouse.query<{ name: string }>(
    `SELECT table_name AS name FROM ops.stage_table ORDER BY 1`,
  );
  return { tables: tables.map((r) => r.name), registered: registered.map((r) => r.name) };
}
