/**
 * Runs a dataset's declared checks over its rows: one pass per check, Maps/Sets for the lookups, so a
 * million rows take well under a second. Every check sees every row (the failure counts of two checks
 * are independent); a row failing any quarantine-severity check is quarantined with all its reasons.
 */
import type { CheckResult, DatasetQuality } from '../contracts';
import { dayBounds, formatCents } from '../dates';
import { ConfigurationError } from '../errors';
import type { Dataset, OrderCandidate, OrderItemCandidate } from '../model';
import { RECONCILE_TOTAL } from './rules';
import type { Bound, Check, DatasetRules, ReconcileTotalCheck } from './rules';

export interface EvaluationContext {
  businessDate: string;
  /** Known product ids (references → 'catalog'). */
  catalog: ReadonlySet<string>;
  /** Ids of the orders that passed their checks (references → 'orders'). */
  validOrderIds?: ReadonlySet<string>;
  now: Date;
}

export interface QuarantinedRow<T> {
  row: T;
  reasons: string[];
}

export interface DatasetEvaluation<T> {
  valid: T[];
  quarantined: QuarantinedRow<T>[];
  checks: CheckResult[];
  quality: DatasetQuality;
}

type Row = Record<string, unknown>;
/** The failure reason for a row, or null when it passes. */
type RowTest = (row: Row, index: number) => string | null;

/** One row as JSON: Dates as ISO-8601, bigints (cents) as numbers, or as strings beyond 2^53. */
export const serializeRow = (row: object): string =>
  JSON.stringify(row, (_key, value: unknown) =>
    typeof value === 'bigint'
      ? Number.isSafeInteger(Number(value))
        ? Number(value)
        : value.toString()
      : value,
  );

/** Money columns are named *_cents but are spoken of in the source's terms: 'total_amount 12.34'. */
const label = (column: string): string => column.replace(/_cents$/, '');

function display(column: string, value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (column.endsWith('_cents') && (typeof value === 'bigint' || Number.isInteger(value))) {
    return formatCents(BigInt(value as bigint | number));
  }
  return typeof value === 'string' ? `'${value}'` : String(value);
}

const isNumeric = (value: unknown): value is number | bigint =>
  typeof value === 'bigint' || typeof value === 'number';

function rangeTest(column: string, min: Bound | undefined, max: Bound | undefined): RowTest {
  return (row) => {
    const value = row[column];
    if (value === null || value === undefined) return `${label(column)} is null`;
    if (!isNumeric(value)) return `${label(column)} ${display(column, value)} is not a number`;
    if (min !== undefined && value < min) {
      return `${label(column)} ${display(column, value)} is below the minimum ${display(column, min)}`;
    }
    if (max !== undefined && value > max) {
      return `${label(column)} ${display(column, value)} is above the maximum ${display(column, max)}`;
    }
    return null;
  };
}

/** Dense ids of one column's values, compared as String(value) like a composite key; -1 for null. */
function internColumn(rows: readonly Row[], column: string, ids: Int32Array, nullKey: Uint8Array): number {
  const seen = new Map<string, number>();
  let previous: string | undefined;
  let previousId = -1;
  for (let i = 0; i < rows.length; i++) {
    if (nullKey[i] === 1) continue;
    const value = rows[i][column];
    if (value === null || value === undefined) {
      nullKey[i] = 1;
      continue;
    }
    const key = typeof value === 'string' ? value : String(value);
    if (key !== previous) {
      let id = seen.get(key);
      if (id === undefined) seen.set(key, (id = seen.size));
      previous = key;
      previousId = id;
    }
    ids[i] = previousId;
  }
  return seen.size;
}

/**
 * One number per row for its key (values compared as String(value), column by column), or -1 when a key
 * column is null. Built from per-column dense ids, so no composite string is made per row; the ids are
 * combined as mixed-radix numbers while that stays exact, and renumbered pairwise otherwise.
 */
