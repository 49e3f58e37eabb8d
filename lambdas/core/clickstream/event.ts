/**
 * The clickstream event contract (design.md, "Clickstream events"): one JSON object per Kafka
 * message, validated into the row shape of analytics.fact_click_event.
 */
import { DAY_MS } from '../dates';

export const EVENT_TYPES = [
  'page_view',
  'product_view',
  'add_to_cart',
  'remove_from_cart',
  'checkout',
  'purchase',
  'search',
  'error',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Position of each type in EVENT_TYPES: lets aggregations count into a fixed-size array. */
export const EVENT_TYPE_INDEX: ReadonlyMap<string, number> = new Map(EVENT_TYPES.map((t, i) => [t, i]));

export interface ClickEvent {
  event_id: string;
  event_type: EventType;
  user_id: string | null;
  session_id: string | null;
  product_id: string | null;
  order_id: string | null;
  /** The price in integer cents (NUMERIC(12,2) `price` in the table). */
  price_cents: bigint | null;
  ts: Date;
  /** UTC date of `ts`, 'YYYY-MM-DD'. */
  event_date: string;
  service: string | null;
  error_code: string | null;
}

export type ParsedClickEvent = { event: ClickEvent } | { reason: string };

/** VARCHAR byte lengths of the string columns (clickstream/tables.ts): longer text would fail the COPY. */
export const ID_LENGTH = 128;
export const NAME_LENGTH = 64;

/**
 * Events outside this window are rejected: a wrong unit (epoch seconds read as milliseconds lands in
 * January 1970) or a broken clock would otherwise create stray partitions.
 */
const TS_MIN = Date.UTC(2000, 0, 1);
const TS_MAX = Date.UTC(2100, 0, 1);
/** NUMERIC(12,2): at most 10 integer digits. */
const PRICE_LIMIT_CENTS = 1e12;

// ISO-8601 date-time; seconds and the offset are optional (no offset means UTC, as on Lambda).
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const DECIMAL_RE = /^(-?)(\d{1,10})(?:\.(\d{1,2}))?$/;

const describe = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
};

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** The digits value[at, at + length) as a number, or -1 when one is not an ASCII digit. */
function digits(value: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Fast path for what Date.prototype.toISOString writes — 'YYYY-MM-DDTHH:MM:SS.sssZ', the form nearly
 * every producer sends: the same milliseconds as the general path, without the regular expression and
 * Date.parse. Anything else (other forms, impossible fields) is undefined and takes the general path.
 */
function canonicalIso(value: string): number | undefined {
  if (
    value.length !== 24 ||
    value.charCodeAt(4) !== 45 || // -
    value.charCodeAt(7) !== 45 ||
    value.charCodeAt(10) !== 84 || // T
    value.charCodeAt(13) !== 58 || // :
    value.charCodeAt(16) !== 58 ||
    value.charCodeAt(19) !== 46 || // .
    value.charCodeAt(23) !== 90 // Z
  ) {
    return undefined;
  }
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  const millis = digits(value, 20, 3);
  if (year < 1000 || month < 1 || month > 12 || hour < 0 || hour > 23 || minute < 0 || minute > 59) {
    return undefined;
  }
  if (second < 0 || second > 59 || millis < 0) return undefined;
  const monthDays = month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1];
  if (day < 1 || day > monthDays) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

/** Milliseconds since the epoch, or undefined when `value` is neither ISO-8601 text nor epoch millis. */
function parseTs(value: unknown): number | undefined {
  let t: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return undefined;
    t = value;
  } else if (typeof value === 'string') {
    const canonical = canonicalIso(value);
    if (canonical !== undefined) return canonical >= TS_MIN && canonical < TS_MAX ? canonical : undefined;
    const m = ISO_RE.exec(value);
    if (m === null) return undefined;
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    // Date.parse rolls 02-30 over to 03-01; refuse impossible calendar fields instead.
    const monthDays = month === 2 && isLeap(year) ? 29 : MONTH_DAYS[month - 1];
    if (monthDays === undefined || day < 1 || day > monthDays || Number(m[4]) > 23 || Number(m[5]) > 59) {
      return undefined;
    }
    t = Date.parse(m[7] === undefined ? `${value}Z` : value);
  } else {
    return undefined;
  }
  return t >= TS_MIN && t < TS_MAX ? t : undefined;
}

