/**
 * docs/adding-a-column.md, step by step, on the local runtime (embedded PostgreSQL and s3rver): a source
 * column declared on orders and on fact_order (test/fixtures/datasets/orders-with-channel.ts) reaches the
 * warehouse with no other change, conformed (trimmed, '' as NULL) like every source string.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateDay } from '../../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX } from '../../lambdas/core/layout';
import { seedSourceDatabase } from '../../local/embedded-postgres';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { ORDERS_WITH_CHANNEL } from '../fixtures/datasets/orders-with-channel';

const DATE = '2026-03-01';
const CHANNELS = ['web', ' app ', '', null] as const;

describe('adding a source column (docs/adding-a-column.md)', () => {
  let runtime: LocalRuntime;
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-column-'));
    runtime = await startLocalRuntime({ dataDir, declarations: ORDERS_WITH_CHANNEL });
  });

  after(async () => {
    await runtime.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('a column appended to orders and fact_order is filled in the warehouse by the next run', async () => {
    // Prepare
    const day = generateDay({ date: DATE, orders: 40, seed: 7 });
    const orders = day.orders.map((o, i) => ({ ...o, channel: CHANNELS[i % CHANNELS.length] }));
    await seedSourceDatabase(runtime.source, { orders, items: day.items }, DATE, ORDERS_WITH_CHANNEL.sources);
    await runtime.lake.put(
      `${CATALOG_LANDING_PREFIX}products.jsonl`,
      day.catalog.map((p) => JSON.stringify(p)).join('\n'),
    );

    // Act
    const outcome = await runtime.runBatch({ businessDate: DATE });

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    const columns = await runtime.warehouse.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns
       WHERE table_schema = 'analytics' AND table_name = 'fact_order' ORDER BY ordinal_position`,
    );
    assert.equal(columns.at(-1)?.column_name, 'channel', 'appended after the existing columns');
    const loaded = await runtime.warehouse.query<{ order_id: string; channel: string | null }>(
      `SELECT order_id, channel FROM analytics.fact_order WHERE order_date = '${DATE}' ORDER BY order_id`,
    );
    const expected = orders
      .map((o) => ({ order_id: String(o.order_id).trim(), channel: o.channel?.trim() || null }))
      .sort((a, b) => (a.order_id < b.order_id ? -1 : 1));
    assert.deepEqual(loaded, expected);
  });
});
