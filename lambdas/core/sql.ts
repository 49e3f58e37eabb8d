/**
 * Warehouse SQL, as plain strings, identical for Redshift and the local PostgreSQL warehouse: only
 * syntax both accept (no MERGE, no aliases in DELETE, no E'' strings, no ON COMMIT DROP).
 *
 * Timestamps are TIMESTAMP (without time zone) holding UTC wall-clock time: Redshift COPY loads a
 * Parquet timestamp into TIMESTAMP as is, and every writer here produces UTC.
 * Primary keys are declared for documentation and the planner; Redshift does not enforce them, so
 * idempotence comes from the DELETE-then-INSERT below, never from the keys.
 */
import { createHash } from 'node:crypto';
import { CLICKSTREAM_TABLES } from './clickstream/tables';
import type { CheckResult, DatasetQuality } from './contracts';
import { assertBusinessDate, formatDecimal } from './dates';
import { chunked, MAX_BATCH_STATEMENTS, MAX_STATEMENT_BYTES } from './data-api-limits';
import { ConfigurationError } from './errors';
import {
  PLAIN_SQL_TYPES,
  TABLES,
  WAREHOUSE_TABLES,
  date as dateColumn,
  int64,
  str,
  timestamp,
  type ColumnDef,
  type TableDef,
} from './tables';

const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
// Reserved in Redshift or PostgreSQL and plausible as a column name: these get quoted.
const RESERVED = new Set(['all', 'user', 'order', 'offset', 'limit', 'table', 'column', 'default', 'rows']);

