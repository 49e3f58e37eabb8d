import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CheckResult, DatasetQuality } from '../../../../lambdas/core/contracts';
import { mergeBucketReports } from '../../../../lambdas/core/buckets';
import { withRejected } from '../../../../lambdas/core/catalog-snapshot';
import { datasetQuality, decideGate } from '../../../../lambdas/core/quality/gate';
import { resolveRules } from '../../../../lambdas/core/quality/rules';

const quality = (rowsIn: number, rowsQuarantined: number, threshold = 0.05): DatasetQuality => ({
  dataset: 'orders',
  rowsIn,
  rowsValid: rowsIn - rowsQuarantined,
  rowsQuarantined,
  quarantineShare: rowsQuarantined / rowsIn,
  threshold,
  passed: rowsQuarantined / rowsIn <= threshold,
});

const check = (name: string, failedRows: number, overrides: Partial<CheckResult> = {}): CheckResult => ({
  dataset: 'orders',
  check: name,
  passed: failedRows === 0,
  failedRows,
  example: failedRows > 0 ? `{"order_id":"${name}-example"}` : undefined,
  severity: 'quarantine',
  ...overrides,
});

describe('decideGate', () => {
  it('passes when the quarantined share equals the threshold exactly (the rule is strictly greater)', () => {
    // Prepare
    const datasets = [quality(100, 5)];

    // Act
    const decision = decideGate(datasets, [check('currency accepted', 5)]);

    // Assess
    assert.deepEqual(decision, { passed: true });
  });

  it('fails just above the threshold, naming the dataset, the worst check and its example row', () => {
    // Prepare
    const datasets = [quality(100, 6)];
    const checks = [
      check('currency accepted', 2),
      check('order_ts within date', 4),
      check('total matches lines', 50, { severity: 'report' }),
    ];

    // Act
    const decision = decideGate(datasets, checks);

    // Assess
    assert.equal(decision.passed, false);
    assert.equal(
      decision.failureReason,
      'orders: 6 of 100 rows quarantined (6.00%, more than the threshold 5.00%); ' +
        `check 'order_ts within date' failed 4 rows, e.g. {"order_id":"order_ts within date-example"}`,
    );
  });

  it('fails on a dataset-level quarantine check even with nothing quarantined, not on a report one', () => {
    // Prepare
    const datasets = [quality(10, 0)];
    const failed = check('enough orders', 0, { passed: false, example: '{"rows":10,"min":100}' });
    const reported = check('fresh orders', 0, { passed: false, severity: 'report', example: '{}' });

    // Act
    const [withFailure, withReport] = [decideGate(datasets, [failed]), decideGate(datasets, [reported])];

    // Assess
    assert.deepEqual(withFailure, {
      passed: false,
      failureReason: `orders: check 'enough orders' failed: {"rows":10,"min":100}`,
    });
    assert.deepEqual(withReport, { passed: true });
  });

  it('explains a share failure that no check accounts for (rows rejected before validation)', () => {
    // Prepare
    const datasets = [{ ...quality(10, 5), dataset: 'products' as const }];

    // Act
    const decision = decideGate(datasets, []);

    // Assess
    assert.match(String(decision.failureReason), /^products: 5 of 10 rows .*rejected before the checks ran$/);
  });
});

describe('datasetQuality', () => {
  it('a failed dataset-level check makes every verdict agree: the tally, a catalog file, a bucket merge and the gate', () => {
    // Prepare: 1 of 100 orders quarantined (under 5 %), and a row_count that failed.
    const rowCount = check('enough orders', 0, { passed: false, example: '{"rows":100,"min":200}' });
    const tally = { dataset: 'orders' as const, rowsIn: 100, rowsQuarantined: 1, threshold: 0.05 };
    const report = { datasets: [quality(100, 1)], checks: [rowCount] };
    const rules = resolveRules({ threshold: 0.05 });

    // Act
    const verdicts = {
      tally: datasetQuality(tally, [rowCount]).passed,
      withRejected: withRejected(quality(100, 1), 1, [rowCount]).passed,
      bucketMerge: mergeBucketReports([report, report], rules, new Date()).datasets[0].passed,
      gate: decideGate([quality(100, 1)], [rowCount]).passed,
    };

    // Assess
    assert.deepEqual(verdicts, { tally: false, withRejected: false, bucketMerge: false, gate: false });
    assert.equal(datasetQuality(tally, []).passed, true);
  });
});
