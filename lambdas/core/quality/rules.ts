/**
 * Quality checks declared as data, per dataset (documented in docs/quality-rules.md).
 *
 * A missing value fails one check that says so, `<column> not null`, derived for every required column
 * (requiredColumns); every other check passes a null, so `price not negative` never counts a missing price.
 */
import { HANDLER_ENV } from '../../contract';
import { ConfigurationError } from '../errors';
import { CURRENCIES, DATASETS, ORDER_STATUSES } from '../model';
import type { BatchTable, Dataset } from '../model';
import { TABLES } from '../tables';
import { stagedTableOf, type ColumnDef, type Declarations, type SourceDataset } from '../tables';

export type Severity = 'quarantine' | 'report';
export type Bound = number | bigint;

export type Check = { name: string; severity: Severity } & (
  | { kind: 'not_null'; column: string }
  /**
   * Rows sharing the key: the one with the latest `keepLatestBy` (ties: the first in input order) passes,
   * every other copy fails. Without `keepLatestBy` the first copy passes. Null keys are skipped.
   */
  | { kind: 'unique'; columns: string[]; keepLatestBy?: string }
  /** Inclusive bounds; for `*_cents` columns they are in cents. */
  | { kind: 'range'; column: string; min?: Bound; max?: Bound }
  | { kind: 'accepted_values'; column: string; values: readonly string[] }
  /** 'catalog': the known product ids; 'orders': the ids of orders that passed their own checks. */
  | { kind: 'references'; column: string; target: 'catalog' | 'orders' }
  /** The instant falls inside the run's business date (UTC). */
  | { kind: 'within_date'; column: string }
  /** Dataset-level: never quarantines rows, fails the check (and the gate when severity is quarantine). */
  | { kind: 'row_count'; min?: number; max?: number }
  /** Dataset-level: the newest value of `column` is at most `maxAgeHours` older than `now`. */
  | { kind: 'freshness'; column: string; maxAgeHours: number }
  /**
   * The value's UTF-8 byte length is at most `maxBytes`: Redshift's VARCHAR(n) counts bytes, and COPY
   * fails the whole load on one longer value. A null passes (not_null decides about nulls).
   */
  | { kind: 'max_bytes'; column: string; maxBytes: number }
  /**
   * A derived amount, the product of two columns (e.g. quantity × unit_price_cents → line_amount), is at
   * most `max` (in cents when a column is *_cents): the column it is written to would fail the whole write.
   */
  | { kind: 'product_max'; columns: [string, string]; as: string; max: Bound }
  /**
   * A total vs its lines: |total − Σ of the lines' product of `lineProduct`| <= tolerance, lines joined on
   * `key`. Cross-dataset, so it is compiled on its own (compile-sql.ts reconcileTotalSql), not with the row
   * checks, and is report-only.
   */
  | {
      kind: 'reconcile_total';
      total: string;
      key: string;
      lineProduct: [string, string];
      tolerance_cents: number;
      severity: 'report';
    }
);

export type ReconcileTotalCheck = Extract<Check, { kind: 'reconcile_total' }>;

export interface DatasetRules {
  /** The product's Dataset, or a source dataset a declaration adds (derivedRules). */
  dataset: string;
  checks: Check[];
  /** A dataset fails the gate when its quarantined share is strictly greater than this (0..1). */
  quarantineThreshold: number;
}

/**
 * Per-dataset overrides, applied in this order: a new threshold, checks removed by name, checks replaced
 * by name or added, and severities changed by check name.
 */
export interface DatasetRulesOverride {
  quarantineThreshold?: number;
  remove?: string[];
  checks?: Check[];
  severity?: Record<string, Severity>;
}

export type DatasetOverrides = Partial<Record<Dataset, DatasetRulesOverride>>;

/** An environment's quality settings (lib/config.ts `quality`, given to the functions as QUALITY_SETTINGS). */
export interface RulesConfig {
  /** Threshold of every dataset; a dataset's own quarantineThreshold wins. */
  threshold: number;
  datasets?: DatasetOverrides;
}