/** A lower-case identifier as is; anything else double-quoted. */
export function ident(name: string): string {
  return PLAIN_IDENTIFIER.test(name) && !RESERVED.has(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/**
 * A string literal valid in both dialects. Redshift reads backslash as an escape inside literals and
 * PostgreSQL does not, so a backslash is spliced in as CHR(92), which both read the same way.
 */
export function literal(value: string): string {
  // NUL can be stored by neither.
  const parts = value.replace(/\0/g, '').split('\\');
  return parts.map((part) => `'${part.replace(/'/g, "''")}'`).join(' || CHR(92) || ');
}

export const qualifiedName = (table: TableDef): string => {
  if (table.schema === undefined)
    throw new ConfigurationError(`${table.name} is a lake-only dataset, not a table`);
  return `${table.schema}.${ident(table.name)}`;
};

/** The column's SQL type, spelled alike in both dialects. */
export function sqlType(column: ColumnDef): string {
  switch (column.kind) {
    case 'string':
      return `VARCHAR(${column.length ?? 256})`;
    case 'decimal':
      return `NUMERIC(${column.precision},${column.scale ?? 0})`;
    default:
      return PLAIN_SQL_TYPES[column.kind];
  }
}

/** The warehouse's SQL: Redshift on AWS, its PostgreSQL stand-in on a laptop. */
export type WarehouseDialect = 'redshift' | 'postgres';

/** Redshift's table attributes of `table` (DISTKEY, SORTKEY), which PostgreSQL does not know. */
function redshiftAttributes(table: TableDef): string {
  const attributes: string[] = [];
  if (table.distKey !== undefined) attributes.push(`DISTSTYLE KEY DISTKEY (${ident(table.distKey)})`);
  if (table.sortKey !== undefined)
    attributes.push(`COMPOUND SORTKEY (${table.sortKey.map(ident).join(', ')})`);
  return attributes.map((a) => ` ${a}`).join('');
}

/** `name TYPE [DEFAULT d] [NOT NULL]`: a column as CREATE TABLE and ALTER TABLE … ADD COLUMN declare it. */
export function columnSql(column: ColumnDef): string {
  const defaultSql = column.default === undefined ? '' : ` DEFAULT ${column.default}`;
  return `${ident(column.name)} ${sqlType(column)}${defaultSql}${column.nullable ? '' : ' NOT NULL'}`;
}

export function createTableSql(table: TableDef, dialect: WarehouseDialect): string {
  const columns = table.columns.map((c) => `  ${columnSql(c)}`);
  if (table.primaryKey.length > 0) columns.push(`  PRIMARY KEY (${table.primaryKey.map(ident).join(', ')})`);
  const attributes = dialect === 'redshift' ? redshiftAttributes(table) : '';
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(table)} (\n${columns.join(',\n')}\n)${attributes}`;
}

/**
 * ops.event_load_ledger: which lake object (key + ETag) the events loader has loaded, so a scheduled
 * run loads only new or rewritten objects. The key is (object_key, etag) as the design says, but the
 * loader keeps one row per object_key: a rewritten object (new ETag) replaces its entry.
 * Declared here rather than in core/tables.ts because it is no Parquet dataset of the pipeline; its
 * rows reach the warehouse by a COPY of the Parquet file the loader writes (core/clickstream/load.ts).
 */
export const EVENT_LOAD_LEDGER: TableDef = {
  name: 'event_load_ledger',
  schema: 'ops',
  columns: [
    str('object_key', 1024),
    str('etag', 128),
    int64('rows', true),
    str('load_id', 64),
    timestamp('loaded_at'),
  ],
  primaryKey: ['object_key', 'etag'],
};

/**
 * ops.event_load_mutex: never read, never written; load-events locks it (LOCK TABLE) so two loads run one
 * after the other. Locking the ledger itself would make every reader of the ledger wait for the whole load.
 */
export const EVENT_LOAD_MUTEX: TableDef = {
  name: 'event_load_mutex',
  schema: 'ops',
  columns: [str('name', 64)],
  primaryKey: ['name'],
};

/**
 * ops.stage_table: every stage table LoadTable creates, registered in the transaction that creates it, so
 * none outlives its use. PublishDate drops every batch stage table of its date (its own and those of the
 * date's earlier failed attempts, stale once it publishes); EnsureWarehouse drops those older than
 * STAGE_TABLE_MAX_AGE_DAYS. A failed run keeps its stages until then: RedriveExecution resumes from them.
 */
export const STAGE_TABLE_REGISTRY: TableDef = {
  name: 'stage_table',
  schema: 'ops',
  columns: [str('table_name', 128), str('run_id', 128), dateColumn('business_date'), timestamp('created_at')],
  primaryKey: ['table_name'],
};

/**
 * ops.run_claim: which batch run holds each business date (core/run-claim.ts). ResolveRun claims its date,
 * so two runs of one date never both load it: PublishDate of one would drop the other's stage tables.
 * Nothing on a timer reads it, so its brief LOCK TABLE makes no reader wait.
 */
export const RUN_CLAIM: TableDef = {
  name: 'run_claim',
  schema: 'ops',
  columns: [dateColumn('business_date'), str('run_id', 128), timestamp('claimed_at')],
  primaryKey: ['business_date'],
};

/** Step Functions redrives a failed execution for 14 days after it stopped: its stages must live that long. */
export const STAGE_TABLE_MAX_AGE_DAYS = 14;

/**
 * Every table of the warehouse, as the given declarations make it (core/tables.ts WAREHOUSE_TABLES, or a
 * test's): what warehouseDdl creates and EnsureWarehouse brings a deployed warehouse forward to
 * (core/schema-migration.ts).
 */
export const declaredTables = (
  warehouseTables: readonly TableDef[] = WAREHOUSE_TABLES,
): readonly TableDef[] => [
  ...warehouseTables,
  ...Object.values(CLICKSTREAM_TABLES),
  EVENT_LOAD_LEDGER,
  EVENT_LOAD_MUTEX,
  STAGE_TABLE_REGISTRY,
  RUN_CLAIM,
];

/** Every table of the product's warehouse. */
export const DECLARED_TABLES: readonly TableDef[] = declaredTables();

/**
 * Everything the warehouse needs, idempotent (IF NOT EXISTS), in order. An existing table keeps its columns:
 * EnsureWarehouse adds the declared ones it lacks (core/schema-migration.ts).
 */
export function warehouseDdl(
  dialect: WarehouseDialect,
  tables: readonly TableDef[] = DECLARED_TABLES,
): string[] {
  return [
    'CREATE SCHEMA IF NOT EXISTS analytics',
    'CREATE SCHEMA IF NOT EXISTS ops',
    `CREATE SCHEMA IF NOT EXISTS ${STAGING_SCHEMA}`,
    `CREATE SCHEMA IF NOT EXISTS ${SHADOW_SCHEMA}`,
    ...tables.map((table) => createTableSql(table, dialect)),
  ];
}

/**
 * One row `{ present, expected }`: how many of the tables and the stage and shadow schemas exist (and, given
 * the writer user, are writable by it). present = expected means the grants have nothing to do; whether the
 * tables' columns are as declared is the catalog comparison's (core/schema-migration.ts). pg_tables,
 * pg_namespace and has_*_privilege are in both dialects; the privilege functions fail on an unknown object,
 * hence only inside CASE.
 */
export function warehouseReadySql(
  writerUser?: string,
  tables: readonly TableDef[] = DECLARED_TABLES,
): string {
  const names = tables.map((t) => literal(`${t.schema}.${t.name}`)).join(', ');
  const who = writerUser === undefined ? undefined : literal(writerUser);
  const table = `schemaname || '.' || tablename`;
  const tableOk = who ? `has_table_privilege(${who}, ${table}, 'INSERT')` : 'TRUE';
  const stageOk = who ? `has_schema_privilege(${who}, nspname, 'CREATE')` : 'TRUE';
  return `SELECT
    (SELECT count(*) FROM pg_tables WHERE CASE WHEN ${table} IN (${names}) THEN ${tableOk} ELSE FALSE END)
    + (SELECT count(*) FROM pg_namespace
       WHERE CASE WHEN nspname IN ('${STAGING_SCHEMA}', '${SHADOW_SCHEMA}') THEN ${stageOk} ELSE FALSE END)
    AS ${ident('present')}, ${tables.length + 2} AS ${ident('expected')}`;
}

/** The schemas whose published tables the pipeline's functions fill (and read back). */
const WRITTEN_SCHEMAS = ['analytics', 'ops'] as const;

/** A database user name as an identifier, always quoted: Data API IAM users are named `IAMR:<role>`. */
const userIdent = (user: string): string => `"${user.replace(/"/g, '""')}"`;

