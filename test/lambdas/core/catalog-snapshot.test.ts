import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withRejected } from '../../../lambdas/core/catalog-snapshot';
import type { CheckResult, DatasetQuality } from '../../../lambdas/core/contracts';

describe('withRejected', () => {
  it('adds unparseable records to rows_in and quarantined, and re-judges the threshold', () => {
    // Prepare
    const quality: DatasetQuality = {
      dataset: 'products',
      rowsIn: 96,
      rowsValid: 96,
      rowsQuarantined: 0,
      quarantineShare: 0,
      threshold: 0.03,
      passed: true,
    };

    // Act
    const result = withRejected(quality, 4, []);

    // Assess
    assert.deepEqual(
      { rowsIn: result.rowsIn, rowsQuarantined: result.rowsQuarantined, share: result.quarantineShare },
      { rowsIn: 100, rowsQuarantined: 4, share: 0.04 },
    );
    assert.equal(result.passed, false);
  });

  it('keeps a failed dataset-level check in the verdict', () => {
    // Prepare: a share under the threshold, and a row_count that failed.
    const quality: DatasetQuality = {
      dataset: 'products',
      rowsIn: 96,
      rowsValid: 96,
      rowsQuarantined: 0,
      quarantineShare: 0,
      threshold: 0.5,
      passed: false,
    };
    const rowCount: CheckResult = {
      dataset: 'products',
      check: 'enough products',
      passed: false,
      failedRows: 0,
      example: '{"rows":96,"min":100}',
      severity: 'quarantine',
    };

    // Act
    const result = withRejected(quality, 4, [rowCount]);

    // Assess
    assert.equal(result.passed, false);
  });
});
