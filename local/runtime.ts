import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import type { EnvironmentConfig } from '../lib/config';
import type { PipelineState, RunRequest } from '../lambdas/core/contracts';
import { step as ensureWarehouseStep } from '../lambdas/handlers/ensure-warehouse';
import { step as loadEventsStep, type EventsLoadResult } from '../lambdas/handlers/load-events';
import { step as streamToParquetStep, type StreamResult } from '../lambdas/handlers/stream-to-parquet';
import { localLogger, RecordedMetrics } from '../lambdas/adapters/observability';
import type { Adapters, Env, LakeStore, Step } from '../lambdas/adapters/ports';
import { S3LakeStore, createS3Client } from '../lambdas/adapters/s3-lake';
import { BATCH_STEPS, CATALOG_STEPS } from '../lambdas/steps';
import { HANDLER_ENV } from '../lambdas/contract';
import { FileAlerts } from './console-alerts';
import { openDatabase, PostgresSourceDatabase, type Database } from './embedded-postgres';
import { startS3Server } from './s3-server';
import { runStateMachine, type ExecutionOutcome, type LocalHandler } from './step-functions';
import type { AslDefinition } from './synth-definitions';
import { SqlWarehouse } from './warehouse';

const LOCAL_BUCKET = 'cartflow-lake';
const LOCAL_COPY_ROLE = 'arn:aws:iam::000000000000:role/cartflow-local-copy';
const LOCAL_REGION = 'us-east-1';

export interface LocalServicesOptions {
  /** Where s3rver, PGlite and the alert log keep their data. */
  dataDir: string;
  /** A PostgreSQL server for the source instead of embedded PGlite (SOURCE_DATABASE_URL). */
  sourceDatabaseUrl?: string;
  /** A PostgreSQL server for the warehouse instead of embedded PGlite (WAREHOUSE_DATABASE_URL). */
  warehouseDatabaseUrl?: string;
}

export interface LocalRuntimeOptions extends LocalServicesOptions {
  /** Config environment whose synthesized definitions run locally. @default 'dev' */
  envName?: string;
  onStep?: (step: ExecutionOutcome['steps'][number]) => void;
}

/** The local stand-ins for the AWS services, bound as the handlers' adapters. */
export interface LocalServices {
  readonly dataDir: string;
  readonly lake: LakeStore;
  readonly warehouse: SqlWarehouse;
  readonly source: Database;
  readonly alerts: FileAlerts;
  /** What the handlers are built over: the stand-ins above, a quiet logger and per-run metrics. */
  readonly adapters: Adapters & { metrics: RecordedMetrics };
  /** The environment the stack would give the functions, pointing at the stand-ins. */
  readonly env: Env;
  /** A step's handler, built as its Lambda entry builds it, over the local adapters. */
  build<S, I, O>(step: Step<S, I, O>): (input: I) => Promise<O>;
  close(): Promise<void>;
}

export interface LocalRuntime extends LocalServices {
  /** The batch state machine, as synthesized, for one business date. */
  runBatch(request: RunRequest): Promise<ExecutionOutcome & { state?: PipelineState }>;
  /**
   * runBatch of the batch state machine synthesized from the environment's config as `configure` changes
   * it (e.g. a volume threshold that splits a small day), over the same services.
   */
  batchWith(configure: (config: EnvironmentConfig) => void): Promise<LocalRuntime['runBatch']>;
  /** The catalog-refresh state machine, as the S3 arrival rule would start it. */
  refreshCatalog(catalogKey: string): Promise<ExecutionOutcome>;
  /** stream-to-parquet, invoked the way the MSK event-source mapping invokes it. */
  streamToParquet(event: MSKEvent): Promise<StreamResult>;
  /**
   * load-events, invoked the way its EventBridge schedule invokes it, again while it reports a backlog
   * (its per-run object cap): what the schedule would do over the next runs.
   */
  loadEvents(): Promise<EventsLoadResult[]>;
}

/**
 * Starts the laptop edition of the AWS parts: s3rver for the lake, PGlite (or the given servers)
 * for the source and the warehouse, and binds the handlers' adapters to them.
 */