/**
 * What the pipeline's database user (the Data API identity of the warehouse functions, never the admin) may
 * do: read and replace rows of the published tables, and create, fill and drop its own stage tables. It
 * cannot create or drop schemas or published tables; only the DDL step (warehouseDdl, as the admin) can.
 * Re-run after the DDL on every run, so a table added later is granted too. Valid in both dialects.
 */
export function writerGrantStatements(user: string): string[] {
  const who = userIdent(user);
  return [
    ...WRITTEN_SCHEMAS.flatMap((schema) => [
      `GRANT USAGE ON SCHEMA ${schema} TO ${who}`,
      `GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${who}`,
    ]),
    // The user owns the stage tables it creates, so it may drop them; it sees nobody else's.
    `GRANT USAGE, CREATE ON SCHEMA ${STAGING_SCHEMA} TO ${who}`,
    // A shadow run (`cartflow compare --env`) replaces the shadow tables it created, never published ones.
    `GRANT USAGE, CREATE ON SCHEMA ${SHADOW_SCHEMA} TO ${who}`,
  ];
}

/** `SELECT 1 …` when the database user exists (pg_user is in Redshift and PostgreSQL alike). */
export const userExistsSql = (user: string): string =>
  `SELECT 1 AS ${ident('exists')} FROM pg_user WHERE usename = ${literal(user)}`;

/**
 * Redshift only: the writer without a password. It logs in only through the Data API's IAM identity
 * (Redshift Serverless maps role `R` to user `IAMR:R`); created here so the grants can precede its first login.
 */
export const createIamUserSql = (user: string): string => `CREATE USER ${userIdent(user)} PASSWORD DISABLE`;

