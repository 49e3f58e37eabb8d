/**
 * The declarative quality rules (rules.ts) as SQL: one expression per row check that yields the row's
 * failure reason, or NULL when the row passes, so a quarantined row keeps every reason it earned.
 *
 * Standard SQL only (CASE, window functions, NOT EXISTS, ||) plus the few spellings that differ between
 * engines, asked of a SqlDialect: the same rules run in DuckDB inside the functions and can run in Redshift
 * for days too big for any function.
 *
 * The checked relation must carry `__row`, the row's position in its input: "the first copy wins" and the
 * examples follow input order.
 */
import type { CheckResult } from '../contracts';
import { dayBounds, formatCents } from '../dates';
import { ConfigurationError } from '../errors';
import type { ColumnDef, TableDef } from '../tables';
import type { Bound, Check, DatasetRules, ReconcileTotalCheck } from './rules';

/** What differs between engines. */
export interface SqlDialect {
  /** A TIMESTAMP as ISO-8601 text with milliseconds and 'Z', as JavaScript's toISOString writes it. */
  isoTimestamp(expression: string): string;
  /** The UTF-8 byte length of a text value. */
  byteLength(expression: string): string;
}

export const DUCKDB_DIALECT: SqlDialect = {
  isoTimestamp: (e) => `strftime(${e}, '%Y-%m-%dT%H:%M:%S.%gZ')`,
  // strlen counts bytes; length counts characters.
  byteLength: (e) => `strlen(${e})`,
};

export const REDSHIFT_DIALECT: SqlDialect = {
  isoTimestamp: (e) => `to_char(${e}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`,
  byteLength: (e) => `octet_length(${e})`,
};

/** The position of a row in its input; every checked relation carries it. */
export const ROW_NUMBER = '__row';

export const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** Where `references` checks look: a relation and its key column, e.g. the valid products' product_id. */
export interface ReferenceTarget {
  relation: string;
  column: string;
}

export interface CompileContext {
  /** The dataset's table definition: rule columns name row fields (`total_amount_cents`), SQL uses columns. */
  def: TableDef;
  businessDate: string;
  dialect: SqlDialect;
  references?: Partial<Record<'catalog' | 'orders', ReferenceTarget>>;
}

export interface CompiledRowCheck {
  check: Check;
  /** The reason column in the checked relation. */
  column: string;
  /** CASE … THEN reason END, NULL when the row passes. */
  expression: string;
}

/** A dataset-level check: the aggregate it needs over the dataset (see datasetLevelFailure). */
export interface CompiledAggregateCheck {
  check: Extract<Check, { kind: 'row_count' | 'freshness' }>;
  column: string;
  expression: string;
}

export interface CompiledDataset {
  rowChecks: CompiledRowCheck[];
  aggregateChecks: CompiledAggregateCheck[];
  /** The source's columns plus one reason column per row check. */
  select(source: string): string;
  /** True for a row that fails any quarantine-severity check (over the checked relation). */
  quarantined: string;
}

/** The column and its definition behind a rule's column (a row field, or the column's own name). */
function columnOf(def: TableDef, name: string): ColumnDef {
  const column = def.columns.find((c) => c.field === name || c.name === name);
  if (column === undefined) {
    throw new ConfigurationError(`quality rule names '${name}', which ${def.name} does not have`);
  }
  return column;
}

/** Money columns are named *_cents in the rules but are spoken of in the source's terms: 'total_amount 12.34'. */
const label = (column: ColumnDef): string => column.name;

const isCents = (column: ColumnDef): boolean => column.kind === 'decimal' && column.field.endsWith('_cents');

/** A value as the reasons show it: 'text' quoted, timestamps ISO, numbers and money as decimal text. */
function display(column: ColumnDef, expression: string, dialect: SqlDialect): string {
  switch (column.kind) {
    case 'string':
      return `'''' || ${expression} || ''''`;
    case 'timestamp':
      return dialect.isoTimestamp(expression);
    default:
      return `CAST(${expression} AS VARCHAR)`;
  }
}

/** A bound in the column's terms, as SQL and as text alike: cents become the decimal amount. */
function boundSql(column: ColumnDef, bound: Bound): string {
  return isCents(column) ? formatCents(BigInt(bound)) : String(bound);
}

const timestampLiteral = (instant: Date): string =>
  `TIMESTAMP '${instant.toISOString().replace('T', ' ').replace('Z', '')}'`;

const when = (condition: string, reason: string): string => `WHEN ${condition} THEN ${reason}`;
/** A range without bounds has no branch: it never fails. */
const caseOf = (...branches: string[]): string =>
  branches.length === 0 ? 'CAST(NULL AS VARCHAR)' : `CASE ${branches.join(' ')} END`;

