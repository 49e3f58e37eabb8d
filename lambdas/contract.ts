/**
 * The contract between the stack (lib/), the handlers (lambdas/) and the local runtime (local/): where
 * every zone of the data lake starts, which metrics the handlers publish under which namespace, and the
 * environment variables the handlers read. Each value is spelled here and nowhere else
 * (test/lib/contract.test.ts fails on a lake prefix written out anywhere else). No imports: core code,
 * CDK code and the laptop runtime all load it.
 */

/** The lake's zones: one bucket, one top-level prefix per zone (lambdas/core/layout.ts builds the keys). */
export const LAKE_ZONES = {
  /** Files dropped by other teams (the product catalog); an object created here starts a catalog refresh. */
  landing: 'landing/',
  /** Source extracts as they came, Hive-partitioned by business date. */
  raw: 'raw/',
  /** One run's conformed datasets, before the quality gate. */
  staged: 'staged/',
  /** What the warehouse loads: the tables that passed the gate. */
  curated: 'curated/',
  /** The clickstream: event objects, per-batch aggregates, the loader's own area and arrival notices. */
  events: 'events/',
  /** Rows that failed validation or could not be parsed. */
  quarantine: 'quarantine/',
  /** Quality reports of the runs. */
  quality: 'quality/',
  /** Landing files already processed, kept for forensics (the lake's lifecycle tiers and expires them). */
  archive: 'archive/',
  /** Landing files that failed their quality gate, set aside whole with their report until fixed and resubmitted. */
  rejected: 'rejected/',
  /** The current product catalog (one object, no lifecycle rule). */
  catalog: 'catalog/',
  /** Small operational records the pipeline keeps for itself (no lifecycle rule). */
  ops: 'ops/',
  /**
   * What a shadow run (`cartflow compare`) writes: `shadow/<run id>/` + the key the batch would write, so
   * the curated files and reports of the published runs are never overwritten.
   */
  shadow: 'shadow/',
  /**
   * The loaders' positions (the events load's arrival state): small objects rewritten by every run, under
   * no lifecycle rule, so that no quiet spell or outage of a loader can expire them.
   */
  state: 'state/',
} as const;

const Z = LAKE_ZONES;

/** Every prefix of the lake below the zones, and the one fixed key. */
export const LAKE = {
  ...LAKE_ZONES,
  /** Catalog files not merged yet: the catalog refresh's trigger prefix. */
  catalogLanding: `${Z.landing}catalog/`,
  /** Catalog files a refresh has merged. */
  catalogArchive: `${Z.archive}catalog/`,
  /** Catalog files that failed their refresh's gate, each with its quality report next to it. */
  catalogRejected: `${Z.rejected}catalog/`,
  /**
   * The current catalog: every valid product, the latest updated_at per product_id. Outside raw/, whose
   * lifecycle may expire objects: this one object must outlive any quiet spell of the catalog.
   */
  catalogSnapshotKey: `${Z.catalog}products.parquet`,
  /** Event objects of the stream handler (core/clickstream/batch.ts). */
  clickstreamEvents: `${Z.events}clickstream/`,
  /** Per-batch minute aggregates of the stream handler (kept lake-side, not loaded). */
  eventAggregates: `${Z.events}aggregates/`,
  /** The events loader's own area: manifests, ledger files and compacted files. */
  eventManifests: `${Z.events}_manifests/`,
  /** The events loader's position over the arrival notices (no lifecycle rule may cover it). */
  eventLoadState: `${Z.state}events/`,
  /** Where earlier versions kept that position (under events/, which a lifecycle rule may expire): only moved. */
  eventLoadStateLegacy: `${Z.events}_manifests/state/`,
  /** Hour-compacted event files: what the load's COPY reads, and what `cartflow rebuild` reloads. */
  eventCompacted: `${Z.events}_manifests/compacted/`,
  /** Arrival notices of the stream handler, under time-ordered keys. */
  eventArrivals: `${Z.events}_arrivals/`,
  /**
   * One freshness record per dataset (core/freshness.ts), written by record-run and load-events when they
   * load: what the scheduled SLA check reads, so that no timer wakes the warehouse.
   */
  freshness: `${Z.ops}freshness/`,
  /** Clickstream records that could not be parsed or validated. */
  clickstreamQuarantine: `${Z.quarantine}clickstream/`,
  /**
   * Where Lambda writes the on-failure records of a Kafka event-source mapping with an S3 destination:
   * `aws/lambda/<mapping UUID>/<partition>/YYYY/MM/DD/...`. Lambda chooses the prefix; it cannot be set,
   * so the local poller (local/kafka/invoke.ts) writes under it too.
   */
  streamOnFailure: 'aws/lambda/',
} as const;

/**
 * How every events load id starts, so its COPY manifest and ledger file (`eventManifests` + load id) sit
 * under `eventManifests` + this: needed while a load runs and for forensics, they expire early; the
 * compacted files beside them do not.
 */
export const EVENT_LOAD_ID_PREFIX = 'events-';

