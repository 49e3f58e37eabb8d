/**
 * The outside reference for bench/batch.ts: DuckDB alone doing the batch steps' work on the same raw
 * Parquet files, written by hand and independently of the rule compiler — conform + catalog join in input
 * order (transform), the default quality rules with every reason per row, the quarantine as JSON lines and
 * the curated tables as Parquet (validate).
 */
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { dayBounds } from '../../lambdas/core/dates';
import { CURRENCIES, ORDER_STATUSES } from '../../lambdas/core/model';
import type { BatchTable } from '../../lambdas/core/model';

export interface ReferencePaths {
  /** Directories holding the raw Parquet parts fetched from the lake. */
  raw: { orders: string; order_items: string; products: string };
  /** Where the reference writes its staged/, curated/ and quarantine/ files. */
  out: string;
}

const sqlList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
const path = (p: string) => `'${p.replace(/'/g, "''")}'`;

export const curatedFile = (out: string, table: BatchTable) => join(out, 'curated', `${table}.parquet`);
const stagedFile = (out: string, dataset: string) => join(out, 'staged', `${dataset}.parquet`);

/** raw → staged: trimmed/cased orders, items enriched with their product's category. */
export async function referenceTransform(db: DuckDBConnection, { raw, out }: ReferencePaths): Promise<void> {
  const glob = (dir: string) => path(join(dir, '*.parquet'));
  await db.run(`COPY (
    SELECT NULLIF(trim(order_id), '') AS order_id, NULLIF(trim(customer_id), '') AS customer_id, order_ts,
           lower(NULLIF(trim(status), '')) AS status, upper(NULLIF(trim(currency), '')) AS currency,
           total_amount, updated_at
    FROM read_parquet(${glob(raw.orders)})
  ) TO ${path(stagedFile(out, 'orders'))} (FORMAT PARQUET)`);
  await db.run(`COPY (
    WITH catalog AS (
      SELECT product_id, any_value(category) AS category FROM read_parquet(${glob(raw.products)})
      WHERE product_id IS NOT NULL AND category IS NOT NULL GROUP BY product_id
    ), items AS (
      SELECT NULLIF(trim(order_id), '') AS order_id, line_no, NULLIF(trim(product_id), '') AS product_id,
             quantity, unit_price, filename, file_row_number
      FROM read_parquet(${glob(raw.order_items)}, filename = true, file_row_number = true)
    )
    SELECT items.* EXCLUDE (filename, file_row_number), catalog.category
    FROM items LEFT JOIN catalog USING (product_id) ORDER BY filename, file_row_number
  ) TO ${path(stagedFile(out, 'order_items'))} (FORMAT PARQUET)`);
  await db.run(
    `COPY (SELECT * FROM read_parquet(${glob(raw.products)})) TO ${path(stagedFile(out, 'products'))} (FORMAT PARQUET)`,
  );
}

/** Reasons list of the rules that fail, like evaluateDataset's per-row reasons. */
const reasons = (cases: string[]) =>
  `list_filter([${cases.map((c) => `CASE WHEN ${c}`).join(',\n      ')}], x -> x IS NOT NULL)`;

/** VARCHAR(n) counts bytes: one reason per column whose value is longer. */
const tooLong = (limits: Record<string, number>) =>
  Object.entries(limits).map(
    ([column, bytes]) => `strlen(${column}) > ${bytes} THEN '${column} longer than ${bytes} bytes' END`,
  );

export interface ReferenceQuality {
  quarantined: Record<'products' | 'orders' | 'order_items', number>;
}

/**
 * staged → the main quality rules (rules.ts defaults) → quarantine (JSON with reasons) and the curated
 * tables as Parquet: dim_product, fact_order (item_count), fact_order_item (line_amount), agg_daily_sales.
 */
