/**
 * The bad-input corpus (test/fixtures/bad-input/cases.json): every case is a file and its expected outcome,
 * run through the steps of its feed. A data case must balance: rows in = loaded + quarantined (+ the
 * superseded or duplicate copies the contract collapses); a one-row fault never fails a run below the
 * threshold, since each case's bad rows sit among good ones.
 */
import assert from 'node:assert/strict';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { MemoryLakeStore } from '../../bench/support/memory-lake';
import { stepAdapters } from '../../bench/support/step-adapters';
import { findObject } from '../../lambdas/adapters/lake-tables';
import { HANDLER_ENV } from '../../lambdas/contract';
import type { Env, LakeStore, Step } from '../../lambdas/adapters/ports';
import type {
  CatalogRefreshResult,
  PipelineState,
  RunContext,
  ValidationResult,
} from '../../lambdas/core/contracts';
import { sqlLiteral, Engine } from '../../lambdas/core/engine/engine';
import { generateDay } from '../../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY, layout } from '../../lambdas/core/layout';
import type { Dataset } from '../../lambdas/core/model';
import { step as extractOrders } from '../../lambdas/handlers/extract-orders';
import { step as extractProducts } from '../../lambdas/handlers/extract-products';
import { step as streamToParquet } from '../../lambdas/handlers/stream-to-parquet';
import { step as transform } from '../../lambdas/handlers/transform';
import { step as validate } from '../../lambdas/handlers/validate';
import { ConfigError, loadConfig, qualitySettingsOf, validateConfig } from '../../lib/config';
import {
  openDatabase,
  PostgresSourceDatabase,
  seedSourceDatabase,
  type Database,
} from '../../local/embedded-postgres';
import { asLambdaEvent, buildMskEvent } from '../../local/kafka/msk-event';
import { startTestLake } from '../support/s3';

interface Quarantined {
  /** Text every counted entry's reasons contain. */
  reason: string;
  count: number;
}
interface Tally {
  rowsIn: number;
  loaded: number;
  quarantined: Quarantined[];
}
interface Case {
  id: string;
  feed: string;
  input?: string;
  generator?: string;
  date?: string;
  covers: string[];
  expect: Record<string, unknown>;
}

