/**
 * A rough monthly cost of one environment from its config, at AWS list prices (us-east-1, on-demand,
 * no free tier, no Savings Plans), idle and at a stated daily volume. README "Cost" shows its output;
 * it is an estimate of the fixed and volume-driven lines, not a bill: check the prices before relying on it.
 */
import { freshnessRulesOf, type EnvironmentConfig } from './config';
import { batchSecondsPerLine } from './engine-capacity';
import { scheduledCallsOf, type CfnResources, type ScheduledCall } from './scheduled-calls';
import { MONITORING_HANDLERS, STREAM_HANDLERS } from '../lambdas/steps';

/** us-east-1 list prices used (USD). */
export const PRICES = {
  /** Redshift Serverless, per RPU-hour, billed per second with a 60-second minimum per wake-up. */
  redshiftRpuHour: 0.375,
  /** MSK Serverless: per cluster-hour, per partition-hour, per GB written in and read out. */
  mskClusterHour: 0.75,
  mskPartitionHour: 0.0015,
  mskGbIn: 0.1,
  mskGbOut: 0.05,
  /** MSK Serverless storage, per GB-month (24 h retention by default here: volume of ~1 day). */
  mskStorageGbMonth: 0.1,
  /** Lambda provisioned event pollers (Kafka mapping in provisioned mode), per event poller unit-hour. */
  lambdaEpuHour: 0.185,
  /** Event pollers one EPU carries (assumed; see the Lambda pricing page). */
  pollersPerEpu: 10,
  /** Lambda duration per GB-second: x86 and arm64; requests per million. */
  lambdaGbSecondX86: 0.0000166667,
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequestsPerMillion: 0.2,
  /** Step Functions Standard, per state transition. */
  sfnTransition: 0.000025,
  /** S3 Standard per GB-month; PUT/COPY/POST/LIST per 1,000; GET per 1,000. */
  s3GbMonth: 0.023,
  s3PutPer1000: 0.005,
  s3GetPer1000: 0.0004,
  /** Redshift managed storage, per GB-month: what manual snapshots (and their copies) are billed as. */
  redshiftStorageGbMonth: 0.024,
  /** Data transfer between regions, per GB (S3 replication, snapshot copies). */
  interRegionGb: 0.02,
  /** KMS: customer managed key per month; requests per 10,000. */
  kmsKeyMonth: 1,
  kmsPer10kRequests: 0.03,
  /** CloudWatch: standard alarm per month, dashboard per month, log ingestion per GB, custom metric per month. */
  cloudwatchAlarmMonth: 0.1,
  cloudwatchDashboardMonth: 3,
  cloudwatchLogsIngestGb: 0.5,
  cloudwatchMetricMonth: 0.3,
  /** Secrets Manager, per secret-month. */
  secretMonth: 0.4,
  /** VPC interface endpoint, per AZ-hour (3 AZs here). */
  interfaceEndpointAzHour: 0.01,
} as const;

const HOURS_PER_MONTH = 730;
const DAYS_PER_MONTH = 30.4;

/** The daily volume an estimate assumes. */
export interface DailyVolume {
  /** Orders per day (lines ≈ 3 per order). */
  orders: number;
  /** Clickstream events per day (≈ 1 KB each). */
  events: number;
}

export interface CostLine {
  item: string;
  usd: number;
}

