import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import {
  evaluateFreshness,
  freshnessRulesProblem,
  limitMinutes,
  parseFreshnessRules,
  readFreshnessObservations,
  readFreshnessRecords,
  sqlInstant,
  writeFreshnessRecords,
  type FreshnessObservation,
  type FreshnessRules,
} from '../../../lambdas/core/freshness';
import { LAKE } from '../../../lambdas/contract';
import { openDatabase } from '../../../local/embedded-postgres';
import { SqlWarehouse } from '../../../local/warehouse';
import { readFileSync } from 'node:fs';
import { seedFreshnessFixture } from '../../support/freshness-fixture';

const RULES: FreshnessRules = {
  orders: { loadedBy: '06:00' },
  order_items: { loadedBy: '06:00' },
  products: { loadedBy: '08:30' },
  events: { maxAgeMinutes: 15 },
};

const at = (iso: string) => new Date(iso);
const byDataset = (results: ReturnType<typeof evaluateFreshness>) =>
  Object.fromEntries(results.map((r) => [r.dataset, r]));

describe('evaluateFreshness on fixed clocks', () => {
  it('a date loaded before its deadline is met until the next date falls due', () => {
    // Prepare: orders of 2024-05-01 loaded at 03:20 on 05-02.
    const seen: FreshnessObservation[] = [
      { dataset: 'orders', businessDate: '2024-05-01', loadedAt: at('2024-05-02T03:20:00Z') },
    ];

    // Act
    const [orders] = evaluateFreshness({ orders: RULES.orders }, seen, at('2024-05-03T05:59:00Z'));

    // Assess: 05-02 is not due before 05-03 06:00, so 05-01 is fresh enough.
    assert.equal(orders.status, 'met');
    assert.equal(orders.ageMinutes, 2 * 24 * 60 - 1 - 18 * 60);
    assert.equal(orders.limitMinutes, 30 * 60);
    assert.equal(orders.dueBusinessDate, '2024-05-01');
    assert.equal(orders.asOf, '2024-05-02T00:00:00.000Z');
    assert.match(orders.reason, /2024-05-02 is due by 2024-05-03 06:00 UTC/);
  });

  it('a date missing after its deadline is breached, and the reason names the missed date', () => {
    // Prepare
    const seen: FreshnessObservation[] = [
      { dataset: 'orders', businessDate: '2024-05-01', loadedAt: at('2024-05-02T03:20:00Z') },
    ];

    // Act
    const [orders] = evaluateFreshness({ orders: RULES.orders }, seen, at('2024-05-03T06:01:00Z'));

    // Assess
    assert.equal(orders.status, 'breached');
    assert.equal(orders.ageMinutes, 30 * 60 + 1);
    assert.equal(orders.dueBusinessDate, '2024-05-02');
    assert.match(
      orders.reason,
      /orders for 2024-05-02 was due by 2024-05-03 06:00 UTC; newest loaded is 2024-05-01/,
    );
  });

  it('is on time up to and including the deadline, breached a millisecond after', () => {
    // Prepare
    const seen: FreshnessObservation[] = [{ dataset: 'products', businessDate: '2024-05-01' }];
    const deadline = at('2024-05-03T08:30:00.000Z');

    // Act
    const [onTheDot] = evaluateFreshness(RULES, seen, deadline);
    const [justAfter] = evaluateFreshness(RULES, seen, new Date(deadline.getTime() + 1));

    // Assess
    assert.equal(onTheDot.dataset, 'products');
    assert.equal(onTheDot.status, 'met');
    assert.equal(onTheDot.ageMinutes, onTheDot.limitMinutes);
    assert.equal(onTheDot.dueBusinessDate, '2024-05-01');
    assert.equal(justAfter.status, 'breached');
    assert.equal(justAfter.dueBusinessDate, '2024-05-02');
  });

  it('events: met within maxAgeMinutes, the limit itself included, breached beyond', () => {
    // Prepare
    const seen: FreshnessObservation[] = [{ dataset: 'events', newestEventAt: at('2024-05-04T09:41:00Z') }];
    const rules = { events: RULES.events };

    // Act
    const [fresh] = evaluateFreshness(rules, seen, at('2024-05-04T09:50:00Z'));
    const [limit] = evaluateFreshness(rules, seen, at('2024-05-04T09:56:00Z'));
    const [stale] = evaluateFreshness(rules, seen, at('2024-05-04T09:56:00.001Z'));

    // Assess
    assert.deepEqual([fresh.status, fresh.ageMinutes], ['met', 9]);
    assert.deepEqual([limit.status, limit.ageMinutes], ['met', 15]);
    assert.equal(stale.status, 'breached');
    assert.match(stale.reason, /more than the 15 min allowed/);
  });

  it('no data is its own status with no age, for both kinds of rule', () => {
    // Act
    const results = byDataset(evaluateFreshness(RULES, [], at('2024-05-03T07:00:00Z')));

    // Assess
    assert.deepEqual(Object.keys(results), ['products', 'orders', 'order_items', 'events']);
    for (const result of Object.values(results)) {
      assert.equal(result.status, 'no-data');
      assert.equal(result.ageMinutes, null);
    }
    assert.match(
      results.orders.reason,
      /no successful load of orders recorded; 2024-05-02 was due by 2024-05-03 06:00 UTC/,
    );
    assert.equal(results.products.dueBusinessDate, '2024-05-01');
  });

  it('evaluates only datasets with a rule, and data newer than now has age 0', () => {
    // Prepare: a backfill of today's date covers up to tomorrow 00:00.
    const seen: FreshnessObservation[] = [
      { dataset: 'orders', businessDate: '2024-05-03' },
      { dataset: 'order_items', businessDate: '2024-05-03' },
    ];

    // Act
    const results = evaluateFreshness({ orders: RULES.orders }, seen, at('2024-05-03T12:00:00Z'));

    // Assess
    assert.deepEqual(
      results.map((r) => [r.dataset, r.status, r.ageMinutes]),
      [['orders', 'met', 0]],
    );
  });
});

