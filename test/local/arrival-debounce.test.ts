import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CATALOG_ARCHIVE_PREFIX, CATALOG_LANDING_PREFIX } from '../../lambdas/core/layout';
import { ArrivalDebounce, dropCatalogFile, type DropResult } from '../../local/arrival-debounce';
import type { CatalogArrival } from '../../local/runtime';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';

const FILES = Array.from({ length: 10 }, (_, i) => `catalog-${String(i + 1).padStart(2, '0')}.csv`);
const fixture = (name: string) => readFile(new URL(`../fixtures/catalog-arrivals/${name}`, import.meta.url));

describe('ArrivalDebounce', () => {
  /** A debounce over a fresh directory whose refreshes are recorded, not run. */
  async function recording(windowMs: number) {
    const directory = await mkdtemp(join(tmpdir(), 'cartflow-debounce-'));
    const started: CatalogArrival[][] = [];
    const debounce = new ArrivalDebounce({
      directory,
      windowMs,
      maxBatch: 5000,
      start: (arrivals) => {
        started.push(arrivals);
        return Promise.resolve({ status: 'SUCCEEDED' });
      },
    });
    return { directory, debounce, started };
  }

  test('ten arrivals within the window start one refresh with all ten', async () => {
    // Prepare
    const { directory, debounce, started } = await recording(400);

    // Act: ten drops at once, each queueing its arrival and trying to become the poller.
    const drains = await Promise.all(
      FILES.map(async (file) => {
        await debounce.arrive(`${CATALOG_LANDING_PREFIX}${file}`);
        return debounce.drain();
      }),
    );

    // Assess
    assert.equal(started.length, 1);
    assert.equal(started[0].length, 10);
    const ran = drains.filter((d) => d.length > 0);
    assert.equal(ran.length, 1);
    assert.deepEqual(
      ran[0][0].arrivals.map((a) => a.key).sort(),
      FILES.map((f) => `${CATALOG_LANDING_PREFIX}${f}`),
    );
    await rm(directory, { recursive: true });
  });

  test('an arrival after the window closed starts the next refresh', async () => {
    // Prepare
    const { directory, debounce, started } = await recording(50);
    await debounce.arrive(`${CATALOG_LANDING_PREFIX}a.csv`);
    await debounce.drain();

    // Act
    await debounce.arrive(`${CATALOG_LANDING_PREFIX}b.csv`);
    await debounce.drain();

    // Assess
    assert.deepEqual(
      started.map((arrivals) => arrivals.length),
      [1, 1],
    );
    await rm(directory, { recursive: true });
  });

  test('a poller that died leaves its lock, and the next drop takes the queue over', async () => {
    // Prepare: the lock of a process that no longer exists (pid beyond any pid_max).
    const { directory, debounce, started } = await recording(10);
    await writeFile(join(directory, 'poller.lock'), '99999999');
    await debounce.arrive(`${CATALOG_LANDING_PREFIX}a.csv`);

    // Act
    const refreshes = await debounce.drain();

    // Assess
    assert.equal(refreshes.length, 1);
    assert.equal(started.length, 1);
    await rm(directory, { recursive: true });
  });
});

describe('cartflow drop: ten catalog files within the debounce window (local runtime)', () => {
  let runtime: LocalRuntime;
  let dataDir: string;
  let executions = 0;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-drop-'));
    runtime = await startLocalRuntime({ dataDir });
  });
  after(async () => {
    await runtime?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('start ONE state machine execution, which merges all ten files', async () => {
    // Prepare: count the catalog executions the drops start.
    const refreshCatalog = runtime.refreshCatalog.bind(runtime);
    const counted = {
      lake: runtime.lake,
      dataDir: runtime.dataDir,
      refreshCatalog: (arrivals?: readonly CatalogArrival[]) => {
        executions += 1;
        return refreshCatalog(arrivals);
      },
    };
    const bodies = await Promise.all(FILES.map(fixture));

    // Act: ten drops, as ten `cartflow drop` calls within the window.
    const drops: DropResult[] = await Promise.all(
      FILES.map((file, i) =>
        dropCatalogFile(counted, `${CATALOG_LANDING_PREFIX}${file}`, bodies[i], { windowMs: 1500 }),
      ),
    );

    // Assess
    assert.equal(executions, 1);
    const refreshes = drops.flatMap((d) => d.refreshes);
    assert.equal(refreshes.length, 1);
    assert.equal(refreshes[0].status, 'SUCCEEDED', JSON.stringify(refreshes[0].error));
    assert.equal(refreshes[0].arrivals.length, 10);
    assert.deepEqual(await runtime.lake.list(CATALOG_LANDING_PREFIX), []);
    // One refresh archived every file, under its one run id.
    const archived = (await runtime.lake.list(CATALOG_ARCHIVE_PREFIX)).map((o) => o.key);
    assert.equal(archived.length, 10);
    assert.equal(new Set(archived.map((key) => key.split('/').at(-2))).size, 1);
    const products = await runtime.warehouse.query<{ product_id: string }>(
      `SELECT product_id FROM analytics.dim_product WHERE product_id LIKE 'P-81%' ORDER BY product_id`,
    );
    assert.deepEqual(
      products.map((p) => p.product_id),
      FILES.map((_, i) => `P-81${String(i + 1).padStart(2, '0')}`),
    );
  });

  test('a refresh started with nothing pending succeeds and changes nothing', async () => {
    // Prepare
    const dimProduct = await runtime.warehouse.query(
      'SELECT * FROM analytics.dim_product ORDER BY product_id',
    );

    // Act
    const outcome = await runtime.refreshCatalog();

    // Assess
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
    assert.deepEqual(
      outcome.steps.map((s) => s.state),
      ['PrepareWarehouse', 'RefreshCatalog'],
    );
    assert.deepEqual(
      await runtime.warehouse.query('SELECT * FROM analytics.dim_product ORDER BY product_id'),
      dimProduct,
    );
  });
});
