/**
 * Every difference between environments lives here: one typed config per environment,
 * validated before any construct reads it, so a bad value fails `cdk synth` with a clear message.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  freshnessRulesProblem,
  isLoadedByRule,
  limitMinutes,
  type FreshnessRules,
} from '../lambdas/core/freshness';
import { resolveRules, RulesConfigError, type Severity } from '../lambdas/core/quality/rules';
import { largestDayOf } from './engine-capacity';

export const ENV_NAMES = ['dev', 'staging', 'prod'] as const;
export type EnvName = (typeof ENV_NAMES)[number];

export interface RetryConfig {
  /** Retries after the first attempt (Step Functions MaxAttempts). */
  maxAttempts: number;
  /** Delay before the first retry. */
  intervalSeconds: number;
  /** Multiplier applied to the delay after each retry; > 1 for exponential backoff. */
  backoffRate: number;
  /** Cap on a single retry delay, so full jitter stays bounded. */
  maxDelaySeconds: number;
}

export interface RedshiftConfig {
  /**
   * Redshift Serverless base capacity in RPUs: 4, or 8 to 512 in steps of 8. 4 RPUs suit a warehouse
   * under 32 TB; AWS recommends 32 or more for wide tables and many concurrent queries.
   */
  baseCapacityRpu: number;
  /** The database the namespace creates and every function uses (lower-case letters, digits and _). */
  databaseName: string;
  /**
   * Batch runs loading the warehouse at once, all starters together: `cartflow backfill --env` starts no
   * execution while this many are running (the workgroup is a shared pool). 1 to 20.
   * @default 2
   */
  maxConcurrentRuns?: number;
}

/** The base capacities Redshift Serverless accepts (in every region): 4, or 8 to 512 in steps of 8. */
export const BASE_CAPACITY_RPU_ALLOWED = '4, or 8 to 512 in steps of 8';

export const isBaseCapacityRpu = (rpu: number): boolean =>
  rpu === 4 || (Number.isInteger(rpu) && rpu >= 8 && rpu <= 512 && rpu % 8 === 0);

/** redshift.maxConcurrentRuns when unset. */
export const DEFAULT_MAX_CONCURRENT_RUNS = 2;

/** How many batch runs of an environment may load its warehouse at once. */
export const maxConcurrentRunsOf = (cfg: EnvironmentConfig): number =>
  cfg.redshift.maxConcurrentRuns ?? DEFAULT_MAX_CONCURRENT_RUNS;

export interface AlarmConfig {
  /** Failed executions in one evaluation period that raise the alarm. */
  failedExecutionsThreshold: number;
  /** Consecutive periods an alarm must breach before it fires (CloudWatch EvaluationPeriods). */
  evaluationPeriods: number;
  /**
   * The run-duration alarm fires when a batch run takes this many minutes or more: below slaMinutes, it
   * warns before the state machine's timeout ends the run.
   * @default slaMinutes
   */
  runDurationMinutes?: number;
}

/**
 * The quality gate and the checks of an environment. The checks themselves are docs/quality-rules.md; the
 * Validate, MergeBuckets and catalog steps get these settings as QUALITY_SETTINGS.
 */
export interface QualityConfig {
  /** Largest quarantined share (0..1) a dataset may have before the quality gate fails the run. */
  threshold: number;
  /** The settings of a dataset that differ from the environment's. */
  datasets?: QualityDatasetsConfig;
}

/** Per-dataset quality settings, one optional entry per batch dataset. */
export interface QualityDatasetsConfig {
  /** The product catalog's settings. */
  products?: DatasetQualityConfig;
  /** The orders' settings. */
  orders?: DatasetQualityConfig;
  /** The order lines' settings. */
  order_items?: DatasetQualityConfig;
}

export interface DatasetQualityConfig {
  /** The dataset's own largest quarantined share (0..1), instead of `threshold`. */
  quarantineThreshold?: number;
  /**
   * Severity by check name (docs/quality-rules.md): `report` counts and reports a check's failures but
   * quarantines no row and fails no gate; `quarantine` is every check's default.
   */
  severity?: Record<string, Severity>;
}

/**
 * Freshness SLAs per dataset (lambdas/core/freshness.ts), measured by the scheduled SLA check
 * (lambdas/handlers/sla-check.ts), alarmed per dataset and shown by `cartflow status` with the same code.
 */
export interface SlaConfig {
  /**
   * One rule per dataset (products, orders, order_items, events): `{ loadedBy: 'HH:MM' }` means business
   * date D is in the warehouse by HH:MM UTC on D+1; `{ maxAgeMinutes: N }` means the newest loaded record
   * is at most N minutes old. A dataset without a rule has no freshness alarm; the events rule counts only
   * when `stream.enabled`.
   */
  datasets: FreshnessRules;
  /**
   * The SLA check runs every this many minutes (1..60); it is also the period of the freshness alarms.
   * @default 5
   */
  checkIntervalMinutes?: number;
  /**
   * Consecutive checks a dataset must be over its limit before its alarm fires.
   * @default 1
   */
  breachedChecks?: number;
}

/** The SLA check's period when `sla.checkIntervalMinutes` is not set. */
export const DEFAULT_SLA_CHECK_MINUTES = 5;

/** The rules the SLA check and `cartflow status` evaluate: the events rule only with a stream. */
export function freshnessRulesOf(cfg: Pick<EnvironmentConfig, 'sla' | 'stream'>): FreshnessRules {
  const { events, ...batch } = cfg.sla.datasets;
  return cfg.stream.enabled && events ? { ...batch, events } : batch;
}

/**
 * The rules of the local stand-in (`npm start`, `cartflow status` without --env): the laptop always runs
 * the clickstream (`cartflow stream`), whether or not the environment deploys it.
 */
export const localFreshnessRulesOf = (cfg: Pick<EnvironmentConfig, 'sla' | 'stream'>): FreshnessRules =>
  freshnessRulesOf({ sla: cfg.sla, stream: { ...cfg.stream, enabled: true } });

export interface LifecycleConfig {
  /** raw/ and events/ objects move to Standard-IA after this many days (S3 minimum: 30). */
  rawToIaDays: number;
  /** ... then to Glacier Instant Retrieval (at least 30 days after the IA transition). */
  rawToGlacierDays: number;
  /** raw/ and events/ objects expire after this many days; undefined keeps them forever. */
  rawExpireDays?: number;
  /** staged/ is scratch space between Transform and Validate. */
  stagedExpireDays: number;
  /** quarantine/, quality/ reports and rejected/ catalog files are kept this long for audits. */
  quarantineExpireDays: number;
  /** Overwritten or deleted object versions are kept this long. */
  noncurrentExpireDays: number;
}

