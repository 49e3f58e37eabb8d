/**
 * `cartflow compare` end to end on the local runtime: a date run by the batch, then shadow runs of it. With
 * the code and rules unchanged the shadow equals what is published; with a stricter order-total range
 * (test/fixtures/compare/stricter-order-total.json, through QUALITY_RULES as a deploy would set a rule) it
 * shows exactly the orders the rule moves, their lines, and the totals they leave, and nothing published moves.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HANDLER_ENV } from '../../lambdas/contract';
import type { Adapters, Env, LakeStore, Step } from '../../lambdas/adapters/ports';
import { loadConfig } from '../../lib/config';
import type { AwsEnvironment } from '../../local/aws/environment';
import { awsCompareTarget } from '../../local/commands/compare';
import { main } from '../../local/cli';
import { compareDate, comparisonSummary, type Comparison } from '../../local/compare';
import { startLocalRuntime, type LocalRuntime } from '../../local/runtime';
import { seed, tableDump } from './batch-scenarios';

const DATE = '2026-05-04';
const FIXTURE = new URL('../fixtures/compare/stricter-order-total.json', import.meta.url);
/** The fixture's new maximum of an order's total, in cents. */
const MAX_TOTAL_CENTS = 460_000;
const COPY_ROLE = 'arn:aws:iam::123456789012:role/cartflow-prod-copy';
const SHADOW_LAKE = { bucket: 'probe' } as unknown as LakeStore;

