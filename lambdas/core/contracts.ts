/**
 * Payloads passed between the batch state machine's steps. Every Lambda task gets the whole
 * state (`Payload.$: '$'`) and returns only its own part, stored under the ResultPath noted.
 */

/** What starts a run: a backfill/manual input, or the EventBridge scheduled event (`time`). */
export interface RunRequest {
  /** Business date YYYY-MM-DD; when absent, the UTC day before `time` (or now). */
  businessDate?: string;
  /** EventBridge scheduled events carry the trigger instant here. */
  time?: string;
}

/**
 * ResolveRun's payload: the execution input and the execution's name (`$$.Execution.Name`), which becomes
 * the run id, so `cartflow retry <run id>` redrives that very execution however it was started (the
 * schedule's generated name, `run` and `backfill`'s `<date>`, `<date>-a<n>`).
 */
export interface ResolveRunInput {
  request: RunRequest;
  executionName: string;
  /** The state machine's timeout (config slaMinutes): an older claim of the date is a run that ended. */
  timeoutMinutes: number;
}

/** ResultPath `$.run` — the output of ResolveRun. */
export interface RunContext {
  runId: string;
  businessDate: string;
  startedAt: string;
}

/** What an extract step wrote for one dataset; each Extract branch returns a list of them. */
export interface ExtractResult {
  /** The product's Dataset, or a source dataset a declaration adds (core/tables.ts). */
  dataset: string;
  /** S3 keys written under raw/. */
  keys: string[];
  rows: number;
  /** For products: the landing file(s) used. */
  sources?: string[];
  /** Records that could not be parsed at all; kept in quarantine and counted in the dataset's rows_in. */
  rejected?: number;
}

/** ResultPath `$.transform`. */
export interface TransformResult {
  /** staged/ keys by dataset. */
  staged: Partial<Record<string, string>>;
  rows: Partial<Record<string, number>>;
}

export interface CheckResult {
  dataset: string;
  check: string;
  column?: string;
  passed: boolean;
  failedRows: number;
  /** One failing row (as JSON) so the message can name an example. */
  example?: string;
  /** Reported-only checks never fail the gate nor quarantine rows. */
  severity: 'quarantine' | 'report';
}

export interface DatasetQuality {
  dataset: string;
  rowsIn: number;
  rowsValid: number;
  rowsQuarantined: number;
  quarantineShare: number;
  threshold: number;
  passed: boolean;
}

export interface TableToLoad {
  /** The product's BatchTable, or a curated table a declaration adds (core/tables.ts). */
  table: string;
  /** The source dataset whose valid rows it holds, when a declaration adds it (run-record.ts datasetLoads). */
  from?: string;
  /** s3 prefix (no bucket) holding the table's Parquet for the date, ending in '/'. */
  prefix: string;
  rows: number;
}

/** ResultPath `$.validation` — QualityGate's Choice reads `$.validation.passed`. */
export interface ValidationResult {
  passed: boolean;
  reportKey: string;
  datasets: DatasetQuality[];
  checks: CheckResult[];
  /** Curated tables ready for the Map over loads (`$.validation.tables`). */
  tables: TableToLoad[];
  /** Human-readable reason when the gate fails: names the dataset, the check and an example row. */
  failureReason?: string;
}

/** Input of one LoadTable iteration (Map ItemSelector). */
export interface LoadTableInput {
  run: RunContext;
  item: TableToLoad;
}

/**
 * ResultPath `$.refresh` of a catalog refresh: the dim_product to stage and publish, or no `item` when
 * nothing was pending (an earlier refresh merged these arrivals' files), which ends the refresh there.
 */
export interface CatalogRefreshResult {
  run: RunContext;
  item?: TableToLoad;
  /** Catalog files this refresh merged. */
  files: number;
  /**
   * The files it set aside at the quality gate (rejected/), if any: their count and the failure notice the
   * state machine ends with (each file, its failed checks, where it is, how to resubmit it).
   */
  rejected?: { files: number; notice: string };
}

export interface LoadResult {
  table: string;
  /** Rows staged, which PublishDate then inserts whole. */
  rowsLoaded: number;
}

/** ResultPath `$.publish`. */
export interface PublishResult {
  tables: string[];
}

/**
 * One slice of a day too big for one function: the rows whose order_id hashes to `index` modulo `count`
 * (an order and its lines share a bucket, so per-order rules stay exact).
 */
export interface Bucket {
  index: number;
  count: number;
}

/** ResultPath `$.volume`: the buckets the volume Choice's PlanBuckets gives a day too big for one function. */
export interface VolumePlan {
  /** 0 .. count - 1, the SplitDay Map's items. */
  buckets: number[];
  count: number;
}

/**
 * What one SplitDay iteration returns (its Validate's result, selected): keys and counts only, so the
 * state stays small whatever the bucket count. The checks and datasets are in the bucket's report.
 */
export interface BucketValidation {
  reportKey: string;
  tables: TableToLoad[];
}

/** The whole state the tasks receive. */
export interface PipelineState {
  run: RunContext;
  /** Set by the volume Map: Transform and Validate then work on this bucket of the day only. */
  bucket?: Bucket;
  /**
   * Set on a catalog refresh: how many arrivals (S3 object-created on landing/catalog/) the debounce batched
   * into it. The refresh merges every file pending in landing/catalog/, these and any that landed since.
   */
  catalogArrivals?: number;
  /** The Extract parallel's output: one list per branch (orders + order_items, products). */
  extract?: ExtractResult[][];
  volume?: VolumePlan;
  /** The SplitDay Map's output, one per bucket in bucket order; MergeBuckets makes `validation` of them. */
  buckets?: BucketValidation[];
  transform?: TransformResult;
  validation?: ValidationResult;
  loads?: LoadResult[];
  /** Set by the catalog refresh's Catch (ResultPath `$.error`); the run report's failure of a batch run. */
  error?: { Error: string; Cause?: string };
}

/**
 * ResultPath `$.notify`: the status and the subject sent; not the message, which may be up to SNS's
 * 256 KB and would push the state past Step Functions' own 256 KB.
 */
export interface NotifyResult {
  status: 'SUCCEEDED' | 'FAILED';
  subject: string;
}
