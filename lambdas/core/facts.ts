/** Curated warehouse rows from rows that passed validation. Money stays in bigint cents: sums are exact. */
import { PermanentError } from './errors';
import type {
  AggDailySales,
  DimProduct,
  FactOrder,
  FactOrderItem,
  OrderCandidate,
  OrderItemCandidate,
  ProductCandidate,
} from './model';

export interface OrderFacts {
  factOrder: FactOrder[];
  factOrderItem: FactOrderItem[];
  aggDailySales: AggDailySales[];
}

/** The quality rules guarantee these fields; a null here means unvalidated rows were passed in. */
function required<T>(value: T | null, field: string, key: string | null): T {
  if (value === null)
    throw new PermanentError(`${field} is null in ${key ?? 'a row'}, which should have been validated`);
  return value;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * fact_order (item_count = valid lines), fact_order_item (only lines of valid orders,
 * line_amount = quantity × unit_price) and agg_daily_sales per category (orders = distinct orders with a
 * line in it, units, revenue = Σ line_amount).
 */
export function buildOrderFacts(
  validOrders: readonly OrderCandidate[],
  validItems: readonly OrderItemCandidate[],
  businessDate: string,
): OrderFacts {
  const itemCounts = new Map<string, number>();
  for (const order of validOrders) itemCounts.set(required(order.order_id, 'order_id', null), 0);

  const factOrderItem: FactOrderItem[] = [];
  const sales = new Map<string, { orders: Set<string>; units: number; revenue: bigint }>();
  for (const item of validItems) {
    const orderId = item.order_id;
    const count = orderId === null ? undefined : itemCounts.get(orderId);
    if (orderId === null || count === undefined) continue;
    itemCounts.set(orderId, count + 1);
    const quantity = required(item.quantity, 'quantity', orderId);
    const unitPrice = required(item.unit_price_cents, 'unit_price', orderId);
    const category = required(item.category, 'category', orderId);
    const lineAmount = BigInt(quantity) * unitPrice;
    factOrderItem.push({
      order_id: orderId,
      line_no: required(item.line_no, 'line_no', orderId),
      product_id: required(item.product_id, 'product_id', orderId),
      category,
      quantity,
      unit_price_cents: unitPrice,
      line_amount_cents: lineAmount,
      order_date: businessDate,
    });
    let bucket = sales.get(category);
    if (bucket === undefined) sales.set(category, (bucket = { orders: new Set(), units: 0, revenue: 0n }));
    bucket.orders.add(orderId);
    bucket.units += quantity;
    bucket.revenue += lineAmount;
  }

  const factOrder = validOrders.map((order): FactOrder => {
    const orderId = required(order.order_id, 'order_id', null);
    return {
      order_id: orderId,
      customer_id: required(order.customer_id, 'customer_id', orderId),
      order_ts: required(order.order_ts, 'order_ts', orderId),
      order_date: businessDate,
      status: required(order.status, 'status', orderId),
      currency: required(order.currency, 'currency', orderId),
      total_amount_cents: required(order.total_amount_cents, 'total_amount', orderId),
      item_count: itemCounts.get(orderId) ?? 0,
    };
  });

  const aggDailySales = [...sales]
    .sort(([a], [b]) => byText(a, b))
    .map(([category, { orders, units, revenue }]): AggDailySales => ({
      order_date: businessDate,
      category,
      orders: orders.size,
      units,
      revenue_cents: revenue,
    }));
  return { factOrder, factOrderItem, aggDailySales };
}

/** dim_product rows, sorted by product_id. */
export function toDimProduct(valid: readonly ProductCandidate[]): DimProduct[] {
  return valid
    .map((p): DimProduct => {
      const id = required(p.product_id, 'product_id', null);
      return {
        product_id: id,
        name: required(p.name, 'name', id),
        category: required(p.category, 'category', id),
        price_cents: required(p.price_cents, 'price', id),
        currency: required(p.currency, 'currency', id),
        updated_at: required(p.updated_at, 'updated_at', id),
      };
    })
    .sort((a, b) => byText(a.product_id, b.product_id));
}