describe('compare: a shadow run of a past date against what is published', () => {
  let runtime: LocalRuntime | undefined;
  let dataDir: string;
  let handlerEnv: Env = {};
  const compare = (): Promise<Comparison> =>
    compareDate({ lake: open().lake, warehouse: open().warehouse, build: open().build }, DATE);
  const open = (): LocalRuntime => runtime ?? assert.fail('the runtime is closed');

  /** Every object outside shadow/ with its ETag. */
  const publishedFiles = async () =>
    (await open().lake.list(''))
      .filter((o) => !o.key.startsWith('shadow/'))
      .map((o) => `${o.key} ${o.etag}`)
      .sort();

  before(async () => {
    // Prepare: the date run by the batch with the rules as deployed.
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-compare-'));
    runtime = await startLocalRuntime({ dataDir, handlerEnv: () => handlerEnv });
    await seed(runtime, DATE, 120);
    const outcome = await runtime.runBatch({ businessDate: DATE });
    assert.equal(outcome.status, 'SUCCEEDED', JSON.stringify(outcome.error));
  });

  after(async () => {
    await runtime?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('no change: the shadow run matches the published tables, sums and quarantine counts', async () => {
    // Prepare
    handlerEnv = {};
    const published = await tableDump(open(), DATE);

    // Act
    const result = await compare();

    // Assess
    assert.equal(result.differ, false, comparisonSummary(result));
    for (const t of result.tables) {
      assert.deepEqual([t.added, t.removed, t.changed], [[], [], []], t.table);
      assert.ok(t.published > 0 && t.published === t.shadow, `${t.table}: ${t.published} rows`);
      for (const s of t.sums) assert.equal(s.shadow, s.published, `${t.table}.${s.column}`);
    }
    assert.ok(result.shadowRun.startsWith('shadow-'), result.shadowRun);
    assert.equal(await tableDump(open(), DATE), published, 'the published tables are untouched');
  });

  test('a stricter rule in a fixture: exactly the rows it moves, and the published run untouched', async () => {
    // Prepare
    handlerEnv = { [HANDLER_ENV.qualityRules]: await readFile(FIXTURE, 'utf8') };
    const published = await tableDump(open(), DATE);
    const over = await open().warehouse.query<{ order_id: string }>(
      `SELECT order_id FROM analytics.fact_order WHERE order_date = '${DATE}'
       AND total_amount > ${MAX_TOTAL_CENTS / 100} ORDER BY order_id`,
    );
    const lines = await open().warehouse.query<{ k: string; category: string }>(
      `SELECT order_id || '|' || CAST(line_no AS VARCHAR) AS k, category FROM analytics.fact_order_item
       WHERE order_id IN (${over.map((o) => `'${o.order_id}'`).join(', ')}) ORDER BY 1`,
    );
    const categories = [...new Set(lines.map((l) => `${DATE}|${l.category}`))].sort();
    const [runs] = await open().warehouse.query<{ n: string }>('SELECT count(*) AS n FROM ops.pipeline_run');
    const files = await publishedFiles();
    assert.ok(over.length > 0, 'the fixture moves some orders of the date');

    // Act
    const result = await compare();

    // Assess
    const table = (name: string) => result.tables.find((t) => t.table === name)!;
    assert.equal(result.differ, true);
    assert.deepEqual(table('fact_order').removed, over.map((o) => o.order_id).sort());
    assert.deepEqual([table('fact_order').added, table('fact_order').changed], [[], []]);
    assert.deepEqual(table('fact_order_item').removed, lines.map((l) => l.k).sort());
    assert.deepEqual([table('fact_order_item').added, table('fact_order_item').changed], [[], []]);
    // The day's totals of exactly the categories those lines were in.
    const sales = table('agg_daily_sales');
    assert.deepEqual(sales.added, []);
    assert.deepEqual([...sales.changed, ...sales.removed].sort(), categories);
    assert.deepEqual(table('dim_product'), { ...table('dim_product'), added: [], removed: [], changed: [] });
    const revenue = table('agg_daily_sales').sums.find((s) => s.column === 'revenue')!;
    assert.ok(Number(revenue.shadow) < Number(revenue.published), JSON.stringify(revenue));
    const rule = result.checks.find((c) => c.check === 'total_amount in range')!;
    assert.equal(rule.shadow - rule.published, over.length);
    assert.equal(await tableDump(open(), DATE), published, 'the published tables are untouched');
    const [after] = await open().warehouse.query<{ n: string }>('SELECT count(*) AS n FROM ops.pipeline_run');
    assert.equal(after.n, runs.n, 'a shadow run records no run');
    assert.deepEqual(await publishedFiles(), files, "the published run's lake files are untouched");
    assert.ok((await open().lake.list(`shadow/${result.shadowRun}/curated/`)).length > 0);
    const report = await open().lake.getText(result.report);
    assert.ok(result.report.startsWith(`shadow/${result.shadowRun}/`), result.report);
    assert.match(report, /id="comparison-verdict">DIFFERENT</);
    for (const o of over) assert.ok(report.includes(o.order_id), `the report names ${o.order_id}`);
  });

  test("--env: the same shadow run over an environment's lake and warehouse, with its threshold and COPY role", async () => {
    // Prepare: a deployed environment whose SDK edges (S3, the Data API) are the local lake and warehouse.
    handlerEnv = {};
    const environment = {
      envName: 'prod',
      outputs: { copyRoleArn: COPY_ROLE },
      lake: open().lake,
      warehouse: open().warehouse,
    } as unknown as AwsEnvironment;
    const probe = {
      name: 'transform',
      make: (adapters: Adapters, env: Env) => async () => ({ adapters, env }),
      settings: (env: Env) => env,
    } as Step<Env, void, { adapters: Adapters; env: Env }>;
    const err = { write: () => true } as unknown as NodeJS.WritableStream;
    const before = await publishedFiles();

    // Act
    const target = awsCompareTarget(environment, err);
    const built = await target.build(probe, { lake: SHADOW_LAKE })();
    const result = await compareDate(target, DATE);

    // Assess
    assert.deepEqual(JSON.parse(built.env[HANDLER_ENV.qualitySettings]!), loadConfig('prod').quality);
    assert.equal(built.env[HANDLER_ENV.copyRoleArn], COPY_ROLE);
    assert.equal(built.adapters.lake, SHADOW_LAKE);
    assert.equal(built.adapters.warehouse, environment.warehouse);
    assert.equal(result.differ, false, comparisonSummary(result));
    assert.deepEqual(await publishedFiles(), before);
    assert.ok((await open().lake.list(`shadow/${result.shadowRun}/curated/`)).length > 0);
    assert.throws(
      () =>
        awsCompareTarget(
          { ...environment, outputs: { ...environment.outputs, copyRoleArn: undefined } },
          err,
        ),
      /has no output CopyRoleArn/,
    );
  });

  test('the command: a table on the terminal, --json, exit status 0 the same and 3 different', async () => {
    // Prepare: the command starts the services over the data dir itself, over a warehouse made before the
    // shadow schema was in its DDL (the command makes it first).
    await open().warehouse.executeBatch(['DROP SCHEMA shadow CASCADE']);
    await runtime?.close();
    runtime = undefined;
    const run = async (env: Env, ...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const saved = process.env[HANDLER_ENV.qualityRules];
      if (env[HANDLER_ENV.qualityRules] === undefined) delete process.env[HANDLER_ENV.qualityRules];
      else process.env[HANDLER_ENV.qualityRules] = env[HANDLER_ENV.qualityRules];
      try {
        const code = await main(
          ['compare', '--date', DATE, '--data-dir', dataDir, ...args],
          { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream,
          { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream,
        );
        return { code, text: out.join(''), err: err.join('') };
      } finally {
        if (saved === undefined) delete process.env[HANDLER_ENV.qualityRules];
        else process.env[HANDLER_ENV.qualityRules] = saved;
      }
    };
    const stricter = { [HANDLER_ENV.qualityRules]: await readFile(FIXTURE, 'utf8') };

    // Act
    const same = await run({});
    const differ = await run(stricter);
    const json = await run(stricter, '--json');

    // Assess
    assert.equal(same.code, 0, same.text);
    assert.match(same.text, /SAME: the shadow run matches what is published/);
    assert.equal(differ.code, 3, differ.text);
    assert.match(differ.text, /fact_order removed: /);
    assert.equal(json.code, 3);
    const parsed = JSON.parse(json.text) as Comparison & { reportFile: string };
    assert.equal(parsed.differ, true);
    assert.match(await readFile(parsed.reportFile, 'utf8'), /id="comparison-verdict">DIFFERENT</);
    assert.match(same.text, /^report: .*\.html$/m);
  });
});
