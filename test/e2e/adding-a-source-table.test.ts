/**
 * docs/adding-a-source-table.md, step by step, on a deployed warehouse of the local runtime (embedded
 * PostgreSQL and s3rver): the current release loads a date; the next release declares a source table
 * `customers` with the dimension it feeds (test/fixtures/datasets/customers.ts), and the dimension is created
 * and reaches analytics.dim_customer with no handler code: extracted by its changed-that-day filter, conformed,
 * checked by the rules derived from the declaration (a null key is quarantined, the latest version of a key
 * wins) and upserted by its version column.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateDay } from '../../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX, layout } from '../../lambdas/core/layout';
import { SOURCES, type Declarations } from '../../lambdas/core/tables';
import { seedSourceDatabase } from '../../local/embedded-postgres';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { WITH_CUSTOMERS } from '../fixtures/datasets/customers';

const PREVIOUS = '2026-02-28';
const DATE = '2026-03-01';
const at = (time: string) => `${DATE}T${time}Z`;

/** customer_id, name, segment, updated_at, as the shop database holds them. */
type Customer = [string | null, string | null, string | null, string];

// 40 clean customers changed that day, so the two quarantined rows stay under the 5 % threshold.
const CLEAN: Customer[] = Array.from({ length: 40 }, (_, i) => [
  `C-${String(i + 10).padStart(3, '0')}`,
  `Customer ${i + 10}`,
  i % 2 === 0 ? 'business' : 'retail',
  at('08:00:00'),
]);
const CUSTOMERS: Customer[] = [
  [' C-001 ', '  Ada  ', ' Business ', at('09:00:00')],
  ['C-002', 'Bob (old)', 'retail', at('10:00:00')],
  ['C-002', 'Bob', 'RETAIL', at('11:00:00')], // the later version of C-002 wins; the older is quarantined
  [null, 'Nobody', 'retail', at('12:00:00')], // no key: quarantined
  ['C-003', 'Yesterday', 'retail', '2026-02-28T12:00:00Z'], // changed the day before: not extracted
  ...CLEAN,
];