function keyIds(rows: readonly Row[], columns: string[]): { keys: Float64Array; space: number } {
  const n = rows.length;
  const nullKey = new Uint8Array(n);
  const keys = new Float64Array(n);
  let space = 1;
  const ids = new Int32Array(n);
  for (let c = 0; c < columns.length; c++) {
    const cardinality = internColumn(rows, columns[c], ids, nullKey);
    if (space * cardinality <= Number.MAX_SAFE_INTEGER) {
      for (let i = 0; i < n; i++) keys[i] = keys[i] * cardinality + ids[i];
      space *= cardinality;
    } else {
      // Renumber (key so far, this column) pairs densely: at most n distinct keys.
      const pairs = new Map<number, Map<number, number>>();
      let next = 0;
      for (let i = 0; i < n; i++) {
        if (nullKey[i] === 1) continue;
        let inner = pairs.get(keys[i]);
        if (inner === undefined) pairs.set(keys[i], (inner = new Map()));
        let id = inner.get(ids[i]);
        if (id === undefined) inner.set(ids[i], (id = next++));
        keys[i] = id;
      }
      space = next;
    }
  }
  for (let i = 0; i < n; i++) if (nullKey[i] === 1) keys[i] = -1;
  return { keys, space };
}

/** Keys that appear more than once: every row index except the kept copy's fails. */
function uniqueTest(rows: readonly Row[], columns: string[], keepLatestBy: string | undefined): RowTest {
  const rank = (row: Row): number => {
    const value = keepLatestBy === undefined ? null : row[keepLatestBy];
    if (value instanceof Date) return value.getTime();
    return isNumeric(value) ? Number(value) : -Infinity;
  };
  const { keys, space } = keyIds(rows, columns);
  // The kept row per key: a dense array when the key space is small, else a Map.
  const dense = space <= 4 * rows.length + 1024 ? new Int32Array(space).fill(-1) : undefined;
  const sparse = dense === undefined ? new Map<number, number>() : undefined;
  const ranks = keepLatestBy === undefined ? undefined : new Float64Array(rows.length);
  let duplicates = 0;
  for (let index = 0; index < rows.length; index++) {
    const key = keys[index];
    if (key < 0) continue;
    const current = dense !== undefined ? dense[key] : (sparse!.get(key) ?? -1);
    if (current >= 0) duplicates++;
    if (ranks !== undefined) ranks[index] = rank(rows[index]);
    // Without keepLatestBy every rank is -Infinity: the first copy stays.
    if (current < 0 || (ranks !== undefined && ranks[index] > ranks[current])) {
      if (dense !== undefined) dense[key] = index;
      else sparse!.set(key, index);
    }
  }
  const policy =
    keepLatestBy === undefined
      ? 'the first copy is kept'
      : `the copy with the latest ${keepLatestBy} is kept`;
  const what = columns.length === 1 ? columns[0] : `(${columns.join(', ')})`;
  return (row, index) => {
    if (duplicates === 0) return null;
    const key = keys[index];
    if (key < 0) return null;
    const kept = dense !== undefined ? dense[key] : sparse!.get(key);
    if (kept === index) return null;
    const value = columns.map((column) => display(column, row[column])).join(', ');
    return `duplicate ${what} ${columns.length === 1 ? value : `(${value})`}: ${policy}`;
  };
}

/**
 * Sum of quantity × unit price per order id; lines missing either value are left out. Summed in number
 * cents while every product and sum stays a safe integer (exact), in bigint otherwise.
 */
function lineTotals(lines: readonly OrderItemCandidate[]): Map<string, bigint | number> {
  const totals = new Map<string, number>();
  let previousId: string | null = null;
  let previousSum = 0;
  const flush = () => {
    if (previousId !== null) totals.set(previousId, previousSum);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.order_id === null || line.quantity === null || line.unit_price_cents === null) continue;
    const amount = line.quantity * Number(line.unit_price_cents);
    if (!Number.isSafeInteger(amount) || !Number.isSafeInteger(line.quantity)) return lineTotalsExact(lines);
    if (line.order_id !== previousId) {
      flush();
      previousId = line.order_id;
      previousSum = totals.get(previousId) ?? 0;
    }
    previousSum += amount;
    if (!Number.isSafeInteger(previousSum)) return lineTotalsExact(lines);
  }
  flush();
  return totals;
}

function lineTotalsExact(lines: readonly OrderItemCandidate[]): Map<string, bigint> {
  const totals = new Map<string, bigint>();
  for (const line of lines) {
    if (line.order_id === null || line.quantity === null || line.unit_price_cents === null) continue;
    const amount = BigInt(line.quantity) * line.unit_price_cents;
    totals.set(line.order_id, (totals.get(line.order_id) ?? 0n) + amount);
  }
  return totals;
}

