/**
 * The one definition of every table: the warehouse DDL (core/sql.ts) and the DuckDB types the Parquet
 * files are written with (core/engine/table-io.ts) both derive from it, so the column order of a curated Parquet file always equals
 * the column order of its warehouse table — Redshift's COPY FROM PARQUET maps columns by position and
 * refuses a file whose column count differs.
 *
 * Columns may only be appended (docs/warehouse-contract.md); never reorder or insert in the middle.
 */
import type { BatchTable } from './model';

export type ColumnKind = 'string' | 'int32' | 'int64' | 'decimal' | 'timestamp' | 'date' | 'bool';

export interface ColumnDef {
  /** Column name in the warehouse and in the Parquet file. */
  name: string;
  /**
   * Key in the row object. Differs from `name` for money: the row holds integer cents (bigint) in
   * e.g. `total_amount_cents`, the column holds NUMERIC(12,2) `total_amount`.
   * Row value types: string → string, int32/int64 → number, decimal → bigint (unscaled),
   * timestamp → Date, date → 'YYYY-MM-DD', bool → boolean; null when nullable.
   */
  field: string;
  kind: ColumnKind;
  nullable: boolean;
  /** decimal only; at most 18 so the unscaled value fits the Parquet INT64. */
  precision?: number;
  scale?: number;
  /** string only: VARCHAR(length). Redshift counts bytes, so lengths leave room for multi-byte text. */
  length?: number;
  /**
   * The column's DEFAULT, an SQL literal valid in both dialects (`'EUR'`, `0`, `FALSE`). What rows already in
   * the table get when EnsureWarehouse appends the column; a NOT NULL column can only be appended with one.
   */
  default?: string;
}

export interface TableDef {
  name: string;
  /** Warehouse schema; absent for lake-only datasets (raw/, staged/), which have no DDL. */
  schema?: 'analytics' | 'ops';
  columns: ColumnDef[];
  primaryKey: string[];
  /** The column holding the business date: a load replaces exactly this partition. */
  partitionColumn?: string;
  /**
   * The column whose later value wins when a row is published again (core/sql.ts publishStatements): a
   * publish that comes late with an older version of a row (an overlapping catalog refresh) keeps the newer.
   */
  versionColumn?: string;
  /**
   * Redshift only (core/sql.ts emits them in its dialect alone): the compound sort key, its date column
   * first so zone maps skip every other date, and the distribution key. Every fact table declares both.
   */
  sortKey?: string[];
  distKey?: string;
}

// Column builders, shared with clickstream/tables.ts: `field` is the column name unless said otherwise.
export const str = (name: string, length: number, nullable = false): ColumnDef => ({
  name,
  field: name,
  kind: 'string',
  nullable,
  length,
});
/** A kind that says all: no length, precision or scale. */
type PlainKind = Exclude<ColumnKind, 'string' | 'decimal'>;
/** The SQL type of a plain kind, spelled alike by DuckDB, Redshift and PostgreSQL. */
export const PLAIN_SQL_TYPES: Record<PlainKind, string> = {
  int32: 'INTEGER',
  int64: 'BIGINT',
  bool: 'BOOLEAN',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
};
/** A column whose kind says all: `field` is the column name. */
const plain =
  (kind: PlainKind) =>
  (name: string, nullable = false): ColumnDef => ({ name, field: name, kind, nullable });
export const int32 = plain('int32');
export const int64 = plain('int64');
export const bool = plain('bool');
export const date = plain('date');
export const timestamp = plain('timestamp');
/** NUMERIC(12,2) in the warehouse, `<name>_cents` (bigint) in the row. */
export const money = (name: string, nullable = false, precision = 12): ColumnDef => ({
  name,
  field: `${name}_cents`,
  kind: 'decimal',
  nullable,
  precision,
  scale: 2,
});

const ID = 128;
const CATEGORY = 256;

const dimProduct: TableDef = {
  name: 'dim_product',
  schema: 'analytics',
  columns: [
    str('product_id', ID),
    str('name', 1024),
    str('category', CATEGORY),
    money('price'),
    str('currency', 3),
    timestamp('updated_at'),
  ],
  primaryKey: ['product_id'],
  versionColumn: 'updated_at',
};

const factOrder: TableDef = {
  name: 'fact_order',
  schema: 'analytics',
  columns: [
    str('order_id', ID),
    str('customer_id', ID),
    timestamp('order_ts'),
    date('order_date'),
    str('status', 32),
    str('currency', 3),
    money('total_amount'),
    int32('item_count'),
  ],
  primaryKey: ['order_id'],
  partitionColumn: 'order_date',
  sortKey: ['order_date'],
  // Shared with fact_order_item: an order's lines sit on its slice, so their join moves nothing.
  distKey: 'order_id',
};

// fact_order_item carries its order's `order_date` as a last column, so every fact has its own
// partition column and a load replaces a date without reading another table.

