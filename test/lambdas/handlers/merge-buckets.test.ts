import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { PipelineState, ValidationResult } from '../../../lambdas/core/contracts';
import { fileList } from '../../../lambdas/core/engine/engine';
import { layout } from '../../../lambdas/core/layout';
import { DATASETS, type BatchTable } from '../../../lambdas/core/model';
import { resolveRules } from '../../../lambdas/core/quality/rules';
import {
  mergeBucketReports,
  step as mergeStep,
  type BucketReport,
} from '../../../lambdas/handlers/merge-buckets';
import {
  FIXTURE_RUN as RUN,
  fixtureEnv,
  transformThenValidate,
  writeRawFixtureDay,
} from '../../support/checks-fixture';
import { useWorkspace } from '../../support/workspace';

const report = async (index: number) =>
  JSON.parse(
    await readFile(new URL(`../../fixtures/merge-buckets/bucket-${index}.json`, import.meta.url), 'utf8'),
  ) as BucketReport;

describe('mergeBucketReports', () => {
  // The fixtures' dataset-level checks, as the rules would declare them.
  const rules = resolveRules({
    threshold: 0.3,
    datasets: {
      orders: {
        checks: [
          { name: 'enough orders', kind: 'row_count', min: 12, severity: 'quarantine' },
          {
            name: 'fresh orders',
            kind: 'freshness',
            column: 'updated_at',
            maxAgeHours: 24,
            severity: 'quarantine',
          },
        ],
      },
    },
  });

  it('sums rows and failed rows per dataset, counts products once and keeps the first example', async () => {
    // Prepare
    const reports = [await report(0), await report(1)];

    // Act
    const { datasets, checks } = mergeBucketReports(reports, rules, new Date('2026-03-02T00:00:00Z'));

    // Assess
    assert.deepEqual(datasets[0], reports[0].datasets[0]);
    assert.deepEqual(datasets[1], {
      dataset: 'orders',
      rowsIn: 16,
      rowsValid: 13,
      rowsQuarantined: 3,
      quarantineShare: 3 / 16,
      threshold: 0.3,
      passed: true,
    });
    assert.equal(datasets[2].rowsIn, 32);
    assert.equal(datasets[2].rowsQuarantined, 3);
    const byName = new Map(checks.map((c) => [c.check, c]));
    assert.equal(byName.get('price not negative')!.failedRows, 1);
    assert.deepEqual(byName.get('currency accepted'), {
      ...reports[1].checks[1],
      passed: false,
      failedRows: 3,
    });
    assert.deepEqual(
      [byName.get('quantity positive')!.failedRows, byName.get('quantity positive')!.example],
      [3, '{"order_id":"O-1","quantity":0}'],
    );
    assert.equal(byName.get('total_amount matches lines')!.failedRows, 2);
    assert.equal(byName.get('total_amount matches lines')!.severity, 'report');
  });

  it('decides the dataset-level checks again over the day: row_count over the summed rows, freshness by the freshest bucket', async () => {
    // Prepare: each bucket has too few orders on its own (10 and 6 of 12); only bucket 1 is fresh
    const reports = [await report(0), await report(1)];

    // Act
    const { datasets, checks } = mergeBucketReports(reports, rules, new Date('2026-03-02T00:00:00Z'));

    // Assess
    const byName = new Map(checks.map((c) => [c.check, c]));
    assert.equal(byName.get('enough orders')!.passed, true);
    assert.equal(byName.get('enough orders')!.example, undefined);
    assert.equal(byName.get('fresh orders')!.passed, true);
    assert.equal(datasets[1].passed, true);
  });

  it('fails a row_count the whole day misses, with the day total as its example', async () => {
    // Prepare
    const strict = resolveRules({
      threshold: 0.3,
      datasets: {
        orders: { checks: [{ name: 'enough orders', kind: 'row_count', min: 20, severity: 'quarantine' }] },
      },
    });
    const reports = [await report(0), await report(1)];

    // Act
    const { datasets, checks } = mergeBucketReports(reports, strict, new Date());

    // Assess
    const rowCount = checks.find((c) => c.check === 'enough orders')!;
    assert.equal(rowCount.passed, false);
    assert.deepEqual(JSON.parse(rowCount.example!), { rows: 16, min: 20 });
    assert.equal(datasets[1].passed, false);
  });

  it('refuses buckets whose reports list other checks', async () => {
    // Prepare
    const first = await report(0);
    const other = await report(1);
    other.checks.pop();

    // Act + Assess
    assert.throws(
      () => mergeBucketReports([first, other], rules, new Date()),
      /bucket 1 reports other checks/,
    );
  });
});