/**
 * load-events closes an arrival hour (lists it no more) once the stream function's timeout and this margin
 * for clock skew between functions have passed since the hour ended: a notice is stamped and written
 * inside one invocation, so none of a closed hour can still land (core/clickstream/load.ts).
 */
export const ARRIVAL_CLOCK_MARGIN_SECONDS = 60;

export type LakePrefix = (typeof LAKE)[keyof typeof LAKE];

/** The Powertools service and the CloudWatch namespace of the handlers' EMF metrics. */
export const METRICS_SERVICE = 'cartflow';
export const METRICS_NAMESPACE = 'Cartflow';

/** The metrics the handlers publish (MetricSink.count) and Monitoring alarms or graphs on. */
export const METRIC = {
  /** record-run: a batch run recorded as good. */
  runSucceeded: 'RunSucceeded',
  /** cleanup: a batch run that ended on the failure path. */
  runFailed: 'RunFailed',
  /** record-run: rows loaded into the warehouse, per dataset dimension. */
  rowsLoaded: 'RowsLoaded',
  /**
   * sla-check: minutes from what a dataset's newest load covers up to until the check (core/freshness.ts),
   * per dataset dimension; its freshness alarm compares it with the dataset's SLA limit.
   */
  dataAgeMinutes: 'DataAgeMinutes',
  /** validate / merge-buckets: 1 when a dataset passed its quarantine threshold, else 0. */
  qualityGateFailed: 'QualityGateFailed',
  /** validate / merge-buckets: rows quarantined, per dataset dimension. */
  quarantinedRows: 'QuarantinedRows',
  /** stream-to-parquet. */
  eventsWritten: 'EventsWritten',
  eventsQuarantined: 'EventsQuarantined',
  duplicatesDropped: 'DuplicatesDropped',
  /** load-events. */
  eventsLoaded: 'EventsLoaded',
  objectsLoaded: 'ObjectsLoaded',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** Environment variables the handlers read (set by the stack on AWS, by the local runner on a laptop). */
export const HANDLER_ENV = {
  bucket: 'LAKE_BUCKET',
  sourceSecretArn: 'SOURCE_SECRET_ARN',
  sourceDatabaseUrl: 'SOURCE_DATABASE_URL',
  warehouseDatabaseUrl: 'WAREHOUSE_DATABASE_URL',
  workgroup: 'REDSHIFT_WORKGROUP',
  database: 'REDSHIFT_DATABASE',
  copyRoleArn: 'REDSHIFT_COPY_ROLE_ARN',
  /** The namespace's Redshift-managed admin secret: the Data API's SecretArn of the DDL/grant step only. */
  warehouseSecretArn: 'REDSHIFT_SECRET_ARN',
  /** Role the warehouse functions assume for the Data API, so they all are one non-admin database user. */
  warehouseWriterRoleArn: 'REDSHIFT_WRITER_ROLE_ARN',
  /** That database user (IAMR:<role name>), which the DDL step (ensure-warehouse) creates and grants to. */
  warehouseWriterUser: 'REDSHIFT_WRITER_USER',
  topicArn: 'ALERT_TOPIC_ARN',
  /** sla-check: the freshness rules per dataset as JSON (core/freshness.ts FreshnessRules). */
  slaRules: 'SLA_RULES',
  environment: 'CARTFLOW_ENV',
  /** The environment's quality settings as JSON (lib/config.ts `quality`, core/quality/rules.ts RulesConfig). */
  qualitySettings: 'QUALITY_SETTINGS',
  /**
   * Overrides of the quality rules as JSON (core/quality/rules.ts DatasetOverrides), applied over
   * QUALITY_SETTINGS: how a shadow run (`cartflow compare`) tries a changed rule on a past date before it
   * is deployed.
   */
  qualityRules: 'QUALITY_RULES',
  extractChunkRows: 'EXTRACT_CHUNK_ROWS',
  /** Kafka topic the stream functions read (clickstream). */
  kafkaTopic: 'KAFKA_TOPIC',
  /** Most event objects one load-events run takes on, so a run stays bounded. */
  eventsLoadMaxObjects: 'EVENTS_LOAD_MAX_OBJECTS',
  /** Size a compacted hour file reaches before the next one starts (MB). */
  eventsCompactTargetMb: 'EVENTS_COMPACT_TARGET_MB',
  /**
   * How long after an arrival hour ends load-events closes it (seconds): the stream function's timeout and
   * a clock margin, so no notice of a closed hour can still land (core/clickstream/load.ts).
   */
  eventsArrivalCloseSeconds: 'EVENTS_ARRIVAL_CLOSE_SECONDS',
  /** DuckDB's memory limit (MB) when it should not follow the function's memory. */
  engineMemoryMb: 'CARTFLOW_ENGINE_MEMORY_MB',
  /**
   * Fault injection, unset in every deployed environment: `<step>:<mode>` makes that handler fail once, time
   * out, crash or kill its process at its side effect (lambdas/adapters/fault-injection.ts).
   */
  fault: 'CARTFLOW_FAULT',
  /** Powertools: service name, metrics namespace and log level. */
  powertoolsServiceName: 'POWERTOOLS_SERVICE_NAME',
  powertoolsMetricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  powertoolsLogLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;
