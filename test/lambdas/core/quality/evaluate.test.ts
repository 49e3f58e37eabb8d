import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conformItem, conformOrder } from '../../../../lambdas/core/conform';
import type { OrderCandidate, OrderItemCandidate } from '../../../../lambdas/core/model';
import { generateDay } from '../../../../lambdas/core/generator';
import {
  evaluateDataset,
  ordersWithAllItemsQuarantined,
  reconcileOrderTotals,
  serializeRow,
} from '../../../../lambdas/core/quality/evaluate';
import { defaultRules } from '../../../../lambdas/core/quality/rules';
import type { DatasetRules } from '../../../../lambdas/core/quality/rules';

const DATE = '2024-01-15';
const now = new Date('2024-01-16T02:00:00Z');

const order = (overrides: Partial<OrderCandidate> = {}): OrderCandidate => ({
  order_id: 'O-1',
  customer_id: 'C-1',
  order_ts: new Date('2024-01-15T10:00:00Z'),
  status: 'paid',
  currency: 'USD',
  total_amount_cents: 1000n,
  updated_at: new Date('2024-01-15T10:05:00Z'),
  ...overrides,
});

const item = (overrides: Partial<OrderItemCandidate> = {}): OrderItemCandidate => ({
  order_id: 'O-1',
  line_no: 1,
  product_id: 'P-1',
  quantity: 2,
  unit_price_cents: 500n,
  category: 'home',
  ...overrides,
});

const context = { businessDate: DATE, catalog: new Set(['P-1']), now };