/** How far back the warehouse can be rebuilt from the lake (`cartflow rebuild`, docs/runbooks/disaster-recovery.md). */
export interface RecoveryConfig {
  /**
   * Days back whose dates `cartflow rebuild` restores from the lake: curated/ (no lifecycle rule) and the
   * compacted event files (events/ tiering) are kept at least this long, so it may not exceed
   * lifecycle.rawExpireDays. 1 to 36500.
   */
  windowDays: number;
  /** Manual snapshots of the Redshift Serverless namespace, on a schedule, kept for a retention. */
  snapshots: SnapshotConfig;
  /**
   * S3 replication of the whole lake to a bucket in another region (the region-outage recovery). The
   * destination bucket (versioned, in the other region) and its KMS key are the operator's: the stack only
   * replicates into them.
   * @default off
   */
  lakeReplication?: LakeReplicationConfig;
}

/**
 * EventBridge Scheduler calls Redshift Serverless CreateSnapshot on this schedule. Recovery points are
 * Redshift's own (every 30 minutes, kept 24 hours, not configurable); these snapshots reach further back.
 */
export interface SnapshotConfig {
  /** Scheduler cron expression in UTC, e.g. `cron(0 6 * * ? *)`: after the daily batch has published. */
  scheduleCron: string;
  /** Days each snapshot is kept (CreateSnapshot RetentionPeriod): 1 to 3653. */
  retentionDays: number;
  /**
   * Each snapshot also copied to another region (the namespace's SnapshotCopyConfigurations).
   * @default none
   */
  copy?: SnapshotCopyConfig;
}

export interface SnapshotCopyConfig {
  /** The region the copies go to, e.g. `eu-central-1`. */
  region: string;
  /** Days a copy is kept there: 1 to 3653. */
  retentionDays: number;
  /** A KMS key in that region that encrypts the copies. */
  kmsKeyArn: string;
}

export interface LakeReplicationConfig {
  /** The destination bucket, e.g. `arn:aws:s3:::cartflow-prod-lake-replica` (versioning on). */
  destinationBucketArn: string;
  /** The KMS key in the destination's region that encrypts the replicas. */
  kmsKeyArn: string;
}

export const STARTING_POSITIONS = ['LATEST', 'TRIM_HORIZON'] as const;

export interface StreamConfig {
  /**
   * false leaves the whole clickstream out of the environment: no MSK cluster, no mapping, no load-events
   * schedule, no stream alarms (an MSK Serverless cluster bills every hour it exists, traffic or not).
   */
  enabled: boolean;
  /** Kafka topic of the clickstream (created by the stack's custom resource). */
  topic: string;
  /** Partitions of the topic; raising it adds partitions on deploy, Kafka never removes any. */
  partitions: number;
  /** Largest number of records per invocation of stream-to-parquet (event-source mapping BatchSize, 1..10000). */
  batchSize: number;
  /** How long the mapping gathers records before invoking (MaximumBatchingWindowInSeconds, 0..300). */
  maxBatchingWindowSeconds: number;
  /** Where a new mapping starts reading; keys are offset-based, so TRIM_HORIZON replays without duplicates. */
  startingPosition: (typeof STARTING_POSITIONS)[number];
  /** load-events runs every this many minutes. */
  eventsLoadIntervalMinutes: number;
  /** The consumer-lag alarm fires when OffsetLag (records) passes this. */
  offsetLagThreshold: number;
  /** Retries of a failed batch before it goes to the on-failure destination (needs provisioned pollers). */
  retryAttempts: number;
  /** Provisioned event pollers of the mapping: Kafka retry controls exist only in provisioned mode. */
  pollers: {
    /** Pollers always running (1 to the topic's partitions). */
    minimum: number;
    /** Most pollers the mapping scales to (at most the partitions: a poller reads whole partitions). */
    maximum: number;
  };
}

/** Who the alert topic notifies besides the run summaries' readers; nothing by default. */
export interface AlertsConfig {
  /** E-mail subscriptions (each address confirms by mail before it receives anything). */
  emails: string[];
  /** One HTTPS endpoint (e.g. a chat or paging webhook) subscribed to the topic. */
  httpsEndpoint?: string;
}

/** The functions that run DuckDB (transform, validate, the extracts, stream-to-parquet, load-events). */
export interface EngineConfig {
  /** Their memory; DuckDB's memory_limit is a share of it (the engine reads AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  memoryMb: number;
  /** Their /tmp, where DuckDB spills past memory_limit and the step's files are downloaded (512..10240 MB). */
  ephemeralStorageMb: number;
}

/**
 * The volume Choice of the batch pipeline: a day with more order lines than one Transform → Validate
 * finishes within lambdaTimeoutSeconds is split by a hash of order_id into buckets that a Map runs in
 * parallel (an order and its lines share a bucket, so the per-order rules stay exact).
 */
export interface VolumeConfig {
  /**
   * Order lines above which the day is split; at or below it, one Transform → Validate runs the day, so it
   * may be at most the largest day one of them takes: within 80 % of lambdaTimeoutSeconds, the /tmp of
   * engine.ephemeralStorageMb and the memory engine.memoryMb leaves outside DuckDB's limit
   * (lib/engine-capacity.ts, from bench:scale's figures).
   */
  bucketThresholdLines: number;
  /** Buckets a split day gets (2..1000: States.ArrayRange builds their list, and it stops at 1000 items). */
  bucketCount: number;
  /** How many buckets the SplitDay Map runs at once (Map MaxConcurrency). */
  maxConcurrency: number;
}

export const SOURCE_EGRESS = ['endpoints', 'nat'] as const;

/**
 * The network of the shop's PostgreSQL, which cartflow does not own: ExtractOrders runs in its private
 * subnets with the security group the database admits. Imported by id (no lookups), so synth stays offline.
 */
