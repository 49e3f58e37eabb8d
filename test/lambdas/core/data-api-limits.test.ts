import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertDataApiLimits,
  chunked,
  DataApiLimitError,
  MAX_BATCH_STATEMENTS,
  MAX_STATEMENT_BYTES,
} from '../../../lambdas/core/data-api-limits';
import { PermanentError } from '../../../lambdas/core/errors';
import { dropRegisteredStageBatches, insertSql } from '../../../lambdas/core/sql';
import { TABLES } from '../../../lambdas/core/tables';

describe('Data API limits', () => {
  it('takes 40 statements of 100,000 bytes and refuses one more of either, as a permanent error', () => {
    // Prepare
    const full = 'x'.repeat(MAX_STATEMENT_BYTES);

    // Act + Assess
    assertDataApiLimits(
      Array.from({ length: MAX_BATCH_STATEMENTS }, () => full),
      'BatchExecuteStatement',
    );
    assert.throws(() => assertDataApiLimits(Array(41).fill('SELECT 1'), 'BatchExecuteStatement'), {
      name: DataApiLimitError.name,
    });
    assert.throws(() => assertDataApiLimits([`${full}x`], 'ExecuteStatement'), DataApiLimitError);
    assert.ok(new DataApiLimitError('') instanceof PermanentError);
    // A single query is one statement whatever its count says.
    assertDataApiLimits(['SELECT 1'], 'ExecuteStatement');
  });

  it('splits a list in order, the last slice holding the rest', () => {
    // Act + Assess
    assert.deepEqual(chunked([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(chunked([], 39), []);
    assert.throws(() => chunked([1], 0), RangeError);
  });

  it('drops any number of stages in batches of at most 40 statements, each with its registry delete', () => {
    // Prepare
    const names = Array.from({ length: 79 }, (_, i) => `fact_order_${String(i).padStart(16, '0')}`);

    // Act
    const batches = dropRegisteredStageBatches(names);

    // Assess
    assert.deepEqual(
      batches.map((b) => b.length),
      [40, 40, 2],
    );
    for (const batch of batches) {
      assertDataApiLimits(batch, 'BatchExecuteStatement');
      assert.match(batch.at(-1)!, /^DELETE FROM ops\.stage_table WHERE table_name IN/);
    }
    assert.deepEqual(dropRegisteredStageBatches([]), []);
  });

  it('splits a multi-row INSERT so each statement stays within 100 KB', () => {
    // Prepare: checks with 1,000-character examples of 3-byte characters, as a bad run records them.
    const rows = Array.from({ length: 60 }, (_, i) => ({
      run_id: 'run-1',
      dataset: 'orders',
      check_name: `check_${i}`,
      passed: false,
      failed_rows: i,
      business_date: '2024-03-10',
      column_name: 'note',
      severity: 'quarantine',
      example: '€'.repeat(1000),
    }));

    // Act
    const statements = insertSql(TABLES.quality_result, rows);

    // Assess
    assert.ok(statements.length > 1, 'one statement of 180 KB');
    assertDataApiLimits(statements, 'BatchExecuteStatement');
    assert.equal(statements.join('\n').match(/'check_\d+'/g)?.length, 60);
  });
});
