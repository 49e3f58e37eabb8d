/** Business dates (YYYY-MM-DD, UTC days), instants and exact money (integer cents). */
import { ConfigurationError, InputFormatError } from './errors';

export const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d{1,2}))?$/;

const isCalendarDay = (year: number, month: number, day: number): boolean => {
  // Date.UTC rolls Feb 30 over to Mar 1, so a round trip detects impossible days.
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
};

export function isBusinessDate(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  const m = DATE_RE.exec(s);
  return m !== null && isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]));
}

/** Returns `s` when it is a real calendar day written YYYY-MM-DD; otherwise names `field` in the error. */
export function assertBusinessDate(s: unknown, field: string): string {
  if (!isBusinessDate(s)) {
    throw new ConfigurationError(
      `${field} must be a calendar date in the form YYYY-MM-DD, got ${JSON.stringify(s)}`,
    );
  }
  return s;
}

/** 'YYYY-MM-DD' of the UTC day containing `d`. */
export const utcDate = (d: Date): string => d.toISOString().slice(0, 10);

/** The UTC day before the one containing `instant` (a scheduled run processes yesterday). */
export const previousUtcDate = (instant: Date): string => utcDate(new Date(instant.getTime() - DAY_MS));

/**
 * A batch run's business date from its request (the execution input): the date given, else the UTC day
 * before the schedule's `time` (or now). ResolveRun and `cartflow retry` read it alike.
 */
export const requestedBusinessDate = (request: { businessDate?: string; time?: string }): string =>
  request.businessDate !== undefined
    ? assertBusinessDate(request.businessDate, 'businessDate')
    : previousUtcDate(request.time ? new Date(request.time) : new Date());

/** The UTC day as a half-open interval: start <= t < end. */
export function dayBounds(date: string): { start: Date; end: Date } {
  const start = new Date(`${assertBusinessDate(date, 'date')}T00:00:00.000Z`);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

/** Every date from `from` to `to`, both included. */
export function dateRange(from: string, to: string): string[] {
  const start = dayBounds(from).start.getTime();
  const end = dayBounds(to).start.getTime();
  if (end < start) throw new ConfigurationError(`date range is empty: ${from} is after ${to}`);
  const dates: string[] = [];
  for (let t = start; t <= end; t += DAY_MS) dates.push(utcDate(new Date(t)));
  return dates;
}

/**
 * Strict ISO-8601 instant: date, optional time and fraction, optional zone. A value without a zone is
 * taken as UTC (the source columns are TIMESTAMPTZ, exported in UTC); never as the machine's local time.
 */
export function parseInstant(s: string): Date {
  const m = INSTANT_RE.exec(s);
  if (m === null || !isCalendarDay(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new InputFormatError(`'${s}' is not an ISO-8601 timestamp (expected e.g. 2024-01-15T10:30:00Z)`);
  }
  const [hour, minute, second] = [m[4], m[5], m[6]].map((v) => Number(v ?? 0));
  if (hour > 23 || minute > 59 || second > 59) {
    throw new InputFormatError(
      `'${s}' has an impossible time of day (expected hh:mm:ss within 00:00:00–23:59:59)`,
    );
  }
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  let t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), hour, minute, second, millis);
  const zone = m[8]?.toUpperCase();
  if (zone !== undefined && zone !== 'Z') {
    const digits = zone.replace(':', '');
    const offsetMinutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0);
    t -= (zone.startsWith('-') ? -1 : 1) * offsetMinutes * 60_000;
  }
  return new Date(t);
}

/** '12', '12.3', '12.34', '-1.00' → integer cents; anything else (3 decimals, '1e3', '') throws. */
export function parseCents(s: string): bigint {
  const m = DECIMAL_RE.exec(s);
  if (m === null) {
    throw new InputFormatError(
      `'${s}' is not a decimal with at most 2 fraction digits (expected e.g. 12.34)`,
    );
  }
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? '').padEnd(2, '0'));
  return m[1] === '-' ? -cents : cents;
}

/** Unscaled integer → exact decimal text ('-12.34'). */
export function formatDecimal(unscaled: bigint, scale: number): string {
  if (scale === 0) return unscaled.toString();
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${unscaled < 0n ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Integer cents → '12.34' (always two fraction digits, '-' for negatives). */
export const formatCents = (cents: bigint): string => formatDecimal(cents, 2);
