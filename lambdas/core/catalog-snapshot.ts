/** The product catalog's tally: records rejected before validation still count (the merge is SQL in extract-products). */
import type { CheckResult, DatasetQuality } from './contracts';
import { datasetQuality } from './quality/gate';

/**
 * Adds records rejected before validation (unparseable) to a dataset's tally, so rows_in still adds up;
 * the verdict is decided again with the dataset's `checks`.
 */
export function withRejected(
  quality: DatasetQuality,
  rejected: number,
  checks: readonly CheckResult[],
): DatasetQuality {
  if (rejected === 0) return quality;
  const tally = {
    ...quality,
    rowsIn: quality.rowsIn + rejected,
    rowsQuarantined: quality.rowsQuarantined + rejected,
  };
  return datasetQuality(tally, checks);
}