function reconcileTest(lines: readonly OrderItemCandidate[], toleranceCents: number): RowTest {
  const totals = lineTotals(lines);
  const tolerance = BigInt(toleranceCents);
  return (row) => {
    const total = row.total_amount_cents;
    if (typeof total !== 'bigint') return 'total_amount is null';
    const found = totals.get(row.order_id as string) ?? 0;
    if (typeof found === 'number') {
      const totalNumber = Number(total);
      // Both exact as numbers: compare without bigints.
      if (Number.isSafeInteger(totalNumber) && Math.abs(totalNumber - found) <= toleranceCents) return null;
    }
    const sum = BigInt(found);
    const gap = total > sum ? total - sum : sum - total;
    if (gap <= tolerance) return null;
    return `total_amount ${formatCents(total)} differs from the sum of its lines ${formatCents(sum)} by more than ${formatCents(tolerance)}`;
  };
}

function rowTest(check: Check, rows: readonly Row[], context: EvaluationContext): RowTest {
  switch (check.kind) {
    case 'not_null':
      return (row) =>
        row[check.column] === null || row[check.column] === undefined
          ? `${label(check.column)} is null`
          : null;
    case 'unique':
      return uniqueTest(rows, check.columns, check.keepLatestBy);
    case 'range':
      return rangeTest(check.column, check.min, check.max);
    case 'accepted_values': {
      const accepted = new Set(check.values);
      const list = `[${check.values.join(',')}]`;
      return (row) => {
        const value = row[check.column];
        if (value === null || value === undefined)
          return `${label(check.column)} is null (expected one of ${list})`;
        return typeof value === 'string' && accepted.has(value)
          ? null
          : `${label(check.column)} ${display(check.column, value)} not in accepted values ${list}`;
      };
    }
    case 'references': {
      const known = check.target === 'catalog' ? context.catalog : context.validOrderIds;
      if (known === undefined) {
        throw new ConfigurationError(`check '${check.name}' needs the valid order ids in its context`);
      }
      const where = check.target === 'catalog' ? 'not found in the catalog' : 'is not a valid order';
      // Rows referencing the same id tend to follow each other: the last answer is remembered.
      let lastKnown: unknown;
      return (row) => {
        const value = row[check.column];
        if (value === null || value === undefined) return `${label(check.column)} is null`;
        if (value === lastKnown) return null;
        if (typeof value === 'string' && known.has(value)) {
          lastKnown = value;
          return null;
        }
        return `${label(check.column)} ${display(check.column, value)} ${where}`;
      };
    }
    case 'within_date': {
      const { start, end } = dayBounds(context.businessDate);
      return (row) => {
        const value = row[check.column];
        if (!(value instanceof Date)) return `${label(check.column)} is null`;
        return value >= start && value < end
          ? null
          : `${label(check.column)} ${value.toISOString()} is outside the business date ${context.businessDate}`;
      };
    }
    case 'reconcile_total':
    case 'row_count':
    case 'freshness':
      throw new ConfigurationError(`check '${check.name}' (${check.kind}) is not a row check`);
  }
}

/** Dataset-level checks: the failure description (stored as the example), or null when they pass. */
function datasetFailure(check: Check, rows: readonly Row[], now: Date): string | null {
  if (check.kind === 'row_count') {
    const tooFew = check.min !== undefined && rows.length < check.min;
    const tooMany = check.max !== undefined && rows.length > check.max;
    return tooFew || tooMany ? JSON.stringify({ rows: rows.length, min: check.min, max: check.max }) : null;
  }
  if (check.kind !== 'freshness') return null;
  let latest = -Infinity;
  for (const row of rows) {
    const value = row[check.column];
    if (value instanceof Date && value.getTime() > latest) latest = value.getTime();
  }
  const ageHours = (now.getTime() - latest) / 3_600_000;
  if (ageHours <= check.maxAgeHours) return null;
  return JSON.stringify({
    column: check.column,
    latest: Number.isFinite(latest) ? new Date(latest).toISOString() : null,
    ageHours: Number.isFinite(ageHours) ? Math.round(ageHours * 10) / 10 : null,
    maxAgeHours: check.maxAgeHours,
  });
}

const checkColumn = (check: Check): string | undefined =>
  'column' in check ? check.column : 'columns' in check ? check.columns.join(',') : undefined;

const isDatasetLevel = (check: Check): boolean => check.kind === 'row_count' || check.kind === 'freshness';

function newResult(dataset: Dataset, check: Check): CheckResult {
  return {
    dataset,
    check: check.name,
    column: checkColumn(check),
    passed: true,
    failedRows: 0,
    severity: check.severity,
  };
}