const FIXTURES = new URL('../fixtures/bad-input/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('cases.json', FIXTURES), 'utf8')) as { cases: Case[] };
const fixture = (input: string) => readFileSync(new URL(input, FIXTURES));
const ofFeed = (feed: string) => cases.filter((c) => c.feed === feed && c.input !== undefined);
const quiet = { POWERTOOLS_LOG_LEVEL: 'ERROR' };
/** The quality settings of a dev deploy. */
const QUALITY = { [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig('dev')) };

/** Asserts each expected reason's count among the entries' reasons, and that no entry is left unexplained. */
function assertQuarantine(entries: string[][], expected: Quarantined[], label: string) {
  for (const { reason, count } of expected) {
    const found = entries.filter((reasons) => reasons.some((r) => r.includes(reason))).length;
    assert.equal(
      found,
      count,
      `${label}: entries with a reason containing "${reason}" in ${JSON.stringify(entries)}`,
    );
  }
  const unexplained = entries.filter(
    (reasons) => !expected.some((e) => reasons.some((r) => r.includes(e.reason))),
  );
  assert.deepEqual(unexplained, [], `${label}: quarantined without an expected reason`);
}

const jsonLines = async (lake: LakeStore, key: string): Promise<Record<string, unknown>[]> =>
  (await lake.list(key)).some((o) => o.key === key)
    ? (await lake.getText(key))
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
    : [];

describe('bad-input corpus', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cartflow-bad-input-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('every case names an existing input or a generator, and the corpus covers every kind of bad input', () => {
    const covered = new Set(cases.flatMap((c) => c.covers));
    assert.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'case ids are unique');
    for (const c of cases) if (c.input) assert.ok(fixture(c.input), c.id);
    for (const kind of ['BOM', 'non-UTF-8 bytes', 'an empty day', 'a source table missing a column']) {
      assert.ok(covered.has(kind), kind);
    }
  });

  describe('catalog files, through the catalog refresh (extract-products) over a 100-product catalog', () => {
    const DATE = '2026-03-02';
    const run = (runId: string): RunContext => ({
      runId,
      businessDate: DATE,
      startedAt: `${DATE}T10:00:00Z`,
    });
    let base: Uint8Array;
    const alerts = { publish: () => Promise.resolve() };
    const refresh = (lake: LakeStore) =>
      extractProducts.make(
        stepAdapters({ lake, alerts }),
        extractProducts.settings({ TMPDIR: dir, ...quiet, ...QUALITY }),
      );
    const arrival = (runId: string) => ({ run: run(runId), catalogArrivals: 1 }) as unknown as PipelineState;
    const baseProducts = 100;

    before(async () => {
      const lake = new MemoryLakeStore();
      await lake.put(`${CATALOG_LANDING_PREFIX}base.csv`, fixture('catalog/base.csv'));
      await refresh(lake)(arrival('base'));
      base = await lake.get(CATALOG_SNAPSHOT_KEY);
    });

    for (const c of ofFeed('catalog')) {
      it(`${c.id}: ${c.covers.join(', ')}`, async () => {
        // Prepare
        const lake = new MemoryLakeStore();
        await lake.put(CATALOG_SNAPSHOT_KEY, base);
        const name = c.input!.slice(c.input!.lastIndexOf('/') + 1);
        await lake.put(`${CATALOG_LANDING_PREFIX}${name}`, fixture(c.input!));

        // Act
        const outcome = refresh(lake)(arrival('case'));

        // Assess
        // A file over the threshold is set aside whole; its notice says why.
        const setAside = c.expect.rejected as { mentions: string[] } | undefined;
        if (setAside !== undefined) {
          const { notice } = ((await outcome) as CatalogRefreshResult).rejected!;
          for (const text of setAside.mentions) assert.ok(notice.includes(text), notice);
          assert.deepEqual(await lake.get(CATALOG_SNAPSHOT_KEY), base, 'the current catalog is unchanged');
          assert.ok(await findObject(lake, layout.catalogRejected(DATE, 'case', name)), 'set aside');
          return;
        }
        const result = (await outcome) as { item: { rows: number } };
        const expected = c.expect as unknown as Tally & {
          superseded?: number;
          names?: Record<string, string>;
        };
        const loaded = result.item.rows - baseProducts;
        const rejected = await jsonLines(lake, layout.quarantine('products', DATE));
        const unparseable = await jsonLines(lake, layout.unparseable('products', DATE));
        const entries = [...rejected, ...unparseable].map((e) => e.reasons as string[]);
        assert.equal(loaded, expected.loaded, 'products loaded');
        assertQuarantine(entries, expected.quarantined, c.id);
        assert.equal(
          expected.rowsIn,
          loaded + entries.length + (expected.superseded ?? 0),
          'rows in balance',
        );
        if (expected.names) {
          const path = join(dir, `${c.id}.parquet`);
          await lake.download(CATALOG_SNAPSHOT_KEY, path);
          const engine = await Engine.open({
            memoryLimitMb: 128,
            tempDirectory: join(dir, 'spill'),
            threads: 1,
          });
          try {
            const ids = Object.keys(expected.names).map(sqlLiteral).join(', ');
            const rows = await engine.rows<{ product_id: string; name: string }>(
              `SELECT product_id, name FROM read_parquet(${sqlLiteral(path)}) WHERE product_id IN (${ids})`,
            );
            assert.deepEqual(Object.fromEntries(rows.map((r) => [r.product_id, r.name])), expected.names);
          } finally {
            engine.close();
          }
        }
      });
    }

    it('catalog-200mb: a 200 MB catalog streams through the refresh without being held in memory', async () => {
      // Prepare: written to a temp dir at test time, then to an S3 endpoint from the file (no copy in memory).
      const spec = cases.find((c) => c.id === 'catalog-200mb')!.expect as {
        bytes: number;
        maxHeapGrowthMb: number;
      };
      const path = join(dir, 'catalog-200mb.csv');
      const products = await writeBigCatalog(path, spec.bytes);
      const s3 = await startTestLake('cartflow-bad-input');
      try {
        await s3.lake.upload(`${CATALOG_LANDING_PREFIX}catalog-200mb.csv`, path);
        global.gc?.();
        const start = process.memoryUsage().heapUsed;
        let peak = start;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);

        // Act
        const began = Date.now();
        const result = (await refresh(s3.lake)(arrival('big'))) as { item: { rows: number } };
        clearInterval(sampler);

        // Assess
        const growthMb = (peak - start) / 2 ** 20;
        console.log(
          JSON.stringify({
            case: 'catalog-200mb',
            products,
            seconds: (Date.now() - began) / 1000,
            heapGrowthMb: Math.round(growthMb),
          }),
        );
        assert.equal(result.item.rows, products);
        assert.ok(growthMb < spec.maxHeapGrowthMb, `heap grew ${growthMb.toFixed(0)} MB for a 200 MB file`);
      } finally {
        await s3.close();
      }
    });
  });

  describe('orders and order items in the source database, through extract → transform → validate', () => {
    let source: Database;
    let lake: MemoryLakeStore;
    const env: Env = { TMPDIR: '', CARTFLOW_ENGINE_MEMORY_MB: '256', ...quiet, ...QUALITY };
    const build = <S, I, O>(step: Step<S, I, O>) =>
      step.make(stepAdapters({ lake, source: new PostgresSourceDatabase(source) }), step.settings(env));

    before(async () => {
      source = await openDatabase({});
      lake = new MemoryLakeStore();
      Object.assign(env, { TMPDIR: dir });
    });
    after(() => source.close());

    for (const c of ofFeed('orders')) {
      it(`${c.id}: ${c.covers.join(', ')}`, async () => {
        // Prepare: the case's rows among a day of good ones (none on the empty day), and that day's catalog.
        const date = c.date!;
        const rows = JSON.parse(fixture(c.input!).toString('utf8')) as Parameters<
          typeof seedSourceDatabase
        >[1];
        const good = generateDay({ date, orders: c.id === 'orders-empty-day' ? 0 : 60, seed: 11 });
        await seedSourceDatabase(
          source,
          { orders: [...good.orders, ...rows.orders], items: [...good.items, ...rows.items] },
          date,
        );
        await lake.deletePrefix(CATALOG_LANDING_PREFIX);
        await lake.put(
          `${CATALOG_LANDING_PREFIX}products.jsonl`,
          good.catalog.map((p) => JSON.stringify(p)).join('\n'),
        );
        const run: RunContext = { runId: c.id, businessDate: date, startedAt: `${date}T05:00:00Z` };

        // Act
        const extract = [await build(extractOrders)({ run }), await build(extractProducts)({ run })];
        const staged = await build(transform)({ run, extract } as PipelineState);
        const validation: ValidationResult = await build(validate)({
          run,
          extract,
          transform: staged,
        } as PipelineState);

        // Assess
        const expected = c.expect as Record<Dataset, Tally> & { gate?: string; mentions?: string[] };
        assert.equal(validation.passed, expected.gate !== 'failed', validation.failureReason);
        for (const text of expected.mentions ?? []) assert.ok(validation.failureReason?.includes(text), text);
        const background = { orders: good.orders.length, order_items: good.items.length };
        for (const dataset of ['orders', 'order_items'] as const) {
          const tally = expected[dataset];
          const quality = validation.datasets.find((d) => d.dataset === dataset)!;
          const entries = (await jsonLines(lake, layout.quarantine(dataset, date))).map(
            (e) => e.reasons as string[],
          );
          assertQuarantine(entries, tally.quarantined, `${c.id} ${dataset}`);
          assert.equal(quality.rowsIn, background[dataset] + tally.rowsIn, `${dataset} rows in`);
          assert.equal(quality.rowsQuarantined, entries.length);
          const table = dataset === 'orders' ? 'fact_order' : 'fact_order_item';
          const loaded = validation.tables.find((t) => t.table === table)?.rows ?? 0;
          const expectedLoaded = validation.passed ? background[dataset] + tally.loaded : 0;
          assert.equal(loaded, expectedLoaded, `${dataset} loaded`);
          assert.equal(
            quality.rowsIn,
            quality.rowsValid + quality.rowsQuarantined,
            `${dataset} rows in balance`,
          );
          if (validation.passed) assert.equal(quality.rowsValid, loaded);
        }
      });
    }

    for (const c of ofFeed('source schema')) {
      it(`${c.id}: ${c.covers.join(', ')}`, async () => {
        // Prepare: a database of its own whose tables break the source contract.
        const broken = await openDatabase({});
        try {
          for (const statement of fixture(c.input!).toString('utf8').split(';')) {
            if (statement.replace(/--.*$/gm, '').trim() !== '') await broken.query(statement);
          }
          const adapters = stepAdapters({ lake, source: new PostgresSourceDatabase(broken) });
          const run: RunContext = {
            runId: c.id,
            businessDate: '2026-04-20',
            startedAt: '2026-04-20T05:00:00Z',
          };

          // Act
          const attempt = extractOrders.make(adapters, extractOrders.settings(env))({ run } as PipelineState);

          // Assess
          const failure = c.expect.error as { name: string; mentions: string[] };
          await assert.rejects(attempt, (error: Error) => {
            assert.equal(error.name, failure.name);
            for (const text of failure.mentions) assert.ok(error.message.includes(text), error.message);
            return true;
          });
        } finally {
          await broken.close();
        }
      });
    }
  });

  describe('clickstream messages (one per line), through stream-to-parquet', () => {
    for (const c of ofFeed('clickstream')) {
      it(`${c.id}: ${c.covers.join(', ')}`, async () => {
        // Prepare
        const bytes = fixture(c.input!);
        const messages: Buffer[] = [];
        for (
          let start = 0, end = bytes.indexOf(10);
          end >= 0;
          start = end + 1, end = bytes.indexOf(10, start)
        ) {
          messages.push(bytes.subarray(start, end));
        }
        const at = Date.parse('2026-03-01T10:00:00Z');
        const event = asLambdaEvent(
          buildMskEvent(
            messages.map((value, i) => ({
              topic: 'clickstream',
              partition: 0,
              offset: 100 + i,
              timestamp: at + i,
              key: '',
              value,
            })),
          ),
        );
        const lake = new MemoryLakeStore();

        // Act
        const result = await streamToParquet.make(
          stepAdapters({ lake }),
          streamToParquet.settings({ TMPDIR: dir, ...quiet }),
        )(event);

        // Assess
        const expected = c.expect as {
          records: number;
          written: number;
          duplicates: number;
          quarantined: Quarantined[];
        };
        assert.equal(messages.length, expected.records);
        const entries: string[][] = [];
        for (const { key } of await lake.list('quarantine/')) {
          for (const entry of await jsonLines(lake, key)) entries.push([entry.reason as string]);
        }
        assertQuarantine(entries, expected.quarantined, c.id);
        assert.equal(result.written, expected.written);
        assert.equal(result.quarantined, entries.length);
        assert.equal(
          expected.records,
          result.written + entries.length + expected.duplicates,
          'records balance',
        );
      });
    }
  });

  describe('environment configs (a patch over dev), through validateConfig', () => {
    for (const c of ofFeed('environment config')) {
      it(`${c.id}: ${c.covers.join(', ')}`, () => {
        // Prepare: {"$number": "NaN"} stands for a number JSON cannot write.
        const patch = JSON.parse(fixture(c.input!).toString('utf8'), (_, value: unknown) =>
          typeof value === 'object' && value !== null && '$number' in value
            ? Number((value as { $number: string }).$number)
            : value,
        ) as Record<string, unknown>;
        const config = merge(loadConfig('dev'), patch);

        // Act / Assess
        const failure = c.expect.error as { field: string; mentions: string[] };
        assert.throws(
          () => validateConfig(config as ReturnType<typeof loadConfig>),
          (error: unknown) => {
            assert.ok(error instanceof ConfigError, String(error));
            assert.equal(error.field, failure.field);
            for (const text of failure.mentions) assert.ok(error.message.includes(text), error.message);
            return true;
          },
        );
      });
    }
  });

  describe('handler environments, through each step’s settings', () => {
    const steps: Record<string, Step<unknown, never, unknown>> = {
      'extract-orders': extractOrders as Step<unknown, never, unknown>,
      'extract-products': extractProducts as Step<unknown, never, unknown>,
      transform: transform as Step<unknown, never, unknown>,
      validate: validate as Step<unknown, never, unknown>,
      'stream-to-parquet': streamToParquet as Step<unknown, never, unknown>,
    };
    for (const c of ofFeed('handler env')) {
      it(`${c.id}: ${c.covers.join(', ')}`, () => {
        // Prepare
        const { step, env } = JSON.parse(fixture(c.input!).toString('utf8')) as { step: string; env: Env };

        // Act / Assess
        const failure = c.expect.error as { name: string; mentions: string[] };
        assert.throws(
          () => steps[step].settings({ TMPDIR: dir, ...env }),
          (error: Error) => {
            assert.equal(error.name, failure.name);
            for (const text of failure.mentions) assert.ok(error.message.includes(text), error.message);
            return true;
          },
        );
      });
    }
  });
});

/** `patch` merged into `base`: objects member by member, anything else (null included) replaces. */
function merge(base: object, patch: Record<string, unknown>): object {
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const current = result[key];
    result[key] =
      typeof value === 'object' && value !== null && typeof current === 'object' && current !== null
        ? merge(current, value as Record<string, unknown>)
        : value;
  }
  return result;
}

/** A CSV catalog of about `bytes` bytes, written a block at a time; returns the products in it. */
async function writeBigCatalog(path: string, bytes: number): Promise<number> {
  const out = createWriteStream(path);
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => out.write(text, (e) => (e ? reject(e) : resolve())));
  await write('product_id,name,category,price,currency,updated_at\n');
  let written = 0;
  let products = 0;
  while (written < bytes) {
    let block = '';
    for (let i = 0; i < 10_000; i++) {
      products++;
      block += `P-${String(products).padStart(8, '0')},"Product ${products}, a long enough name for a realistic catalog line",home,${(products % 5000) + 1}.99,USD,2026-03-01T00:00:00Z\n`;
    }
    written += Buffer.byteLength(block);
    await write(block);
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await writeFile(`${path}.done`, '');
  return products;
}
