/** Where every object lives in the data lake: one bucket, one prefix per zone (lambdas/contract.ts), Hive partitions. */
import { LAKE } from '../contract';

export const CATALOG_LANDING_PREFIX = LAKE.catalogLanding;
/** Landing files already processed, kept for forensics (the lake's lifecycle tiers and expires them). */
export const ARCHIVE_PREFIX = LAKE.archive;
/** Where catalog files go once a refresh has merged them (landing/ then holds only the files not yet merged). */
export const CATALOG_ARCHIVE_PREFIX = LAKE.catalogArchive;
/**
 * The current catalog: every valid product, the latest updated_at per product_id. Each refresh merges the
 * file that arrived into it, and the batch reads it plus the files not yet merged. Outside raw/, whose
 * lifecycle may expire objects: this one object must outlive any quiet spell of the catalog.
 */
export const CATALOG_SNAPSHOT_KEY = LAKE.catalogSnapshotKey;

/** The name a catalog file was dropped as (its landing key without the prefix). */
export const landingFileName = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

/** How a rejected catalog file's report is named: after the file. */
export const REJECTED_REPORT_SUFFIX = '.quality.json';

export const partition = (businessDate: string): string => `dt=${businessDate}`;

/** Datasets and tables by name: the product's, or ones a declaration adds (core/tables.ts declareDatasets). */
export const layout = {
  rawPrefix: (dataset: string, date: string) => `${LAKE.raw}${dataset}/${partition(date)}/`,
  rawPart: (dataset: string, date: string, part: number) =>
    `${LAKE.raw}${dataset}/${partition(date)}/part-${String(part).padStart(5, '0')}.parquet`,
  staged: (dataset: string, date: string) => `${LAKE.staged}${dataset}/${partition(date)}/${dataset}.parquet`,
  curatedPrefix: (table: string, date: string) => `${LAKE.curated}${table}/${partition(date)}/`,
  curated: (table: string, date: string) => `${LAKE.curated}${table}/${partition(date)}/part-00000.parquet`,
  quarantine: (dataset: string, date: string) =>
    `${LAKE.quarantine}${dataset}/${partition(date)}/rejected.jsonl`,
  /** Records that could not even be parsed (catalog lines, whole files). */
  unparseable: (dataset: string, date: string) =>
    `${LAKE.quarantine}${dataset}/${partition(date)}/unparseable.jsonl`,
  qualityReport: (date: string, runId: string) => `${LAKE.quality}${partition(date)}/${runId}.json`,
  /** The run's HTML report, next to its quality JSON (core/report/run-report.ts). */
  runReport: (date: string, runId: string) => `${LAKE.quality}${partition(date)}/${runId}.html`,
  /** A merged catalog file, under the refresh that merged it (the same name may be dropped again). */
  catalogArchive: (date: string, runId: string, landingKey: string) =>
    `${CATALOG_ARCHIVE_PREFIX}${partition(date)}/${runId}/${landingFileName(landingKey)}`,
  /** A catalog file that failed its gate, set aside whole under the refresh that rejected it. */
  catalogRejected: (date: string, runId: string, landingKey: string) =>
    `${LAKE.catalogRejected}${partition(date)}/${runId}/${landingFileName(landingKey)}`,
  /** That file's quality report, next to it. */
  catalogRejectedReport: (date: string, runId: string, landingKey: string) =>
    `${LAKE.catalogRejected}${partition(date)}/${runId}/${landingFileName(landingKey)}${REJECTED_REPORT_SUFFIX}`,
} as const;