const S3_URI = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^'\\\s]*$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export interface CopySource {
  /** A key prefix (every object under it is loaded) or, with `manifest`, the manifest object. */
  s3Uri: string;
  iamRoleArn: string;
  /**
   * `s3Uri` names a COPY manifest listing exactly the objects to load. For Parquet every entry needs
   * `meta.content_length` (Redshift reads the footer by offset), see core/clickstream/load.ts.
   */
  manifest?: boolean;
}

/** `COPY <target> FROM 's3://…' IAM_ROLE '…' FORMAT AS PARQUET [MANIFEST]`, its inputs checked before interpolation. */
export function copyParquetSql(target: string, { s3Uri, iamRoleArn, manifest = false }: CopySource): string {
  if (!S3_URI.test(s3Uri))
    throw new ConfigurationError(`COPY source must be an s3://bucket/prefix URI, got ${s3Uri}`);
  if (!ROLE_ARN.test(iamRoleArn))
    throw new ConfigurationError(`COPY needs an IAM role ARN, got ${iamRoleArn}`);
  return `COPY ${target} FROM '${s3Uri}' IAM_ROLE '${iamRoleArn}' FORMAT AS PARQUET${manifest ? ' MANIFEST' : ''}`;
}

/** Where a run's tables wait between their COPY and the publish of the date; readers never look here. */
export const STAGING_SCHEMA = 'staging';

/**
 * The run's staging table for `table`. Persistent, not TEMP: the Data API runs every call in a session of
 * its own, so a temp table would be gone before the publish. Named per run (a digest of the run id keeps
 * the name short: PostgreSQL cuts identifiers at 63 bytes), so runs of different dates never share one.
 */
export function stageTableName(table: TableDef, runId: string): string {
  return stageIdent(stageBaseName(table, runId));
}

/** The stage table's name inside the staging schema, as ops.stage_table records it. */
export const stageBaseName = (table: TableDef, runId: string): string =>
  `${table.name}_${createHash('sha256').update(runId).digest('hex').slice(0, 16)}`;

const stageIdent = (baseName: string): string => `${STAGING_SCHEMA}.${ident(baseName)}`;

const registry = () => qualifiedName(STAGE_TABLE_REGISTRY);

export interface StageTable {
  table: TableDef;
  runId: string;
  /** The run's business date: PublishDate of that date drops the stage (and a failed attempt's). */
  businessDate: string;
  /** When it is created (now): EnsureWarehouse drops registered stages older than STAGE_TABLE_MAX_AGE_DAYS. */
  createdAt: Date;
  /** The table's Parquet prefix for the date, e.g. s3://bucket/curated/fact_order/dt=2024-01-15/ */
  s3Uri: string;
  iamRoleArn: string;
}

/**
 * COPY one table's Parquet into the run's staging table, re-created first so a retried load starts over,
 * and registered in ops.stage_table. One transaction; the published tables are not touched (see
 * publishStatements).
 */
export function stageTableStatements({
  table,
  runId,
  businessDate,
  createdAt,
  s3Uri,
  iamRoleArn,
}: StageTable): string[] {
  const name = stageBaseName(table, runId);
  const stage = stageIdent(name);
  return [
    `DROP TABLE IF EXISTS ${stage}`,
    `CREATE TABLE ${stage} (LIKE ${qualifiedName(table)})`,
    copyParquetSql(stage, { s3Uri, iamRoleArn }),
    `DELETE FROM ${registry()} WHERE table_name = ${literal(name)}`,
    ...insertSql(STAGE_TABLE_REGISTRY, [
      { table_name: name, run_id: runId, business_date: businessDate, created_at: createdAt },
    ]),
  ];
}

/** `SELECT … AS rows`: the rows staged for a table, which the publish inserts whole. */
export function stagedCountSql(table: TableDef, runId: string): string {
  return `SELECT COUNT(*) AS ${ident('rows')} FROM ${stageTableName(table, runId)}`;
}