const CURATED: BatchTable[] = ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'];

describe('MergeBuckets over the buckets of the fixture day', () => {
  const workspace = useWorkspace('cartflow-merge-buckets-');
  const adapters = () => stepAdapters({ lake: workspace.lake });

  /** The single path: one Transform → Validate over the whole day. */
  const runWhole = async (): Promise<ValidationResult> =>
    (await transformThenValidate(adapters(), workspace.dir, { run: RUN })).validation;

  /** What the SplitDay Map and MergeBuckets do, bucket after bucket. */
  async function runSplit(count: number): Promise<ValidationResult> {
    const state: PipelineState = {
      run: RUN,
      volume: { buckets: [...Array(count).keys()], count },
      buckets: [],
    };
    for (const index of state.volume!.buckets) {
      const item = await transformThenValidate(adapters(), workspace.dir, {
        run: RUN,
        bucket: { index, count },
      });
      const { reportKey, tables } = item.validation;
      state.buckets!.push({ reportKey, tables });
    }
    return mergeStep.make(adapters(), mergeStep.settings(fixtureEnv(workspace.dir)))(state);
  }

  /** Every curated table of the day as sorted JSON rows, read from all the parts under its prefix. */
  async function curated(): Promise<Record<string, string[]>> {
    const { dir, engine, lake } = workspace;
    const tables: Record<string, string[]> = {};
    for (const table of CURATED) {
      const keys = (await lake.list(layout.curatedPrefix(table, RUN.businessDate))).map((o) => o.key);
      const paths = [];
      for (const key of keys) {
        const path = join(dir, `read-${paths.length}-${key.replaceAll('/', '_')}`);
        await lake.download(key, path);
        paths.push(path);
      }
      const rows = await engine.rows<{ row: string }>(
        `SELECT CAST(to_json(t) AS VARCHAR) AS row FROM read_parquet(${fileList(paths)}) t`,
      );
      tables[table] = rows.map((r) => r.row).sort();
    }
    return tables;
  }

  const quarantineLines = async () =>
    Promise.all(
      DATASETS.map(async (dataset) =>
        (await workspace.lake.getText(layout.quarantine(dataset, RUN.businessDate)))
          .split('\n')
          .filter(Boolean)
          .sort(),
      ),
    );

  before(() => writeRawFixtureDay(workspace));

  it('gives the single path’s validation, curated rows and quarantine, also after a run with more buckets', async () => {
    // Prepare: the single path's outputs, then a split into 3 buckets that leaves a part-00002
    const whole = await runWhole();
    const expectedTables = await curated();
    const expectedQuarantine = await quarantineLines();
    await runSplit(3);

    // Act
    const merged = await runSplit(2);

    // Assess
    assert.equal(merged.passed, whole.passed);
    assert.deepEqual(merged.datasets, whole.datasets);
    // As the state machine passes them: JSON (a check's `column: undefined` is no key).
    const withoutExamples = (result: ValidationResult) =>
      JSON.parse(JSON.stringify(result.checks.map(({ example: _, ...check }) => check))) as unknown;
    assert.deepEqual(withoutExamples(merged), withoutExamples(whole));
    assert.deepEqual(merged.tables, whole.tables);
    assert.equal(merged.reportKey, layout.qualityReport(RUN.businessDate, RUN.runId));
    assert.deepEqual(await curated(), expectedTables);
    assert.deepEqual(await quarantineLines(), expectedQuarantine);
    const left = (await workspace.lake.list('quarantine/'))
      .map((o) => o.key)
      .filter((key) => key.includes('.bucket-'));
    assert.deepEqual(left, []);
    assert.deepEqual(
      (await workspace.lake.list(layout.curatedPrefix('fact_order', RUN.businessDate))).map((o) =>
        o.key.split('/').at(-1),
      ),
      ['part-00000.parquet', 'part-00001.parquet'],
    );
    const report = JSON.parse(await workspace.lake.getText(merged.reportKey)) as {
      gate: { passed: boolean };
    };
    assert.equal(report.gate.passed, merged.passed);
  });
});
