import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from '../../../../lambdas/core/errors';
import { DATASETS } from '../../../../lambdas/core/model';
import {
  defaultRules,
  requiredColumns,
  resolveRules,
  RulesConfigError,
  type RulesConfig,
} from '../../../../lambdas/core/quality/rules';

describe('defaultRules', () => {
  it('declares the default rules of docs/quality-rules.md per dataset with one threshold', () => {
    // Prepare
    const threshold = 0.1;

    // Act
    const rules = defaultRules(threshold);

    // Assess
    assert.deepEqual(
      rules.orders.checks.map((c) => [c.kind, c.severity]),
      [
        ['not_null', 'quarantine'],
        ['not_null', 'quarantine'],
        ['not_null', 'quarantine'],
        ['not_null', 'quarantine'],
        ['not_null', 'quarantine'],
        ['not_null', 'quarantine'],
        ['unique', 'quarantine'],
        ['range', 'quarantine'],
        ['accepted_values', 'quarantine'],
        ['accepted_values', 'quarantine'],
        ['within_date', 'quarantine'],
        ['reconcile_total', 'report'],
        ['max_bytes', 'quarantine'],
        ['max_bytes', 'quarantine'],
        ['max_bytes', 'quarantine'],
        ['max_bytes', 'quarantine'],
      ],
    );
    assert.deepEqual(rules.orders.checks[7], {
      name: 'total_amount in range',
      kind: 'range',
      column: 'total_amount_cents',
      min: 0n,
      max: 100_000_000n,
      severity: 'quarantine',
    });
    assert.ok(rules.order_items.checks.some((c) => c.kind === 'references' && c.target === 'orders'));
    assert.ok(rules.order_items.checks.some((c) => c.kind === 'references' && c.target === 'catalog'));
    assert.deepEqual(
      Object.values(rules).map((r) => r.quarantineThreshold),
      [0.1, 0.1, 0.1],
    );
  });

  it('derives a not-null check from every required column: delivered by the source, NOT NULL when curated', () => {
    // Act
    const rules = defaultRules(0.05);

    // Assess
    const notNull = (dataset: 'orders' | 'order_items' | 'products') =>
      rules[dataset].checks.flatMap((c) => (c.kind === 'not_null' ? [[c.name, c.column]] : []));
    assert.deepEqual(notNull('orders'), [
      ['order_id not null', 'order_id'],
      ['customer_id not null', 'customer_id'],
      ['order_ts not null', 'order_ts'],
      ['status not null', 'status'],
      ['currency not null', 'currency'],
      ['total_amount not null', 'total_amount_cents'],
    ]);
    assert.deepEqual(notNull('order_items'), [
      ['order_id not null', 'order_id'],
      ['line_no not null', 'line_no'],
      ['product_id not null', 'product_id'],
      ['quantity not null', 'quantity'],
      ['unit_price not null', 'unit_price_cents'],
    ]);
    assert.deepEqual(notNull('products'), [
      ['product_id not null', 'product_id'],
      ['name not null', 'name'],
      ['category not null', 'category'],
      ['price not null', 'price_cents'],
      ['currency not null', 'currency'],
      ['updated_at not null', 'updated_at'],
    ]);
    for (const dataset of DATASETS) {
      assert.deepEqual(
        requiredColumns(dataset).map((c) => `${c.name} not null`),
        notNull(dataset).map(([name]) => name),
        dataset,
      );
    }
  });

  it('derives a byte-length check from every string column of the curated tables', () => {
    // Act
    const rules = defaultRules(0.05);

    // Assess
    const lengths = (dataset: 'orders' | 'order_items' | 'products') =>
      rules[dataset].checks.flatMap((c) => (c.kind === 'max_bytes' ? [[c.column, c.maxBytes]] : []));
    assert.deepEqual(lengths('orders'), [
      ['order_id', 128],
      ['customer_id', 128],
      ['status', 32],
      ['currency', 3],
    ]);
    assert.deepEqual(lengths('order_items'), [
      ['order_id', 128],
      ['product_id', 128],
      ['category', 256],
    ]);
    assert.deepEqual(lengths('products'), [
      ['product_id', 128],
      ['name', 1024],
      ['category', 256],
      ['currency', 3],
    ]);
    assert.equal(rules.products.checks.at(-1)?.name, 'currency fits VARCHAR(3)');
  });

  it('rejects a threshold outside 0..1', () => {
    // Act / Assess
    assert.throws(() => defaultRules(5), ConfigurationError);
    assert.throws(() => defaultRules(Number.NaN), /"threshold": got null; allowed: a share from 0 to 1/);
  });
});

