/** Maps rows as PostgreSQL returns them (timestamptz → Date, NUMERIC cast to text) to typed candidates. */
import { parseCents } from './dates';
import type { OrderCandidate, OrderItemCandidate } from './model';

export interface SourceOrderRow {
  order_id: string | null;
  customer_id: string | null;
  order_ts: Date | string | null;
  status: string | null;
  currency: string | null;
  total_amount: string | null;
  updated_at: Date | string | null;
}

export interface SourceOrderItemRow {
  order_id: string | null;
  line_no: number | null;
  product_id: string | null;
  quantity: number | null;
  unit_price: string | null;
}

/** ±infinity (which TIMESTAMPTZ can hold) is no instant: null, as an unknown time. */
function toDate(value: Date | string | null): Date | null {
  const date = value === null || value instanceof Date ? value : new Date(value);
  return date === null || Number.isNaN(date.getTime()) ? null : date;
}

/** NUMERIC's NaN is no amount: null, which the amount's range check quarantines. */
const toCents = (value: string | null): bigint | null =>
  value === null || value === 'NaN' ? null : parseCents(value);

export function orderFromSource(row: SourceOrderRow): OrderCandidate {
  return {
    order_id: row.order_id,
    customer_id: row.customer_id,
    order_ts: toDate(row.order_ts),
    status: row.status,
    currency: row.currency,
    total_amount_cents: toCents(row.total_amount),
    updated_at: toDate(row.updated_at),
  };
}

export function orderItemFromSource(row: SourceOrderItemRow): OrderItemCandidate {
  return {
    order_id: row.order_id,
    line_no: row.line_no,
    product_id: row.product_id,
    quantity: row.quantity,
    unit_price_cents: toCents(row.unit_price),
    category: null,
  };
}

/** The extract window: orders whose UTC date of order_ts is the business date, plus undated ones changed that day. */
export function businessDayFilter(businessDate: string): string {
  const start = `TIMESTAMPTZ '${businessDate} 00:00:00+00'`;
  const end = `(TIMESTAMPTZ '${businessDate} 00:00:00+00' + INTERVAL '1 day')`;
  return `((order_ts >= ${start} AND order_ts < ${end}) OR (order_ts IS NULL AND updated_at >= ${start} AND updated_at < ${end}))`;
}

/** The columns of the source contract (docs/source-contract.md) the extract reads, per table. */
export const SOURCE_COLUMNS = {
  orders: ['order_id', 'customer_id', 'order_ts', 'status', 'currency', 'total_amount', 'updated_at'],
  order_items: ['order_id', 'line_no', 'product_id', 'quantity', 'unit_price'],
} as const satisfies Record<string, readonly string[]>;

export function ordersCursorSql(businessDate: string): string {
  return `SELECT order_id, customer_id, order_ts, status, currency, total_amount::text AS total_amount, updated_at
FROM orders WHERE ${businessDayFilter(businessDate)}
ORDER BY order_id NULLS FIRST, updated_at NULLS FIRST`;
}

/**
 * The lines of the day's orders. The pipeline trims ids (transform), so a line whose order_id is its order's
 * id trimmed belongs to that order too: an order ' O-1 ' owns the line 'O-1'. Both forms are listed so an
 * index on order_items.order_id still serves the lookup.
 */
export function orderItemsCursorSql(businessDate: string): string {
  const day = `FROM orders WHERE ${businessDayFilter(businessDate)}`;
  return `SELECT order_id, line_no, product_id, quantity, unit_price::text AS unit_price
FROM order_items WHERE order_id IN (SELECT order_id ${day} UNION SELECT btrim(order_id) ${day})
ORDER BY order_id, line_no NULLS FIRST`;
}