describe('freshness rules', () => {
  it('the limit of loadedBy is a day plus the deadline', () => {
    assert.equal(limitMinutes({ loadedBy: '00:00' }), 1440);
    assert.equal(limitMinutes({ loadedBy: '23:59' }), 1440 + 23 * 60 + 59);
    assert.equal(limitMinutes({ maxAgeMinutes: 15 }), 15);
  });

  it('names the field and what is allowed for each kind of bad rule', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ orders: { loadedBy: '6:00' } }, 'orders.loadedBy', /HH:MM/],
      [{ orders: { loadedBy: '24:00' } }, 'orders.loadedBy', /00:00 to 23:59/],
      [{ events: { maxAgeMinutes: 0 } }, 'events.maxAgeMinutes', /integer from 1/],
      [{ events: { maxAgeMinutes: 15, loadedBy: '06:00' } }, 'events', /or \{ maxAgeMinutes/],
      [
        { invoices: { maxAgeMinutes: 15 } },
        'invoices',
        /rules only for products, orders, order_items, events/,
      ],
      [[], '', /an object/],
    ];
    for (const [rules, field, allowed] of cases) {
      const problem = freshnessRulesProblem(rules);
      assert.equal(problem?.field, field, JSON.stringify(rules));
      assert.match(problem.allowed, allowed);
    }
    assert.equal(freshnessRulesProblem(RULES), undefined);
  });

  it('parses the JSON the stack passes, and an error names the variable', () => {
    assert.deepEqual(parseFreshnessRules(JSON.stringify(RULES), 'SLA_RULES'), RULES);
    assert.throws(() => parseFreshnessRules('{', 'SLA_RULES'), {
      name: 'ConfigurationError',
      message: /SLA_RULES must be JSON/,
    });
    assert.throws(() => parseFreshnessRules('{"orders":{"loadedBy":"6"}}', 'SLA_RULES'), {
      message: /SLA_RULES: rule orders.loadedBy is "6"; allowed: a UTC time of day/,
    });
  });

  it('reads warehouse timestamps as UTC, with microseconds cut to milliseconds', () => {
    assert.equal(sqlInstant('2024-05-03 05:40:00.123456')?.toISOString(), '2024-05-03T05:40:00.123Z');
    assert.equal(sqlInstant('2024-05-03 05:40:00')?.toISOString(), '2024-05-03T05:40:00.000Z');
    assert.equal(sqlInstant(null), undefined);
    assert.equal(sqlInstant('yesterday'), undefined);
  });
});

describe('readFreshnessObservations on the local warehouse (embedded PostgreSQL)', () => {
  let warehouse: SqlWarehouse;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), new MemoryLakeStore('memory-lake'));
  });
  after(() => warehouse.close());

  it('before the first run there is no data, not an error', async () => {
    // Act
    const seen = await readFreshnessObservations(warehouse, RULES);

    // Assess
    assert.deepEqual(seen, []);
  });

  it('finds the newest successfully loaded date per dataset and the newest event minute', async () => {
    // Prepare
    await seedFreshnessFixture(warehouse);

    // Act
    const seen = await readFreshnessObservations(warehouse, RULES);
    const results = byDataset(evaluateFreshness(RULES, seen, at('2024-05-04T05:50:00Z')));

    // Assess: the FAILED run of 05-03 does not count; the retry's finish time is the load time.
    const of = (d: string) => seen.find((o) => o.dataset === d);
    assert.equal(of('orders')?.businessDate, '2024-05-02');
    assert.equal(of('orders')?.loadedAt?.toISOString(), '2024-05-03T05:40:00.123Z');
    assert.equal(of('order_items')?.loadedAt?.toISOString(), '2024-05-03T03:25:00.000Z');
    assert.equal(of('products')?.businessDate, '2024-05-01');
    assert.equal(of('events')?.newestEventAt?.toISOString(), '2024-05-04T05:41:00.000Z');
    assert.equal(of('events')?.loadedAt?.toISOString(), '2024-05-04T05:45:30.000Z');
    assert.deepEqual(
      Object.values(results).map((r) => [r.dataset, r.status]),
      [
        ['products', 'breached'],
        ['orders', 'met'],
        ['order_items', 'met'],
        ['events', 'met'],
      ],
    );
  });

  it('asks only for datasets that have a rule', async () => {
    // Act
    const seen = await readFreshnessObservations(warehouse, { events: RULES.events });

    // Assess
    assert.deepEqual(
      seen.map((o) => o.dataset),
      ['events'],
    );
  });
});