export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const s3 = await startS3Server({ directory: join(dataDir, 's3'), bucket: LOCAL_BUCKET });
  const env: Env = { ...process.env, ...localHandlerEnvironment() };
  const lake = new S3LakeStore(
    // s3rver's fixed local credentials; nothing leaves the machine.
    createS3Client(
      { region: LOCAL_REGION, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
      s3.endpoint,
    ),
    LOCAL_BUCKET,
  );
  const source = await openDatabase({ url: options.sourceDatabaseUrl, dataDir: join(dataDir, 'source') });
  const warehouse = await SqlWarehouse.open({
    url: options.warehouseDatabaseUrl,
    dataDir: join(dataDir, 'warehouse'),
    lake,
  });
  const alerts = new FileAlerts(join(dataDir, 'alerts.log'));
  const adapters = {
    lake,
    source: new PostgresSourceDatabase(source),
    warehouse,
    alerts,
    logger: localLogger(env),
    metrics: new RecordedMetrics(),
  };
  return {
    dataDir,
    lake,
    warehouse,
    source,
    alerts,
    adapters,
    env,
    build: (step) => step.make(adapters, step.settings(env)),
    async close() {
      await warehouse.close();
      await source.close();
      await s3.close();
    },
  };
}

/** The local services plus the state machines as synthesized from the CDK stack, and the stream handlers. */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const services = await startLocalServices(options);
  // Imported here, not at the top: it loads the CDK app, which startLocalServices' users (the benchmark) do without.
  const { synthesizeDefinitions } = await import('./synth-definitions');
  const envName = options.envName ?? 'dev';
  const definitions = await synthesizeDefinitions(envName);

  // What the stack's WarehouseSchema custom resource does at deploy: the stream loader never creates tables.
  await services.build(ensureWarehouseStep)(undefined);
  const streamToParquet = services.build(streamToParquetStep);
  const loadEvents = services.build(loadEventsStep);
  const run = (definition: AslDefinition, steps: Record<string, string>, input: unknown) =>
    runStateMachine(definition, input, { handlers: bindHandlers(services, steps), onStep: options.onStep });
  const batchOf = (definition: AslDefinition) => async (request: RunRequest) => {
    const outcome = await run(definition, BATCH_STEPS, request);
    return { ...outcome, state: outcome.output as PipelineState | undefined };
  };

  return {
    ...services,
    runBatch: batchOf(definitions.batch),
    async batchWith(configure) {
      return batchOf((await synthesizeDefinitions(envName, configure)).batch);
    },
    refreshCatalog(catalogKey) {
      return run(definitions.catalog, CATALOG_STEPS, catalogArrivalEvent(services.lake.bucket, catalogKey));
    },
    streamToParquet: (event) => streamToParquet(event),
    async loadEvents() {
      const runs: EventsLoadResult[] = [];
      // Each run takes a bounded slice of the backlog; go on while there is one and the last run made progress.
      do runs.push(await loadEvents(scheduledEvent()));
      while ((runs.at(-1)!.backlog ?? 0) > 0 && runs.at(-1)!.objects > 0);
      return runs;
    },
  };
}

/** What the stack sets on every function, for the local stand-ins. */
function localHandlerEnvironment(): Record<string, string> {
  return {
    [HANDLER_ENV.bucket]: LOCAL_BUCKET,
    [HANDLER_ENV.copyRoleArn]: LOCAL_COPY_ROLE,
    [HANDLER_ENV.environment]: 'local',
  };
}

/** Each Task state bound to the step the stack deploys for it, built once over the local adapters. */
function bindHandlers(services: LocalServices, steps: Record<string, string>): Record<string, LocalHandler> {
  const built = new Map<string, Promise<LocalHandler>>();
  const handlerOf = (entry: string) => {
    let handler = built.get(entry);
    if (!handler) {
      handler = import(`../lambdas/handlers/${entry}.ts`).then((module: HandlerModule) =>
        services.build(module.step),
      );
      built.set(entry, handler);
    }
    return handler;
  };
  return Object.fromEntries(
    Object.entries(steps).map(([state, entry]) => [
      state,
      async (input: unknown) => (await handlerOf(entry))(input),
    ]),
  );
}

interface HandlerModule {
  step: Step<unknown, unknown, unknown>;
}

/** The EventBridge "Scheduled Event" a rate/cron rule delivers (load-events runs on one). */
function scheduledEvent() {
  return {
    version: '0',
    id: 'local-schedule',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: LOCAL_REGION,
    resources: ['arn:aws:events:us-east-1:000000000000:rule/cartflow-local-load-events'],
    detail: {},
  };
}

/** The EventBridge "Object Created" event the S3 arrival rule delivers to the catalog refresh. */
function catalogArrivalEvent(bucket: string, key: string) {
  return {
    version: '0',
    source: 'aws.s3',
    'detail-type': 'Object Created',
    time: new Date().toISOString(),
    detail: { bucket: { name: bucket }, object: { key } },
  };
}
