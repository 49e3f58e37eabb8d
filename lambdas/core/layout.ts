/** Where every object lives in the data lake: one bucket, one prefix per zone, Hive partitions. */
import type { BatchTable, Dataset } from './model';

export const CATALOG_LANDING_PREFIX = 'landing/catalog/';

export const partition = (businessDate: string): string => `dt=${businessDate}`;

export const layout = {
  rawPrefix: (dataset: Dataset, date: string) => `raw/${dataset}/${partition(date)}/`,
  rawPart: (dataset: Dataset, date: string, part: number) =>
    `raw/${dataset}/${partition(date)}/part-${String(part).padStart(5, '0')}.parquet`,
  staged: (dataset: Dataset, date: string) => `staged/${dataset}/${partition(date)}/${dataset}.parquet`,
  curatedPrefix: (table: BatchTable, date: string) => `curated/${table}/${partition(date)}/`,
  curated: (table: BatchTable, date: string) => `curated/${table}/${partition(date)}/part-00000.parquet`,
  quarantine: (dataset: Dataset, date: string) => `quarantine/${dataset}/${partition(date)}/rejected.jsonl`,
  /** Records that could not even be parsed (catalog lines, whole files). */
  unparseable: (dataset: Dataset, date: string) =>
    `quarantine/${dataset}/${partition(date)}/unparseable.jsonl`,
  qualityReport: (date: string, runId: string) => `quality/${partition(date)}/${runId}.json`,
} as const;
