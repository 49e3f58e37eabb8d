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

/** Keys that appear more than once: every row index except the kept copy's fails. */
function uniqueTest(rows: readonly Row[], columns: string[], keepLatestBy: string | undefined): RowTest {
  const keyOf = (row: Row): string | null => {
    let key = '';
    for (let c = 0; c < columns.length; c++) {
      const value = row[columns[c]];
      if (value === null || value === undefined) return null;
      key = c === 0 ? String(value) : `${key}\u0000${String(value)}`;
    }
    return key;
  };
  const rank = (row: Row): number => {
    const value = keepLatestBy === undefined ? null : row[keepLatestBy];
    if (value instanceof Date) return value.getTime();
    return isNumeric(value) ? Number(value) : -Infinity;
  };
  const keys = rows.map(keyOf);
  const kept = new Map<string, number>();
  keys.forEach((key, index) => {
    if (key === null) return;
    const current = kept.get(key);
    if (current === undefined || rank(rows[index]) > rank(rows[current])) kept.set(key, index);
  });
  const policy =
    keepLatestBy === undefined
      ? 'the first copy is kept'
      : `the copy with the latest ${keepLatestBy} is kept`;
  const what = columns.length === 1 ? columns[0] : `(${columns.join(', ')})`;
  return (row, index) => {
    const key = keys[index];
    if (key === null || kept.get(key) === index) return null;
    const value = columns.map((column) => display(column, row[column])).join(', ');
    return `duplicate ${what} ${columns.length === 1 ? value : `(${value})`}: ${policy}`;
  };
}

/** Sum of quantity × unit price per order id; lines missing either value are left out. */
function lineTotals(lines: readonly OrderItemCandidate[]): Map<string, bigint> {
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
    const sum = totals.get(row.order_id as string) ?? 0n;
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
      return (row) => {
        const value = row[check.column];
        if (value === null || value === undefined) return `${label(check.column)} is null`;
        return typeof value === 'string' && known.has(value)
          ? null
          : `${label(check.column)} ${display(check.column, value)} ${where}`;
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
  const withValidLine = new Set(validItems.map((item) => item.order_id));
  const lineCounts = new Map<string, number>();
  for (const item of items) {
    if (item.order_id !== null && !withValidLine.has(item.order_id)) {
      lineCounts.set(item.order_id, (lineCounts.get(item.order_id) ?? 0) + 1);
    }
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