/** One pass of a row check; quarantine-severity failures add their reason to `reasons[i]`. */
function runRowTest(
  result: CheckResult,
  test: RowTest,
  rows: readonly Row[],
  reasons: (string[] | undefined)[],
): CheckResult {
  for (let i = 0; i < rows.length; i++) {
    const reason = test(rows[i], i);
    if (reason === null) continue;
    if (result.failedRows++ === 0) result.example = serializeRow(rows[i]);
    if (result.severity === 'quarantine') (reasons[i] ??= []).push(reason);
  }
  result.passed = result.failedRows === 0;
  return result;
}

/**
 * Runs every check of `rules` except reconcile_total (see reconcileOrderTotals).
 * Dataset-level checks report `failedRows: 0` and describe the failure in `example`; row checks that
 * fail always have failedRows >= 1. The gate relies on this to tell them apart.
 */
export function evaluateDataset<T extends object>(
  rows: readonly T[],
  rules: DatasetRules,
  context: EvaluationContext,
): DatasetEvaluation<T> {
  const data = rows as readonly Row[];
  const reasons: (string[] | undefined)[] = new Array(rows.length);
  const checks: CheckResult[] = [];
  let datasetLevelFailed = false;
  for (const check of rules.checks) {
    if (check.kind === 'reconcile_total') continue; // needs the items: reconcileOrderTotals
    const result = newResult(rules.dataset, check);
    if (isDatasetLevel(check)) {
      const failure = datasetFailure(check, data, context.now);
      if (failure !== null) {
        Object.assign(result, { passed: false, example: failure });
        datasetLevelFailed ||= check.severity === 'quarantine';
      }
    } else {
      runRowTest(result, rowTest(check, data, context), data, reasons);
    }
    checks.push(result);
  }
  const valid: T[] = [];
  const quarantined: QuarantinedRow<T>[] = [];
  rows.forEach((row, i) => {
    const why = reasons[i];
    if (why === undefined) valid.push(row);
    else quarantined.push({ row, reasons: why });
  });
  const share = rows.length === 0 ? 0 : quarantined.length / rows.length;
  const quality: DatasetQuality = {
    dataset: rules.dataset,
    rowsIn: rows.length,
    rowsValid: valid.length,
    rowsQuarantined: quarantined.length,
    quarantineShare: share,
    threshold: rules.quarantineThreshold,
    passed: share <= rules.quarantineThreshold && !datasetLevelFailed,
  };
  return { valid, quarantined, checks, quality };
}

/**
 * The orders' totals against the sum of their lines (report only). Pass ALL conformed lines (before
 * quarantine): the check is about the source's consistency, and a quarantined line still belonged to the
 * order. Orders without any line are compared with 0.
 */
export function reconcileOrderTotals(
  orders: readonly OrderCandidate[],
  items: readonly OrderItemCandidate[],
  check: ReconcileTotalCheck = RECONCILE_TOTAL,
): CheckResult {
  const test = reconcileTest(items, check.tolerance_cents);
  return runRowTest(newResult('orders', check), test, orders as unknown as readonly Row[], []);
}

/**
 * Valid orders that have lines in `items` but none in `validItems`: every line was quarantined. Reported
 * (the order itself still loads, with item_count 0) so the shop can chase the broken lines.
 */
export function ordersWithAllItemsQuarantined(
  validOrders: readonly OrderCandidate[],
  items: readonly OrderItemCandidate[],
  validItems: readonly OrderItemCandidate[],
): CheckResult {
  const withValidLine = new Set<string | null>();
  let previous: string | null | undefined;
  for (let i = 0; i < validItems.length; i++) {
    const id = validItems[i].order_id;
    if (id !== previous) withValidLine.add((previous = id));
  }
  const lineCounts = new Map<string, number>();
  let lastValid: string | undefined;
  for (let i = 0; i < items.length; i++) {
    const id = items[i].order_id;
    if (id === null || id === lastValid) continue;
    if (withValidLine.has(id)) lastValid = id;
    else lineCounts.set(id, (lineCounts.get(id) ?? 0) + 1);
  }
  const result: CheckResult = {
    dataset: 'orders',
    check: 'order has a valid line',
    column: 'order_id',
    passed: true,
    failedRows: 0,
    severity: 'report',
  };
  for (const order of validOrders) {
    const lines = order.order_id === null ? undefined : lineCounts.get(order.order_id);
    if (lines === undefined) continue;
    if (result.failedRows++ === 0)
      result.example = JSON.stringify({ order_id: order.order_id, quarantinedLines: lines });
  }
  result.passed = result.failedRows === 0;
  return result;
}
