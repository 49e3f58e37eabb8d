/**
 * Deterministic sample data for a business date: source orders and items plus the catalog, with
 * optional planted bad rows. Planted rows are ADDED after the good rows and drawn from their own
 * random stream, so the good rows are identical with and without dirt and tests can predict counts.
 */
import { DAY_MS, assertBusinessDate, dayBounds, previousUtcDate } from './dates';
import { CURRENCIES, ORDER_STATUSES } from './model';
import type { CatalogProduct } from './model';
import { createRandom } from './random';
import type { Random } from './random';
import type { SourceOrder, SourceOrderItem } from './tables';

export const CATEGORIES = [
  'electronics',
  'books',
  'home',
  'garden',
  'toys',
  'sports',
  'beauty',
  'grocery',
  'fashion',
  'automotive',
] as const;

/**
 * Kinds of planted bad rows. Order kinds with a unique id (negativeTotal, badCurrency, badStatus,
 * outsideDate, missingCustomer) also carry one well-formed line, which must be quarantined because its
 * parent is invalid. nullOrderId and duplicateOrderId rows carry no lines. zeroQuantity and
 * unknownProduct each add a well-formed order whose only line is bad. totalMismatch adds a well-formed
 * order and line whose total is 1.00 off (reported, not quarantined).
 */
export const DIRTY_KINDS = [
  'nullOrderId',
  'duplicateOrderId',
  'negativeTotal',
  'badCurrency',
  'badStatus',
  'outsideDate',
  'missingCustomer',
  'zeroQuantity',
  'unknownProduct',
  'totalMismatch',
] as const;
export type DirtyKind = (typeof DIRTY_KINDS)[number];
export type DirtySpec = Partial<Record<DirtyKind, number>>;

export interface GenerateDayOptions {
  date: string;
  orders: number;
  seed: number;
  products?: number;
  dirty?: DirtySpec;
}

export interface GeneratedDay {
  orders: SourceOrder[];
  items: SourceOrderItem[];
  catalog: CatalogProduct[];
  /** Bad rows actually planted per kind (duplicates need at least one good order to copy). */
  planted: Record<DirtyKind, number>;
}

const ADJECTIVES = [
  'Classic',
  'Compact',
  'Deluxe',
  'Eco',
  'Smart',
  'Vintage',
  'Ultra',
  'Pocket',
  'Pro',
  'Soft',
];
const NOUNS = [
  'Lamp',
  'Kettle',
  'Novel',
  'Drone',
  'Sneaker',
  'Planter',
  'Puzzle',
  'Serum',
  'Jacket',
  'Wiper',
];

/** Non-negative integer cents → decimal string, without bigint on the hot path. */
const money = (cents: number): string => `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

const wholeNumber = (value: number, field: string, min: number): number => {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${field} must be an integer >= ${min}`);
  return value;
};

function generateCatalog(count: number, seed: number, updatedAt: string): CatalogProduct[] {
  const random = createRandom(`${seed}:catalog`);
  return Array.from({ length: count }, (_, i) => ({
    product_id: `P-${String(i + 1).padStart(4, '0')}`,
    name: `${random.pick(ADJECTIVES)} ${random.pick(NOUNS)}`,
    category: random.pick(CATEGORIES),
    price: money(random.int(100, 50_000)),
    currency: 'USD',
    updated_at: updatedAt,
  }));
}

export function generateDay(options: GenerateDayOptions): GeneratedDay {
  const { date, seed, dirty = {} } = options;
  const orderCount = wholeNumber(options.orders, 'orders', 0);
  const productCount = wholeNumber(options.products ?? 200, 'products', 1);
  const { start } = dayBounds(assertBusinessDate(date, 'date'));
  const dayStart = start.getTime();
  const compact = date.replaceAll('-', '');
  const catalog = generateCatalog(productCount, seed, `${previousUtcDate(start)}T00:00:00.000Z`);
  const prices = catalog.map((p) => Math.round(Number(p.price) * 100));
  const customers = Math.max(1000, Math.ceil(orderCount / 3));

  const orders: SourceOrder[] = [];
  const items: SourceOrderItem[] = [];

  /** A well-formed order with `lineCount` well-formed lines (items pushed, order returned). */
  const makeOrder = (random: Random, orderId: string, lineCount: number): SourceOrder => {
    const ts = dayStart + random.int(0, DAY_MS - 1);
    let total = 0;
    for (let line = 1; line <= lineCount; line++) {
      const product = random.int(0, productCount - 1);
      const quantity = random.int(1, 5);
      total += quantity * prices[product];
      items.push({
        order_id: orderId,
        line_no: line,
        product_id: catalog[product].product_id,
        quantity,
        unit_price: catalog[product].price,
      });
    }
    return {
      order_id: orderId,
      customer_id: `C-${String(random.int(1, customers)).padStart(6, '0')}`,
      order_ts: new Date(ts).toISOString(),
      status: random.pick(ORDER_STATUSES),
      currency: random.chance(0.8) ? 'USD' : random.pick(CURRENCIES),
      total_amount: money(total),
      updated_at: new Date(ts + random.int(1, 3600) * 1000).toISOString(),
    };
  };

  const random = createRandom(`${seed}:${date}`);
  for (let n = 1; n <= orderCount; n++) {
    const order = makeOrder(random, `O-${compact}-${String(n).padStart(6, '0')}`, random.int(1, 5));
    // Cosmetic noise that conforming must undo; the row stays valid.
    if (random.chance(0.02)) order.status = String(order.status).toUpperCase();
    if (random.chance(0.02)) order.currency = String(order.currency).toLowerCase();
    if (random.chance(0.01)) order.customer_id = ` ${order.customer_id} `;
    orders.push(order);
  }
  const goodOrders = orders.length;

  const dirtyRandom = createRandom(`${seed}:${date}:dirty`);
  const planted = Object.fromEntries(DIRTY_KINDS.map((kind) => [kind, 0])) as Record<DirtyKind, number>;
  for (const kind of DIRTY_KINDS) {
    const wanted = wholeNumber(dirty[kind] ?? 0, `dirty.${kind}`, 0);
    for (let i = 1; i <= wanted; i++) {
      const id = `O-${compact}-${kind}-${i}`;
      if (kind === 'duplicateOrderId') {
        if (goodOrders === 0) break;
        const original = orders[dirtyRandom.int(0, goodOrders - 1)];
        // Older than the original's updated_at, so the original is the copy that is kept.
        orders.push({ ...original, updated_at: original.order_ts });
      } else if (kind === 'nullOrderId') {
        orders.push({ ...makeOrder(dirtyRandom, id, 0), order_id: null });
      } else {
        const order = makeOrder(dirtyRandom, id, 1);
        const line = items[items.length - 1];
        if (kind === 'negativeTotal') order.total_amount = `-${order.total_amount}`;
        if (kind === 'badCurrency') order.currency = 'XYZ';
        if (kind === 'badStatus') order.status = 'lost';
        if (kind === 'outsideDate')
          order.order_ts = new Date(dayStart - dirtyRandom.int(1, DAY_MS)).toISOString();
        if (kind === 'missingCustomer') order.customer_id = i % 2 === 0 ? '   ' : null;
        if (kind === 'zeroQuantity') {
          line.quantity = 0;
          order.total_amount = '0.00';
        }
        if (kind === 'unknownProduct') line.product_id = `P-UNKNOWN-${i}`;
        if (kind === 'totalMismatch')
          order.total_amount = money(Math.round(Number(order.total_amount) * 100) + 100);
        orders.push(order);
      }
      planted[kind]++;
    }
  }
  return { orders, items, catalog, planted };
}
