import {
  createIamUserSql,
  DECLARED_TABLES,
  declaredTables,
  dropRegisteredStageBatches,
  STAGE_TABLE_MAX_AGE_DAYS,
  stagesCreatedBeforeSql,
  userExistsSql,
  warehouseDdl,
  warehouseReadySql,
  writerGrantStatements,
} from '../core/sql';
import {
  alterCalls,
  catalogColumnsSql,
  describeChange,
  planSchemaChanges,
  recordSchemaChangesSql,
  type CatalogColumn,
} from '../core/schema-migration';
import { DECLARATIONS, warehouseTables, type Declarations, type TableDef } from '../core/tables';
import { CODE_VERSION } from '../core/version';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { HANDLER_ENV } from '../contract';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Env, Step, Warehouse } from '../adapters/ports';

export interface EnsureWarehouseSettings {
  /**
   * The database user the other warehouse functions act as (IAMR:<role> on AWS). This step is the DDL/grant
   * step: the only one with the admin secret, it creates the schemas and tables and grants that user what it
   * writes. Absent on a laptop, where one local user does everything.
   */
  writerUser?: string;
  /** The datasets whose tables the warehouse must have (core/tables.ts; a test passes its own). @default DECLARATIONS */
  declarations?: Declarations;
  /** Recorded with each change in ops.schema_change. @default CODE_VERSION (package.json) */
  codeVersion?: string;
}

/** What ensureWarehouse works with: the settings, with the declarations made into the warehouse's tables. */
export interface EnsureWarehouseOptions extends Pick<EnsureWarehouseSettings, 'writerUser' | 'codeVersion'> {
  /** Every table the warehouse must have, as declared. @default DECLARED_TABLES */
  tables?: readonly TableDef[];
}

export interface EnsureWarehouseResult {
  /** False when every table was as declared (and granted): the step then ran catalog queries and no DDL. */
  created: boolean;
  /** The schema changes applied, `schema.table[.column]: change`, as ops.schema_change records them. */
  changes?: string[];
  /** Stage tables dropped because they outlived the redrive window (STAGE_TABLE_MAX_AGE_DAYS). */
  expiredStages?: number;
}

/**
 * Schemas, tables and the writer's grants, idempotent, and a deployed warehouse brought forward to the
 * declared tables (core/schema-migration.ts): missing tables created, appended columns added, VARCHARs
 * widened, each recorded in ops.schema_change. A change it refuses fails it before anything changes. The
 * deploy runs it (a custom resource) before any function that acts as the writer exists, and both state
 * machines run it first; on an existing warehouse it costs two catalog queries.
 */
export async function ensureWarehouse(
  warehouse: Warehouse,
  { writerUser, tables = DECLARED_TABLES, codeVersion = CODE_VERSION }: EnsureWarehouseOptions,
): Promise<EnsureWarehouseResult> {
  // Planned whole before the first statement: a refused change leaves the warehouse as it was.
  const changes = planSchemaChanges(tables, await warehouse.query<CatalogColumn>(catalogColumnsSql(tables)));
  // CREATE USER has no IF NOT EXISTS (Redshift Serverless also creates the user at its first IAM login),
  // and runs on its own: Redshift keeps some user DDL out of transaction blocks.
  if (writerUser && (await warehouse.query(userExistsSql(writerUser))).length === 0) {
    await warehouse.executeBatch([createIamUserSql(writerUser)]);
  }
  const [ready] = await warehouse.query<{ present: number | string; expected: number | string }>(
    warehouseReadySql(writerUser, tables),
  );
  const granted = Number(ready.present) === Number(ready.expected);
  if (granted && changes.length === 0) return { created: false, changes: [] };
  const appliedAt = new Date();
  const applied = changes.filter((c) => c.sql === undefined);
  if (applied.length > 0 || !granted) {
    await warehouse.executeBatch([
      ...warehouseDdl(warehouse.dialect, tables),
      ...(writerUser ? writerGrantStatements(writerUser) : []),
      ...recordSchemaChangesSql(applied, codeVersion, appliedAt),
    ]);
  }
  for (const call of alterCalls(changes, codeVersion, appliedAt)) {
    try {
      // ExecuteStatement: Redshift alters a column's type only outside a transaction block.
      if (call.statement !== undefined) await warehouse.query(call.statement);
      await warehouse.executeBatch(call.batch);
    } catch (error) {
      // Another EnsureWarehouse (the other state machine's, the deploy's) may have altered the table first:
      // then there is nothing left to do. ALTER TABLE … ADD COLUMN has no IF NOT EXISTS on Redshift.
      const left = planSchemaChanges(tables, await warehouse.query<CatalogColumn>(catalogColumnsSql(tables)));
      if (left.length > 0) throw error;
      break;
    }
    applied.push(...call.changes);
  }
  return { created: true, changes: applied.map(describeChange) };
}

