import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { stepAdapters } from '../../../bench/support/step-adapters';
import type { PipelineState, ValidationResult } from '../../../lambdas/core/contracts';
import { fileList } from '../../../lambdas/core/engine/engine';
import { layout } from '../../../lambdas/core/layout';
import { DATASETS, type BatchTable } from '../../../lambdas/core/model';
import { step as mergeStep } from '../../../lambdas/handlers/merge-buckets';
import {
  FIXTURE_RUN as RUN,
  fixtureEnv,
  transformThenValidate,
  writeRawFixtureDay,
} from '../../support/checks-fixture';
import { useWorkspace } from '../../support/workspace';

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
