/**
 * docs/adding-a-column.md, step by step, on a deployed warehouse: shared by the embedded run (embedded
 * PostgreSQL, test/e2e/adding-a-column.test.ts) and the integration run (the PostgreSQL server of
 * SOURCE_DATABASE_URL / WAREHOUSE_DATABASE_URL, test-integration/adding-a-column-postgres.test.ts).
 * The current release loads a date; the next release declares a source column `channel` on orders and
 * fact_order (test/fixtures/datasets/orders-with-channel.ts, appends to copies of the product's
 * declarations) and loads the next date with it; the older date, which a rebuild from the lake cannot fill,
 * is then run again from the source.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CopyMismatchError } from '../../lambdas/core/errors';
import { generateDay, type GeneratedDay } from '../../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX } from '../../lambdas/core/layout';
import { SOURCES, type Declarations } from '../../lambdas/core/tables';
import { CODE_VERSION } from '../../lambdas/core/version';
import { localRebuildTarget } from '../../cli/commands/rebuild';
import { seedSourceDatabase } from '../../local/embedded-postgres';
import { rebuildFromLake } from '../../cli/rebuild';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { ORDERS_WITH_CHANNEL } from '../fixtures/datasets/orders-with-channel';

const FIRST = '2026-03-01';
const NEXT = '2026-03-02';
/** What the shop writes into the new column: the transform trims strings and reads '' as NULL. */
const CHANNELS = ['web', ' app ', '', null] as const;

type Row = { order_id: string; channel: string | null };

/** The PostgreSQL servers a scenario runs on; without one, the embedded PostgreSQL under the runtime's data dir. */
export interface ColumnScenarioDatabases {
  source?: string;
  warehouse?: string;
}

/** A day's orders with `channel` filled as the shop fills it, or without it (the current release's source). */
function day(date: string, withChannel: boolean): GeneratedDay {
  const generated = generateDay({ date, orders: 40, seed: 7 });
  if (!withChannel) return generated;
  const orders = generated.orders.map((o, i) => ({ ...o, channel: CHANNELS[i % CHANNELS.length] }));
  return { ...generated, orders };
}

/** fact_order's rows as the warehouse should hold them: `channel` conformed, or null for a date loaded without it. */
function expectedRows(generated: GeneratedDay): Row[] {
  return generated.orders
    .map((o) => {
      const channel = (o as { channel?: string | null }).channel;
      return { order_id: String(o.order_id).trim(), channel: channel?.trim() || null };
    })
    .sort((a, b) => (a.order_id < b.order_id ? -1 : 1));
}

export function addingAColumnScenarios(label: string, urls: ColumnScenarioDatabases = {}) {
  describe(`adding a source column to a deployed warehouse (docs/adding-a-column.md, ${label})`, () => {
    let dataDir: string;
    let runtime: LocalRuntime | undefined;

    /** The runtime of a release: starting it runs EnsureWarehouse, as the deploy's custom resource does. */
    async function release(declarations?: Declarations): Promise<LocalRuntime> {
      await runtime?.close();
      runtime = await startLocalRuntime({
        dataDir,
        sourceDatabaseUrl: urls.source,
        warehouseDatabaseUrl: urls.warehouse,
        declarations,
      });
      return runtime;
    }

    /** Seeds the date's source rows (the declarations' source DDL first) and catalog, runs the batch for it. */
    async function load(
      local: LocalRuntime,
      date: string,
      generated: GeneratedDay,
      declarations: Declarations['sources'],
    ) {
      await seedSourceDatabase(
        local.source,
        { orders: generated.orders, items: generated.items },
        date,
        declarations,
      );
      await local.lake.put(
        `${CATALOG_LANDING_PREFIX}products.jsonl`,
        generated.catalog.map((p) => JSON.stringify(p)).join('\n'),
      );
      const outcome = await local.runBatch({ businessDate: date });
      assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    }

    const factOrder = (local: LocalRuntime, date: string) =>
      local.warehouse.query<Row>(
        `SELECT order_id, channel FROM analytics.fact_order WHERE order_date = '${date}' ORDER BY order_id`,
      );
    const factOrderColumns = async (local: LocalRuntime) =>
      (
        await local.warehouse.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns
           WHERE table_schema = 'analytics' AND table_name = 'fact_order' ORDER BY ordinal_position`,
        )
      ).map((c) => c.column_name);
    const channelChanges = (local: LocalRuntime) =>
      local.warehouse.query<{
        table_name: string;
        column_name: string;
        change: string;
        code_version: string;
      }>(
        `SELECT table_name, column_name, change, code_version FROM ops.schema_change
         WHERE column_name = 'channel'`,
      );

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'cartflow-column-'));
    });

    after(async () => {
      await runtime?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    test('the next release adds the column, loads the next date with it filled, keeps the older rows with it null, and records the change', async () => {
      // Prepare: the warehouse the current release made, one date loaded from a source without the column.
      const current = await release();
      const first = day(FIRST, false);
      await load(current, FIRST, first, SOURCES);
      assert.ok(!(await factOrderColumns(current)).includes('channel'));

      // Act: the release with steps 1 and 2 of the walkthrough starts (step 5, what the deploy does), then
      // the shop's orders table gains the column (the seed's source DDL adds it) and the next date runs (step 6).
      const next = await release(ORDERS_WITH_CHANNEL);
      const added = await factOrderColumns(next);
      const recorded = await channelChanges(next);
      const nextDay = day(NEXT, true);
      await load(next, NEXT, nextDay, ORDERS_WITH_CHANNEL.sources);

      // Assess
      assert.equal(added.at(-1), 'channel', 'appended after the existing columns, before any run');
      assert.deepEqual(recorded, [
        {
          table_name: 'analytics.fact_order',
          column_name: 'channel',
          change: 'added VARCHAR(32)',
          code_version: CODE_VERSION,
        },
      ]);
      assert.deepEqual(await factOrder(next, NEXT), expectedRows(nextDay));
      assert.deepEqual(
        await factOrder(next, FIRST),
        expectedRows(first),
        'the older date kept, channel null',
      );
      assert.deepEqual(await channelChanges(next), recorded, 'the run changed the schema no further');
    });

    test('a rebuild from the lake refuses the older date, whose curated files lack the column, and changes nothing', async () => {
      // Prepare
      const local = runtime!;
      const target = await localRebuildTarget(local);
      const before = await factOrder(local, FIRST);

      // Act
      const rebuild = rebuildFromLake(target, [FIRST]);

      // Assess
      await assert.rejects(rebuild, (error: Error) => {
        assert.ok(error instanceof CopyMismatchError, String(error));
        assert.match(error.message, /fact_order\/dt=2026-03-01\/.*has \d+ columns, the table has \d+/);
        return true;
      });
      assert.deepEqual(await factOrder(local, FIRST), before);
    });

    test('running the older date again fills the column for it (step 7)', async () => {
      // Prepare: the shop's older orders, now with their channel.
      const local = runtime!;
      const first = day(FIRST, true);

      // Act
      await load(local, FIRST, first, ORDERS_WITH_CHANNEL.sources);

      // Assess
      const filled = await factOrder(local, FIRST);
      assert.deepEqual(filled, expectedRows(first));
      assert.ok(filled.some((r) => r.channel !== null));
    });
  });
}