describe('evaluateDataset on orders', () => {
  it('quarantines a row with every reason it fails and keeps good rows untouched', () => {
    // Prepare
    const good = order({ order_id: 'O-1' });
    const bad = order({
      order_id: 'O-2',
      customer_id: null,
      currency: 'XYZ',
      status: null,
      total_amount_cents: -500n,
      order_ts: new Date('2024-01-14T23:59:59Z'),
    });

    // Act
    const result = evaluateDataset([good, bad], defaultRules().orders, context);

    // Assess
    assert.deepEqual(result.valid, [good]);
    assert.equal(result.valid[0], good);
    assert.deepEqual(result.quarantined, [
      {
        row: bad,
        reasons: [
          'customer_id is null',
          'total_amount -5.00 is below the minimum 0.00',
          "currency 'XYZ' not in accepted values [USD,EUR,GBP,CAD,AUD,JPY]",
          'status is null (expected one of [placed,paid,shipped,delivered,cancelled,returned])',
          'order_ts 2024-01-14T23:59:59.000Z is outside the business date 2024-01-15',
        ],
      },
    ]);
    assert.deepEqual(result.quality, {
      dataset: 'orders',
      rowsIn: 2,
      rowsValid: 1,
      rowsQuarantined: 1,
      quarantineShare: 0.5,
      threshold: 0.05,
      passed: false,
    });
  });

  it('reports one result per row check with its failure count and a serialized example', () => {
    // Prepare
    const rows = [
      order({ order_id: null }),
      order({ order_id: null, order_ts: null }),
      order({ order_id: 'O-3' }),
    ];

    // Act
    const { checks } = evaluateDataset(rows, defaultRules().orders, context);

    // Assess
    const byName = new Map(checks.map((c) => [c.check, c]));
    assert.equal(checks.length, defaultRules().orders.checks.length - 1); // reconcile_total is separate
    assert.deepEqual(byName.get('order_id not null'), {
      dataset: 'orders',
      check: 'order_id not null',
      column: 'order_id',
      passed: false,
      failedRows: 2,
      example:
        '{"order_id":null,"customer_id":"C-1","order_ts":"2024-01-15T10:00:00.000Z","status":"paid",' +
        '"currency":"USD","total_amount_cents":1000,"updated_at":"2024-01-15T10:05:00.000Z"}',
      severity: 'quarantine',
    });
    assert.equal(byName.get('order_ts within date')?.failedRows, 1);
    assert.equal(byName.get('currency accepted')?.passed, true);
    assert.equal(byName.get('currency accepted')?.example, undefined);
  });

  it('keeps the duplicate with the latest updated_at wherever it sits and quarantines the other copies', () => {
    // Prepare
    const older = order({ order_id: 'O-1', updated_at: new Date('2024-01-15T10:00:00Z') });
    const latest = order({ order_id: 'O-1', updated_at: new Date('2024-01-15T12:00:00Z') });
    const oldest = order({ order_id: 'O-1', updated_at: new Date('2024-01-15T09:00:00Z') });
    const single = order({ order_id: 'O-2' });

    // Act
    const result = evaluateDataset([older, latest, single, oldest], defaultRules().orders, context);

    // Assess
    assert.deepEqual(result.valid, [latest, single]);
    assert.deepEqual(
      result.quarantined.map((q) => [q.row, q.reasons]),
      [
        [older, ["duplicate order_id 'O-1': the copy with the latest updated_at is kept"]],
        [oldest, ["duplicate order_id 'O-1': the copy with the latest updated_at is kept"]],
      ],
    );
  });

  it('keeps the first copy on an updated_at tie and leaves null ids to not_null', () => {
    // Prepare
    const first = order({ order_id: 'O-1' });
    const second = order({ order_id: 'O-1' });
    const nulls = [order({ order_id: null }), order({ order_id: null })];

    // Act
    const result = evaluateDataset([first, second, ...nulls], defaultRules().orders, context);

    // Assess
    assert.deepEqual(result.valid, [first]);
    assert.equal(result.quarantined[0].row, second);
    assert.deepEqual(
      result.quarantined.slice(1).map((q) => q.reasons),
      [['order_id is null'], ['order_id is null']],
    );
  });

  it('counts report-severity failures without quarantining', () => {
    // Prepare
    const rules: DatasetRules = {
      dataset: 'orders',
      quarantineThreshold: 0.05,
      checks: [
        { name: 'small orders', kind: 'range', column: 'total_amount_cents', max: 500n, severity: 'report' },
      ],
    };

    // Act
    const result = evaluateDataset([order(), order({ total_amount_cents: 100n })], rules, context);

    // Assess
    assert.equal(result.valid.length, 2);
    assert.equal(result.checks[0].failedRows, 1);
    assert.equal(result.checks[0].passed, false);
    assert.equal(result.quality.passed, true);
  });

  it('fails dataset-level checks without quarantining rows', () => {
    // Prepare
    const rules: DatasetRules = {
      dataset: 'orders',
      quarantineThreshold: 0.05,
      checks: [
        { name: 'enough orders', kind: 'row_count', min: 3, severity: 'quarantine' },
        {
          name: 'fresh orders',
          kind: 'freshness',
          column: 'updated_at',
          maxAgeHours: 6,
          severity: 'quarantine',
        },
        { name: 'not too many', kind: 'row_count', max: 10, severity: 'quarantine' },
      ],
    };

    // Act
    const result = evaluateDataset([order(), order({ order_id: 'O-2' })], rules, context);

    // Assess
    assert.equal(result.valid.length, 2);
    assert.deepEqual(
      result.checks.map((c) => [c.check, c.passed, c.failedRows, c.example]),
      [
        ['enough orders', false, 0, '{"rows":2,"min":3}'],
        [
          'fresh orders',
          false,
          0,
          '{"column":"updated_at","latest":"2024-01-15T10:05:00.000Z","ageHours":15.9,"maxAgeHours":6}',
        ],
        ['not too many', true, 0, undefined],
      ],
    );
    assert.equal(result.quality.quarantineShare, 0);
    assert.equal(result.quality.passed, false);
  });

  it('handles an empty dataset', () => {
    // Act
    const result = evaluateDataset([], defaultRules().orders, context);

    // Assess
    assert.deepEqual(result.quality, {
      dataset: 'orders',
      rowsIn: 0,
      rowsValid: 0,
      rowsQuarantined: 0,
      quarantineShare: 0,
      threshold: 0.05,
      passed: true,
    });
  });
});