/** A quality setting is invalid: `setting` is its path in the settings (e.g. `datasets.orders.remove`). */
export class RulesConfigError extends ConfigurationError {
  constructor(
    readonly setting: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`quality setting "${setting}": got ${JSON.stringify(value)}; allowed: ${allowed}`);
    this.name = 'RulesConfigError';
  }
}

const MAX_ORDER_TOTAL_CENTS = 100_000_000n; // 1,000,000.00
/** The largest NUMERIC(12,2), in cents: 9,999,999,999.99. */
const MAX_MONEY_CENTS = 999_999_999_999n;

export const RECONCILE_TOTAL: ReconcileTotalCheck = {
  name: 'total_amount matches lines',
  kind: 'reconcile_total',
  total: 'total_amount',
  key: 'order_id',
  lineProduct: ['quantity', 'unit_price'],
  tolerance_cents: 1,
  severity: 'report',
};

/** The curated table each dataset's valid rows end up in. */
const CURATED: Record<Dataset, BatchTable> = {
  orders: 'fact_order',
  order_items: 'fact_order_item',
  products: 'dim_product',
};

/**
 * One max_bytes check per string column of the dataset's curated table that the dataset carries itself
 * (derived from core/tables.ts, so a length changed there is checked here).
 */
function lengthChecks(dataset: Dataset, staged: readonly string[]): Check[] {
  return TABLES[CURATED[dataset]].columns
    .filter((c) => c.kind === 'string' && c.length !== undefined && staged.includes(c.name))
    .map((c) => ({
      name: `${c.name} fits VARCHAR(${c.length})`,
      kind: 'max_bytes',
      column: c.name,
      maxBytes: c.length!,
      severity: 'quarantine',
    }));
}

/** The table of what each dataset's source delivers itself (order lines get `category` from the catalog). */
const SOURCE: Record<Dataset, keyof typeof TABLES> = {
  orders: 'raw_orders',
  order_items: 'raw_order_items',
  products: 'products',
};

/**
 * The columns a dataset's rows must have: those its source delivers that its curated table declares NOT
 * NULL (derived from core/tables.ts, so a column made NOT NULL there is checked here).
 */
export function requiredColumns(dataset: Dataset): ColumnDef[] {
  const delivered = TABLES[SOURCE[dataset]].columns.map((c) => c.name);
  return TABLES[CURATED[dataset]].columns.filter((c) => !c.nullable && delivered.includes(c.name));
}

/** One `<column> not null` check per required column, in the curated table's column order. */
function notNullChecks(dataset: Dataset): Check[] {
  return requiredColumns(dataset).map((c) => ({
    name: `${c.name} not null`,
    kind: 'not_null',
    column: c.field,
    severity: 'quarantine',
  }));
}

const columnNames = (table: keyof typeof TABLES): string[] => TABLES[table].columns.map((c) => c.name);