describe('freshness records in the lake (what the SLA check reads instead of the warehouse)', () => {
  let warehouse: SqlWarehouse;

  before(async () => {
    warehouse = new SqlWarehouse(await openDatabase({}), new MemoryLakeStore('memory-lake'));
    await seedFreshnessFixture(warehouse);
  });
  after(() => warehouse.close());

  /** test/fixtures/freshness/runs.json as record-run (succeeded runs, in finish order) and load-events write it. */
  async function recordFixtureLoads(lake: MemoryLakeStore): Promise<void> {
    const fixture = JSON.parse(
      readFileSync(new URL('../../fixtures/freshness/runs.json', import.meta.url), 'utf8'),
    ) as { runs: { businessDate: string; status: string; finishedAt: string; datasets: string[] }[] };
    const succeeded = fixture.runs
      .filter((r) => r.status === 'SUCCEEDED')
      .sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
    for (const run of succeeded) {
      await writeFreshnessRecords(
        lake,
        run.datasets.map((d) => ({
          dataset: d as FreshnessObservation['dataset'],
          businessDate: run.businessDate,
          loadedAt: at(run.finishedAt),
        })),
      );
    }
    await writeFreshnessRecords(lake, [
      { dataset: 'events', newestEventAt: at('2024-05-04T05:41:00Z'), loadedAt: at('2024-05-04T05:45:30Z') },
    ]);
  }

  /** By dataset, as JSON: an absent field and an undefined one are the same observation. */
  const sorted = (o: FreshnessObservation[]): unknown =>
    JSON.parse(JSON.stringify([...o].sort((a, b) => a.dataset.localeCompare(b.dataset))));

  it('the records of the fixture’s loads say what the warehouse says about them', async () => {
    // Prepare
    const lake = new MemoryLakeStore('memory-lake');
    await recordFixtureLoads(lake);

    // Act
    const fromLake = await readFreshnessRecords(lake, RULES);
    const fromWarehouse = await readFreshnessObservations(warehouse, RULES);

    // Assess
    assert.deepEqual(sorted(fromLake), sorted(fromWarehouse));
    assert.deepEqual(
      [...lake.objects.keys()].sort(),
      ['events', 'order_items', 'orders', 'products'].map((d) => `${LAKE.freshness}${d}.json`),
    );
  });

  it('a record only moves forward: a backfill of an older date and a batch of late events leave it', async () => {
    // Prepare
    const lake = new MemoryLakeStore('memory-lake');
    await recordFixtureLoads(lake);
    const before = await readFreshnessRecords(lake, RULES);

    // Act
    await writeFreshnessRecords(lake, [
      { dataset: 'orders', businessDate: '2024-04-20', loadedAt: at('2024-05-04T07:00:00Z') },
      { dataset: 'events', newestEventAt: at('2024-05-04T04:00:00Z'), loadedAt: at('2024-05-04T07:00:00Z') },
    ]);

    // Assess
    assert.deepEqual(sorted(await readFreshnessRecords(lake, RULES)), sorted(before));
  });

  it('only datasets with a rule are read', async () => {
    // Prepare
    const lake = new MemoryLakeStore('memory-lake');
    await recordFixtureLoads(lake);

    // Act
    const seen = await readFreshnessRecords(lake, { events: RULES.events });

    // Assess
    assert.deepEqual(
      seen.map((o) => o.dataset),
      ['events'],
    );
  });

  it('a record under another dataset’s key is refused, naming the object', async () => {
    // Prepare
    const lake = new MemoryLakeStore('memory-lake');
    await lake.put(`${LAKE.freshness}orders.json`, JSON.stringify({ dataset: 'products' }));

    // Act
    const read = readFreshnessRecords(lake, RULES);

    // Assess
    await assert.rejects(read, {
      name: 'InputFormatError',
      message: /freshness record ops\/freshness\/orders\.json names dataset "products"/,
    });
  });
});