/**
 * Replaces the date in every staged table at once: per table, drop the date's rows, drop any row whose key
 * is in the stage (a key that moved to this date is not duplicated), insert the stage, drop the stage.
 * Run as ONE transaction (Warehouse.executeBatch), so readers see every table of the date from the old run
 * or every table from the new one, never a mix. A table without a partition column (dim_product) is
 * replaced by key only, and a table with a version column only where the stage's row is as new or newer.
 */
export function publishStatements(
  tables: readonly TableDef[],
  runId: string,
  businessDate: string,
): string[] {
  const date = assertBusinessDate(businessDate, 'businessDate');
  return tables.flatMap((table) => {
    const target = qualifiedName(table);
    const stage = stageTableName(table, runId);
    const keyMatch = table.primaryKey
      .map((k) => `${target}.${ident(k)} = ${stage}.${ident(k)}`)
      .join(' AND ');
    if (keyMatch === '') throw new ConfigurationError(`${table.name} has no primary key to replace rows by`);
    const version = table.versionColumn && ident(table.versionColumn);
    return [
      ...(table.partitionColumn
        ? [`DELETE FROM ${target} WHERE ${ident(table.partitionColumn)} = '${date}'`]
        : []),
      ...(version
        ? [
            // Only rows the stage has in a version as new or newer: a late publish never reverts a row.
            `DELETE FROM ${target} USING ${stage} WHERE ${keyMatch} AND ${target}.${version} <= ${stage}.${version}`,
            `INSERT INTO ${target} SELECT * FROM ${stage} WHERE NOT EXISTS (SELECT 1 FROM ${target} WHERE ${keyMatch})`,
          ]
        : [
            `DELETE FROM ${target} USING ${stage} WHERE ${keyMatch}`,
            `INSERT INTO ${target} SELECT * FROM ${stage}`,
          ]),
      `DROP TABLE ${stage}`,
      `DELETE FROM ${registry()} WHERE table_name = ${literal(stageBaseName(table, runId))}`,
    ];
  });
}

/** Drops whatever staging tables the run left (a failed catalog refresh's cleanup); a no-op for tables never staged. */
export function dropStageStatements(tables: readonly TableDef[], runId: string): string[] {
  return dropRegisteredStageStatements(tables.map((table) => stageBaseName(table, runId)));
}

/**
 * `SELECT table_name`: the registered stage tables of the date's batch runs (a run with an ops.pipeline_run
 * row; a catalog refresh records none), which that date's PublishDate drops.
 */
export function batchStagesOfDateSql(businessDate: string): string {
  const day = literal(assertBusinessDate(businessDate, 'businessDate'));
  return `SELECT table_name FROM ${registry()} WHERE business_date = ${day}
    AND run_id IN (SELECT run_id FROM ${qualifiedName(TABLES.pipeline_run)} WHERE business_date = ${day})`;
}

/** `SELECT table_name`: the registered stage tables created before `before` (UTC). */
export function stagesCreatedBeforeSql(before: Date): string {
  return `SELECT table_name FROM ${registry()} WHERE created_at < '${before.toISOString().replace('T', ' ').slice(0, -1)}'`;
}

/**
 * dropRegisteredStageStatements in batches the Data API takes (MAX_BATCH_STATEMENTS each: one DROP per stage
 * and the registry DELETE), however many stages a sweep finds. Each batch is a transaction of its own.
 */
export function dropRegisteredStageBatches(names: readonly string[]): string[][] {
  return chunked(names, MAX_BATCH_STATEMENTS - 1).map(dropRegisteredStageStatements);
}

/** Drops registered stage tables by name (a no-op for one already gone) and their registry rows. */
export function dropRegisteredStageStatements(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  for (const name of names) {
    if (!PLAIN_IDENTIFIER.test(name))
      throw new ConfigurationError(`ops.stage_table holds "${name}", which is no stage table name`);
  }
  return [
    ...names.map((name) => `DROP TABLE IF EXISTS ${stageIdent(name)}`),
    `DELETE FROM ${registry()} WHERE table_name IN (${names.map(literal).join(', ')})`,
  ];
}

