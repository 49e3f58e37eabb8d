import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { localLogger } from '../../../lambdas/adapters/observability';
import type { Adapters } from '../../../lambdas/adapters/ports';
import type { PipelineState } from '../../../lambdas/core/contracts';
import { parseCents } from '../../../lambdas/core/dates';
import { Engine, fileList } from '../../../lambdas/core/engine/engine';
import { generateDay } from '../../../lambdas/core/generator';
import { layout } from '../../../lambdas/core/layout';
import { DECLARATIONS } from '../../../lambdas/core/tables';
import { makeExtractOrders, type ExtractOrdersSettings } from '../../../lambdas/handlers/extract-orders';
import {
  openDatabase,
  PostgresSourceDatabase,
  seedSourceDatabase,
  type Database,
} from '../../../local/embedded-postgres';

const DATE = '2024-03-10';

const state = (businessDate: string) => ({ run: { runId: 'r1', businessDate } }) as unknown as PipelineState;

describe('extract-orders', () => {
  let dir: string;
  let source: Database;
  let lake: MemoryLakeStore;
  let settings: ExtractOrdersSettings;
  let adapters: Adapters;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'extract-orders-'));
    source = await openDatabase({});
    lake = new MemoryLakeStore();
    settings = {
      chunkRows: 40,
      engine: { memoryLimitMb: 256, tempDirectory: join(dir, 'spill'), threads: 1 },
      workDirectory: join(dir, 'work'),
      declarations: DECLARATIONS,
    };
    adapters = stepAdapters({
      lake,
      source: new PostgresSourceDatabase(source),
      logger: localLogger({ POWERTOOLS_LOG_LEVEL: 'ERROR' }),
    });
  });

  after(async () => {
    await source.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The raw/ parts of a dataset, read back with DuckDB. */
  async function readParts<T>(keys: string[], select: string): Promise<T[]> {
    const paths = keys.map((_, i) => join(dir, `read-${i}.parquet`));
    await Promise.all(keys.map((key, i) => lake.download(key, paths[i])));
    const engine = await Engine.open(settings.engine);
    try {
      return await engine.rows<T>(`${select} FROM read_parquet(${fileList(paths)})`);
    } finally {
      engine.close();
    }
  }

  it('writes one raw part per cursor chunk with every source row, nulls and cents intact', async () => {
    // Prepare
    const day = generateDay({
      date: DATE,
      orders: 100,
      seed: 3,
      dirty: { nullOrderId: 2, missingCustomer: 2 },
    });
    await seedSourceDatabase(source, day, DATE);
    const total = day.orders.reduce(
      (s, o) =>
        s + (o.total_amount === null || o.total_amount === undefined ? 0n : parseCents(o.total_amount)),
      0n,
    );

    // Act
    const [orders, items] = await makeExtractOrders(adapters, settings)(state(DATE));

    // Assess
    assert.equal(orders.rows, day.orders.length);
    assert.equal(items.rows, day.items.length);
    assert.equal(orders.keys.length, Math.ceil(day.orders.length / settings.chunkRows));
    assert.deepEqual(
      orders.keys,
      (await lake.list(layout.rawPrefix('orders', DATE))).map((o) => o.key).sort(),
    );
    const [read] = await readParts<{ n: number; cents: string; nullIds: number; nullCustomers: number }>(
      orders.keys,
      `SELECT count(*)::INTEGER AS n, CAST(sum(total_amount) * 100 AS BIGINT)::VARCHAR AS cents,
        count(*) FILTER (WHERE order_id IS NULL)::INTEGER AS nullIds,
        count(*) FILTER (WHERE customer_id IS NULL)::INTEGER AS nullCustomers`,
    );
    assert.deepEqual(read, {
      n: day.orders.length,
      cents: total.toString(),
      nullIds: day.orders.filter((o) => o.order_id === null).length,
      nullCustomers: day.orders.filter((o) => o.customer_id === null).length,
    });
    const [lines] = await readParts<{ n: number }>(items.keys, 'SELECT count(*)::INTEGER AS n');
    assert.equal(lines.n, day.items.length);
  });

  it('a rerun with fewer rows leaves no part of the earlier run behind', async () => {
    // Prepare
    const smaller = generateDay({ date: DATE, orders: 30, seed: 4 });
    await seedSourceDatabase(source, smaller, DATE);

    // Act
    const [orders] = await makeExtractOrders(adapters, settings)(state(DATE));

    // Assess
    assert.equal(orders.keys.length, 1);
    assert.deepEqual(
      (await lake.list(layout.rawPrefix('orders', DATE))).map((o) => o.key),
      orders.keys,
    );
  });

  it('an empty day still writes one empty part per dataset', async () => {
    // Act
    const [orders, items] = await makeExtractOrders(adapters, settings)(state('2020-01-01'));

    // Assess
    assert.deepEqual([orders.rows, orders.keys.length, items.rows, items.keys.length], [0, 1, 0, 1]);
    const [read] = await readParts<{ n: number }>(orders.keys, 'SELECT count(*)::INTEGER AS n');
    assert.equal(read.n, 0);
  });
});
