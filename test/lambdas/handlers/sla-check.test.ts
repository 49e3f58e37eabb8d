import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { RecordedMetrics } from '../../../lambdas/adapters/observability';
import { HANDLER_ENV, LAKE } from '../../../lambdas/contract';
import { step } from '../../../lambdas/handlers/sla-check';

const RULES = {
  products: { loadedBy: '06:00' },
  orders: { loadedBy: '06:00' },
  order_items: { loadedBy: '06:00' },
  events: { maxAgeMinutes: 15 },
};

const RECORDS = new URL('../../fixtures/freshness/records/', import.meta.url);

/** The freshness records record-run and load-events leave in the lake (test/fixtures/freshness/records). */
async function lakeWithRecords(): Promise<MemoryLakeStore> {
  const lake = new MemoryLakeStore('memory-lake');
  for (const file of readdirSync(RECORDS)) {
    await lake.put(`${LAKE.freshness}${file}`, readFileSync(new URL(file, RECORDS), 'utf8'));
  }
  return lake;
}

// stepAdapters gives no warehouse: any warehouse call fails the check, so these tests also show it makes none.
const check = (lake: MemoryLakeStore, metrics: RecordedMetrics) =>
  step.make(
    stepAdapters({ lake, metrics }),
    step.settings({ [HANDLER_ENV.slaRules]: JSON.stringify(RULES) }),
  );

describe('sla-check step', () => {
  it('before any load it publishes no age, so every freshness alarm sees a breach', async () => {
    // Prepare
    const metrics = new RecordedMetrics();

    // Act
    const { results } = await check(
      new MemoryLakeStore('memory-lake'),
      metrics,
    )({
      time: '2024-05-04T05:50:00Z',
    });

    // Assess
    assert.deepEqual(
      results.map((r) => r.status),
      ['no-data', 'no-data', 'no-data', 'no-data'],
    );
    assert.deepEqual(metrics.datapoints, []);
  });

  it('publishes each dataset’s age from the lake’s freshness records at the scheduled time, without the warehouse', async () => {
    // Prepare
    const lake = await lakeWithRecords();
    const metrics = new RecordedMetrics();

    // Act
    const { checkedAt, results } = await check(lake, metrics)({ time: '2024-05-04T05:50:00Z' });

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
      results.map((r) => [r.dataset, r.status, r.limitMinutes, r.loadedAt]),
      [
        ['products', 'breached', 30 * 60, '2024-05-02T03:20:00.000Z'],
        ['orders', 'met', 30 * 60, '2024-05-03T05:40:00.123Z'],
        ['order_items', 'met', 30 * 60, '2024-05-03T03:25:00.000Z'],
        ['events', 'met', 15, '2024-05-04T05:45:30.000Z'],
      ],
    );
  });

  it('a dataset without a record has no data; the others are measured', async () => {
    // Prepare
    const lake = await lakeWithRecords();
    await lake.deletePrefix(`${LAKE.freshness}events.json`);
    const metrics = new RecordedMetrics();

    // Act
    const { results } = await check(lake, metrics)({ time: '2024-05-04T05:50:00Z' });

    // Assess
    assert.deepEqual(
      results.map((r) => [r.dataset, r.status]),
      [
        ['products', 'breached'],
        ['orders', 'met'],
        ['order_items', 'met'],
        ['events', 'no-data'],
      ],
    );
    assert.deepEqual(
      metrics.datapoints.map((d) => d.dimensions?.dataset),
      ['products', 'orders', 'order_items'],
    );
  });

  it('a record that is not JSON fails the check, naming the object and what to do', async () => {
    // Prepare
    const lake = await lakeWithRecords();
    await lake.put(`${LAKE.freshness}orders.json`, '{"dataset":"orders",');

    // Act
    const run = check(lake, new RecordedMetrics())({ time: '2024-05-04T05:50:00Z' });

    // Assess
    await assert.rejects(run, {
      name: 'InputFormatError',
      message:
        /freshness record ops\/freshness\/orders\.json is not JSON; delete it, the next load writes it again/,
    });
  });

  it('refuses to start without valid rules, naming the variable', () => {
    assert.throws(() => step.settings({}), { name: 'ConfigurationError', message: /SLA_RULES is not set/ });
    assert.throws(() => step.settings({ [HANDLER_ENV.slaRules]: '{"events":{"maxAgeMinutes":-1}}' }), {
      name: 'ConfigurationError',
      message: /SLA_RULES: rule events.maxAgeMinutes is -1/,
    });
  });
});