function valueSql(column: ColumnDef, value: unknown): string {
  if (value === null || value === undefined) {
    if (column.nullable) return 'NULL';
    throw new ConfigurationError(`${column.name} must not be null`);
  }
  switch (column.kind) {
    case 'string':
      return literal(String(value));
    case 'int32':
    case 'int64':
      if (typeof value === 'bigint' || Number.isSafeInteger(value)) return String(value);
      break;
    case 'bool':
      if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
      break;
    case 'decimal':
      if (typeof value === 'bigint') return formatDecimal(value, column.scale ?? 0);
      break;
    case 'date':
      return `'${assertBusinessDate(value, column.name)}'`;
    case 'timestamp': {
      const t = value instanceof Date ? value : new Date(String(value));
      // 'YYYY-MM-DD HH:MM:SS.mmm' in UTC: a TIMESTAMP literal both dialects read the same way.
      if (!Number.isNaN(t.getTime())) return `'${t.toISOString().replace('T', ' ').slice(0, -1)}'`;
      break;
    }
  }
  throw new ConfigurationError(
    `${column.name} cannot hold ${JSON.stringify(String(value))} as ${column.kind}`,
  );
}

/** Multi-row INSERTs with the columns named, each within the Data API statement size, or nothing for no rows. */
export function insertSql(table: TableDef, rows: readonly object[]): string[] {
  if (rows.length === 0) return [];
  const values = rows.map(
    (row) =>
      `(${table.columns.map((c) => valueSql(c, (row as Record<string, unknown>)[c.field])).join(', ')})`,
  );
  const columns = table.columns.map((c) => ident(c.name)).join(', ');
  const head = `INSERT INTO ${qualifiedName(table)} (${columns}) VALUES\n`;
  // As many rows per statement as fit the Data API's statement size (a run's checks carry example rows).
  const statements: string[][] = [[]];
  let bytes = Buffer.byteLength(head);
  for (const value of values) {
    const size = Buffer.byteLength(value) + 2;
    if (statements.at(-1)!.length > 0 && bytes + size > MAX_STATEMENT_BYTES) {
      statements.push([]);
      bytes = Buffer.byteLength(head);
    }
    statements.at(-1)!.push(value);
    bytes += size;
  }
  return statements.map((rowsOf) => `${head}${rowsOf.join(',\n')}`);
}

export interface RunRecord {
  runId: string;
  businessDate: string;
  status: string;
  startedAt: Date | string;
  finishedAt?: Date | string | null;
  /** Why a run failed, shown by `cartflow status`. */
  message?: string | null;
  datasets: (DatasetQuality & { rowsLoaded: number })[];
  checks: CheckResult[];
}

const MAX_TEXT = 1000; // characters; ≤ 4000 bytes in UTF-8, inside VARCHAR(4096) on Redshift too

/** The run's rows in ops.*, replacing whatever an earlier attempt of the same run_id wrote. */
export function recordRunStatements(run: RunRecord): string[] {
  const businessDate = assertBusinessDate(run.businessDate, 'businessDate');
  const where = `WHERE run_id = ${literal(run.runId)}`;
  const clip = (s: string | null | undefined) => (s ? s.slice(0, MAX_TEXT) : null);
  return [
    `DELETE FROM ${qualifiedName(TABLES.quality_result)} ${where}`,
    `DELETE FROM ${qualifiedName(TABLES.dataset_load)} ${where}`,
    `DELETE FROM ${qualifiedName(TABLES.pipeline_run)} ${where}`,
    ...insertSql(TABLES.pipeline_run, [
      {
        run_id: run.runId,
        business_date: businessDate,
        status: run.status,
        started_at: run.startedAt,
        finished_at: run.finishedAt ?? null,
        message: clip(run.message),
      },
    ]),
    ...insertSql(
      TABLES.dataset_load,
      run.datasets.map((d) => ({
        run_id: run.runId,
        business_date: businessDate,
        dataset: d.dataset,
        rows_in: d.rowsIn,
        rows_loaded: d.rowsLoaded,
        rows_quarantined: d.rowsQuarantined,
      })),
    ),
    ...insertSql(
      TABLES.quality_result,
      run.checks.map((c) => ({
        run_id: run.runId,
        dataset: c.dataset,
        check_name: c.check,
        passed: c.passed,
        failed_rows: c.failedRows,
        business_date: businessDate,
        column_name: c.column ?? '',
        severity: c.severity,
        example: clip(c.example),
      })),
    ),
  ];
}