export async function referenceValidate(
  db: DuckDBConnection,
  { out }: ReferencePaths,
  businessDate: string,
): Promise<ReferenceQuality> {
  const { start, end } = dayBounds(businessDate);
  const ts = (d: Date) => `TIMESTAMP '${d.toISOString().replace('T', ' ').slice(0, -1)}'`;
  const staged = (dataset: string) =>
    `read_parquet(${path(stagedFile(out, dataset))}, file_row_number = true)`;
  await db.run(`CREATE OR REPLACE TEMP TABLE p AS
    SELECT * EXCLUDE (copy, file_row_number), ${reasons([
      `product_id IS NULL THEN 'product_id is null' END`,
      `product_id IS NOT NULL AND copy > 1 THEN 'duplicate product_id' END`,
      `price IS NULL OR price < 0 THEN 'price' END`,
      `name IS NULL THEN 'name is null' END`,
      `category IS NULL THEN 'category is null' END`,
      `currency IS NULL THEN 'currency is null' END`,
      `updated_at IS NULL THEN 'updated_at is null' END`,
      ...tooLong({ product_id: 128, name: 1024, category: 256, currency: 3 }),
    ])} AS reasons
    FROM (SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY updated_at DESC NULLS LAST, file_row_number) AS copy
          FROM ${staged('products')})`);
  await db.run(`CREATE OR REPLACE TEMP TABLE o AS
    SELECT * EXCLUDE (copy, file_row_number), ${reasons([
      `order_id IS NULL THEN 'order_id is null' END`,
      `order_id IS NOT NULL AND copy > 1 THEN 'duplicate order_id ' || order_id END`,
      `customer_id IS NULL THEN 'customer_id is null' END`,
      `total_amount IS NULL OR total_amount < 0 OR total_amount > 1000000 THEN 'total_amount out of range' END`,
      `currency IS NULL OR currency NOT IN (${sqlList(CURRENCIES)}) THEN 'currency not accepted' END`,
      `status IS NULL OR status NOT IN (${sqlList(ORDER_STATUSES)}) THEN 'status not accepted' END`,
      `order_ts IS NULL OR order_ts < ${ts(start)} OR order_ts >= ${ts(end)} THEN 'order_ts outside the date' END`,
      ...tooLong({ order_id: 128, customer_id: 128, status: 32, currency: 3 }),
    ])} AS reasons
    FROM (SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC NULLS LAST, file_row_number) AS copy
          FROM ${staged('orders')})`);
  await db.run(`CREATE OR REPLACE TEMP TABLE i AS
    SELECT * EXCLUDE (copy, file_row_number), ${reasons([
      `quantity IS NULL OR quantity < 1 THEN 'quantity not positive' END`,
      `unit_price IS NULL OR unit_price < 0 THEN 'unit_price negative' END`,
      `product_id IS NULL OR product_id NOT IN (SELECT product_id FROM p WHERE len(reasons) = 0) THEN 'product_id not in catalog' END`,
      `order_id IS NULL OR order_id NOT IN (SELECT order_id FROM o WHERE len(reasons) = 0) THEN 'parent order not valid' END`,
      `line_no IS NULL THEN 'line_no is null' END`,
      `order_id IS NOT NULL AND line_no IS NOT NULL AND copy > 1 THEN 'duplicate order line' END`,
      ...tooLong({ order_id: 128, product_id: 128, category: 256 }),
    ])} AS reasons
    FROM (SELECT *, row_number() OVER (PARTITION BY order_id, line_no ORDER BY file_row_number) AS copy
          FROM ${staged('order_items')})`);
  const [counts] = (
    await db.runAndReadAll(`SELECT
      (SELECT count(*) FROM p WHERE len(reasons) > 0) AS products,
      (SELECT count(*) FROM o WHERE len(reasons) > 0) AS orders,
      (SELECT count(*) FROM i WHERE len(reasons) > 0) AS order_items,
      -- report-only checks, as validate computes them
      (SELECT count(*) FROM o LEFT JOIN (SELECT order_id, sum(quantity * unit_price) AS s FROM i GROUP BY order_id) USING (order_id)
        WHERE len(o.reasons) = 0 AND abs(o.total_amount - coalesce(s, 0)) > 0.01) AS mismatched,
      (SELECT count(DISTINCT order_id) FROM i WHERE order_id IN (SELECT order_id FROM o WHERE len(reasons) = 0)
        AND order_id NOT IN (SELECT order_id FROM i WHERE len(reasons) = 0)) AS all_lines_quarantined`)
  ).getRowObjectsJS();

  for (const [name, table] of [
    ['products', 'p'],
    ['orders', 'o'],
    ['order_items', 'i'],
  ]) {
    await db.run(
      `COPY (SELECT 'bench' AS "runId", '${name}' AS dataset, reasons, struct_pack(*COLUMNS(* EXCLUDE (reasons))) AS "row"
        FROM ${table} WHERE len(reasons) > 0) TO ${path(join(out, 'quarantine', `${name}.jsonl`))} (FORMAT JSON)`,
    );
  }

  const date = `DATE '${businessDate}'`;
  await db.run(`COPY (
    SELECT product_id, name, category, CAST(price AS DECIMAL(12,2)) AS price, currency, updated_at
    FROM p WHERE len(reasons) = 0 ORDER BY product_id
  ) TO ${path(curatedFile(out, 'dim_product'))} (FORMAT PARQUET)`);
  await db.run(`CREATE OR REPLACE TEMP TABLE foi AS
    SELECT order_id, line_no, product_id, category, quantity, CAST(unit_price AS DECIMAL(12,2)) AS unit_price,
           CAST(quantity * unit_price AS DECIMAL(12,2)) AS line_amount, ${date} AS order_date
    FROM i WHERE len(reasons) = 0`);
  await db.run(`COPY (
    SELECT order_id, customer_id, order_ts, ${date} AS order_date, status, currency,
           CAST(total_amount AS DECIMAL(12,2)) AS total_amount, CAST(coalesce(n, 0) AS INTEGER) AS item_count
    FROM o LEFT JOIN (SELECT order_id, count(*) AS n FROM foi GROUP BY order_id) USING (order_id)
    WHERE len(o.reasons) = 0
  ) TO ${path(curatedFile(out, 'fact_order'))} (FORMAT PARQUET)`);
  await db.run(`COPY foi TO ${path(curatedFile(out, 'fact_order_item'))} (FORMAT PARQUET)`);
  await db.run(`COPY (
    SELECT order_date, category, CAST(count(DISTINCT order_id) AS INTEGER) AS orders,
           CAST(sum(quantity) AS INTEGER) AS units, CAST(sum(line_amount) AS DECIMAL(12,2)) AS revenue
    FROM foi GROUP BY order_date, category ORDER BY category
  ) TO ${path(curatedFile(out, 'agg_daily_sales'))} (FORMAT PARQUET)`);
  for (const table of ['p', 'o', 'i', 'foi']) await db.run(`DROP TABLE ${table}`);
  return {
    quarantined: {
      products: Number(counts.products),
      orders: Number(counts.orders),
      order_items: Number(counts.order_items),
    },
  };
}

/** fact_order count + revenue, fact_order_item count, agg revenue of curated files (read_parquet lists). */
export const totalsSql = (factOrder: string, factOrderItem: string, agg: string): string => `SELECT
  (SELECT count(*) FROM read_parquet(${factOrder})) AS orders,
  (SELECT CAST(sum(total_amount) AS VARCHAR) FROM read_parquet(${factOrder})) AS order_revenue,
  (SELECT count(*) FROM read_parquet(${factOrderItem})) AS lines,
  (SELECT CAST(sum(revenue) AS VARCHAR) FROM read_parquet(${agg})) AS agg_revenue`;

export interface Totals {
  orders: bigint;
  /** Decimal text, e.g. '123.45'. */
  order_revenue: string;
  lines: bigint;
  agg_revenue: string;
}
