/**
 * Names and value sets of the batch datasets. The source tables' and curated tables' columns are declared in
 * core/tables.ts (SourceOrder and SourceOrderItem are derived there).
 */

export const ORDER_STATUSES = ['placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'] as const;
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CAD', 'AUD', 'JPY'] as const;

/** A product catalog record (landing file), before validation. */
export interface CatalogProduct {
  product_id: string | null;
  name: string | null;
  category: string | null;
  price: string | null;
  currency: string | null;
  updated_at: string | null;
}

/** Warehouse tables loaded by the batch pipeline, in load order. */
export const BATCH_TABLES = ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'] as const;
export type BatchTable = (typeof BATCH_TABLES)[number];

/** Datasets whose quality is measured (ops.dataset_load.dataset). */
export const DATASETS = ['products', 'orders', 'order_items'] as const;
export type Dataset = (typeof DATASETS)[number];

/** A catalog product as conformed, before validation: every field nullable, money in integer cents. */
export interface ProductCandidate {
  product_id: string | null;
  name: string | null;
  category: string | null;
  price_cents: bigint | null;
  currency: string | null;
  updated_at: Date | null;
}
