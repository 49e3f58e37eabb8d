/**
 * The local runtime's adapters without the state machines: s3rver for the lake, PGlite for the source
 * and the warehouse, bound for the handlers exactly as local/runtime.ts binds them. The benchmark calls
 * the handlers itself, so it does not need startLocalRuntime's CDK synthesis of the definitions (which
 * also keeps it runnable while lib/ is being edited).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { bindAdapters } from '../../lambdas/adapters/context';
import type { LakeStore, Warehouse } from '../../lambdas/adapters/ports';
import { S3LakeStore, createS3Client } from '../../lambdas/adapters/s3-lake';
import { HANDLER_ENV } from '../../lambdas/steps';
import { FileAlerts } from '../../local/console-alerts';
import { openDatabase, PostgresSourceDatabase, type Database } from '../../local/embedded-postgres';
import { startS3Server } from '../../local/s3-server';
import { SqlWarehouse } from '../../local/warehouse';

const BUCKET = 'cartflow-lake';

export interface BenchRuntime {
  lake: LakeStore;
  source: Database;
  warehouse: SqlWarehouse;
  close(): Promise<void>;
}

export async function startBenchRuntime(dataDir: string): Promise<BenchRuntime> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const s3 = await startS3Server({ directory: join(dir, 's3'), bucket: BUCKET });
  // As local/runtime.ts configures the handlers (s3rver's fixed local credentials).
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    [HANDLER_ENV.bucket]: BUCKET,
    [HANDLER_ENV.copyRoleArn]: 'arn:aws:iam::000000000000:role/cartflow-local-copy',
    [HANDLER_ENV.environment]: 'local',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
  });
  const lake = new S3LakeStore(createS3Client(), BUCKET);
  const source = await openDatabase({ dataDir: join(dir, 'source') });
  const warehouse = await SqlWarehouse.open({ dataDir: join(dir, 'warehouse'), lake });
  bindAdapters({
    lake,
    source: new PostgresSourceDatabase(source),
    warehouse: warehouse as Warehouse,
    alerts: new FileAlerts(join(dir, 'alerts.log')),
  });
  return {
    lake,
    source,
    warehouse,
    async close() {
      await warehouse.close();
      await source.close();
      await s3.close();
    },
  };
}