export interface SourceNetworkConfig {
  /** The VPC of the shop's database, e.g. `vpc-0123456789abcdef0`. */
  vpcId: string;
  /** Private subnets for the extract's network interfaces (two AZs or more for availability). */
  privateSubnetIds: string[];
  /** The AZ of each subnet, in the same order. */
  availabilityZones: string[];
  /**
   * The route table of each subnet, in the same order: needed when the stack creates the S3 gateway endpoint
   * (`endpoints`).
   */
  routeTableIds?: string[];
  /** A security group the database's inbound rules admit on its port; the extract function runs in it. */
  securityGroupId: string;
  /**
   * How the extract reaches Secrets Manager and S3: `endpoints` creates a Secrets Manager interface endpoint
   * and an S3 gateway endpoint in the VPC; `nat` relies on the VPC's NAT route (nothing is created).
   */
  egress: (typeof SOURCE_EGRESS)[number];
  /**
   * With `egress: 'endpoints'`: which of the two endpoints the stack creates. Set one to false when the VPC
   * already has it, since a second one fails the deploy: a route table takes one S3 gateway route, and two
   * Secrets Manager endpoints cannot both have private DNS. An existing Secrets Manager endpoint must admit
   * HTTPS from `securityGroupId`; an existing S3 gateway must route these subnets.
   * @default both created
   */
  createEndpoints?: SourceEndpoints;
}

/** The endpoints `egress: 'endpoints'` creates in the source database's VPC. */
export interface SourceEndpoints {
  /**
   * The S3 gateway endpoint: a route in each subnet's route table (routeTableIds).
   * @default true
   */
  s3Gateway?: boolean;
  /**
   * The Secrets Manager interface endpoint, private DNS on, admitting HTTPS from securityGroupId.
   * @default true
   */
  secretsManager?: boolean;
}

/** The endpoints the stack creates in the source network (none with a NAT). */
export function sourceEndpointsOf(net: SourceNetworkConfig): Required<SourceEndpoints> {
  if (net.egress !== 'endpoints') return { s3Gateway: false, secretsManager: false };
  return { s3Gateway: true, secretsManager: true, ...net.createEndpoints };
}

/**
 * Reserved concurrency of the scheduled functions, none by default. Lambda keeps at least 100 of the
 * account's concurrency unreserved (all of it when the quota is below that: a new account's is 10), so a
 * reservation fails the deploy until the account's "Concurrent executions" quota is raised (README). Their
 * correctness never depends on it: overlapping load-events runs are serialized by the warehouse
 * (ops.event_load_mutex) and an SLA check only publishes a measurement. A reservation guarantees them a slot
 * when other functions of the account can use up its concurrency.
 */
export interface ReservedConcurrencyConfig {
  /**
   * Concurrent executions reserved for load-events (its schedule needs 1), 1 to 1000.
   * @default none
   */
  loadEvents?: number;
  /**
   * Concurrent executions reserved for the SLA check (its schedule needs 1), 1 to 1000.
   * @default none
   */
  slaCheck?: number;
}

/** `sourceNetwork: 'public'`: the source database is reached over the internet, from outside any VPC. */
export const PUBLIC_SOURCE = 'public';

/** The source database's network, or undefined when the extract reaches it over the internet. */
export const sourceNetworkOf = (cfg: EnvironmentConfig): SourceNetworkConfig | undefined =>
  cfg.sourceNetwork === PUBLIC_SOURCE ? undefined : cfg.sourceNetwork;

/** `destroy` deletes stateful resources with the stack (dev only); `retain` keeps them. */
export type RemovalChoice = 'retain' | 'destroy';

/** The CDK removal policy of a choice; undefined means retain. */
export const removalPolicyOf = (choice: RemovalChoice | undefined): RemovalPolicy =>
  choice === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

export interface EnvironmentConfig {
  /** The environment's name: the `-c env=<name>` that selects it, part of resource and role names. */
  envName: EnvName;
  /** EventBridge schedule expression for the daily batch, e.g. `cron(0 3 * * ? *)` (UTC). */
  scheduleCron: string;
  /** Hard SLA of one batch run; the state machine's TimeoutSeconds is slaMinutes * 60. */
  slaMinutes: number;
  /** The quality gate's thresholds and the checks' severities. */
  quality: QualityConfig;
  /** Rows per raw/ Parquet part written by the extract. */
  extractChunkRows: number;
  /** Memory of the functions that do not run DuckDB (those take `engine.memoryMb`). */
  lambdaMemoryMb: number;
  /** Timeout of every step function (1..900 s); must stay below the SLA. */
  lambdaTimeoutSeconds: number;
  engine: EngineConfig;
  /** Retry of every batch and catalog task on transient errors (exponential backoff, full jitter). */
  retry: RetryConfig;
  /** How many tables the LoadTables Map loads at once. */
  loadMaxConcurrency: number;
  volume: VolumeConfig;
  /** CloudWatch Logs retention for functions, the state machines and VPC flow logs. */
  logRetentionDays: RetentionDays;
  /** What happens to stateful resources (bucket, key, log groups) when the stack is deleted. */
  removalPolicy: RemovalChoice;
  /** The Redshift Serverless namespace and workgroup. */
  redshift: RedshiftConfig;
  /** Thresholds of the batch alarms (all notify the alert topic). */
  alarms: AlarmConfig;
  /** Freshness SLAs per dataset and the scheduled check that measures them. */
  sla: SlaConfig;
  /**
   * Reserved concurrency of the scheduled functions; set it only in an account whose Lambda concurrency
   * quota has been raised (README "Lambda concurrency").
   * @default none
   */
  reservedConcurrency?: ReservedConcurrencyConfig;
  /** S3 lifecycle of the lake's zones. */
  lifecycle: LifecycleConfig;
  /** Disaster recovery: the rebuild window, the warehouse's snapshots, the lake's replication. */
  recovery: RecoveryConfig;
  /** The clickstream: MSK topic, event-source mapping and the scheduled load-events. */
  stream: StreamConfig;
  /**
   * Subscriptions of the alert topic.
   * @default none
   */
  alerts?: AlertsConfig;
  /**
   * true adds an X-Ray interface endpoint to the environment's VPC, so the VPC-attached functions
   * (private isolated subnets, no NAT) can send traces; false turns tracing off for them (their segments
   * would have no route out). Functions outside the VPC are traced either way.
   * @default false
   */
  xrayVpcEndpoint?: boolean;
  /**
   * The three Availability Zones of the environment's VPC (the subnets of the warehouse and the stream), e.g.
   * `['us-east-1a', 'us-east-1b', 'us-east-1d']`. Each must support Redshift Serverless and, with the stream
   * on, MSK Serverless; names map to different zones in each account, so check their AZ IDs (`aws ec2
   * describe-availability-zones`) against both services' documented lists. Absent: the region's first three
   * (`Fn::GetAZs`), which nothing checks; synth then warns.
   * @default the region's first three, unchecked
   */
  availabilityZones?: string[];
  /**
   * Where the source database lives: its network (ExtractOrders runs in its subnets), or `'public'`:
   * ExtractOrders runs outside any VPC and reaches the database over the internet (TLS, Amazon CA bundle),
   * which suits a publicly reachable database only. prod must set it, so that a prod extract never goes
   * over the internet by omission.
   * @default 'public' (dev and staging; prod has no default)
   */
  sourceNetwork?: SourceNetworkConfig | typeof PUBLIC_SOURCE;
  /**
   * Arrival debounce of the catalog refresh, in seconds: catalog files landing within this window of the
   * first one start one refresh (the EventBridge Pipe's batching window; locally `cartflow drop` waits as
   * long). 1 to 300, the Pipe's limit.
   * @default 60
   */
  catalogDebounceSeconds?: number;
  /**
   * The version of the batch state machine its `live` alias runs, which the daily schedule starts: every
   * deploy publishes the definition as a new version, and the alias moves only to this one. Pin it to the
   * version live now before a deploy that changes the pipeline, check the new version's output on past dates
   * (`cartflow compare`), then set it to the new version and deploy again to promote
   * (docs/runbooks/promote-batch.md). Unset, the alias follows the newest version (each deploy promotes).
   * @default the newest version
   */
  batchLiveVersion?: number;
}

