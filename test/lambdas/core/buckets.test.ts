import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import {
  bucketFilter,
  bucketKey,
  mergeBucketReports,
  type BucketReport,
} from '../../../lambdas/core/buckets';
import { resolveRules } from '../../../lambdas/core/quality/rules';

describe('bucketKey', () => {
  it("tags a bucket's own object before the extension, and leaves the whole day's key alone", () => {
    // Prepare
    const key = 'quarantine/orders/date=2026-03-01/rejected.jsonl';

    // Act
    const own = bucketKey(key, { index: 3, count: 16 });

    // Assess
    assert.equal(own, 'quarantine/orders/date=2026-03-01/rejected.bucket-00003-of-00016.jsonl');
    assert.equal(bucketKey(key, undefined), key);
  });
});

describe('bucketFilter', () => {
  it('hashes the order id into the bucket and refuses an index outside the count', () => {
    // Act
    const filter = bucketFilter('order_id', { index: 1, count: 4 });

    // Assess
    assert.equal(filter, 'hash(order_id) % 4 = 1');
    assert.equal(bucketFilter('order_id', undefined), 'TRUE');
    assert.throws(() => bucketFilter('order_id', { index: 4, count: 4 }), /0 <= index < count/);
  });
});

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