/** The rules of docs/quality-rules.md, every dataset with `threshold` (lib/config.ts `quality.threshold`). */
export function defaultRules(threshold: number): Record<Dataset, DatasetRules> {
  assertThreshold(threshold, 'threshold');
  const q = 'quarantine' as const;
  const rules: Record<Dataset, DatasetRules> = {
    orders: {
      dataset: 'orders',
      quarantineThreshold: threshold,
      checks: [
        ...notNullChecks('orders'),
        {
          name: 'order_id unique',
          kind: 'unique',
          columns: ['order_id'],
          keepLatestBy: 'updated_at',
          severity: q,
        },
        {
          name: 'total_amount in range',
          kind: 'range',
          column: 'total_amount_cents',
          min: 0n,
          max: MAX_ORDER_TOTAL_CENTS,
          severity: q,
        },
        {
          name: 'currency accepted',
          kind: 'accepted_values',
          column: 'currency',
          values: CURRENCIES,
          severity: q,
        },
        {
          name: 'status accepted',
          kind: 'accepted_values',
          column: 'status',
          values: ORDER_STATUSES,
          severity: q,
        },
        { name: 'order_ts within date', kind: 'within_date', column: 'order_ts', severity: q },
        RECONCILE_TOTAL,
      ],
    },
    order_items: {
      dataset: 'order_items',
      quarantineThreshold: threshold,
      checks: [
        ...notNullChecks('order_items'),
        { name: 'quantity positive', kind: 'range', column: 'quantity', min: 1, severity: q },
        { name: 'unit_price not negative', kind: 'range', column: 'unit_price_cents', min: 0n, severity: q },
        {
          name: 'product_id in catalog',
          kind: 'references',
          column: 'product_id',
          target: 'catalog',
          severity: q,
        },
        { name: 'parent order valid', kind: 'references', column: 'order_id', target: 'orders', severity: q },
        { name: 'order line unique', kind: 'unique', columns: ['order_id', 'line_no'], severity: q },
        // fact_order_item.line_amount is NUMERIC(12,2): a larger quantity × unit_price would fail the write.
        {
          name: 'line_amount fits NUMERIC(12,2)',
          kind: 'product_max',
          columns: ['quantity', 'unit_price_cents'],
          as: 'line_amount',
          max: MAX_MONEY_CENTS,
          severity: q,
        },
      ],
    },
    products: {
      dataset: 'products',
      quarantineThreshold: threshold,
      checks: [
        ...notNullChecks('products'),
        {
          name: 'product_id unique',
          kind: 'unique',
          columns: ['product_id'],
          keepLatestBy: 'updated_at',
          severity: q,
        },
        { name: 'price not negative', kind: 'range', column: 'price_cents', min: 0n, severity: q },
        // dim_product.price is NUMERIC(12,2): a larger price would fail the whole write, not just its row.
        {
          name: 'price fits NUMERIC(12,2)',
          kind: 'range',
          column: 'price_cents',
          max: MAX_MONEY_CENTS,
          severity: q,
        },
        {
          name: 'currency accepted',
          kind: 'accepted_values',
          column: 'currency',
          values: CURRENCIES,
          severity: q,
        },
      ],
    },
  };
  rules.orders.checks.push(...lengthChecks('orders', columnNames('staged_orders')));
  rules.order_items.checks.push(...lengthChecks('order_items', columnNames('staged_order_items')));
  rules.products.checks.push(...lengthChecks('products', columnNames('products')));
  return rules;
}

/**
 * The rules of a source dataset a declaration adds, derived from it and the curated tables built from it
 * (docs/adding-a-source-table.md): `<column> not null` for every column they declare NOT NULL, the key
 * unique (the latest `versionColumn` wins) and every string fitting its VARCHAR, all quarantining. A dataset needing other rules is one of the product's, with hand-written ones above.
 */
export function derivedRules(
  source: SourceDataset,
  declarations: Declarations,
  threshold: number,
): DatasetRules {
  const staged = declarations.tables[stagedTableOf(source.dataset)];
  const delivered = new Map(staged.columns.map((c) => [c.name, c]));
  const curated = Object.values(declarations.curated)
    .filter((c) => c.from === source.dataset)
    .map((c) => declarations.tables[c.name]);
  const checks = new Map<string, Check>();
  const add = (check: Check) => checks.set(check.name, check);
  for (const table of curated) {
    const own = table.columns.filter((c) => delivered.has(c.name));
    for (const c of own.filter((c) => !c.nullable)) {
      add({ name: `${c.name} not null`, kind: 'not_null', column: c.field, severity: 'quarantine' });
    }
    if (table.primaryKey.every((k) => delivered.has(k))) {
      add({
        name: `${table.primaryKey.join(', ')} unique`,
        kind: 'unique',
        columns: table.primaryKey,
        ...(table.versionColumn !== undefined && { keepLatestBy: table.versionColumn }),
        severity: 'quarantine',
      });
    }
    for (const c of own.filter((c) => c.kind === 'string' && c.length !== undefined)) {
      add({
        name: `${c.name} fits VARCHAR(${c.length})`,
        kind: 'max_bytes',
        column: c.name,
        maxBytes: c.length!,
        severity: 'quarantine',
      });
    }
  }
  return { dataset: source.dataset, quarantineThreshold: threshold, checks: [...checks.values()] };
}

const SHARE = 'a share from 0 to 1 (0.05 for 5 %)';

function assertThreshold(value: unknown, setting: string): asserts value is number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1)) {
    throw new RulesConfigError(setting, value, SHARE);
  }
}

