/**
 * A catalog file that failed its own quality gate is set aside whole (layout.catalogRejected) with this
 * report next to it, so it never blocks the files after it; the refresh's failure notice is built from the
 * reports of the files it rejected.
 */
import type { CheckResult, DatasetQuality } from './contracts';
import { CATALOG_LANDING_PREFIX, landingFileName } from './layout';

/** A record of the file that did not parse or conform, as the refresh quarantines them for a merged file. */
export interface UnreadableRecord {
  line?: number;
  record?: number;
  reasons: string[];
}

/** What `<file>.quality.json` next to a rejected catalog file holds. */
export interface RejectedCatalogReport {
  /** The landing key the file was dropped as. */
  file: string;
  /** Where it is now. */
  rejectedKey: string;
  /** Where this report is: next to it. */
  reportKey: string;
  runId: string;
  businessDate: string;
  /** The gate's verdict, as the batch's gate words it. */
  failureReason: string;
  /** The file's tally, the current catalog's products counted as valid input (as every refresh gate does). */
  quality: DatasetQuality;
  /** Every check the file's rows went through, with one example row per failed check. */
  checks: CheckResult[];
  /** The first of the records that did not parse or conform (all of them are counted in `quality`). */
  unreadable: UnreadableRecord[];
  unreadableCount: number;
  /** How to send the file again once fixed. */
  resubmit: string;
}

/** How many unreadable records a report lists (the tally counts them all). */
export const REPORTED_UNREADABLE = 100;

/** The rejected files a notice lists one by one; the others are counted (their reports say the rest). */
const NOTICED_FILES = 10;

/** How to send a rejected file again: copy the fixed file back under landing/catalog/, which starts a refresh. */
export function resubmitHint(landingKey: string, bucket: string): string {
  const name = landingFileName(landingKey);
  return (
    `fix the file and copy it back under ${CATALOG_LANDING_PREFIX} (aws s3 cp ${name} s3://${bucket}/${CATALOG_LANDING_PREFIX}${name}; ` +
    `locally: npx cartflow drop ${name}); the refresh that starts then gates it again`
  );
}

/** The checks a file failed, with their failed row counts (a dataset-level check by its finding). */
export function failedChecks(report: Pick<RejectedCatalogReport, 'checks' | 'unreadableCount'>): string {
  const failed = report.checks
    .filter((c) => !c.passed && c.severity === 'quarantine')
    .map((c) => (c.failedRows > 0 ? `'${c.check}' (${c.failedRows} rows)` : `'${c.check}' (${c.example})`));
  if (report.unreadableCount > 0) failed.push(`${report.unreadableCount} records unreadable`);
  return failed.length === 0 ? 'none' : failed.join(', ');
}

/** The refresh's failure notice: each rejected file, its failed checks, where it and its report are, and how to resubmit. */
export function rejectionNotice(
  runId: string,
  merged: number,
  reports: readonly RejectedCatalogReport[],
): string {
  const listed = reports
    .slice(0, NOTICED_FILES)
    .map((r) =>
      [
        `- ${r.file}: ${r.failureReason}`,
        `  failed checks: ${failedChecks(r)}`,
        `  set aside as ${r.rejectedKey}, its quality report ${r.reportKey}`,
        `  to resubmit: ${r.resubmit}`,
      ].join('\n'),
    );
  const more = reports.length - listed.length;
  return [
    `catalog refresh ${runId} merged ${merged} file(s) and set aside ${reports.length} that failed the quality gate:`,
    ...listed,
    ...(more > 0 ? [`… and ${more} more, each with its report under the same prefix`] : []),
  ].join('\n');
}
