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
import type { Bound, Check, DatasetRules, MessageCheck, ReconcileTotalCheck } from './rules';

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

/**
 * JSON message checks (rules.ts MessageCheck) over a relation with the message's `text` and, from
 * compileMessageChecks' `paths`, `types` (`types[1]` the whole value's JSON type, then each field's) and
 * `texts` (each field as text). DuckDB only: it reads JSON with DuckDB's JSON functions.
 */
export interface CompiledMessageChecks {
  /** The JSON paths of the fields, for `json_extract_string(text, paths) AS texts`. */
  paths: string;
  /** '$' and the fields' paths, for `json_type(text, typePaths) AS types`. */
  typePaths: string;
  /** Columns to add over `types`/`texts`, stage by stage (a stage may use the columns of the one before). */
  stages: string[][];
  /** `WHEN … THEN reason` branches, in check order: the first rule a message breaks. */
  reasons: string;
  /** A field's value in its column type: NULL when it breaks its rule or is absent. */
  value(field: string): string;
  /** How a reason shows a JSON value of JSON type `type` and text `text` (see describeJson). */
  describe(type: string, text: string): string;
}

// ISO-8601 date-time; seconds and the offset are optional (no offset means UTC, as on Lambda).
const ISO_RE =
  '^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d+))?)?(Z|[+-]\\d{2}:?\\d{2})?$';
/**
 * What JavaScript's String.prototype.trim removes: an id of only these is empty. An id that starts with
 * a printable ASCII character other than space is not blank: most skip the regular expression.
 */
const BLANK_RE = '[\\s\\p{Z}\\x{FEFF}\\x{000B}]*';

/**
 * How a reason shows the offending value, as JSON would print it: text quoted (first 40 characters),
 * numbers and booleans as written, `null`, `an array`, `a object`, and `a undefined` when absent.
 */
function describeJson(type: string, text: string): string {
  return (
    `CASE WHEN ${type} IS NULL THEN 'a undefined' WHEN ${type} = 'NULL' THEN 'null' ` +
    `WHEN ${type} = 'ARRAY' THEN 'an array' WHEN ${type} = 'OBJECT' THEN 'a object' ` +
    `WHEN ${type} = 'VARCHAR' THEN CAST(to_json(CASE WHEN length(${text}) > 40 THEN left(${text}, 40) || '…' ` +
    `ELSE ${text} END) AS VARCHAR) ELSE ${text} END`
  );
}

/** An instant field → epoch milliseconds, NULL when it is neither an ISO-8601 date-time nor whole epoch ms. */
function epochMillis(type: string, text: string, iso: string): string {
  const part = (name: string) => `TRY_CAST(${iso}.${name} AS INTEGER)`;
  // Milliseconds of the fraction: its first three digits, as Date.parse truncates.
  const fraction = `coalesce(TRY_CAST(rpad(left(${iso}.f, 3), 3, '0') AS INTEGER), 0)`;
  const zone = `replace(${iso}.z, ':', '')`;
  const zoneHours = `TRY_CAST(substr(${zone}, 2, 2) AS INTEGER)`;
  const zoneMinutes = `TRY_CAST(substr(${zone}, 4, 2) AS INTEGER)`;
  const offsetMinutes =
    `CASE WHEN ${iso}.z = '' OR upper(${iso}.z) = 'Z' THEN 0 ` +
    `WHEN ${zoneHours} <= 23 AND ${zoneMinutes} <= 59 THEN ` +
    `(CASE WHEN left(${iso}.z, 1) = '-' THEN -1 ELSE 1 END) * (${zoneHours} * 60 + ${zoneMinutes}) END`;
  // TRY_CAST of the fields as a timestamp refuses impossible calendar days (02-30), as the contract does.
  const civil = `TRY_CAST(printf('%s-%s-%s %s:%s:%s', ${iso}.y, ${iso}.mo, ${iso}.d, ${iso}.h, ${iso}.mi, CASE WHEN ${iso}.s = '' THEN '00' ELSE ${iso}.s END) AS TIMESTAMP)`;
  const fromIso =
    `CASE WHEN ${iso}.y <> '' AND ${part('h')} <= 23 AND ${part('mi')} <= 59 AND coalesce(${part('s')}, 0) <= 59 ` +
    `THEN epoch_ms(${civil}) + ${fraction} - ${offsetMinutes} * 60000 END`;
  const double = `TRY_CAST(${text} AS DOUBLE)`;
  return (
    `CASE WHEN ${type} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(${text} AS BIGINT) ` +
    `WHEN ${type} = 'DOUBLE' AND ${double} = floor(${double}) AND abs(${double}) < 1e16 THEN CAST(${double} AS BIGINT) ` +
    `WHEN ${type} = 'VARCHAR' THEN ${fromIso} END`
  );
}

