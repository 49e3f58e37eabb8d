/**
 * The one definition of every table, and of each source dataset once: its source table's columns and types,
 * how the extract reads it, and the curated tables it feeds. From these declarations derive the extract's
 * column list and source-contract check (core/source-rows.ts), the raw/staged/curated Parquet schemas
 * (core/engine/table-io.ts), the warehouse DDL (core/sql.ts), the embedded source database's DDL
 * (local/embedded-postgres.ts) and the contract docs (scripts/contract-docs.ts). So the column order of a
 * curated Parquet file always equals the column order of its warehouse table — Redshift's COPY FROM PARQUET
 * maps columns by position and refuses a file whose column count differs.
 *
 * Columns may only be appended (docs/warehouse-contract.md); never reorder or insert in the middle.
 * docs/adding-a-column.md walks through passing a new source column to the warehouse, and
 * docs/adding-a-source-table.md through a new source table feeding a new dimension.
 */
import { ConfigurationError } from './errors';
import { CURRENCIES, ORDER_STATUSES, type BatchTable, type Dataset } from './model';

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

/** A column whose name and kind are known to the type checker, so row types can be derived from a declaration. */
export type Column<N extends string = string, K extends ColumnKind = ColumnKind> = ColumnDef & {
  name: N;
  kind: K;
};

