/** Row shapes of the source contract, the curated tables and the warehouse (docs/source-contract.md, docs/warehouse-contract.md). */

export const ORDER_STATUSES = ['placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'] as const;
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'JPY'] as const;

/** An orders row as extracted from the source: every field may be null or dirty. */
export interface SourceOrder {
  order_id: string | null;
  customer_id: string | null;
  /** ISO-8601 instant (UTC) or null. */
  order_ts: string | null;
  status: string | null;
  currency: string | null;
  /** Decimal as a string with up to 2 fraction digits, exactly as the source holds it. */
  total_amount: string | null;
  updated_at: string | null;
}

export interface SourceOrderItem {
  order_id: string | null;
  line_no: number | null;
  product_id: string | null;
  quantity: number | null;
  /** Decimal string. */
  unit_price: string | null;
}

/** A product catalog record (landing file), before validation. */
export interface CatalogProduct {
  product_id: string | null;
  name: string | null;
  category: string | null;
  price: string | null;
  currency: string | null;
  updated_at: string | null;
}

/**
 * Money is carried as integer cents (bigint) in curated rows so sums are exact;
 * Parquet stores it as DECIMAL(12,2) on INT64.
 */
export interface DimProduct {
  product_id: string;
  name: string;
  category: string;
  price_cents: bigint;
  currency: string;
  updated_at: Date;
}

export interface FactOrder {
  order_id: string;
  customer_id: string;
  order_ts: Date;
  /** YYYY-MM-DD */
  order_date: string;
  status: string;
  currency: string;
  total_amount_cents: bigint;
  item_count: number;
}

export interface FactOrderItem {
  order_id: string;
  line_no: number;
  product_id: string;
  category: string;
  quantity: number;
  unit_price_cents: bigint;
  line_amount_cents: bigint;
  /** The parent order's date: every fact carries its own partition column. */
  order_date: string;
}

export interface AggDailySales {
  order_date: string;
  category: string;
  orders: number;
  units: number;
  revenue_cents: bigint;
}

/** Warehouse tables loaded by the batch pipeline, in load order. */
export const BATCH_TABLES = ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'] as const;
export type BatchTable = (typeof BATCH_TABLES)[number];

/** Datasets whose quality is measured (ops.dataset_load.dataset). */
export const DATASETS = ['products', 'orders', 'order_items'] as const;
export type Dataset = (typeof DATASETS)[number];

/**
 * Typed but unvalidated rows, as extracted to raw/ and conformed in staged/: every field nullable,
 * values may break the quality rules. Money in integer cents.
 */
export interface OrderCandidate {
  order_id: string | null;
  customer_id: string | null;
  order_ts: Date | null;
  status: string | null;
  currency: string | null;
  total_amount_cents: bigint | null;
  updated_at: Date | null;
}

export interface OrderItemCandidate {
  order_id: string | null;
  line_no: number | null;
  product_id: string | null;
  quantity: number | null;
  unit_price_cents: bigint | null;
  /** Filled by the transform from the catalog; null when the product is unknown. */
  category: string | null;
}

export interface ProductCandidate {
  product_id: string | null;
  name: string | null;
  category: string | null;
  price_cents: bigint | null;
  currency: string | null;
  updated_at: Date | null;
}