/** Only not_null fails a null: every other check passes it (a required column has its not_null check). */
function rowCheckSql(check: Check, context: CompileContext): string {
  const { def, dialect } = context;
  const col = (name: string) => {
    const column = columnOf(def, name);
    return { column, sql: `t.${ident(column.name)}`, label: literal(label(column)) };
  };
  switch (check.kind) {
    case 'not_null': {
      const c = col(check.column);
      return caseOf(when(`${c.sql} IS NULL`, literal(`${label(c.column)} is null`)));
    }
    case 'unique': {
      const columns = check.columns.map(col);
      const keys = columns.map((c) => c.sql).join(', ');
      const present = columns.map((c) => `${c.sql} IS NOT NULL`).join(' AND ');
      const latest =
        check.keepLatestBy === undefined ? '' : `${col(check.keepLatestBy).sql} DESC NULLS LAST, `;
      const rank = `row_number() OVER (PARTITION BY ${keys} ORDER BY ${latest}t.${ROW_NUMBER})`;
      const values = columns.map((c) => display(c.column, c.sql, dialect)).join(` || ', ' || `);
      const single = columns.length === 1;
      const what = single ? columns[0].column.name : `(${columns.map((c) => c.column.name).join(', ')})`;
      const policy =
        check.keepLatestBy === undefined
          ? 'the first copy is kept'
          : `the copy with the latest ${check.keepLatestBy} is kept`;
      const reason = single
        ? `${literal(`duplicate ${what} `)} || ${values} || ${literal(`: ${policy}`)}`
        : `${literal(`duplicate ${what} (`)} || ${values} || ${literal(`): ${policy}`)}`;
      return caseOf(when(`${present} AND ${rank} > 1`, reason));
    }
    case 'range': {
      const c = col(check.column);
      const value = display(c.column, c.sql, dialect);
      const branches: string[] = [];
      if (check.min !== undefined) {
        branches.push(
          when(
            `${c.sql} < ${boundSql(c.column, check.min)}`,
            `${literal(`${label(c.column)} `)} || ${value} || ${literal(` is below the minimum ${boundSql(c.column, check.min)}`)}`,
          ),
        );
      }
      if (check.max !== undefined) {
        branches.push(
          when(
            `${c.sql} > ${boundSql(c.column, check.max)}`,
            `${literal(`${label(c.column)} `)} || ${value} || ${literal(` is above the maximum ${boundSql(c.column, check.max)}`)}`,
          ),
        );
      }
      return caseOf(...branches);
    }
    case 'accepted_values': {
      const c = col(check.column);
      const list = `[${check.values.join(',')}]`;
      const accepted = check.values.map(literal).join(', ');
      return caseOf(
        when(
          check.values.length === 0 ? `${c.sql} IS NOT NULL` : `${c.sql} NOT IN (${accepted})`,
          `${literal(`${label(c.column)} `)} || ${display(c.column, c.sql, dialect)} || ${literal(` not in accepted values ${list}`)}`,
        ),
      );
    }
    case 'references': {
      const target = context.references?.[check.target];
      if (target === undefined) {
        throw new ConfigurationError(`check '${check.name}' needs the ${check.target} relation to refer to`);
      }
      const c = col(check.column);
      const where = check.target === 'catalog' ? 'not found in the catalog' : 'is not a valid order';
      // NOT EXISTS rather than NOT IN: a NULL in the target cannot turn every answer unknown.
      const missing = `${c.sql} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${target.relation} r WHERE r.${ident(target.column)} = ${c.sql})`;
      return caseOf(
        when(
          missing,
          `${literal(`${label(c.column)} `)} || ${display(c.column, c.sql, dialect)} || ${literal(` ${where}`)}`,
        ),
      );
    }
    case 'within_date': {
      const c = col(check.column);
      const { start, end } = dayBounds(context.businessDate);
      return caseOf(
        when(
          `${c.sql} < ${timestampLiteral(start)} OR ${c.sql} >= ${timestampLiteral(end)}`,
          `${literal(`${label(c.column)} `)} || ${dialect.isoTimestamp(c.sql)} || ${literal(` is outside the business date ${context.businessDate}`)}`,
        ),
      );
    }
    case 'max_bytes': {
      const c = col(check.column);
      const bytes = dialect.byteLength(c.sql);
      return caseOf(
        when(
          `${bytes} > ${check.maxBytes}`,
          `${literal(`${label(c.column)} is `)} || CAST(${bytes} AS VARCHAR) || ${literal(` bytes long, more than the ${check.maxBytes} bytes of VARCHAR(${check.maxBytes})`)}`,
        ),
      );
    }
    case 'product_max': {
      const [a, b] = check.columns.map(col);
      const cents = isCents(a.column) || isCents(b.column);
      // Widened first: the product of two in-range values may exceed either column's precision.
      const product = `CAST(${a.sql} AS DECIMAL(18, 0)) * ${b.sql}`;
      const max = cents ? formatCents(BigInt(check.max)) : String(check.max);
      return caseOf(
        when(
          `${product} > ${max}`,
          `${literal(`${check.as} `)} || CAST(${product} AS VARCHAR) || ${literal(` (${a.column.name} × ${b.column.name}) is above the maximum ${max}`)}`,
        ),
      );
    }
    case 'reconcile_total':
    case 'row_count':
    case 'freshness':
      throw new ConfigurationError(`check '${check.name}' (${check.kind}) is not a row check`);
  }
}