describe('resolveRules', () => {
  it('returns the defaults with the threshold when nothing is overridden', () => {
    // Act
    const rules = resolveRules({ threshold: 0.05 });

    // Assess
    assert.deepEqual(rules, defaultRules(0.05));
  });

  it('merges a global threshold, a dataset threshold, replaced, removed and added checks', () => {
    // Prepare
    const config = {
      threshold: 0.2,
      datasets: {
        orders: {
          quarantineThreshold: 0.01,
          remove: ['customer_id not null'],
          checks: [
            {
              name: 'total_amount in range',
              kind: 'range' as const,
              column: 'total_amount_cents',
              min: 0,
              max: 5000,
              severity: 'report' as const,
            },
            { name: 'some orders', kind: 'row_count' as const, min: 1, severity: 'quarantine' as const },
          ],
        },
      },
    };

    // Act
    const rules = resolveRules(config);

    // Assess
    assert.equal(rules.orders.quarantineThreshold, 0.01);
    assert.equal(rules.order_items.quarantineThreshold, 0.2);
    const names = rules.orders.checks.map((c) => c.name);
    assert.ok(!names.includes('customer_id not null'));
    assert.equal(names.at(-1), 'some orders');
    assert.equal(rules.orders.checks.find((c) => c.name === 'total_amount in range')?.severity, 'report');
    assert.equal(names.length, defaultRules(0.2).orders.checks.length);
  });

  it('names the setting, the value and what is allowed in its error', () => {
    // Act / Assess
    const fails = (config: RulesConfig, setting: string, allowed: RegExp) =>
      assert.throws(
        () => resolveRules(config),
        (error: unknown) =>
          error instanceof RulesConfigError && error.setting === setting && allowed.test(error.allowed),
      );
    fails(
      { threshold: 0.05, datasets: { events: {} } as never },
      'datasets',
      /products, orders, order_items/,
    );
    fails(
      { threshold: 0.05, datasets: { orders: { remove: ['nope'] } } },
      'datasets.orders.remove',
      /'order_id unique'/,
    );
    fails(
      { threshold: 0.05, datasets: { products: { quarantineThreshold: -1 } } },
      'datasets.products.quarantineThreshold',
      /share/,
    );
    fails({ threshold: 2 }, 'threshold', /share from 0 to 1/);
    fails(
      { threshold: 0.05, datasets: { orders: { severity: { 'no such check': 'report' } } } },
      'datasets.orders.severity',
      /'currency accepted'/,
    );
    fails(
      { threshold: 0.05, datasets: { orders: { severity: { 'currency accepted': 'ignore' as never } } } },
      'datasets.orders.severity.currency accepted',
      /'quarantine' or 'report'/,
    );
    fails(
      { threshold: 0.05, datasets: { orders: { severity: { 'total_amount matches lines': 'quarantine' } } } },
      'datasets.orders.severity.total_amount matches lines',
      /^'report'$/,
    );
  });

  it("changes a check's severity by name, and applies a trial over the settings", () => {
    // Prepare
    const config: RulesConfig = {
      threshold: 0.05,
      datasets: { orders: { severity: { 'status accepted': 'report' } } },
    };

    // Act
    const rules = resolveRules(config, { orders: { quarantineThreshold: 0.5 } });

    // Assess
    const status = rules.orders.checks.find((c) => c.name === 'status accepted');
    assert.equal(status?.severity, 'report');
    assert.equal(rules.orders.quarantineThreshold, 0.5);
    assert.equal(rules.order_items.quarantineThreshold, 0.05);
  });
});