describe('adding a source table (docs/adding-a-source-table.md)', () => {
  let runtime: LocalRuntime | undefined;
  let dataDir: string;

  /** The runtime of a release: starting it runs EnsureWarehouse, as the deploy's custom resource does. */
  async function release(declarations?: Declarations): Promise<LocalRuntime> {
    await runtime?.close();
    runtime = await startLocalRuntime({ dataDir, declarations });
    return runtime;
  }

  /** Seeds the product's source rows of the date (the declarations' source DDL first) and its catalog. */
  async function seedDay(local: LocalRuntime, date: string, sources: Declarations['sources']) {
    const day = generateDay({ date, orders: 40, seed: 11 });
    await seedSourceDatabase(local.source, day, date, sources);
    await local.lake.put(
      `${CATALOG_LANDING_PREFIX}products.jsonl`,
      day.catalog.map((p) => JSON.stringify(p)).join('\n'),
    );
  }

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-source-table-'));
  });

  after(async () => {
    await runtime?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** The runtime of the release the test started last. */
  const live = (): LocalRuntime => {
    assert.ok(runtime, 'a release was started');
    return runtime;
  };

  const dimCustomer = () =>
    live().warehouse.query<{
      customer_id: string;
      name: string | null;
      segment: string;
      is_business: boolean;
    }>(`SELECT customer_id, name, segment, is_business FROM analytics.dim_customer ORDER BY customer_id`);

  test('the next release creates the declared dimension in the deployed warehouse and the next date fills it, its null key quarantined', async () => {
    // Prepare: the warehouse the current release made, one date loaded.
    const current = await release();
    await seedDay(current, PREVIOUS, SOURCES);
    assert.equal((await current.runBatch({ businessDate: PREVIOUS })).status, 'SUCCEEDED');

    // Act: the release with steps 1-3 of the walkthrough starts (the deploy runs EnsureWarehouse); the seed
    // creates the shop's customers table from its declaration, the shop fills it, and the date runs.
    const runtime = await release(WITH_CUSTOMERS);
    await seedDay(runtime, DATE, WITH_CUSTOMERS.sources);
    await runtime.source.insertRows('customers', CUSTOMERS);
    const outcome = await runtime.runBatch({ businessDate: DATE });

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    assert.deepEqual(
      await runtime.warehouse.query(
        `SELECT change FROM ops.schema_change WHERE table_name = 'analytics.dim_customer'`,
      ),
      [{ change: 'created table' }],
    );
    const expected = [
      { customer_id: 'C-001', name: 'Ada', segment: 'business', is_business: true },
      { customer_id: 'C-002', name: 'Bob', segment: 'retail', is_business: false },
      ...CLEAN.map(([id, name, segment]) => ({
        customer_id: id,
        name,
        segment,
        is_business: segment === 'business',
      })),
    ];
    assert.deepEqual(await dimCustomer(), expected);
    const quarantined = (await runtime.lake.getText(layout.quarantine('customers', DATE)))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { reasons: string[]; row: { customer_id: string | null } });
    assert.deepEqual(
      quarantined.map((q) => [q.row.customer_id, q.reasons]),
      [
        [null, ['customer_id is null']],
        ['C-002', ["duplicate customer_id 'C-002': the copy with the latest updated_at is kept"]],
      ],
    );
    const loads = await runtime.warehouse.query<{ dataset: string; rows_loaded: string | number }>(
      `SELECT dataset, rows_loaded FROM ops.dataset_load WHERE business_date = '${DATE}' ORDER BY dataset`,
    );
    assert.deepEqual(
      loads.find((l) => l.dataset === 'customers'),
      { dataset: 'customers', rows_loaded: expected.length },
    );
    const [facts] = await runtime.warehouse.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM analytics.fact_order WHERE order_date = '${DATE}'`,
    );
    assert.equal(
      Number(facts.n),
      Number(loads.find((l) => l.dataset === 'orders')?.rows_loaded),
      'the product tables load as before',
    );
  });

  test('a rerun of the date upserts the later version of a changed customer', async () => {
    // Prepare
    await live().source.query(
      `UPDATE customers SET name = ' Ada Lovelace ', updated_at = '${at('18:00:00')}' WHERE customer_id = ' C-001 '`,
    );

    // Act
    const outcome = await live().runBatch({ businessDate: DATE });

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    const rows = await dimCustomer();
    assert.equal(rows.length, CLEAN.length + 2, 'one row per key');
    assert.deepEqual(rows[0], {
      customer_id: 'C-001',
      name: 'Ada Lovelace',
      segment: 'business',
      is_business: true,
    });
  });

  test('a day split into buckets gives the same dimension and quarantine: the first bucket writes them', async () => {
    // Prepare
    const before = await dimCustomer();
    const runSplit = await live().batchWith((config) => {
      config.volume = { bucketThresholdLines: 1, bucketCount: 3, maxConcurrency: 2 };
    });

    // Act
    const outcome = await runSplit({ businessDate: DATE });

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    assert.ok(outcome.state?.volume?.count === 3, 'the day was split');
    assert.deepEqual(await dimCustomer(), before);
    const quarantined = (await live().lake.getText(layout.quarantine('customers', DATE))).trim().split('\n');
    assert.equal(quarantined.length, 2, 'each quarantined customer once, not once per bucket');
    const [load] = await live().warehouse.query<{ rows_in: string | number; rows_loaded: string | number }>(
      `SELECT rows_in, rows_loaded FROM ops.dataset_load d JOIN ops.pipeline_run r USING (run_id)
       WHERE d.dataset = 'customers' AND r.business_date = '${DATE}' ORDER BY r.started_at DESC LIMIT 1`,
    );
    assert.deepEqual([Number(load.rows_in), Number(load.rows_loaded)], [CUSTOMERS.length - 1, before.length]);
  });
});
