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

/** Distinct orders of one category: a bitset over order indexes (or a Set when bitsets grow too big). */
interface SalesBucket {
  category: string;
  lastOrder: number;
  orders: number;
  seen: Uint32Array | Set<number>;
  units: number;
  /** Σ line_amount in number cents while exact, then in `revenueExact`. */
  revenue: number;
  revenueExact: bigint | null;
}

/** Memory the per-category bitsets may take together before a category falls back to a Set. */
const BITSET_BUDGET_BYTES = 64 * 1024 * 1024;

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
  const orderIndex = new Map<string, number>();
  for (let i = 0; i < validOrders.length; i++) {
    orderIndex.set(required(validOrders[i].order_id, 'order_id', null), i);
  }
  const itemCounts = new Float64Array(validOrders.length);
  const words = (validOrders.length + 31) >>> 5;
  let bitsetBytes = 0;

  const factOrderItem: FactOrderItem[] = [];
  const sales = new Map<string, SalesBucket>();
  let lastCategory: string | undefined;
  let lastBucket: SalesBucket | undefined;
  let lastOrderId: string | undefined;
  let lastIndex: number | undefined;
  for (let i = 0; i < validItems.length; i++) {
    const item = validItems[i];
    const orderId = item.order_id;
    if (orderId === null) continue;
    // Lines of one order usually follow each other: remember the last lookup.
    const index = orderId === lastOrderId ? lastIndex : orderIndex.get(orderId);
    lastOrderId = orderId;
    lastIndex = index;
    if (index === undefined) continue;
    itemCounts[index]++;
    const quantity = required(item.quantity, 'quantity', orderId);
    const unitPrice = required(item.unit_price_cents, 'unit_price', orderId);
    const category = required(item.category, 'category', orderId);
    const amount = quantity * Number(unitPrice);
    // Exact in number cents below 2^53: one bigint per line instead of three.
    const exact = Number.isSafeInteger(amount) && Number.isSafeInteger(quantity);
    const lineAmount = exact ? BigInt(amount) : BigInt(quantity) * unitPrice;
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
    let bucket = category === lastCategory ? lastBucket : sales.get(category);
    if (bucket === undefined) {
      const useBitset = bitsetBytes + words * 4 <= BITSET_BUDGET_BYTES;
      if (useBitset) bitsetBytes += words * 4;
      bucket = {
        category,
        lastOrder: -1,
        orders: 0,
        seen: useBitset ? new Uint32Array(words) : new Set<number>(),
        units: 0,
        revenue: 0,
        revenueExact: null,
      };
      sales.set(category, bucket);
    }
    lastCategory = category;
    lastBucket = bucket;
    if (bucket.lastOrder !== index) {
      bucket.lastOrder = index;
      const seen = bucket.seen;
      if (seen instanceof Uint32Array) {
        const word = index >>> 5;
        const bit = 1 << (index & 31);
        if ((seen[word] & bit) === 0) {
          seen[word] |= bit;
          bucket.orders++;
        }
      } else if (!seen.has(index)) {
        seen.add(index);
        bucket.orders++;
      }
    }
    bucket.units += quantity;
    if (bucket.revenueExact !== null) bucket.revenueExact += lineAmount;
    else {
      const revenue = bucket.revenue + amount;
      if (exact && Number.isSafeInteger(revenue)) bucket.revenue = revenue;
      else bucket.revenueExact = BigInt(bucket.revenue) + lineAmount;
    }
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
      item_count: itemCounts[orderIndex.get(orderId)!],
    };
  });

  const aggDailySales = [...sales.values()]
    .sort((a, b) => byText(a.category, b.category))
    .map((bucket): AggDailySales => ({
      order_date: businessDate,
      category: bucket.category,
      orders: bucket.orders,
      units: bucket.units,
      revenue_cents: bucket.revenueExact ?? BigInt(bucket.revenue),
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