/** A decimal amount (JSON number or string) → exact cents, or undefined when it is not one. */
function parseCents(value: number | string): bigint | undefined {
  if (typeof value === 'number') {
    // x has at most two decimals exactly when the double nearest to round(x·100)/100 is x itself.
    const cents = Math.round(value * 100);
    return cents / 100 === value && Math.abs(cents) < PRICE_LIMIT_CENTS ? BigInt(cents) : undefined;
  }
  const m = DECIMAL_RE.exec(value.trim());
  if (m === null) return undefined;
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -cents : cents;
}

const INVALID = Symbol('invalid');
const TEXT_FIELDS: [string, number][] = [
  ['user_id', ID_LENGTH],
  ['session_id', ID_LENGTH],
  ['product_id', ID_LENGTH],
  ['order_id', ID_LENGTH],
  ['service', NAME_LENGTH],
  ['error_code', NAME_LENGTH],
];

/** An optional text field: absent or null → null; anything but a string of the column's length is INVALID. */
function optionalText(
  v: Record<string, unknown>,
  field: string,
  bytes: number,
): string | null | typeof INVALID {
  const s = v[field];
  if (s === undefined || s === null) return null;
  return typeof s === 'string' && fits(s, bytes) ? s : INVALID;
}

/** Redshift VARCHAR lengths count bytes; only long text needs the exact UTF-8 count. */
const fits = (s: string, bytes: number) => s.length * 3 <= bytes || Buffer.byteLength(s) <= bytes;

// The last day seen: events of a batch mostly share it, so event_date costs no toISOString.
let lastDay = NaN;
let lastDate = '';
function utcDateOf(t: number): string {
  const day = Math.floor(t / DAY_MS);
  if (day !== lastDay) {
    lastDate = new Date(day * DAY_MS).toISOString().slice(0, 10);
    lastDay = day;
  }
  return lastDate;
}

/**
 * Validates one deserialized Kafka message value. Rules (design.md): event_id present, event_type
 * accepted, ts parseable; the optional fields must have their contract types. The reason names the
 * field and what was expected.
 */
export function parseClickEvent(value: unknown): ParsedClickEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { reason: `value: expected a JSON object, got ${describe(value)}` };
  }
  const v = value as Record<string, unknown>;

  const eventId = v.event_id;
  if (typeof eventId !== 'string' || eventId.trim() === '' || !fits(eventId, ID_LENGTH)) {
    return {
      reason: `event_id: expected a non-empty string of at most ${ID_LENGTH} bytes, got ${describe(eventId)}`,
    };
  }
  const eventType = v.event_type;
  if (typeof eventType !== 'string' || !EVENT_TYPE_INDEX.has(eventType)) {
    return { reason: `event_type: expected one of ${EVENT_TYPES.join('|')}, got ${describe(eventType)}` };
  }
  const t = parseTs(v.ts);
  if (t === undefined) {
    return {
      reason:
        `ts: expected an ISO-8601 date-time or epoch milliseconds between 2000-01-01 and 2100-01-01, ` +
        `got ${describe(v.ts)}`,
    };
  }

  let priceCents: bigint | null = null;
  const price = v.price;
  if (price !== undefined && price !== null) {
    const cents = typeof price === 'number' || typeof price === 'string' ? parseCents(price) : undefined;
    if (cents === undefined) {
      return {
        reason: `price: expected a decimal with at most 2 fraction digits and 10 integer digits, got ${describe(price)}`,
      };
    }
    priceCents = cents;
  }

  const userId = optionalText(v, 'user_id', ID_LENGTH);
  const sessionId = optionalText(v, 'session_id', ID_LENGTH);
  const productId = optionalText(v, 'product_id', ID_LENGTH);
  const orderId = optionalText(v, 'order_id', ID_LENGTH);
  const service = optionalText(v, 'service', NAME_LENGTH);
  const errorCode = optionalText(v, 'error_code', NAME_LENGTH);
  if (
    userId === INVALID ||
    sessionId === INVALID ||
    productId === INVALID ||
    orderId === INVALID ||
    service === INVALID ||
    errorCode === INVALID
  ) {
    const [field, bytes] = TEXT_FIELDS.find(([f, n]) => optionalText(v, f, n) === INVALID)!;
    return {
      reason: `${field}: expected a string of at most ${bytes} bytes or null, got ${describe(v[field])}`,
    };
  }
  return {
    event: {
      event_id: eventId,
      event_type: eventType as EventType,
      user_id: userId,
      session_id: sessionId,
      product_id: productId,
      order_id: orderId,
      price_cents: priceCents,
      ts: new Date(t),
      event_date: utcDateOf(t),
      service,
      error_code: errorCode,
    },
  };
}