describe('evaluateDataset on order items', () => {
  it('quarantines bad quantities, prices, unknown products, invalid parents and duplicate lines', () => {
    // Prepare
    const good = item();
    const rows = [
      good,
      item({ line_no: 2, quantity: 0 }),
      item({ line_no: 3, unit_price_cents: -1n }),
      item({ line_no: 4, product_id: 'P-404', category: null }),
      item({ order_id: 'O-2' }),
      item({ line_no: 1 }),
    ];

    // Act
    const result = evaluateDataset(rows, defaultRules().order_items, {
      ...context,
      validOrderIds: new Set(['O-1']),
    });

    // Assess
    assert.deepEqual(result.valid, [good]);
    assert.deepEqual(
      result.quarantined.map((q) => q.reasons),
      [
        ['quantity 0 is below the minimum 1'],
        ['unit_price -0.01 is below the minimum 0.00'],
        ["product_id 'P-404' not found in the catalog"],
        ["order_id 'O-2' is not a valid order"],
        ["duplicate (order_id, line_no) ('O-1', 1): the first copy is kept"],
      ],
    );
  });

  it('needs the valid order ids to check parents', () => {
    // Act
    const attempt = () => evaluateDataset([item()], defaultRules().order_items, context);

    // Assess
    assert.throws(attempt, /check 'parent order valid' needs the valid order ids/);
  });
});

describe('reconcileOrderTotals', () => {
  it('reports totals further than 0.01 from the sum of all their lines, orders without lines against 0', () => {
    // Prepare
    const orders = [
      order({ order_id: 'O-1', total_amount_cents: 1001n }),
      order({ order_id: 'O-2', total_amount_cents: 1002n }),
      order({ order_id: 'O-3', total_amount_cents: 0n }),
      order({ order_id: 'O-4', total_amount_cents: 700n }),
    ];
    const items = [
      item({ order_id: 'O-1', line_no: 1, quantity: 2, unit_price_cents: 250n }),
      item({ order_id: 'O-1', line_no: 2, quantity: 1, unit_price_cents: 500n }),
      item({ order_id: 'O-2', quantity: 2, unit_price_cents: 500n }),
      item({ order_id: 'O-4', quantity: null }),
    ];

    // Act
    const result = reconcileOrderTotals(orders, items);

    // Assess
    assert.equal(result.failedRows, 2);
    assert.equal(result.passed, false);
    assert.equal(result.severity, 'report');
    assert.equal(JSON.parse(String(result.example)).order_id, 'O-2');
  });

  it('honours a configured tolerance', () => {
    // Prepare
    const orders = [order({ total_amount_cents: 1005n })];
    const check = { name: 'loose', kind: 'reconcile_total', tolerance_cents: 5, severity: 'report' } as const;

    // Act
    const result = reconcileOrderTotals(orders, [item()], check);

    // Assess
    assert.equal(result.check, 'loose');
    assert.equal(result.passed, true);
  });
});

describe('ordersWithAllItemsQuarantined', () => {
  it('reports valid orders whose every line was quarantined', () => {
    // Prepare
    const validOrders = [order({ order_id: 'O-1' }), order({ order_id: 'O-2' }), order({ order_id: 'O-3' })];
    const items = [
      item({ order_id: 'O-1', line_no: 1 }),
      item({ order_id: 'O-1', line_no: 2, quantity: 0 }),
      item({ order_id: 'O-2', line_no: 1, quantity: 0 }),
      item({ order_id: 'O-2', line_no: 2, quantity: 0 }),
      item({ order_id: 'O-9', line_no: 1 }),
    ];

    // Act
    const result = ordersWithAllItemsQuarantined(validOrders, items, [items[0]]);

    // Assess
    assert.deepEqual(result, {
      dataset: 'orders',
      check: 'order has a valid line',
      column: 'order_id',
      passed: false,
      failedRows: 1,
      example: '{"order_id":"O-2","quarantinedLines":2}',
      severity: 'report',
    });
  });
});

describe('serializeRow', () => {
  it('writes Dates as ISO-8601 and bigints as numbers, or strings beyond 2^53', () => {
    // Prepare
    const row = { at: new Date('2024-01-15T00:00:00Z'), cents: 1234n, huge: 2n ** 60n, none: null };

    // Act
    const json = serializeRow(row);

    // Assess
    assert.equal(
      json,
      '{"at":"2024-01-15T00:00:00.000Z","cents":1234,"huge":"1152921504606846976","none":null}',
    );
  });
});

