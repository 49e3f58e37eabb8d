/**
 * The batch pipeline's Lambda steps: state name → handler entry (relative to lambdas/handlers).
 * The stack creates one function per entry and the local runner binds each state to the same module,
 * so this map is the single source of truth for both.
 */
export const BATCH_STEPS = {
  // The DDL/grant step, the warehouse admin's only function: schemas, tables and the writer's grants.
  EnsureWarehouse: 'ensure-warehouse',
  ResolveRun: 'resolve-run',
  ExtractOrders: 'extract-orders',
  ExtractProducts: 'extract-products',
  Transform: 'transform',
  Validate: 'validate',
  // A day past config.volume.bucketThresholdLines: the same two steps per bucket, then one merge.
  TransformBucket: 'transform',
  ValidateBucket: 'validate',
  MergeBuckets: 'merge-buckets',
  LoadTable: 'load-table',
  PublishDate: 'publish-date',
  RecordRun: 'record-run',
  NotifySuccess: 'notify',
} as const;

export type BatchStateName = keyof typeof BATCH_STEPS;

/**
 * Catalog refresh (one per debounce window of S3 object-created events on landing/catalog/): make sure the
 * warehouse exists, merge the pending files into the current catalog, then stage and publish dim_product;
 * on failure drop the run's stage table.
 */
export const CATALOG_STEPS = {
  // State names are unique across both machines (CDK construct ids in one scope).
  PrepareWarehouse: 'ensure-warehouse',
  RefreshCatalog: 'extract-products',
  LoadCatalog: 'load-table',
  PublishCatalog: 'publish-date',
  CleanupCatalog: 'cleanup',
} as const;

/** Every handler entry a state of the two machines invokes: one function each. */
export type HandlerEntry =
  (typeof BATCH_STEPS)[BatchStateName] | (typeof CATALOG_STEPS)[keyof typeof CATALOG_STEPS];

/**
 * The batch states that run inside a Map iteration: their input is the iteration's item, not the run's
 * state (the failure handler looks for the run's state in the execution history).
 */
export const MAP_ITERATION_STATES: ReadonlySet<string> = new Set<BatchStateName>([
  'TransformBucket',
  'ValidateBucket',
  'LoadTable',
]);

/** The Fail state a failed quality gate ends in, and its error (its cause: `$.validation.failureReason`). */
export const QUALITY_GATE_FAILED_STATE = 'QualityGateFailed';
export const QUALITY_GATE_ERROR = 'QualityGateError';

/**
 * The Succeed state a batch run ends in when another run of its date holds the date (ResolveRun) or took it
 * over (PublishDate): its SupersededRunError is caught there, with its cause at `$.superseded`. The execution
 * SUCCEEDS, so the failure rule (FAILED_EXECUTION_STATUSES) never sees it and no alert is published.
 */
export const SUPERSEDED_STATE = 'Superseded';

/** Why a batch execution ended in SUPERSEDED_STATE (the SupersededRunError message), from its output. */
export interface StepError {
  name: string;
  message: string;
}

/**
 * A failed step's error as Step Functions records it. A Lambda function's cause is the runtime's JSON
 * (`{"errorType","errorMessage",…}`): its message is what happened. The local runner's cause is the message.
 */
export function stepError(error: string, cause?: string | null): StepError {
  try {
    const parsed = JSON.parse(cause ?? '') as { errorType?: unknown; errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') {
      return {
        name: typeof parsed.errorType === 'string' ? parsed.errorType : error,
        message: parsed.errorMessage,
      };
    }
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return { name: error, message: cause ?? '' };
}

export function supersededCause(output: unknown): string | undefined {
  const caught = (output as { superseded?: { Error?: unknown; Cause?: unknown } } | null | undefined)
    ?.superseded;
  if (caught === undefined) return undefined;
  if (typeof caught.Cause !== 'string') return JSON.stringify(caught);
  return stepError(String(caught.Error ?? ''), caught.Cause).message;
}

/**
 * The Fail state a catalog refresh ends in when it set a file aside at the gate (its other files merged);
 * its error is QUALITY_GATE_ERROR, its cause the notice (`$.refresh.rejected.notice`).
 */
export const CATALOG_FILE_REJECTED_STATE = 'CatalogFileRejected';

/**
 * A batch execution that ends FAILED, TIMED_OUT or ABORTED: EventBridge (Step Functions "Execution Status
 * Change") invokes this handler, which records the run as failed, writes its report and notifies. Not a
 * state: a failed Task fails the execution where it stands, so RedriveExecution resumes exactly there.
 */
export const FAILURE_HANDLERS = {
  RunFailed: 'run-failed',
} as const;

/** The execution statuses the failure rule matches. */
export const FAILED_EXECUTION_STATUSES = ['FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export type FailureHandlerEntry = (typeof FAILURE_HANDLERS)[keyof typeof FAILURE_HANDLERS];

/**
 * Clickstream handlers (not Step Functions states): the MSK event-source mapping target, the scheduled
 * micro-batch that loads new event objects into Redshift, and the custom resource that creates the topic.
 */
export const STREAM_HANDLERS = {
  StreamToParquet: 'stream-to-parquet',
  LoadEvents: 'load-events',
  CreateTopic: 'create-topic',
} as const;

export type StreamHandlerEntry = (typeof STREAM_HANDLERS)[keyof typeof STREAM_HANDLERS];

/** Scheduled monitoring (EventBridge, not a Step Functions state): the freshness SLA check. */
export const MONITORING_HANDLERS = {
  SlaCheck: 'sla-check',
} as const;

export type MonitoringHandlerEntry = (typeof MONITORING_HANDLERS)[keyof typeof MONITORING_HANDLERS];
