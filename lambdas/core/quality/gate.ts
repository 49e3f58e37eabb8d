/**
 * The quality gate: a run loads nothing when a dataset's quarantined share is STRICTLY greater than its
 * threshold (exactly 5 % of 5 % passes), or when a dataset-level quarantine-severity check failed.
 */
import type { CheckResult, DatasetQuality } from '../contracts';
import { percent } from '../summary';

export interface GateDecision {
  passed: boolean;
  /** Names each failing dataset, its worst check and an example row. */
  failureReason?: string;
}

/** Failed dataset-level checks are the only failed checks without failed rows (see checkDataset in check-dataset.ts). */
const isDatasetLevelFailure = (c: CheckResult): boolean =>
  c.severity === 'quarantine' && !c.passed && c.failedRows === 0;

/** What a dataset's verdict is decided from: its rows, those quarantined and its threshold. */
export interface DatasetTally {
  dataset: DatasetQuality['dataset'];
  rowsIn: number;
  rowsQuarantined: number;
  threshold: number;
}

/**
 * THE verdict of one dataset, which every tally (a step's, a bucket merge's, a catalog file's) and the gate
 * use: the share quarantined, and passed unless that share is over the threshold or one of the dataset's
 * dataset-level quarantine-severity checks in `checks` failed.
 */
export function datasetQuality(tally: DatasetTally, checks: readonly CheckResult[]): DatasetQuality {
  const { dataset, rowsIn, rowsQuarantined, threshold } = tally;
  const quarantineShare = rowsIn === 0 ? 0 : rowsQuarantined / rowsIn;
  const datasetLevelFailed = checks.some((c) => c.dataset === dataset && isDatasetLevelFailure(c));
  return {
    dataset,
    rowsIn,
    rowsValid: rowsIn - rowsQuarantined,
    rowsQuarantined,
    quarantineShare,
    threshold,
    passed: quarantineShare <= threshold && !datasetLevelFailed,
  };
}

function shareFailure(quality: DatasetQuality, checks: readonly CheckResult[]): string {
  const head =
    `${quality.dataset}: ${quality.rowsQuarantined} of ${quality.rowsIn} rows quarantined ` +
    `(${percent(quality.quarantineShare)}, more than the threshold ${percent(quality.threshold)})`;
  const worst = checks
    .filter((c) => c.dataset === quality.dataset && c.severity === 'quarantine' && c.failedRows > 0)
    .reduce<CheckResult | undefined>(
      (best, c) => (best === undefined || c.failedRows > best.failedRows ? c : best),
      undefined,
    );
  if (worst === undefined) return `${head}; the rows were rejected before the checks ran`;
  return `${head}; check '${worst.check}' failed ${worst.failedRows} rows, e.g. ${worst.example}`;
}

export function decideGate(
  datasets: readonly DatasetQuality[],
  checks: readonly CheckResult[],
): GateDecision {
  const reasons: string[] = [];
  for (const tally of datasets) {
    const quality = datasetQuality(tally, checks);
    if (quality.quarantineShare > quality.threshold) reasons.push(shareFailure(quality, checks));
  }
  for (const check of checks.filter(isDatasetLevelFailure)) {
    reasons.push(`${check.dataset}: check '${check.check}' failed: ${check.example}`);
  }
  return reasons.length === 0 ? { passed: true } : { passed: false, failureReason: reasons.join('; ') };
}