describe('planted dirty rows end to end', () => {
  it('land in quarantine with the right reasons and counts, good rows unaffected', () => {
    // Prepare
    const dirty = {
      nullOrderId: 3,
      duplicateOrderId: 4,
      negativeTotal: 2,
      badCurrency: 5,
      badStatus: 1,
      outsideDate: 2,
      missingCustomer: 2,
      zeroQuantity: 3,
      unknownProduct: 2,
      totalMismatch: 2,
    };
    const day = generateDay({ date: DATE, orders: 500, seed: 11, dirty });
    const clean = generateDay({ date: DATE, orders: 500, seed: 11 });
    const catalog = new Map(day.catalog.map((p) => [String(p.product_id), { category: String(p.category) }]));
    const orders = day.orders.map((o) => conformOrder(o).row);
    const items = day.items.map((i) => conformItem(i, catalog).row);
    const rules = defaultRules();
    const ctx = { businessDate: DATE, catalog: new Set(catalog.keys()), now };

    // Act
    const orderResult = evaluateDataset(orders, rules.orders, ctx);
    const validOrderIds = new Set(orderResult.valid.map((o) => String(o.order_id)));
    const itemResult = evaluateDataset(items, rules.order_items, { ...ctx, validOrderIds });
    const reconcile = reconcileOrderTotals(orderResult.valid, items);
    const orphans = ordersWithAllItemsQuarantined(orderResult.valid, items, itemResult.valid);

    // Assess
    const badParents =
      dirty.negativeTotal + dirty.badCurrency + dirty.badStatus + dirty.outsideDate + dirty.missingCustomer;
    assert.equal(
      orderResult.quality.rowsQuarantined,
      dirty.nullOrderId + dirty.duplicateOrderId + badParents,
    );
    assert.equal(itemResult.quality.rowsQuarantined, dirty.zeroQuantity + dirty.unknownProduct + badParents);
    assert.equal(reconcile.failedRows, dirty.totalMismatch);
    assert.equal(orphans.failedRows, dirty.zeroQuantity + dirty.unknownProduct);

    const failures = new Map(orderResult.checks.map((c) => [c.check, c.failedRows]));
    assert.deepEqual(Object.fromEntries(failures), {
      'order_id not null': dirty.nullOrderId,
      'order_id unique': dirty.duplicateOrderId,
      'customer_id not null': dirty.missingCustomer,
      'total_amount in range': dirty.negativeTotal,
      'currency accepted': dirty.badCurrency,
      'status accepted': dirty.badStatus,
      'order_ts within date': dirty.outsideDate,
    });
    const itemFailures = Object.fromEntries(itemResult.checks.map((c) => [c.check, c.failedRows]));
    assert.equal(itemFailures['quantity positive'], dirty.zeroQuantity);
    assert.equal(itemFailures['product_id in catalog'], dirty.unknownProduct);
    assert.equal(itemFailures['parent order valid'], badParents);
    const reasons = orderResult.quarantined.flatMap((q) => q.reasons).join('\n');
    assert.match(reasons, /currency 'XYZ' not in accepted values \[USD,EUR,GBP,CAD,AUD,JPY\]/);
    assert.match(reasons, /status 'lost' not in accepted values/);

    // Every good source order is valid, conformed (cosmetic noise undone) and in its original order.
    const cleanIds = clean.orders.map((o) => o.order_id);
    const validIds = orderResult.valid.map((o) => o.order_id);
    assert.deepEqual(validIds.slice(0, cleanIds.length), cleanIds);
    assert.deepEqual(
      orderResult.valid.slice(0, cleanIds.length),
      clean.orders.map((o) => conformOrder(o).row),
    );
    assert.equal(
      orderResult.quality.rowsValid,
      500 + dirty.zeroQuantity + dirty.unknownProduct + dirty.totalMismatch,
    );
  });
});