/** config.catalogDebounceSeconds when unset. */
export const DEFAULT_CATALOG_DEBOUNCE_SECONDS = 60;

/** The catalog arrival debounce window of an environment, in seconds. */
export const catalogDebounceSecondsOf = (cfg: EnvironmentConfig): number =>
  cfg.catalogDebounceSeconds ?? DEFAULT_CATALOG_DEBOUNCE_SECONDS;

/** A config field is invalid; the message names the field, the value and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`Invalid config "${field}": got ${JSON.stringify(value)}; allowed: ${allowed}.`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_QUALITY_THRESHOLD = 0.05;

const CONFIGS: Record<EnvName, EnvironmentConfig> = {
  dev: {
    envName: 'dev',
    scheduleCron: 'cron(0 3 * * ? *)',
    slaMinutes: 60,
    quality: {
      threshold: DEFAULT_QUALITY_THRESHOLD,
      // Dev replays and generates days at will: an order outside its date is reported, not quarantined.
      datasets: { orders: { severity: { 'order_ts within date': 'report' } } },
    },
    extractChunkRows: 50_000,
    lambdaMemoryMb: 1024,
    lambdaTimeoutSeconds: 300,
    engine: { memoryMb: 2048, ephemeralStorageMb: 2048 },
    retry: { maxAttempts: 3, intervalSeconds: 5, backoffRate: 2, maxDelaySeconds: 60 },
    loadMaxConcurrency: 2,
    volume: { bucketThresholdLines: 5_000_000, bucketCount: 4, maxConcurrency: 2 },
    logRetentionDays: RetentionDays.ONE_WEEK,
    removalPolicy: 'destroy',
    // The smallest workgroup Redshift Serverless offers: half the cost of each wake-up at 8.
    redshift: { baseCapacityRpu: 4, databaseName: 'cartflow' },
    alarms: { failedExecutionsThreshold: 1, evaluationPeriods: 1 },
    sla: {
      datasets: {
        products: { loadedBy: '06:00' },
        orders: { loadedBy: '06:00' },
        order_items: { loadedBy: '06:00' },
        // load-events runs every 15 minutes here: an event waits up to that long before it is loaded.
        events: { maxAgeMinutes: 30 },
      },
    },
    lifecycle: {
      rawToIaDays: 30,
      rawToGlacierDays: 60,
      rawExpireDays: 90,
      stagedExpireDays: 2,
      quarantineExpireDays: 30,
      noncurrentExpireDays: 7,
    },
    recovery: { windowDays: 30, snapshots: { scheduleCron: 'cron(0 7 * * ? *)', retentionDays: 3 } },
    stream: {
      // Off by default: an idle MSK Serverless cluster and its poller cost ~$683 a month (README
      // "Clickstream" says how to turn it on).
      enabled: false,
      topic: 'clickstream',
      partitions: 3,
      batchSize: 500,
      maxBatchingWindowSeconds: 10,
      startingPosition: 'LATEST',
      eventsLoadIntervalMinutes: 15,
      offsetLagThreshold: 10_000,
      retryAttempts: 3,
      pollers: { minimum: 1, maximum: 1 },
    },
  },
  staging: {
    envName: 'staging',
    scheduleCron: 'cron(0 3 * * ? *)',
    slaMinutes: 90,
    quality: { threshold: DEFAULT_QUALITY_THRESHOLD },
    extractChunkRows: 100_000,
    lambdaMemoryMb: 1536,
    lambdaTimeoutSeconds: 600,
    engine: { memoryMb: 3072, ephemeralStorageMb: 4096 },
    retry: { maxAttempts: 4, intervalSeconds: 5, backoffRate: 2, maxDelaySeconds: 120 },
    loadMaxConcurrency: 2,
    volume: { bucketThresholdLines: 10_000_000, bucketCount: 8, maxConcurrency: 4 },
    logRetentionDays: RetentionDays.ONE_MONTH,
    removalPolicy: 'retain',
    redshift: { baseCapacityRpu: 8, databaseName: 'cartflow' },
    alarms: { failedExecutionsThreshold: 1, evaluationPeriods: 1 },
    sla: {
      datasets: {
        products: { loadedBy: '06:00' },
        orders: { loadedBy: '06:00' },
        order_items: { loadedBy: '06:00' },
        events: { maxAgeMinutes: 20 },
      },
    },
    lifecycle: {
      rawToIaDays: 30,
      rawToGlacierDays: 90,
      rawExpireDays: 365,
      stagedExpireDays: 3,
      quarantineExpireDays: 90,
      noncurrentExpireDays: 14,
    },
    recovery: { windowDays: 180, snapshots: { scheduleCron: 'cron(0 7 * * ? *)', retentionDays: 14 } },
    stream: {
      enabled: true,
      topic: 'clickstream',
      partitions: 6,
      batchSize: 1_000,
      maxBatchingWindowSeconds: 20,
      startingPosition: 'TRIM_HORIZON',
      eventsLoadIntervalMinutes: 10,
      offsetLagThreshold: 50_000,
      retryAttempts: 5,
      pollers: { minimum: 1, maximum: 3 },
    },
  },
  prod: {
    envName: 'prod',
    scheduleCron: 'cron(30 2 * * ? *)',
    slaMinutes: 120,
    // Orders are what the business reports on: more than 1 % of them quarantined stops the load.
    quality: { threshold: DEFAULT_QUALITY_THRESHOLD, datasets: { orders: { quarantineThreshold: 0.01 } } },
    extractChunkRows: 200_000,
    lambdaMemoryMb: 2048,
    lambdaTimeoutSeconds: 900,
    engine: { memoryMb: 4096, ephemeralStorageMb: 10_240 },
    retry: { maxAttempts: 6, intervalSeconds: 10, backoffRate: 2, maxDelaySeconds: 300 },
    loadMaxConcurrency: 4,
    volume: { bucketThresholdLines: 20_000_000, bucketCount: 16, maxConcurrency: 8 },
    logRetentionDays: RetentionDays.ONE_YEAR,
    removalPolicy: 'retain',
    redshift: { baseCapacityRpu: 32, databaseName: 'cartflow' },
    alarms: { failedExecutionsThreshold: 1, evaluationPeriods: 1, runDurationMinutes: 90 },
    sla: {
      datasets: {
        products: { loadedBy: '06:00' },
        orders: { loadedBy: '06:00' },
        order_items: { loadedBy: '06:00' },
        events: { maxAgeMinutes: 15 },
      },
      checkIntervalMinutes: 5,
      breachedChecks: 2,
    },
    lifecycle: {
      rawToIaDays: 30,
      rawToGlacierDays: 90,
      stagedExpireDays: 7,
      quarantineExpireDays: 365,
      noncurrentExpireDays: 30,
    },
    recovery: { windowDays: 730, snapshots: { scheduleCron: 'cron(0 7 * * ? *)', retentionDays: 35 } },
    stream: {
      enabled: true,
      topic: 'clickstream',
      partitions: 12,
      batchSize: 5_000,
      maxBatchingWindowSeconds: 30,
      startingPosition: 'TRIM_HORIZON',
      eventsLoadIntervalMinutes: 5,
      offsetLagThreshold: 100_000,
      retryAttempts: 10,
      pollers: { minimum: 1, maximum: 6 },
    },
    xrayVpcEndpoint: true,
    // Replace with the shop database's network (README "Source database network") unless it is public.
    sourceNetwork: 'public',
    // Vendors upload a catalog as several files over a few minutes: one refresh for all of them.
    catalogDebounceSeconds: 120,
  },
};

const isEnvName = (name: string): name is EnvName => (ENV_NAMES as readonly string[]).includes(name);

/** The validated config of an environment (`-c env=<name>`); undefined means dev. */
export function loadConfig(name: string | undefined): EnvironmentConfig {
  const envName = name ?? 'dev';
  if (!isEnvName(envName)) {
    throw new ConfigError('env', envName, `one of ${ENV_NAMES.join(', ')} (pass -c env=<name>)`);
  }
  // A copy, so no caller can change another stack's config.
  const config = structuredClone(CONFIGS[envName]);
  validateConfig(config);
  return config;
}