/** The `when` (broken), `value` and `expected` text of one message check. */
function messageCheckSql(
  check: MessageCheck,
  type: string,
  text: string,
): { broken: string; value: string; expected: string; stages?: string[][] } {
  const isText = `${type} = 'VARCHAR'`;
  const absent = `${type} IS NULL OR ${type} = 'NULL'`;
  switch (check.kind) {
    case 'text':
      if (check.required) {
        return {
          broken:
            `${type} IS DISTINCT FROM 'VARCHAR' OR strlen(${text}) > ${check.maxBytes} ` +
            `OR (ascii(${text}) NOT BETWEEN 33 AND 126 AND regexp_full_match(${text}, '${BLANK_RE}'))`,
          value: text,
          expected: `a non-empty string of at most ${check.maxBytes} bytes`,
        };
      }
      return {
        broken: `NOT (${absent} OR (${isText} AND strlen(${text}) <= ${check.maxBytes}))`,
        value: `CASE WHEN ${isText} THEN ${text} END`,
        expected: `a string of at most ${check.maxBytes} bytes or null`,
      };
    case 'one_of':
      return {
        broken: `${type} IS DISTINCT FROM 'VARCHAR' OR ${text} NOT IN (${check.values.map(literal).join(', ')})`,
        value: text,
        expected: `one of ${check.values.join('|')}`,
      };
    case 'instant': {
      const iso = ident(`${check.field}_iso`);
      const ms = ident(`${check.field}_ms`);
      const ok = `(${ms} IS NOT NULL AND ${ms} >= ${Date.parse(check.min)} AND ${ms} < ${Date.parse(check.max)})`;
      return {
        stages: [
          [
            `CASE WHEN ${isText} THEN regexp_extract(${text}, '${ISO_RE}', ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z'], 'i') END AS ${iso}`,
          ],
          [`${epochMillis(type, text, iso)} AS ${ms}`],
        ],
        broken: `NOT ${ok}`,
        value: `CASE WHEN ${ok} THEN epoch_ms(${ms}) END`,
        expected: `an ISO-8601 date-time or epoch milliseconds between ${check.min} and ${check.max}`,
      };
    }
    case 'decimal': {
      const { integerDigits: i, fractionDigits: f, min } = check;
      const scale = 10 ** f;
      const double = `TRY_CAST(${text} AS DOUBLE)`;
      const units = `round(${double} * ${scale})`;
      const decimal = `DECIMAL(${i + f}, ${f})`;
      const atLeast = (value: string) => (min === undefined ? 'TRUE' : `${value} >= ${min}`);
      const numberOk = `(${units} / ${scale} = ${double} AND ${atLeast(`${units} / ${scale}`)} AND abs(${units}) < ${10 ** (i + f)})`;
      // '-0' and '-0.00' are zero, not negative.
      const textOk = `(regexp_full_match(trim(${text}), '-?[0-9]{1,${i}}([.][0-9]{1,${f}})?') AND ${atLeast(`TRY_CAST(trim(${text}) AS ${decimal})`)})`;
      const ok =
        `CASE WHEN ${absent} THEN true ` +
        `WHEN ${type} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN coalesce(${numberOk}, false) ` +
        `WHEN ${isText} THEN ${textOk} ELSE false END`;
      // Units × 10^-f in DECIMAL arithmetic: exact, no binary fraction reaches the column.
      const parsed =
        `CASE WHEN ${type} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(CAST(CAST(${units} AS BIGINT) AS DECIMAL(18, 0)) * ${1 / scale} AS ${decimal}) ` +
        `WHEN ${isText} THEN TRY_CAST(trim(${text}) AS ${decimal}) END`;
      const bound = min === 0 ? ', not negative' : min === undefined ? '' : `, at least ${min}`;
      return {
        broken: `NOT (${ok})`,
        value: `CASE WHEN ${ok} THEN ${parsed} END`,
        expected: `a decimal with at most ${f} fraction digits and ${i} integer digits${bound}`,
      };
    }
  }
}

/** The message checks as SQL: one reason per message, the first rule it breaks, and each field's value. */
export function compileMessageChecks(checks: readonly MessageCheck[]): CompiledMessageChecks {
  const fields = checks.map((c) => c.field);
  const at = (field: string) => {
    const index = fields.indexOf(field);
    if (index < 0) throw new ConfigurationError(`no message check reads the field '${field}'`);
    return index + 1;
  };
  // `types[1]` is the type of the whole value ('$'), the fields follow.
  const typeOf = (field: string) => `types[${at(field) + 1}]`;
  const textOf = (field: string) => `texts[${at(field)}]`;
  const compiled = checks.map((check) => ({
    check,
    ...messageCheckSql(check, typeOf(check.field), textOf(check.field)),
  }));
  const stages: string[][] = [];
  for (const c of compiled) c.stages?.forEach((stage, i) => (stages[i] ??= []).push(...stage));
  const fieldPaths = fields.map((f) => literal(`$.${f}`));
  return {
    paths: `[${fieldPaths.join(', ')}]`,
    typePaths: `['$', ${fieldPaths.join(', ')}]`,
    stages,
    reasons: compiled
      .map(
        ({ check, broken, expected }) =>
          `WHEN ${broken} THEN ${literal(`${check.field}: expected ${expected}, got `)} || ${describeJson(typeOf(check.field), textOf(check.field))}`,
      )
      .join(' '),
    value: (field) => compiled[at(field) - 1].value,
    describe: describeJson,
  };
}