const isObject = (value: unknown): value is object =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The defaults with the environment's `config` merged on, then `trial` (a shadow run's changed rules,
 * QUALITY_RULES): the one place quality settings are validated, for lib/config.ts and the functions alike.
 */
export function resolveRules(config: RulesConfig, trial?: DatasetOverrides): Record<Dataset, DatasetRules> {
  const rules = defaultRules(config.threshold);
  applyOverrides(rules, config.datasets, 'datasets');
  applyOverrides(rules, trial, HANDLER_ENV.qualityRules);
  return rules;
}

function applyOverrides(
  rules: Record<Dataset, DatasetRules>,
  overrides: DatasetOverrides | undefined,
  where: string,
): void {
  if (overrides === undefined) return;
  if (!isObject(overrides)) throw new RulesConfigError(where, overrides, 'an object of per-dataset settings');
  for (const [dataset, override] of Object.entries(overrides) as [string, DatasetRulesOverride | null][]) {
    const at = `${where}.${dataset}`;
    if (!(DATASETS as readonly string[]).includes(dataset)) {
      throw new RulesConfigError(where, dataset, `a dataset: ${DATASETS.join(', ')}`);
    }
    if (!isObject(override)) throw new RulesConfigError(at, override, 'an object');
    for (const list of ['remove', 'checks'] as const) {
      if (override[list] !== undefined && !Array.isArray(override[list])) {
        throw new RulesConfigError(`${at}.${list}`, override[list], 'an array');
      }
    }
    if (override.severity !== undefined && !isObject(override.severity)) {
      throw new RulesConfigError(`${at}.severity`, override.severity, 'an object of check name to severity');
    }
    const target = rules[dataset as Dataset];
    const known = (name: string, setting: string) => {
      if (!target.checks.some((c) => c.name === name)) {
        throw new RulesConfigError(
          setting,
          name,
          `a check of ${dataset}: ${target.checks.map((c) => `'${c.name}'`).join(', ')}`,
        );
      }
    };
    if (override.quarantineThreshold !== undefined) {
      assertThreshold(override.quarantineThreshold, `${at}.quarantineThreshold`);
      target.quarantineThreshold = override.quarantineThreshold;
    }
    for (const name of override.remove ?? []) {
      known(name, `${at}.remove`);
      target.checks = target.checks.filter((c) => c.name !== name);
    }
    for (const check of override.checks ?? []) {
      const index = target.checks.findIndex((c) => c.name === check.name);
      if (index >= 0) target.checks[index] = check;
      else target.checks.push(check);
    }
    for (const [name, severity] of Object.entries(override.severity ?? {})) {
      known(name, `${at}.severity`);
      const index = target.checks.findIndex((c) => c.name === name);
      const check = target.checks[index];
      // reconcile_total compares two datasets after their rows are settled: it can only report.
      const allowed: readonly Severity[] =
        check.kind === 'reconcile_total' ? ['report'] : ['quarantine', 'report'];
      if (!allowed.includes(severity)) {
        throw new RulesConfigError(
          `${at}.severity.${name}`,
          severity,
          allowed.map((s) => `'${s}'`).join(' or '),
        );
      }
      target.checks[index] = { ...check, severity } as Check;
    }
  }
}

/**
 * A rule on one field of a JSON message (the clickstream's events, docs/quality-rules.md): a message's
 * reason is the first rule it breaks, `<field>: expected <what the rule says>, got <the value>`.
 */
export type MessageCheck = { field: string } &
  /** A string of at most `maxBytes` UTF-8 bytes; `required`: present and not blank, else null passes. */
  (
    | { kind: 'text'; maxBytes: number; required?: boolean }
    | { kind: 'one_of'; values: readonly string[] }
    /** An ISO-8601 date-time or whole epoch milliseconds, from `min` (inclusive) to `max` (exclusive) UTC. */
    | { kind: 'instant'; min: string; max: string }
    /** A decimal (a JSON number or the same as text) with at most these digits and at least `min`; null passes. */
    | { kind: 'decimal'; integerDigits: number; fractionDigits: number; min?: number }
  );