function requireInteger(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, value, `an integer from ${min} to ${max}`);
  }
}

function requireNumber(field: string, value: number, min: number, max: number, minExclusive = false): void {
  const tooLow = minExclusive ? value <= min : value < min;
  if (!Number.isFinite(value) || tooLow || value > max) {
    const allowed = minExclusive ? `a number above ${min}, at most ${max}` : `a number from ${min} to ${max}`;
    throw new ConfigError(field, value, allowed);
  }
}

// EventBridge cron has six fields and needs '?' in day-of-month or day-of-week.
const CRON = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/;
const RATE = /^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$/;
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const SCHEDULE_ALLOWED =
  "an EventBridge expression: cron(min hour day-of-month month day-of-week year) with '?' in day-of-month or day-of-week, or rate(N unit)";
const isScheduleExpression = (expression: unknown): boolean => {
  if (typeof expression !== 'string') return false;
  const cron = CRON.exec(expression);
  return (cron !== null && (cron[3] === '?' || cron[5] === '?')) || RATE.test(expression);
};
const RETENTION_VALUES = Object.values(RetentionDays).filter((v): v is number => typeof v === 'number');

/** Throws a ConfigError for the first invalid field. */
export function validateConfig(cfg: EnvironmentConfig): void {
  for (const section of [
    'quality',
    'engine',
    'retry',
    'volume',
    'redshift',
    'alarms',
    'lifecycle',
    'stream',
  ] as const) {
    const value: unknown = cfg[section];
    if (typeof value !== 'object' || value === null) throw new ConfigError(section, value, 'an object');
  }
  if (!isEnvName(cfg.envName))
    throw new ConfigError('envName', cfg.envName, `one of ${ENV_NAMES.join(', ')}`);

  if (!isScheduleExpression(cfg.scheduleCron)) {
    throw new ConfigError('scheduleCron', cfg.scheduleCron, SCHEDULE_ALLOWED);
  }
  requireInteger('slaMinutes', cfg.slaMinutes, 5, 24 * 60);
  // The Pipe's MaximumBatchingWindowInSeconds range; 0 would start a refresh per handful of files.
  requireInteger('catalogDebounceSeconds', catalogDebounceSecondsOf(cfg), 1, 300);
  validateQuality(cfg.quality);
  // Step Functions numbers a state machine's versions from 1.
  if (cfg.batchLiveVersion !== undefined)
    requireInteger('batchLiveVersion', cfg.batchLiveVersion, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('extractChunkRows', cfg.extractChunkRows, 1_000, 5_000_000);
  requireInteger('lambdaMemoryMb', cfg.lambdaMemoryMb, 128, 10_240);
  requireInteger('lambdaTimeoutSeconds', cfg.lambdaTimeoutSeconds, 1, 900);
  if (cfg.lambdaTimeoutSeconds >= cfg.slaMinutes * 60) {
    throw new ConfigError(
      'lambdaTimeoutSeconds',
      cfg.lambdaTimeoutSeconds,
      `less than the SLA (slaMinutes * 60 = ${cfg.slaMinutes * 60})`,
    );
  }
  requireInteger('engine.memoryMb', cfg.engine.memoryMb, 128, 10_240);
  requireInteger('engine.ephemeralStorageMb', cfg.engine.ephemeralStorageMb, 512, 10_240);

  requireInteger('retry.maxAttempts', cfg.retry.maxAttempts, 0, 10);
  requireInteger('retry.intervalSeconds', cfg.retry.intervalSeconds, 1, 3600);
  requireNumber('retry.backoffRate', cfg.retry.backoffRate, 1, 10, true);
  requireInteger('retry.maxDelaySeconds', cfg.retry.maxDelaySeconds, cfg.retry.intervalSeconds, 3600);

  requireInteger('loadMaxConcurrency', cfg.loadMaxConcurrency, 1, 40);
  requireInteger('volume.bucketThresholdLines', cfg.volume.bucketThresholdLines, 1, 1_000_000_000);
  requireInteger('volume.bucketCount', cfg.volume.bucketCount, 2, 1000);
  requireInteger('volume.maxConcurrency', cfg.volume.maxConcurrency, 1, cfg.volume.bucketCount);
  // A day at the threshold runs in one Transform and one Validate: they must finish it.
  const largest = largestDayOf(cfg);
  if (cfg.volume.bucketThresholdLines > largest.lines) {
    throw new ConfigError(
      'volume.bucketThresholdLines',
      cfg.volume.bucketThresholdLines,
      `at most ${largest.lines} order lines, the largest day one ${largest.step} takes (bound by ${largest.bound}) ` +
        `at engine.memoryMb ${cfg.engine.memoryMb}, engine.ephemeralStorageMb ${cfg.engine.ephemeralStorageMb} and ` +
        `80 % of lambdaTimeoutSeconds ${cfg.lambdaTimeoutSeconds} (lib/engine-capacity.ts, measured by bench:scale)`,
    );
  }
  if (!RETENTION_VALUES.includes(cfg.logRetentionDays)) {
    throw new ConfigError(
      'logRetentionDays',
      cfg.logRetentionDays,
      `a RetentionDays value: ${RETENTION_VALUES.join(', ')}`,
    );
  }
  if (cfg.removalPolicy !== 'retain' && cfg.removalPolicy !== 'destroy') {
    throw new ConfigError('removalPolicy', cfg.removalPolicy, "'retain' or 'destroy'");
  }
  // Data must survive a stack deletion outside dev.
  if (cfg.envName !== 'dev' && cfg.removalPolicy !== 'retain') {
    throw new ConfigError('removalPolicy', cfg.removalPolicy, `'retain' for ${cfg.envName}`);
  }

  requireInteger('redshift.maxConcurrentRuns', maxConcurrentRunsOf(cfg), 1, 20);
  if (!isBaseCapacityRpu(cfg.redshift.baseCapacityRpu)) {
    throw new ConfigError(
      'redshift.baseCapacityRpu',
      cfg.redshift.baseCapacityRpu,
      BASE_CAPACITY_RPU_ALLOWED,
    );
  }
  if (!DATABASE_NAME.test(cfg.redshift.databaseName)) {
    throw new ConfigError(
      'redshift.databaseName',
      cfg.redshift.databaseName,
      'lower-case letters, digits and _, starting with a letter or _, at most 63 characters',
    );
  }

  requireInteger('alarms.failedExecutionsThreshold', cfg.alarms.failedExecutionsThreshold, 1, 1000);
  requireInteger('alarms.evaluationPeriods', cfg.alarms.evaluationPeriods, 1, 24);
  if (cfg.alarms.runDurationMinutes !== undefined) {
    requireInteger('alarms.runDurationMinutes', cfg.alarms.runDurationMinutes, 1, cfg.slaMinutes);
  }
  validateSla(cfg);

  const lc = cfg.lifecycle;
  requireInteger('lifecycle.rawToIaDays', lc.rawToIaDays, 30, 3650);
  requireInteger('lifecycle.rawToGlacierDays', lc.rawToGlacierDays, lc.rawToIaDays + 30, 3650);
  if (lc.rawExpireDays !== undefined) {
    requireInteger('lifecycle.rawExpireDays', lc.rawExpireDays, lc.rawToGlacierDays + 1, 36_500);
  }
  requireInteger('lifecycle.stagedExpireDays', lc.stagedExpireDays, 1, 365);
  requireInteger('lifecycle.quarantineExpireDays', lc.quarantineExpireDays, 1, 36_500);
  requireInteger('lifecycle.noncurrentExpireDays', lc.noncurrentExpireDays, 1, 3650);
  validateRecovery(cfg);

  validateStream(cfg.stream);
  if (cfg.reservedConcurrency !== undefined) validateReservedConcurrency(cfg.reservedConcurrency);
  if (cfg.alerts !== undefined) validateAlerts(cfg.alerts);
  if (cfg.xrayVpcEndpoint !== undefined && typeof cfg.xrayVpcEndpoint !== 'boolean') {
    throw new ConfigError('xrayVpcEndpoint', cfg.xrayVpcEndpoint, 'true or false');
  }
  if (cfg.availabilityZones !== undefined) validateAvailabilityZones(cfg.availabilityZones);
  validateSourceChoice(cfg);
}

/** Redshift Serverless wants subnets in three AZs; the VPC has one subnet in each. */
export const VPC_AZ_COUNT = 3;

function validateAvailabilityZones(azs: unknown): void {
  const names = Array.isArray(azs) ? azs : [];
  const regions = new Set(names.map((az) => String(az).slice(0, -1)));
  if (
    names.length !== VPC_AZ_COUNT ||
    !names.every((az) => typeof az === 'string' && AZ_NAME.test(az)) ||
    new Set(names).size !== VPC_AZ_COUNT ||
    regions.size !== 1
  ) {
    throw new ConfigError(
      'availabilityZones',
      azs,
      `${VPC_AZ_COUNT} different AZ names of one region, like ['us-east-1a', 'us-east-1b', 'us-east-1d']`,
    );
  }
}

/** The recovery window fits the lifecycle: every file a rebuild of the window reads is still there. */
function validateRecovery({ recovery, lifecycle }: EnvironmentConfig): void {
  if (typeof recovery !== 'object' || recovery === null)
    throw new ConfigError('recovery', recovery, 'an object');
  const expire = lifecycle.rawExpireDays;
  requireInteger('recovery.windowDays', recovery.windowDays, 1, 36_500);
  if (expire !== undefined && recovery.windowDays > expire) {
    throw new ConfigError(
      'recovery.windowDays',
      recovery.windowDays,
      `at most lifecycle.rawExpireDays (${expire}): the compacted event files expire then; raise rawExpireDays or unset it to keep them`,
    );
  }
  const { snapshots, lakeReplication } = recovery;
  if (typeof snapshots !== 'object' || snapshots === null)
    throw new ConfigError('recovery.snapshots', snapshots, 'an object');
  if (!isScheduleExpression(snapshots.scheduleCron)) {
    throw new ConfigError('recovery.snapshots.scheduleCron', snapshots.scheduleCron, SCHEDULE_ALLOWED);
  }
  requireInteger('recovery.snapshots.retentionDays', snapshots.retentionDays, 1, MAX_SNAPSHOT_DAYS);
  if (snapshots.copy !== undefined) {
    const { region, retentionDays, kmsKeyArn } = snapshots.copy;
    if (typeof region !== 'string' || !REGION.test(region)) {
      throw new ConfigError('recovery.snapshots.copy.region', region, "a region name like 'eu-central-1'");
    }
    requireInteger('recovery.snapshots.copy.retentionDays', retentionDays, 1, MAX_SNAPSHOT_DAYS);
    requireKmsKeyArn('recovery.snapshots.copy.kmsKeyArn', kmsKeyArn, region);
  }
  if (lakeReplication !== undefined) {
    const { destinationBucketArn, kmsKeyArn } = lakeReplication;
    if (typeof destinationBucketArn !== 'string' || !BUCKET_ARN.test(destinationBucketArn)) {
      throw new ConfigError(
        'recovery.lakeReplication.destinationBucketArn',
        destinationBucketArn,
        "a bucket ARN like 'arn:aws:s3:::cartflow-prod-lake-replica'",
      );
    }
    requireKmsKeyArn('recovery.lakeReplication.kmsKeyArn', kmsKeyArn);
  }
}

/** CreateSnapshot's longest RetentionPeriod (days). */
const MAX_SNAPSHOT_DAYS = 3653;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const BUCKET_ARN = /^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:([a-z]{2}(?:-[a-z]+)+-\d):\d{12}:key\/[0-9a-f-]{36}$/;

/** A key ARN (not an alias: replication and snapshot copy need the key itself), in `region` when given. */
function requireKmsKeyArn(field: string, arn: unknown, region?: string): void {
  const match = typeof arn === 'string' ? KMS_KEY_ARN.exec(arn) : null;
  if (!match || (region !== undefined && match[1] !== region)) {
    const where = region === undefined ? '' : ` in ${region}`;
    throw new ConfigError(
      field,
      arn,
      `a KMS key ARN${where} like 'arn:aws:kms:${region ?? 'eu-central-1'}:123456789012:key/<key id>'`,
    );
  }
}

/** Minute of the day (UTC) a `cron(M H ? * * *)`-style schedule with fixed minute and hour starts at. */
function dailyStartMinute(expression: string): number | undefined {
  const cron = CRON.exec(expression);
  if (!cron || !/^\d+$/.test(cron[1]) || !/^\d+$/.test(cron[2])) return undefined;
  return Number(cron[2]) * 60 + Number(cron[1]);
}

const hhmm = (minute: number): string =>
  `${String(Math.floor(minute / 60) % 24).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** The quality settings, validated by the code the functions resolve them with (core/quality/rules.ts). */
function validateQuality(quality: QualityConfig): void {
  try {
    resolveRules(quality);
  } catch (error) {
    if (!(error instanceof RulesConfigError)) throw error;
    throw new ConfigError(`quality.${error.setting}`, error.value, error.allowed);
  }
}

/** What the stack gives the quality steps as QUALITY_SETTINGS. */
export const qualitySettingsOf = (cfg: EnvironmentConfig): string => JSON.stringify(cfg.quality);

function validateSla(cfg: EnvironmentConfig): void {
  const { sla } = cfg;
  const problem = freshnessRulesProblem(sla?.datasets);
  if (problem) {
    const field = problem.field ? `sla.datasets.${problem.field}` : 'sla.datasets';
    throw new ConfigError(field, problem.value, problem.allowed);
  }
  if (sla.checkIntervalMinutes !== undefined) {
    requireInteger('sla.checkIntervalMinutes', sla.checkIntervalMinutes, 1, 60);
  }
  if (sla.breachedChecks !== undefined) requireInteger('sla.breachedChecks', sla.breachedChecks, 1, 24);
  // A deadline no run can meet would alarm every day: the scheduled run must be able to finish before it.
  const start = dailyStartMinute(cfg.scheduleCron);
  for (const [dataset, rule] of Object.entries(sla.datasets)) {
    if (rule === undefined) continue;
    if (isLoadedByRule(rule) && start !== undefined) {
      const latestFinish = start + cfg.slaMinutes;
      if (limitMinutes(rule) - 24 * 60 < latestFinish) {
        throw new ConfigError(
          `sla.datasets.${dataset}.loadedBy`,
          rule.loadedBy,
          `${hhmm(latestFinish)} or later: the run starts at ${hhmm(start)} (scheduleCron) and may take slaMinutes (${cfg.slaMinutes}); or schedule the run earlier`,
        );
      }
    }
    // Events wait for the next load-events run before they are in the warehouse.
    if (!isLoadedByRule(rule) && dataset === 'events' && cfg.stream.enabled) {
      const interval = cfg.stream.eventsLoadIntervalMinutes;
      if (rule.maxAgeMinutes <= interval) {
        throw new ConfigError(
          'sla.datasets.events.maxAgeMinutes',
          rule.maxAgeMinutes,
          `more than stream.eventsLoadIntervalMinutes (${interval}): events are loaded only that often`,
        );
      }
    }
  }
}

const AWS_ID = (prefix: string) => new RegExp(`^${prefix}-[0-9a-f]{8}([0-9a-f]{9})?$`);
const AZ_NAME = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

function requireIds(field: string, ids: unknown, prefix: string, count?: number): void {
  const pattern = AWS_ID(prefix);
  if (
    !Array.isArray(ids) ||
    ids.length === 0 ||
    (count !== undefined && ids.length !== count) ||
    !ids.every((id) => typeof id === 'string' && pattern.test(id))
  ) {
    const size = count === undefined ? 'a non-empty list' : `a list of ${count}`;
    throw new ConfigError(field, ids, `${size} of ids like '${prefix}-0123456789abcdef0'`);
  }
}

const SOURCE_CHOICES = `{ vpcId, privateSubnetIds, availabilityZones, securityGroupId, egress } (the shop database's network) or '${PUBLIC_SOURCE}' (over the internet, TLS)`;

/** prod names where its source database is: an extract over the internet is never a default there. */
function validateSourceChoice(cfg: EnvironmentConfig): void {
  const net = cfg.sourceNetwork;
  if (net === undefined) {
    if (cfg.envName === 'prod')
      throw new ConfigError('sourceNetwork', net, `for prod, one of ${SOURCE_CHOICES}`);
  } else if (net !== PUBLIC_SOURCE) {
    if (typeof net !== 'object' || net === null) throw new ConfigError('sourceNetwork', net, SOURCE_CHOICES);
    validateSourceNetwork(net);
  }
}

function validateSourceNetwork(net: SourceNetworkConfig): void {
  if (typeof net.vpcId !== 'string' || !AWS_ID('vpc').test(net.vpcId)) {
    throw new ConfigError('sourceNetwork.vpcId', net.vpcId, "a VPC id like 'vpc-0123456789abcdef0'");
  }
  requireIds('sourceNetwork.privateSubnetIds', net.privateSubnetIds, 'subnet');
  const count = net.privateSubnetIds.length;
  if (
    !Array.isArray(net.availabilityZones) ||
    net.availabilityZones.length !== count ||
    !net.availabilityZones.every((az) => typeof az === 'string' && AZ_NAME.test(az))
  ) {
    throw new ConfigError(
      'sourceNetwork.availabilityZones',
      net.availabilityZones,
      `one AZ name like 'eu-west-1a' per subnet (${count})`,
    );
  }
  if (typeof net.securityGroupId !== 'string' || !AWS_ID('sg').test(net.securityGroupId)) {
    throw new ConfigError(
      'sourceNetwork.securityGroupId',
      net.securityGroupId,
      "a security group id like 'sg-0123456789abcdef0'",
    );
  }
  if (!(SOURCE_EGRESS as readonly string[]).includes(net.egress)) {
    throw new ConfigError('sourceNetwork.egress', net.egress, SOURCE_EGRESS.join(' or '));
  }
  if (net.createEndpoints !== undefined) {
    const { s3Gateway, secretsManager, ...other } = net.createEndpoints as Record<string, unknown>;
    if (
      net.egress !== 'endpoints' ||
      Object.keys(other).length > 0 ||
      ![s3Gateway, secretsManager].every((v) => v === undefined || typeof v === 'boolean')
    ) {
      throw new ConfigError(
        'sourceNetwork.createEndpoints',
        net.createEndpoints,
        "{ s3Gateway?: boolean, secretsManager?: boolean }, with egress 'endpoints' only",
      );
    }
  }
  // The S3 gateway endpoint is a route in each subnet's route table.
  if (sourceEndpointsOf(net).s3Gateway || net.routeTableIds !== undefined) {
    requireIds('sourceNetwork.routeTableIds', net.routeTableIds, 'rtb', count);
  }
}

function validateReservedConcurrency(reserved: ReservedConcurrencyConfig): void {
  if (typeof reserved !== 'object' || reserved === null) {
    throw new ConfigError('reservedConcurrency', reserved, 'an object with loadEvents and/or slaCheck');
  }
  for (const name of ['loadEvents', 'slaCheck'] as const) {
    const value = reserved[name];
    // 0 would throttle every invocation: the function would never run.
    if (value !== undefined) requireInteger(`reservedConcurrency.${name}`, value, 1, 1000);
  }
}

// Deliberately plain: SNS sends a confirmation mail, which is the real check of an address.
const EMAIL = /^[^\s@,;]+@[^\s@,;]+\.[^\s@,;]+$/;
/** SNS allows 12,500,000 subscriptions per topic; more than a handful of mail addresses wants a list. */
const MAX_ALERT_EMAILS = 20;

function validateAlerts(alerts: AlertsConfig): void {
  if (!Array.isArray(alerts.emails) || alerts.emails.length > MAX_ALERT_EMAILS) {
    throw new ConfigError('alerts.emails', alerts.emails, `a list of at most ${MAX_ALERT_EMAILS} addresses`);
  }
  const seen = new Set<string>();
  for (const email of alerts.emails) {
    if (typeof email !== 'string' || !EMAIL.test(email)) {
      throw new ConfigError('alerts.emails', email, 'e-mail addresses like ops@example.com');
    }
    if (seen.has(email.toLowerCase())) {
      throw new ConfigError('alerts.emails', email, 'each address once');
    }
    seen.add(email.toLowerCase());
  }
  if (alerts.httpsEndpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(alerts.httpsEndpoint);
    } catch {
      url = undefined;
    }
    if (url?.protocol !== 'https:' || url.hostname === '' || url.username !== '' || url.password !== '') {
      throw new ConfigError(
        'alerts.httpsEndpoint',
        alerts.httpsEndpoint,
        'an https:// URL without credentials (SNS confirms it with a SubscriptionConfirmation request)',
      );
    }
  }
}

function validateStream(st: StreamConfig): void {
  if (typeof st.enabled !== 'boolean') {
    throw new ConfigError('stream.enabled', st.enabled, 'true or false');
  }
  if (typeof st.topic !== 'string' || !TOPIC_NAME.test(st.topic) || st.topic === '.' || st.topic === '..') {
    throw new ConfigError('stream.topic', st.topic, "1-249 characters from a-z, A-Z, 0-9, '.', '_' and '-'");
  }
  // MSK Serverless allows at most 120 partitions per topic.
  requireInteger('stream.partitions', st.partitions, 1, 120);
  requireInteger('stream.batchSize', st.batchSize, 1, 10_000);
  requireInteger('stream.maxBatchingWindowSeconds', st.maxBatchingWindowSeconds, 0, 300);
  if (!(STARTING_POSITIONS as readonly string[]).includes(st.startingPosition)) {
    throw new ConfigError('stream.startingPosition', st.startingPosition, STARTING_POSITIONS.join(' or '));
  }
  requireInteger('stream.eventsLoadIntervalMinutes', st.eventsLoadIntervalMinutes, 1, 24 * 60);
  requireInteger('stream.offsetLagThreshold', st.offsetLagThreshold, 1, 1_000_000_000);
  requireInteger('stream.retryAttempts', st.retryAttempts, 0, 10_000);
  requireInteger('stream.pollers.minimum', st.pollers.minimum, 1, Math.min(200, st.partitions));
  // A poller reads whole partitions: more pollers than partitions would stay idle.
  requireInteger(
    'stream.pollers.maximum',
    st.pollers.maximum,
    st.pollers.minimum,
    Math.min(2000, st.partitions),
  );
}
