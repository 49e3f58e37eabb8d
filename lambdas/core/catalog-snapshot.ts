/** The product catalog's tally: records rejected before validation still count (the merge is SQL in extract-products). */
import type { DatasetQuality } from './contracts';

/** Adds records rejected before validation (unparseable) to a dataset's tally, so rows_in still adds up. */
export function withRejected(quality: DatasetQuality, rejected: number): DatasetQuality {
  if (rejected === 0) return quality;
  const rowsIn = quality.rowsIn + rejected;
  const rowsQuarantined = quality.rowsQuarantined + rejected;
  const quarantineShare = rowsIn === 0 ? 0 : rowsQuarantined / rowsIn;
  return {
    ...quality,
    rowsIn,
    rowsQuarantined,
    quarantineShare,
    passed: quarantineShare <= quality.threshold,
  };
}