// Column builders, shared with clickstream/tables.ts: `field` is the column name unless said otherwise.
export const str = <N extends string>(name: N, length: number, nullable = false): Column<N, 'string'> => ({
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
  <K extends PlainKind>(kind: K) =>
  <N extends string>(name: N, nullable = false): Column<N, K> => ({ name, field: name, kind, nullable });
export const int32 = plain('int32');
export const int64 = plain('int64');
export const bool = plain('bool');
export const date = plain('date');
export const timestamp = plain('timestamp');
/** NUMERIC(12,2) in the warehouse, `<name>_cents` (bigint) in the row. */
export const money = <N extends string>(name: N, nullable = false, precision = 12): Column<N, 'decimal'> => ({
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
/** The most a Parquet INT64 decimal holds. */
const LAKE_MONEY_PRECISION = 18;
const lakeMoney = (name: string) => money(name, true, LAKE_MONEY_PRECISION);

const lakeTable = (name: string, columns: ColumnDef[]): TableDef => ({ name, columns, primaryKey: [] });

/** The catalog as a lake dataset (landing files parsed by ExtractProducts; docs/source-contract.md). */
const products = lakeTable(
  'products',
  [
    str('product_id', ID),
    str('name', 1024),
    str('category', CATEGORY),
    lakeMoney('price'),
    str('currency', 3),
    timestamp('updated_at'),
  ].map(nullable),
);

// ---------------------------------------------------------------------------------------------------------
// The source datasets, each declared once. docs/adding-a-column.md shows how to pass a new column through.

/** The product's datasets read from the shop database. */
export type SourceDatasetName = Exclude<Dataset, 'products'>;

/**
 * The source datasets of a declaration: the product's by name, and any other a declaration adds (a new
 * source table feeding a new dimension, docs/adding-a-source-table.md).
 */
export type Sources = Record<SourceDatasetName, SourceDataset> & { [dataset: string]: SourceDataset };

/** A source column: its warehouse type (raw/ and staged/ hold it nullable), how it is conformed, what it means. */
export type SourceColumn<N extends string = string, K extends ColumnKind = ColumnKind> = Column<N, K> & {
  /** Strings are always trimmed ('' becomes NULL) by the transform; then lower- or upper-cased. */
  conform?: 'lower' | 'upper';
  /** What the source contract says of it beyond its type (docs/source-contract.md). */
  doc?: string;
};

/** A table of the shop database that ExtractOrders reads for a business date. */
export interface SourceDataset {
  /** Its name in the lake (raw/<dataset>/, staged/<dataset>/) and in the quality report. */
  dataset: string;
  /** Its table in the source database. */
  table: string;
  /** In table order: the extract reads them, raw/ and staged/ hold them in this order. Append only. */
  columns: readonly SourceColumn[];
  /** The rows of a business date (`YYYY-MM-DD`): an SQL condition over the source table. */
  where: (businessDate: string) => string;
  /** The extract's ORDER BY, so a date always gives the same parts. */
  orderBy: string;
  /** Columns the extract's condition needs indexed (created in the embedded source database). */
  indexes: readonly string[];
  /**
   * Columns the transform adds after the source's in staged/: for orders and order_items their SQL is in
   * handlers/transform.ts; for any other dataset it is `stage`.
   */
  enriched?: readonly ColumnDef[];
  /**
   * A dataset other than orders and order_items: its staged rows, a SELECT over `rows` (its conformed rows:
   * strings trimmed, then cased as declared, with `__part` and `__line` giving the input order) that returns
   * its columns then `enriched`, by name. Absent: the conformed rows as they are, in input order.
   */
  stage?: (rows: string) => string;
}

/** The extract window: orders whose UTC date of order_ts is the business date, plus undated ones changed that day. */
export function businessDayFilter(businessDate: string): string {
  const start = `TIMESTAMPTZ '${businessDate} 00:00:00+00'`;
  const end = `(TIMESTAMPTZ '${businessDate} 00:00:00+00' + INTERVAL '1 day')`;
  return `((order_ts >= ${start} AND order_ts < ${end}) OR (order_ts IS NULL AND updated_at >= ${start} AND updated_at < ${end}))`;
}

const ORDERS = {
  dataset: 'orders',
  table: 'orders',
  columns: [
    { ...str('order_id', ID), doc: 'the key; may be null, empty or repeated in dirty data' },
    str('customer_id', ID),
    { ...timestamp('order_ts'), doc: 'the business date is the UTC date of order_ts' },
    { ...str('status', 32), conform: 'lower', doc: ORDER_STATUSES.join(' | ') },
    { ...str('currency', 3), conform: 'upper', doc: `ISO 4217: ${CURRENCIES.join(', ')} are accepted` },
    money('total_amount'),
    timestamp('updated_at'),
  ],
  where: businessDayFilter,
  orderBy: 'order_id NULLS FIRST, updated_at NULLS FIRST',
  indexes: ['order_ts'],
} as const satisfies SourceDataset;

const ORDER_ITEMS = {
  dataset: 'order_items',
  table: 'order_items',
  columns: [
    str('order_id', ID),
    int32('line_no'),
    str('product_id', ID),
    int32('quantity'),
    money('unit_price'),
  ],
  /**
   * The lines of the day's orders. The pipeline trims ids (transform), so a line whose order_id is its
   * order's id trimmed belongs to that order too: an order ' O-1 ' owns the line 'O-1'. Both forms are
   * listed so the index on order_items.order_id still serves the lookup.
   */
  where: (businessDate) => {
    const day = `FROM orders WHERE ${businessDayFilter(businessDate)}`;
    return `order_id IN (SELECT order_id ${day} UNION SELECT btrim(order_id) ${day})`;
  },
  orderBy: 'order_id, line_no NULLS FIRST',
  indexes: ['order_id'],
  // The product's category from the catalog snapshot; null when the product is unknown.
  enriched: [str('category', CATEGORY)],
} as const satisfies SourceDataset;

/** The source datasets of the product. */
export const SOURCES: Sources = { orders: ORDERS, order_items: ORDER_ITEMS };

type SourceValue<K extends ColumnKind> = K extends 'int32' | 'int64'
  ? number
  : K extends 'bool'
    ? boolean
    : string;

/**
 * A source row as the sample generator writes it and the embedded source database is seeded with, keyed by
 * column name: decimals and timestamps as text, any value null (a missing one is NULL too).
 */
export type SourceRow<D extends { columns: readonly ColumnDef[] }> = {
  [C in D['columns'][number] as C['name']]?: SourceValue<C['kind']> | null;
};
export type SourceOrder = SourceRow<typeof ORDERS>;
export type SourceOrderItem = SourceRow<typeof ORDER_ITEMS>;

/** The product's curated tables built from a source dataset's valid rows (handlers/validate.ts). */
export type CuratedName = 'fact_order' | 'fact_order_item';

/** The curated tables of a declaration: the product's by name, and any other a declaration adds. */
export type Curated = Record<CuratedName, CuratedTable> & { [table: string]: CuratedTable };

/** What a derived column's SQL may use besides `s`, the dataset's valid row. */
export interface CuratedContext {
  /** The business date as an SQL DATE literal. */
  date: string;
  /** The relation of a curated table already built for the date (validate builds fact_order_item first). */
  curated: (table: CuratedName) => string;
}

/** A column of a curated table: its source dataset's column by name, or derived by SQL over `s`. */
export type CuratedColumn = string | { column: ColumnDef; sql: (context: CuratedContext) => string };

export interface CuratedTable extends Omit<TableDef, 'columns'> {
  name: string;
  /**
   * The source dataset whose valid rows it holds, one row each. A table fed by a dataset other than orders
   * and order_items is written by validate as it is declared, sorted by its key, and published by its
   * declaration (a versionColumn makes it an upsert, like dim_product).
   */
  from: string;
  /** In warehouse order. Append only. */
  columns: readonly CuratedColumn[];
}

// Every fact carries its order's business date, so a load replaces a date without reading another table.
const orderDate: CuratedColumn = { column: date('order_date'), sql: ({ date }) => date };

export const CURATED: Curated = {
  fact_order: {
    name: 'fact_order',
    schema: 'analytics',
    from: 'orders',
    columns: [
      'order_id',
      'customer_id',
      'order_ts',
      orderDate,
      'status',
      'currency',
      'total_amount',
      {
        column: int32('item_count'),
        sql: ({ curated }) =>
          `(SELECT count(*) FROM ${curated('fact_order_item')} l WHERE l.order_id = s.order_id)`,
      },
    ],
    primaryKey: ['order_id'],
    partitionColumn: 'order_date',
    sortKey: ['order_date'],
    // Shared with fact_order_item: an order's lines sit on its slice, so their join moves nothing.
    distKey: 'order_id',
  },
  fact_order_item: {
    name: 'fact_order_item',
    schema: 'analytics',
    from: 'order_items',
    columns: [
      'order_id',
      'line_no',
      'product_id',
      'category',
      'quantity',
      'unit_price',
      { column: money('line_amount'), sql: () => 's.quantity * s.unit_price' },
      orderDate,
    ],
    primaryKey: ['order_id', 'line_no'],
    partitionColumn: 'order_date',
    sortKey: ['order_date'],
    distKey: 'order_id',
  },
};

/** A source column as a plain ColumnDef: what the warehouse holds of it. */
function columnOf(column: SourceColumn | ColumnDef): ColumnDef {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- taken off: the warehouse keeps neither
  const { conform, doc, ...plain } = column as SourceColumn;
  return plain;
}

const lakeColumn = (column: ColumnDef): ColumnDef =>
  nullable(
    column.kind === 'decimal' ? { ...columnOf(column), precision: LAKE_MONEY_PRECISION } : columnOf(column),
  );

function curatedDef(table: CuratedTable, sources: Sources): TableDef {
  const { from, columns, ...def } = table;
  const source = sources[from] as SourceDataset | undefined;
  if (source === undefined) {
    throw new ConfigurationError(
      `curated table ${table.name} is built from source dataset ${from}, which is not declared; declare it with the sources (lambdas/core/tables.ts)`,
    );
  }
  const available = [...source.columns, ...(source.enriched ?? [])];
  return {
    ...def,
    columns: columns.map((c) => {
      if (typeof c !== 'string') return c.column;
      const column = available.find((a) => a.name === c);
      if (column === undefined) {
        throw new ConfigurationError(
          `curated table ${table.name} takes column ${c} from source dataset ${from}, which has no such column; declare it in its columns (lambdas/core/tables.ts)`,
        );
      }
      return columnOf(column);
    }),
  };
}

/** The source datasets and curated tables, and every table derived from them. */
export interface Declarations {
  sources: Sources;
  curated: Curated;
  tables: Tables;
}

export type TableName =
  | BatchTable
  | 'pipeline_run'
  | 'dataset_load'
  | 'quality_result'
  | 'schema_change'
  | 'raw_orders'
  | 'raw_order_items'
  | 'staged_orders'
  | 'staged_order_items'
  | 'products';

/** Every table of a declaration: the product's by name, and the raw/, staged/ and curated ones it adds. */
export type Tables = Record<TableName, TableDef> & { [table: string]: TableDef };

/** A source dataset's table of raw/ (the extract's output), by name. */
export const rawTableOf = (dataset: string): string => `raw_${dataset}`;
/** A source dataset's table of staged/ (the transform's output), by name. */
export const stagedTableOf = (dataset: string): string => `staged_${dataset}`;

/** Every table, derived from the source datasets and curated tables given (a test passes its own). */
export function declareDatasets(sources: Sources = SOURCES, curated: Curated = CURATED): Declarations {
  const tables = {
    dim_product: dimProduct,
    fact_order: curatedDef(curated.fact_order, sources),
    fact_order_item: curatedDef(curated.fact_order_item, sources),
    agg_daily_sales: aggDailySales,
    pipeline_run: pipelineRun,
    dataset_load: datasetLoad,
    quality_result: qualityResult,
    schema_change: schemaChange,
    products,
  } as Tables;
  // Each source dataset's raw/ and staged/ tables; a declaration's added datasets and curated tables come
  // after the product's (EnsureWarehouse creates them).
  for (const [key, source] of Object.entries(sources)) {
    // The name becomes lake prefixes, engine tables (`<dataset>_checked`) and raw_/staged_ table names.
    if (key !== source.dataset || !/^[a-z][a-z0-9_]*$/.test(key) || key === 'products') {
      throw new ConfigurationError(
        `source dataset ${JSON.stringify(source.dataset)} declared as ${JSON.stringify(key)}: expected the same lower-case SQL name (a-z, 0-9, _) for both, other than products (lambdas/core/tables.ts)`,
      );
    }
    tables[rawTableOf(key)] = lakeTable(rawTableOf(key), source.columns.map(lakeColumn));
    tables[stagedTableOf(key)] = lakeTable(
      stagedTableOf(key),
      [...source.columns, ...(source.enriched ?? [])].map(lakeColumn),
    );
  }
  for (const table of Object.values(curated).filter((c) => !isProductCurated(c.name))) {
    tables[table.name] = curatedDef(table, sources);
  }
  return { sources, curated, tables };
}

/** orders or order_items, whose transform and checks are written by hand; any other dataset's are derived. */
export const isProductSource = (dataset: string): dataset is SourceDatasetName =>
  dataset === 'orders' || dataset === 'order_items';

const isProductCurated = (table: string): table is CuratedName =>
  table === 'fact_order' || table === 'fact_order_item';

/** The product's declarations. */
export const DECLARATIONS: Declarations = declareDatasets();

export const TABLES: Tables = DECLARATIONS.tables;

/** The tables of a declaration that exist in the warehouse, in creation order. */
export const warehouseTables = (tables: Tables): TableDef[] =>
  Object.values(tables).filter((t: TableDef) => t.schema !== undefined);

/** Tables that exist in the warehouse, in creation order. */
export const WAREHOUSE_TABLES: TableDef[] = warehouseTables(TABLES);
