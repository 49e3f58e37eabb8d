/**
 * Seeded sample clickstream: the JSON text of each Kafka message, with producer-retry duplicates and
 * malformed messages mixed in, plus what a correct consumer must end up with. The same options always
 * give the same messages (the producer, the replay files and the benchmarks rely on it).
 */
import { createRandom, type Random } from '../random';
import type { EventType } from './event';

export interface SampleOptions {
  /** Messages to generate, duplicates and malformed ones included. */
  count: number;
  seed: number | string;
  /** Event times are spread over [start, start + minutes). */
  start: Date;
  minutes: number;
  /** Share of messages that repeat an earlier valid message verbatim. @default 0.02 */
  duplicateShare?: number;
  /** Share of messages that are invalid JSON or break a field rule. @default 0.01 */
  malformedShare?: number;
}

export interface SampleEvents {
  values: string[];
  expected: {
    /** Messages that parse as events, duplicates included. */
    valid: number;
    /** Distinct event_ids among the valid messages: the rows a correct load ends with. */
    distinctEventIds: number;
    malformed: number;
  };
}

/** Roughly a shop's mix: mostly browsing, a few purchases, a trickle of errors. */
const TYPE_WEIGHTS: [EventType, number][] = [
  ['page_view', 40],
  ['product_view', 25],
  ['search', 12],
  ['add_to_cart', 8],
  ['remove_from_cart', 3],
  ['checkout', 4],
  ['purchase', 3],
  ['error', 5],
];
const TOTAL_WEIGHT = TYPE_WEIGHTS.reduce((sum, [, w]) => sum + w, 0);
const SERVICES = ['web', 'checkout-api', 'search-api', 'payments'];
const ERROR_CODES = ['E500', 'E502', 'E504', 'TIMEOUT', 'CARD_DECLINED'];
/** Earlier messages a duplicate may repeat: producer retries resend recent messages. */
const RETRY_WINDOW = 1000;

function pickType(random: Random): EventType {
  let r = random.next() * TOTAL_WEIGHT;
  for (const [type, weight] of TYPE_WEIGHTS) {
    r -= weight;
    if (r < 0) return type;
  }
  return 'page_view';
}

function eventJson(random: Random, id: string, options: SampleOptions): string {
  const type = pickType(random);
  const t = options.start.getTime() + Math.floor(random.next() * options.minutes * 60_000);
  const event: Record<string, unknown> = {
    event_id: id,
    event_type: type,
    user_id: `u${random.int(1, 50_000)}`,
    session_id: `s${random.int(1, 200_000)}`,
    // Both forms of the contract: ISO-8601 text and epoch milliseconds.
    ts: random.chance(0.5) ? new Date(t).toISOString() : t,
  };
  if (type === 'product_view' || type === 'add_to_cart' || type === 'remove_from_cart') {
    event.product_id = `p${random.int(1, 5_000)}`;
    event.price = random.int(100, 50_000) / 100;
  } else if (type === 'checkout' || type === 'purchase') {
    event.order_id = `o${random.int(1, 1_000_000)}`;
    // Some producers send money as text.
    const cents = random.int(500, 200_000);
    event.price = random.chance(0.3) ? (cents / 100).toFixed(2) : cents / 100;
  } else if (type === 'error') {
    event.service = random.pick(SERVICES);
    event.error_code = random.pick(ERROR_CODES);
  }
  return JSON.stringify(event);
}

/** One message that fails parsing or a rule; each kind exercises a different reason. */
function malformedJson(random: Random, id: string, options: SampleOptions): string {
  const valid = eventJson(random, id, options);
  const event = JSON.parse(valid) as Record<string, unknown>;
  switch (random.int(0, 4)) {
    case 0:
      return valid.slice(0, Math.floor(valid.length / 2)); // truncated: not JSON
    case 1:
      delete event.event_id;
      break;
    case 2:
      event.event_type = 'click';
      break;
    case 3:
      event.ts = 'yesterday';
      break;
    default:
      event.price = '12.345';
  }
  return JSON.stringify(event);
}

export function generateClickEvents(options: SampleOptions): SampleEvents {
  const { count, seed, duplicateShare = 0.02, malformedShare = 0.01 } = options;
  const random = createRandom(seed);
  const values = new Array<string>(count);
  const validIndexes: number[] = [];
  let malformed = 0;
  let distinct = 0;
  for (let i = 0; i < count; i++) {
    const id = `evt-${seed}-${i.toString(36)}`;
    if (random.chance(malformedShare)) {
      values[i] = malformedJson(random, id, options);
      malformed++;
    } else if (validIndexes.length > 0 && random.chance(duplicateShare)) {
      const from = Math.max(0, validIndexes.length - RETRY_WINDOW);
      values[i] = values[validIndexes[random.int(from, validIndexes.length - 1)]];
      validIndexes.push(i);
    } else {
      values[i] = eventJson(random, id, options);
      validIndexes.push(i);
      distinct++;
    }
  }
  return { values, expected: { valid: validIndexes.length, distinctEventIds: distinct, malformed } };
}