/**
 * Drops the registered stage tables older than the redrive window: a failed run no longer redrivable, or one
 * whose date a later run never published. Returns how many.
 */
export async function dropExpiredStages(warehouse: Warehouse, now: Date): Promise<number> {
  const before = new Date(now.getTime() - STAGE_TABLE_MAX_AGE_DAYS * 86_400_000);
  const names = (await warehouse.query<{ table_name: string }>(stagesCreatedBeforeSql(before))).map(
    (r) => r.table_name,
  );
  // In batches the Data API takes: one failed run leaves a stage per table, a month of them many more.
  for (const batch of dropRegisteredStageBatches(names)) await warehouse.executeBatch(batch);
  return names.length;
}

/** The deploy-time custom resource's physical id: one warehouse schema per stack. */
export const WAREHOUSE_SCHEMA_RESOURCE_ID = 'warehouse-schema';

/** The answer to a stack event, as the custom-resource Provider framework reads it (onEvent). */
export interface SchemaResourceResult {
  PhysicalResourceId: string;
  Data?: { Created: boolean };
}

/** A CloudFormation custom-resource event, as the Provider framework passes it on (lib/constructs/batch-pipeline.ts). */
const isStackEvent = (input: unknown): input is CloudFormationCustomResourceEvent =>
  typeof input === 'object' && input !== null && 'RequestType' in input && 'StackId' in input;

export function makeEnsureWarehouse({ warehouse, logger }: Adapters, settings: EnsureWarehouseSettings) {
  const { declarations = DECLARATIONS, ...options } = settings;
  const tables = declaredTables(warehouseTables(declarations.tables));
  const ensure = async (): Promise<EnsureWarehouseResult> => {
    const result = await ensureWarehouse(warehouse, { ...options, tables });
    if (result.created)
      logger.info('warehouse schema created, changed or granted', { changes: result.changes });
    else logger.info('warehouse schema present');
    return result;
  };
  // A state machine's input (a run request, an S3 event) does not matter: the state machines discard the
  // result. A stack event comes from the deploy: an error thrown here fails the deploy with its message.
  return async (input: unknown): Promise<EnsureWarehouseResult | SchemaResourceResult> => {
    if (isStackEvent(input)) {
      // The schema and its data outlive the custom resource: deleting the stack (or the resource) drops nothing.
      if (input.RequestType === 'Delete') return { PhysicalResourceId: input.PhysicalResourceId };
      const { created } = await ensure();
      return { PhysicalResourceId: WAREHOUSE_SCHEMA_RESOURCE_ID, Data: { Created: created } };
    }
    const result = await ensure();
    const expiredStages = await dropExpiredStages(warehouse, new Date());
    if (expiredStages > 0) logger.info('expired stage tables dropped', { expiredStages });
    return { ...result, expiredStages };
  };
}

export const ensureWarehouseSettings = (env: Env): EnsureWarehouseSettings => ({
  writerUser: env[HANDLER_ENV.warehouseWriterUser] || undefined,
  declarations: DECLARATIONS,
});

export const step: Step<EnsureWarehouseSettings, unknown, EnsureWarehouseResult | SchemaResourceResult> = {
  name: 'ensure-warehouse',
  settings: ensureWarehouseSettings,
  make: makeEnsureWarehouse,
};
export const handler = awsHandler(step);