/**
 * Every check of `rules` except reconcile_total (reconcileTotalSql): row checks as reason columns
 * `__r0, __r1, …` in check order, dataset-level checks as aggregates `__a0, …`.
 */
export function compileDataset(rules: DatasetRules, context: CompileContext): CompiledDataset {
  const rowChecks: CompiledRowCheck[] = [];
  const aggregateChecks: CompiledAggregateCheck[] = [];
  for (const check of rules.checks) {
    if (check.kind === 'reconcile_total') continue;
    if (check.kind === 'row_count') {
      aggregateChecks.push({ check, column: `__a${aggregateChecks.length}`, expression: 'count(*)' });
    } else if (check.kind === 'freshness') {
      const column = columnOf(context.def, check.column);
      aggregateChecks.push({
        check,
        column: `__a${aggregateChecks.length}`,
        expression: `max(${ident(column.name)})`,
      });
    } else {
      rowChecks.push({ check, column: `__r${rowChecks.length}`, expression: rowCheckSql(check, context) });
    }
  }
  const failing = rowChecks.filter((c) => c.check.severity === 'quarantine').map((c) => c.column);
  return {
    rowChecks,
    aggregateChecks,
    select: (source) =>
      `SELECT t.*${rowChecks.map((c) => `, ${c.expression} AS ${c.column}`).join('')} FROM ${source} t`,
    quarantined: failing.length === 0 ? 'FALSE' : `coalesce(${failing.join(', ')}) IS NOT NULL`,
  };
}

/**
 * A dataset-level check's failure as stored in the report's `example`, or null when it passes; `value` is
 * its aggregate (count(*) for row_count, the newest instant for freshness).
 */
export function datasetLevelFailure(
  check: CompiledAggregateCheck['check'],
  value: unknown,
  now: Date,
): string | null {
  if (check.kind === 'row_count') {
    const rows = Number(value);
    const tooFew = check.min !== undefined && rows < check.min;
    const tooMany = check.max !== undefined && rows > check.max;
    return tooFew || tooMany ? JSON.stringify({ rows, min: check.min, max: check.max }) : null;
  }
  const latest = value instanceof Date ? value.getTime() : -Infinity;
  const ageHours = (now.getTime() - latest) / 3_600_000;
  if (ageHours <= check.maxAgeHours) return null;
  return JSON.stringify({
    column: check.column,
    latest: Number.isFinite(latest) ? new Date(latest).toISOString() : null,
    ageHours: Number.isFinite(ageHours) ? Math.round(ageHours * 10) / 10 : null,
    maxAgeHours: check.maxAgeHours,
  });
}

/**
 * reconcile_total: per order of `orders`, the reason when |total_amount − Σ quantity × unit_price of its
 * lines in `items`| exceeds the tolerance (orders without lines compare with 0). Pass ALL staged lines:
 * the check is about the source's consistency, and a quarantined line still belonged to the order.
 * Yields (__row, reason) over every order.
 */
export function reconcileTotalSql(check: ReconcileTotalCheck, orders: string, items: string): string {
  const tolerance = formatCents(BigInt(check.tolerance_cents));
  const sum = 'coalesce(s.lines_total, 0)';
  return `SELECT o.${ROW_NUMBER}, CASE
    WHEN o.total_amount IS NULL THEN 'total_amount is null'
    WHEN abs(o.total_amount - ${sum}) > ${tolerance}
      THEN 'total_amount ' || CAST(o.total_amount AS VARCHAR) || ' differs from the sum of its lines '
        || CAST(CAST(${sum} AS DECIMAL(38,2)) AS VARCHAR) || ' by more than ${tolerance}'
  END AS reason
  FROM ${orders} o LEFT JOIN (
    SELECT order_id, sum(quantity * unit_price) AS lines_total FROM ${items}
    WHERE order_id IS NOT NULL GROUP BY order_id
  ) s ON s.order_id = o.order_id`;
}

/**
 * Valid orders that have lines but no valid one: every line was quarantined (report-only; the order still
 * loads with item_count 0). Yields (__row, order_id, quarantined_lines) per such order.
 */
export function ordersWithAllItemsQuarantinedSql(
  validOrders: string,
  checkedItems: string,
  quarantined: string,
): string {
  return `SELECT o.${ROW_NUMBER}, o.order_id, l.quarantined_lines
  FROM ${validOrders} o JOIN (
    SELECT order_id, count(*) AS quarantined_lines FROM ${checkedItems}
    WHERE order_id IS NOT NULL GROUP BY order_id
    HAVING sum(CASE WHEN ${quarantined} THEN 0 ELSE 1 END) = 0
  ) l ON l.order_id = o.order_id`;
}

/** The report entry of a check before its counts are known. */
export function checkResult(dataset: CheckResult['dataset'], check: Check): CheckResult {
  return {
    dataset,
    check: check.name,
    column: 'column' in check ? check.column : 'columns' in check ? check.columns.join(',') : undefined,
    passed: true,
    failedRows: 0,
    severity: check.severity,
  };
}
