/** The product catalog as of a run: every landing file merged, the latest updated_at winning per product_id. */
import type { DatasetQuality } from './contracts';
import type { ProductCandidate } from './model';

/**
 * Candidates without a product_id or updated_at cannot take part in "latest wins" and are kept
 * as they are, so validation quarantines them with their reason instead of dropping them.
 */
export function latestByProduct(candidates: Iterable<ProductCandidate>): ProductCandidate[] {
  const latest = new Map<string, ProductCandidate>();
  const unkeyed: ProductCandidate[] = [];
  for (const candidate of candidates) {
    if (candidate.product_id === null || candidate.updated_at === null) {
      unkeyed.push(candidate);
      continue;
    }
    const current = latest.get(candidate.product_id);
    // Files arrive in order, so on a tie the later file wins.
    if (!current || current.updated_at!.getTime() <= candidate.updated_at.getTime()) {
      latest.set(candidate.product_id, candidate);
    }
  }
  const merged = [...latest.values()].sort((a, b) => a.product_id!.localeCompare(b.product_id!));
  return [...merged, ...unkeyed];
}

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