/** UTC instant as a TIMESTAMP literal both dialects read. */
const timestampLiteral = (instant: Date) => `'${instant.toISOString().replace('T', ' ').slice(0, -1)}'`;

/**
 * `SELECT run_id, status, expired`: the date's claim (at most one row), its holder's ops.pipeline_run
 * status (NULL before the holder recorded itself) and whether it was claimed before `expiresBefore` (1/0).
 */
export function runClaimSql(businessDate: string, expiresBefore: Date): string {
  const day = literal(assertBusinessDate(businessDate, 'businessDate'));
  return `SELECT c.run_id, p.status,
      CASE WHEN c.claimed_at < ${timestampLiteral(expiresBefore)} THEN 1 ELSE 0 END AS ${ident('expired')}
    FROM ${qualifiedName(RUN_CLAIM)} c LEFT JOIN ${qualifiedName(TABLES.pipeline_run)} p ON p.run_id = c.run_id
    WHERE c.business_date = ${day}`;
}

/**
 * One transaction that gives the date to `runId` if the claim is still what the caller read: `replacing`
 * (a finished or expired run's claim, taken over) or none. Compare-and-set under LOCK TABLE (Redshift's
 * way to serialize writers; no unique constraint is enforced there): a run that claimed meanwhile keeps it.
 */
export function claimRunStatements(
  businessDate: string,
  runId: string,
  claimedAt: Date,
  replacing: string | undefined,
): string[] {
  const day = literal(assertBusinessDate(businessDate, 'businessDate'));
  const claims = qualifiedName(RUN_CLAIM);
  return [
    `LOCK TABLE ${claims}`,
    ...(replacing === undefined
      ? []
      : [`DELETE FROM ${claims} WHERE business_date = ${day} AND run_id = ${literal(replacing)}`]),
    // FROM a table, not a bare SELECT: Redshift runs a FROM-less SELECT on the leader node alone.
    `INSERT INTO ${claims} (business_date, run_id, claimed_at)
     SELECT ${day}, ${literal(runId)}, ${timestampLiteral(claimedAt)}
     FROM (SELECT count(*) AS n FROM ${claims} WHERE business_date = ${day}) held WHERE held.n = 0`,
  ];
}

/**
 * Where a shadow run (`cartflow compare`) publishes: tables named and shaped like the published ones
 * (CREATE TABLE … LIKE), which no reader and no published run ever reads.
 */
export const SHADOW_SCHEMA = 'shadow';

/** The shadow copy of a published table: `shadow.<name>`. */
export const shadowTableName = (table: TableDef): string => `${SHADOW_SCHEMA}.${ident(table.name)}`;

/**
 * The shadow run's publish: each staged table becomes its shadow table whole (the shadow holds one date,
 * the one compared), its stage dropped. One transaction; the published tables are not touched. The schema
 * is warehouseDdl's (the writer cannot create schemas on Redshift).
 */
export function shadowPublishStatements(tables: readonly TableDef[], runId: string): string[] {
  return [
    ...tables.flatMap((table) => [
      `DROP TABLE IF EXISTS ${shadowTableName(table)}`,
      `CREATE TABLE ${shadowTableName(table)} (LIKE ${qualifiedName(table)})`,
      `INSERT INTO ${shadowTableName(table)} SELECT * FROM ${stageTableName(table, runId)}`,
    ]),
    ...dropStageStatements(tables, runId),
  ];
}
