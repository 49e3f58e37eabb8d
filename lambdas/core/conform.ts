/**
 * Conforming: source strings → typed candidate rows (trimmed, cased, money in cents). A value that cannot
 * be parsed becomes null and is described in `issues`; the quality rules then decide the row's fate.
 */
import { parseCents, parseInstant } from './dates';
import type {
  CatalogProduct,
  OrderCandidate,
  OrderItemCandidate,
  ProductCandidate,
  SourceOrder,
  SourceOrderItem,
} from './model';

export interface Conformed<T> {
  row: T;
  /** One entry per unparseable field, naming the field and what was expected. */
  issues: string[];
}

/** What the items need from the catalog: product_id → category. */
export type CatalogIndex = ReadonlyMap<string, { category: string }>;

const text = (value: string | null): string | null => {
  if (value === null) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
};

const lower = (value: string | null): string | null => text(value)?.toLowerCase() ?? null;
const upper = (value: string | null): string | null => text(value)?.toUpperCase() ?? null;

/** Runs a parser on a trimmed value; on failure records the issue under `field` and yields null. */
function parseField<T>(
  value: string | null,
  field: string,
  parse: (s: string) => T,
  issues: string[],
): T | null {
  const trimmed = text(value);
  if (trimmed === null) return null;
  try {
    return parse(trimmed);
  } catch (error) {
    issues.push(`${field}: ${(error as Error).message}`);
    return null;
  }
}

function integerField(value: number | null, field: string, issues: string[]): number | null {
  if (value === null) return null;
  if (Number.isSafeInteger(value)) return value;
  issues.push(`${field}: ${JSON.stringify(value)} is not an integer`);
  return null;
}

/** Trims and cases an already-typed order (the PostgreSQL extract yields Date/bigint itself). */
export const normalizeOrder = (row: OrderCandidate): OrderCandidate => ({
  order_id: text(row.order_id),
  customer_id: text(row.customer_id),
  order_ts: row.order_ts,
  status: lower(row.status),
  currency: upper(row.currency),
  total_amount_cents: row.total_amount_cents,
  updated_at: row.updated_at,
});

/** Trims an already-typed item and fills its category from the catalog (null when unknown). */
export function enrichItem(row: OrderItemCandidate, catalog: CatalogIndex): OrderItemCandidate {
  const productId = text(row.product_id);
  // Explicit fields rather than an object spread: a spread per row is the slow path of V8.
  return {
    order_id: text(row.order_id),
    line_no: row.line_no,
    product_id: productId,
    quantity: row.quantity,
    unit_price_cents: row.unit_price_cents,
    category: productId === null ? null : (catalog.get(productId)?.category ?? null),
  };
}

/**
 * normalizeOrder, in place: for rows the caller owns (freshly decoded), so a million rows do not cost a
 * million new objects. Returns the same row.
 */
export function normalizeOrderInPlace(row: OrderCandidate): OrderCandidate {
  row.order_id = text(row.order_id);
  row.customer_id = text(row.customer_id);
  row.status = lower(row.status);
  row.currency = upper(row.currency);
  return row;
}

/**
 * enrichItem, in place (rows the caller owns). A catalog lookup is remembered for the next row: lines of
 * one order, or of one product, tend to follow each other.
 */
export function enrichItemsInPlace(rows: OrderItemCandidate[], catalog: CatalogIndex): OrderItemCandidate[] {
  let lastProduct: string | null = null;
  let lastCategory: string | null = null;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const productId = text(row.product_id);
    row.order_id = text(row.order_id);
    row.product_id = productId;
    if (productId !== lastProduct) {
      lastProduct = productId;
      lastCategory = productId === null ? null : (catalog.get(productId)?.category ?? null);
    }
    row.category = lastCategory;
  }
  return rows;
}

export function conformOrder(src: SourceOrder): Conformed<OrderCandidate> {
  const issues: string[] = [];
  const row = normalizeOrder({
    order_id: src.order_id,
    customer_id: src.customer_id,
    order_ts: parseField(src.order_ts, 'order_ts', parseInstant, issues),
    status: src.status,
    currency: src.currency,
    total_amount_cents: parseField(src.total_amount, 'total_amount', parseCents, issues),
    updated_at: parseField(src.updated_at, 'updated_at', parseInstant, issues),
  });
  return { row, issues };
}

export function conformItem(src: SourceOrderItem, catalog: CatalogIndex): Conformed<OrderItemCandidate> {
  const issues: string[] = [];
  const row = enrichItem(
    {
      order_id: src.order_id,
      line_no: integerField(src.line_no, 'line_no', issues),
      product_id: src.product_id,
      quantity: integerField(src.quantity, 'quantity', issues),
      unit_price_cents: parseField(src.unit_price, 'unit_price', parseCents, issues),
      category: null,
    },
    catalog,
  );
  return { row, issues };
}

export function conformProduct(src: CatalogProduct): Conformed<ProductCandidate> {
  const issues: string[] = [];
  const row: ProductCandidate = {
    product_id: text(src.product_id),
    name: text(src.name),
    category: text(src.category),
    price_cents: parseField(src.price, 'price', parseCents, issues),
    currency: upper(src.currency),
    updated_at: parseField(src.updated_at, 'updated_at', parseInstant, issues),
  };
  return { row, issues };
}
