import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { RecordedMetrics } from '../../../lambdas/adapters/observability';
import { HANDLER_ENV } from '../../../lambdas/contract';
import { step } from '../../../lambdas/handlers/sla-check';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { seedFreshnessFixture } from '../../support/freshness-fixture';

const RULES = {
  products: { loadedBy: '06:00' },
  orders: { loadedBy: '06:00' },
  order_items: { loadedBy: '06:00' },
  events: { maxAgeMinutes: 15 },
};

describe('sla-check step', () => {
  const lake = new MemoryLakeStore('memory-lake');
  let warehouse: SqlWarehouse;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), lake);
  });
  after(() => warehouse.close());

  const check = (metrics: RecordedMetrics) =>
    step.make(
      stepAdapters({ lake, warehouse, metrics }),
      step.settings({ [HANDLER_ENV.slaRules]: JSON.stringify(RULES) }),
    );

  it('before any load it publishes no age, so every freshness alarm sees a breach', async () => {
    // Prepare
    const metrics = new RecordedMetrics();

    // Act
    const { results } = await check(metrics)({ time: '2024-05-04T05:50:00Z' });

    // Assess
    assert.deepEqual(
      results.map((r) => r.status),
      ['no-data', 'no-data', 'no-data', 'no-data'],
    );
    assert.deepEqual(metrics.datapoints, []);
  });

  it('publishes each dataset’s age at the scheduled time, per dataset dimension', async () => {
    // Prepare
    await seedFreshnessFixture(warehouse);
    const metrics = new RecordedMetrics();

    // Act
    const { checkedAt, results } = await check(metrics)({ time: '2024-05-04T05:50:00Z' });

    // Assess: products stopped at 05-01 (05-02 was due 05-03 06:00); the others are within their rules.
    assert.equal(checkedAt, '2024-05-04T05:50:00.000Z');
    assert.deepEqual(
      metrics.datapoints.map((d) => [d.name, d.dimensions?.dataset, d.value]),
      [
        ['DataAgeMinutes', 'products', 2 * 24 * 60 + 5 * 60 + 50],
        ['DataAgeMinutes', 'orders', 24 * 60 + 5 * 60 + 50],
        ['DataAgeMinutes', 'order_items', 24 * 60 + 5 * 60 + 50],
        ['DataAgeMinutes', 'events', 9],
      ],
    );
    assert.deepEqual(
      results.map((r) => [r.dataset, r.status, r.limitMinutes]),
      [
        ['products', 'breached', 30 * 60],
        ['orders', 'met', 30 * 60],
        ['order_items', 'met', 30 * 60],
        ['events', 'met', 15],
      ],
    );
  });

  it('refuses to start without valid rules, naming the variable', () => {
    assert.throws(() => step.settings({}), { name: 'ConfigurationError', message: /SLA_RULES is not set/ });
    assert.throws(() => step.settings({ [HANDLER_ENV.slaRules]: '{"events":{"maxAgeMinutes":-1}}' }), {
      name: 'ConfigurationError',
      message: /SLA_RULES: rule events.maxAgeMinutes is -1/,
    });
  });
});