/** What the estimate reads off an environment's synthesized template (stackCountsOf). */
export interface StackCounts {
  alarms: number;
  secrets: number;
  keys: number;
  /** Interface endpoints in the VPC (3 AZs each). */
  interfaceEndpoints: number;
  /** Every target of every EventBridge schedule, with the Redshift actions it can reach (lib/scheduled-calls.ts). */
  scheduledCalls: ScheduledCall[];
  /** The architecture the DuckDB functions deploy with: their layer's binding decides it. */
  engineArchitecture: 'x86_64' | 'arm64';
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation JSON, read field by field
const ofType = (resources: CfnResources, type: string): any[] =>
  Object.values(resources)
    .filter((r) => r.Type === type)
    .map((r) => r.Properties ?? {});

/** The counts of a synthesized template (`Template.toJSON().Resources`). */
export function stackCountsOf(resources: CfnResources): StackCounts {
  // Only the DuckDB functions carry a layer (lib/constructs/duckdb-layer.ts): one architecture for all.
  const engineArchitectures = new Set<string>(
    ofType(resources, 'AWS::Lambda::Function')
      .filter((f) => f.Layers !== undefined)
      .map((f) => (f.Architectures as string[] | undefined)?.[0] ?? 'x86_64'),
  );
  if (engineArchitectures.size > 1) {
    throw new Error(`DuckDB functions deploy on ${[...engineArchitectures].join(' and ')}; expected one`);
  }
  return {
    alarms: ofType(resources, 'AWS::CloudWatch::Alarm').length,
    secrets:
      ofType(resources, 'AWS::SecretsManager::Secret').length +
      // Redshift Serverless keeps the admin password in a secret it manages (ManageAdminPassword).
      ofType(resources, 'AWS::RedshiftServerless::Namespace').filter((n) => n.ManageAdminPassword).length,
    keys: ofType(resources, 'AWS::KMS::Key').length,
    interfaceEndpoints: ofType(resources, 'AWS::EC2::VPCEndpoint').filter(
      (e) => e.VpcEndpointType === 'Interface',
    ).length,
    scheduledCalls: scheduledCallsOf(resources),
    engineArchitecture: engineArchitectures.has('arm64') ? 'arm64' : 'x86_64',
  };
}

/**
 * The nightly run's warehouse time when there was nothing to load: it still wakes Redshift twice (the
 * EnsureWarehouse/ResolveRun queries, then the loads, publish and record of the extracted products),
 * each billed at the 60-second minimum.
 */
export const IDLE_BATCH_WAREHOUSE_MINUTES = 2;

/**
 * Minutes a day that `call` keeps the workgroup busy at `volume`; 0 for a call that cannot reach Redshift.
 * A scheduled state machine is the batch run; load-events makes no warehouse call when nothing new arrived
 * (test/lambdas/handlers/load-events.test.ts); any other call that can reach the warehouse is counted at
 * the 60-second minimum every time it runs, idle or not.
 */
function warehouseMinutesPerDay(
  call: ScheduledCall,
  volume: DailyVolume,
  batchWarehouseMinutes: number,
): number {
  if (call.warehouseActions.length === 0) return 0;
  if (call.kind === 'stateMachine') {
    return call.perDay * (volume.orders > 0 ? batchWarehouseMinutes : IDLE_BATCH_WAREHOUSE_MINUTES);
  }
  if (call.entry === STREAM_HANDLERS.LoadEvents) return volume.events > 0 ? call.perDay : 0;
  return call.perDay;
}

/**
 * Monthly cost lines of `config` at `volume` (idle: orders 0, events 0). Redshift is billed for every
 * scheduled call that can reach it (warehouseMinutesPerDay) at base capacity: the nightly batch (about
 * `batchWarehouseMinutes` with orders) and each load-events run that finds new objects.
 */
export function estimateMonthlyCost(
  config: EnvironmentConfig,
  volume: DailyVolume,
  counts: StackCounts,
  batchWarehouseMinutes = 10,
): CostLine[] {
  const p = PRICES;
  const idle = volume.orders === 0 && volume.events === 0;
  const rpu = config.redshift.baseCapacityRpu;
  const lines: CostLine[] = [];
  const add = (item: string, usd: number) => lines.push({ item, usd: Math.round(usd * 100) / 100 });

  // Redshift: every scheduled call that can reach it, at base capacity.
  const stream = config.stream;
  const calls = counts.scheduledCalls;
  const warehouseMinutes = calls.reduce(
    (sum, c) => sum + warehouseMinutesPerDay(c, volume, batchWarehouseMinutes),
    0,
  );
  const redshiftHours = (warehouseMinutes / 60) * DAYS_PER_MONTH;
  add(`Redshift Serverless (${rpu} RPU base)`, redshiftHours * rpu * p.redshiftRpuHour);

  if (stream.enabled) {
    const gb = (volume.events * 1024) / 1e9;
    add('MSK Serverless cluster', HOURS_PER_MONTH * p.mskClusterHour);
    add(`MSK partitions (${stream.partitions})`, HOURS_PER_MONTH * stream.partitions * p.mskPartitionHour);
    add('MSK data in/out/storage', gb * DAYS_PER_MONTH * (p.mskGbIn + p.mskGbOut) + gb * p.mskStorageGbMonth);
    const epus = Math.ceil(stream.pollers.minimum / p.pollersPerEpu);
    add(
      `Lambda provisioned pollers (min ${stream.pollers.minimum})`,
      HOURS_PER_MONTH * epus * p.lambdaEpuHour,
    );
  }
  add(
    `VPC interface endpoints (${counts.interfaceEndpoints} × 3 AZ)`,
    counts.interfaceEndpoints * 3 * HOURS_PER_MONTH * p.interfaceEndpointAzHour,
  );

  // Lambda: each scheduled batch run (~12 invocations of ~60 s: 4 DuckDB steps at the engine's memory, the
  // others at lambdaMemoryMb on arm64; Transform and Validate also take the seconds per order line that
  // bench:scale measured, lib/engine-capacity.ts, ~3 lines an order), stream-to-parquet (one DuckDB
  // invocation per batchSize events, ~2 s), load-events runs (DuckDB, ~5 s when idle, ~30 s with work),
  // other timers (~1 s each: the SLA check). The DuckDB functions are priced at their deployed
  // architecture (x86_64: the binding's).
  const gbSecond = (arch: string | undefined) =>
    arch === 'arm64' ? p.lambdaGbSecondArm : p.lambdaGbSecondX86;
  const engineGb = config.engine.memoryMb / 1024;
  const perDayOf = (match: (c: ScheduledCall) => boolean) =>
    calls.filter(match).reduce((sum, c) => sum + c.perDay, 0);
  const batchRuns = perDayOf((c) => c.kind === 'stateMachine');
  const loadRuns = perDayOf((c) => c.entry === STREAM_HANDLERS.LoadEvents);
  const others = calls.filter((c) => c.kind === 'function' && c.entry !== STREAM_HANDLERS.LoadEvents);
  const streamInvocations = stream.enabled ? volume.events / stream.batchSize : 0;
  const engineGbS =
    batchRuns * (4 * 60 * engineGb + volume.orders * 3 * batchSecondsPerLine() * engineGb) +
    streamInvocations * 2 * engineGb +
    loadRuns * (volume.events > 0 ? 30 : 5) * engineGb;
  const armGbS = batchRuns * 8 * 60 * (config.lambdaMemoryMb / 1024);
  const otherUsd = others.reduce(
    (sum, c) => sum + c.perDay * ((c.memoryMb ?? 128) / 1024) * gbSecond(c.architecture),
    0,
  );
  const requests =
    (batchRuns * 12 + streamInvocations + loadRuns + perDayOf((c) => others.includes(c))) * DAYS_PER_MONTH;
  add(
    `Lambda (DuckDB on ${counts.engineArchitecture}, others arm64: GB-s + requests)`,
    (engineGbS * gbSecond(counts.engineArchitecture) + armGbS * p.lambdaGbSecondArm + otherUsd) *
      DAYS_PER_MONTH +
      (requests / 1e6) * p.lambdaRequestsPerMillion,
  );

  // Step Functions: ~40 transitions a daily run (more with the volume Map), when it runs with data.
  add('Step Functions transitions', (idle ? 10 : 40) * DAYS_PER_MONTH * p.sfnTransition);

  // S3: raw + curated Parquet ≈ 300 bytes per order line (compressed), events ≈ 150 bytes per event,
  // one month of accumulation; PUTs (and LISTs, priced alike): the stream's objects, arrival notices, load
  // manifests and freshness records, the SLA check's LIST; GETs: the SLA check reads a record per rule.
  const storedGb = ((volume.orders * 3 * 300 + volume.events * 150) * DAYS_PER_MONTH) / 1e9;
  const slaChecks = perDayOf((c) => c.entry === MONITORING_HANDLERS.SlaCheck);
  const rules = Object.keys(freshnessRulesOf(config)).length;
  const puts =
    (streamInvocations * 2 + loadRuns * (volume.events > 0 ? 5 : 0) + slaChecks + 200) * DAYS_PER_MONTH;
  const gets = (loadRuns * 3 + streamInvocations + slaChecks * rules + 500) * DAYS_PER_MONTH;
  add(
    'S3 storage and requests',
    storedGb * p.s3GbMonth + (puts / 1000) * p.s3PutPer1000 + (gets / 1000) * p.s3GetPer1000,
  );

  // Snapshots are incremental: they hold about the warehouse's data, ≈ 100 bytes per row loaded (one month).
  const { snapshots, lakeReplication } = config.recovery;
  const warehouseGb = ((volume.orders * 3 * 100 + volume.events * 100) * DAYS_PER_MONTH) / 1e9;
  const copies = snapshots.copy ? 2 : 1;
  add(
    `Redshift snapshots (kept ${snapshots.retentionDays} d${snapshots.copy ? `, copied to ${snapshots.copy.region}` : ''})`,
    warehouseGb * copies * p.redshiftStorageGbMonth + (snapshots.copy ? warehouseGb * p.interRegionGb : 0),
  );
  // Replication: a second copy of the lake's month, its transfer, and one replication PUT per object.
  if (lakeReplication) {
    add(
      'S3 cross-region replication of the lake',
      storedGb * (p.s3GbMonth + p.interRegionGb) + (puts / 1000) * p.s3PutPer1000,
    );
  }

  const kmsRequests = (puts + gets) * 1.1;
  add(
    `KMS (${counts.keys} key + requests)`,
    counts.keys * p.kmsKeyMonth + (kmsRequests / 10_000) * p.kmsPer10kRequests,
  );
  // Logs: ~2 KB per invocation, plus VPC flow logs (~50 MB a month idle).
  const logsGb = (requests * 2048) / 1e9 + 0.05;
  add(
    `CloudWatch (${counts.alarms} alarms, dashboard, logs, EMF metrics)`,
    counts.alarms * p.cloudwatchAlarmMonth +
      p.cloudwatchDashboardMonth +
      logsGb * p.cloudwatchLogsIngestGb +
      10 * p.cloudwatchMetricMonth,
  );
  add(`Secrets Manager (${counts.secrets} secrets)`, counts.secrets * p.secretMonth);
  return lines;
}

export const totalOf = (lines: CostLine[]): number => Math.round(lines.reduce((s, l) => s + l.usd, 0));
