/** The bucket split of a large day: which rows a bucket's steps take and where its own objects go. */
import type { Bucket, CheckResult, DatasetQuality } from './contracts';
import { ConfigurationError, PermanentError } from './errors';
import type { Dataset } from './model';
import { datasetLevelFailure } from './quality/compile-sql';
import { datasetQuality } from './quality/gate';
import type { DatasetRules } from './quality/rules';

/** A bucket's own object next to the whole day's: `rejected.jsonl` → `rejected.bucket-00003-of-00016.jsonl`. */
export function bucketKey(key: string, bucket: Bucket | undefined): string {
  if (bucket === undefined) return key;
  const dot = key.lastIndexOf('.');
  const tag = `bucket-${String(bucket.index).padStart(5, '0')}-of-${String(bucket.count).padStart(5, '0')}`;
  return `${key.slice(0, dot)}.${tag}${key.slice(dot)}`;
}

/** True for the rows of `bucket`: a hash of the (trimmed) order id, so an order and its lines agree. */
export function bucketFilter(orderId: string, bucket: Bucket | undefined): string {
  if (bucket === undefined) return 'TRUE';
  if (!(
    Number.isInteger(bucket.count) &&
    bucket.count >= 1 &&
    bucket.index >= 0 &&
    bucket.index < bucket.count
  )) {
    throw new ConfigurationError(`bucket ${JSON.stringify(bucket)} must have 0 <= index < count`);
  }
  return `hash(${orderId}) % ${bucket.count} = ${bucket.index}`;
}

/** What a bucket's Validate wrote to its report (validate.ts). */
export interface BucketReport {
  datasets: DatasetQuality[];
  checks: CheckResult[];
}

/** The products are the same in every bucket: the first bucket's figures are the day's. */
export const perBucket = (dataset: Dataset): boolean => dataset !== 'products';

/**
 * The buckets' datasets and checks as the whole day's: rows and failed rows summed (products counted
 * once), the first example in bucket order kept, and the dataset-level checks decided again over the day
 * (a row_count over the summed rows; freshness passes when any bucket's newest row is fresh).
 */
export function mergeBucketReports(
  reports: readonly BucketReport[],
  rules: Record<Dataset, DatasetRules>,
  now: Date,
): BucketReport {
  const [first] = reports;
  if (first === undefined) throw new PermanentError('MergeBuckets needs at least one bucket');
  for (const [index, report] of reports.entries()) {
    const names = (r: BucketReport) => r.checks.map((c) => `${c.dataset}/${c.check}`).join();
    if (names(report) !== names(first)) {
      throw new PermanentError(
        `bucket ${index} reports other checks than bucket 0: were the rules changed mid-run?`,
      );
    }
  }
  const rowsIn = (dataset: Dataset) =>
    reports.reduce((sum, r) => sum + (r.datasets.find((d) => d.dataset === dataset)?.rowsIn ?? 0), 0);

  const checks = first.checks.map((template, at): CheckResult => {
    if (!perBucket(template.dataset)) return template;
    const all = reports.map((r) => r.checks[at]);
    const failedRows = all.reduce((sum, c) => sum + c.failedRows, 0);
    const example = all.find((c) => c.example !== undefined)?.example;
    const merged: CheckResult = { ...template, failedRows, passed: all.every((c) => c.passed) };
    delete merged.example;
    const rule = rules[template.dataset].checks.find((c) => c.name === template.check);
    if (rule?.kind === 'row_count') {
      const failure = datasetLevelFailure(rule, rowsIn(template.dataset), now);
      merged.passed = failure === null;
      if (failure !== null) merged.example = failure;
    } else if (rule?.kind === 'freshness') {
      merged.passed = all.some((c) => c.passed);
      if (!merged.passed && example !== undefined) merged.example = example;
    } else if (example !== undefined) merged.example = example;
    return merged;
  });

  const datasets = first.datasets.map((template): DatasetQuality => {
    if (!perBucket(template.dataset)) return template;
    const own = reports.map((r) => r.datasets.find((d) => d.dataset === template.dataset)!);
    const rowsQuarantined = own.reduce((sum, d) => sum + d.rowsQuarantined, 0);
    return datasetQuality({ ...template, rowsIn: rowsIn(template.dataset), rowsQuarantined }, checks);
  });
  return { datasets, checks };
}
