/**
 * A rough monthly cost of one environment from its config, at AWS list prices (us-east-1, on-demand,
 * no free tier, no Savings Plans), idle and at a stated daily volume. README "Cost" shows its output;
 * it is an estimate of the fixed and volume-driven lines, not a bill: check the prices before relying on it.
 */
import type { EnvironmentConfig } from './config';

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

/** Per-environment fixed counts the estimate needs (alarms, secrets, endpoints), read off the template. */
export interface StackCounts {
  alarms: number;
  secrets: number;
  keys: number;
  /** Interface endpoints in the VPC (3 AZs each). */
  interfaceEndpoints: number;
}

/**
 * Monthly cost lines of `config` at `volume` (idle: orders 0, events 0). Redshift wakes for the daily
 * batch (about `batchWarehouseMinutes` at base capacity) and for each load-events run that finds new
 * objects; an idle loader makes no warehouse call (lambdas/handlers/load-events.ts).
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

  // Redshift: the batch wakes it once a day when there are orders; the stream's loads while events arrive.
  const stream = config.stream;
  const loadsPerDay = stream.enabled && volume.events > 0 ? (24 * 60) / stream.eventsLoadIntervalMinutes : 0;
  const batchMinutes = volume.orders > 0 ? batchWarehouseMinutes : 0;
  // Each load keeps the workgroup busy ~1 minute (the 60-second minimum), at base capacity.
  const redshiftHours = ((batchMinutes + loadsPerDay * 1) / 60) * DAYS_PER_MONTH;
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

  // Lambda: the batch (~12 invocations, ~60 s each at the engine's memory, arm64), stream-to-parquet
  // (one invocation per batchSize events, ~2 s), load-events runs (~5 s when idle, ~30 s with work).
  const engineGb = config.engine.memoryMb / 1024;
  const batchGbS = volume.orders > 0 ? 12 * 60 * engineGb + (volume.orders / 100_000) * 60 * engineGb : 0;
  const streamInvocations = stream.enabled ? volume.events / stream.batchSize : 0;
  const streamGbS = streamInvocations * 2 * engineGb;
  const loadRuns = stream.enabled ? (24 * 60) / stream.eventsLoadIntervalMinutes : 0;
  const loadGbS = loadRuns * (volume.events > 0 ? 30 : 5) * engineGb;
  const gbS = (batchGbS + streamGbS + loadGbS) * DAYS_PER_MONTH;
  const requests = (12 + streamInvocations + loadRuns) * DAYS_PER_MONTH;
  add(
    'Lambda (arm64 GB-s + requests)',
    gbS * p.lambdaGbSecondArm + (requests / 1e6) * p.lambdaRequestsPerMillion,
  );

  // Step Functions: ~40 transitions a daily run (more with the volume Map), when it runs with data.
  add('Step Functions transitions', (idle ? 10 : 40) * DAYS_PER_MONTH * p.sfnTransition);

  // S3: raw + curated Parquet ≈ 300 bytes per order line (compressed), events ≈ 150 bytes per event,
  // one month of accumulation; PUTs: the stream's objects, arrival notices and load manifests.
  const storedGb = ((volume.orders * 3 * 300 + volume.events * 150) * DAYS_PER_MONTH) / 1e9;
  const puts = (streamInvocations * 2 + loadRuns * (volume.events > 0 ? 4 : 0) + 200) * DAYS_PER_MONTH;
  const gets = (loadRuns * 3 + streamInvocations + 500) * DAYS_PER_MONTH;
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