const factOrderItem: TableDef = {
  name: 'fact_order_item',
  schema: 'analytics',
  columns: [
    str('order_id', ID),
    int32('line_no'),
    str('product_id', ID),
    str('category', CATEGORY),
    int32('quantity'),
    money('unit_price'),
    money('line_amount'),
    date('order_date'),
  ],
  primaryKey: ['order_id', 'line_no'],
  partitionColumn: 'order_date',
  sortKey: ['order_date'],
  distKey: 'order_id',
};

const aggDailySales: TableDef = {
  name: 'agg_daily_sales',
  schema: 'analytics',
  columns: [date('order_date'), str('category', CATEGORY), int32('orders'), int32('units'), money('revenue')],
  primaryKey: ['order_date', 'category'],
  partitionColumn: 'order_date',
};

const pipelineRun: TableDef = {
  name: 'pipeline_run',
  schema: 'ops',
  columns: [
    str('run_id', ID),
    date('business_date'),
    str('status', 16),
    timestamp('started_at'),
    timestamp('finished_at', true),
    str('message', 4096, true),
  ],
  primaryKey: ['run_id'],
};

const datasetLoad: TableDef = {
  name: 'dataset_load',
  schema: 'ops',
  columns: [
    str('run_id', ID),
    date('business_date'),
    str('dataset', 32),
    int64('rows_in'),
    int64('rows_loaded'),
    int64('rows_quarantined'),
  ],
  primaryKey: ['run_id', 'dataset'],
};

/** `column_name` is '' for checks over whole rows, so it can take part in the key. */
const qualityResult: TableDef = {
  name: 'quality_result',
  schema: 'ops',
  columns: [
    str('run_id', ID),
    str('dataset', 32),
    str('check_name', 128),
    bool('passed'),
    int64('failed_rows'),
    date('business_date'),
    str('column_name', 128),
    str('severity', 16),
    str('example', 4096, true),
  ],
  primaryKey: ['run_id', 'dataset', 'check_name', 'column_name'],
};

/**
 * What EnsureWarehouse changed in a deployed warehouse (core/schema-migration.ts): a table it created or a
 * column it added or widened, with the code version that declared it. `column_name` is '' for a table.
 */
const schemaChange: TableDef = {
  name: 'schema_change',
  schema: 'ops',
  columns: [
    timestamp('applied_at'),
    str('table_name', 256),
    str('column_name', 128),
    str('change', 256),
    str('code_version', 64),
  ],
  primaryKey: ['applied_at', 'table_name', 'column_name'],
};

// Lake-only datasets: typed but unvalidated, every column nullable. Money gets precision 18 so
// dirty amounts outside NUMERIC(12,2) still reach validation instead of failing the write.
const nullable = (column: ColumnDef): ColumnDef => ({ ...column, nullable: true });
const lakeMoney = (name: string) => money(name, true, 18);

const orderCandidateColumns: ColumnDef[] = [
  str('order_id', ID),
  str('customer_id', ID),
  timestamp('order_ts'),
  str('status', 32),
  str('currency', 3),
  lakeMoney('total_amount'),
  timestamp('updated_at'),
].map(nullable);

const itemCandidateColumns: ColumnDef[] = [
  str('order_id', ID),
  int32('line_no'),
  str('product_id', ID),
  int32('quantity'),
  lakeMoney('unit_price'),
].map(nullable);

const lakeTable = (name: string, columns: ColumnDef[]): TableDef => ({ name, columns, primaryKey: [] });

export const TABLES = {
  dim_product: dimProduct,
  fact_order: factOrder,
  fact_order_item: factOrderItem,
  agg_daily_sales: aggDailySales,
  pipeline_run: pipelineRun,
  dataset_load: datasetLoad,
  quality_result: qualityResult,
  schema_change: schemaChange,
  /** OrderCandidate */
  raw_orders: lakeTable('raw_orders', orderCandidateColumns),
  /** OrderItemCandidate without `category` (filled by the transform). */
  raw_order_items: lakeTable('raw_order_items', itemCandidateColumns),
  staged_orders: lakeTable('staged_orders', orderCandidateColumns),
  staged_order_items: lakeTable('staged_order_items', [
    ...itemCandidateColumns,
    str('category', CATEGORY, true),
  ]),
  /** ProductCandidate */
  products: lakeTable(
    'products',
    [
      str('product_id', ID),
      str('name', 1024),
      str('category', CATEGORY),
      lakeMoney('price'),
      str('currency', 3),
      timestamp('updated_at'),
    ].map(nullable),
  ),
} satisfies Record<string, TableDef> & Record<BatchTable, TableDef>;

/** Tables that exist in the warehouse, in creation order. */
export const WAREHOUSE_TABLES: TableDef[] = Object.values(TABLES).filter(
  (t: TableDef) => t.schema !== undefined,
);
