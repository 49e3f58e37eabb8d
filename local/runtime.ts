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
import { assertBusinessDate, previousUtcDate } from '../lambdas/core/dates';
import { FileAlerts } from './console-alerts';
import { openDatabase, PostgresSourceDatabase, type Database } from './embedded-postgres';
import { startS3Server } from './s3-server';
import { runStateMachine, type ExecutionOutcome, type LocalHandler } from './step-functions';
import type { AslDefinition } from './synth-definitions';
import { SqlWarehouse } from './warehouse';

const LOCAL_BUCKET = 'cartflow-lake';
const LOCAL_COPY_ROLE = 'arn:aws:iam::000000000000:role/cartflow-local-copy';
const LOCAL_REGION = 'us-east-1';
/** The embedded PostgreSQL server's data directory, under the data dir: databases `source` and `warehouse`. */
const POSTGRES_DIR = 'postgres';

const warehouseDatabase = (dataDir: string, options: LocalServicesOptions) => ({
  url: options.warehouseDatabaseUrl,
  dataDir: join(resolve(dataDir), POSTGRES_DIR),
  database: 'warehouse',
});

export interface LocalServicesOptions {
  /** Where s3rver, the embedded PostgreSQL (`postgres/`) and the alert log keep their data. */
  dataDir: string;
  /** A PostgreSQL server for the source instead of the embedded one (SOURCE_DATABASE_URL). */
  sourceDatabaseUrl?: string;
  /** A PostgreSQL server for the warehouse instead of the embedded one (WAREHOUSE_DATABASE_URL). */
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
 * Starts the laptop edition of the AWS parts: s3rver for the lake, the embedded PostgreSQL server over
 * `<dataDir>/postgres` (or the given servers) for the source and the warehouse, each a database of its
 * own, and binds the handlers' adapters to them.
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
  const source = await openDatabase({
    url: options.sourceDatabaseUrl,
    dataDir: join(dataDir, POSTGRES_DIR),
    database: 'source',
  });
  const warehouse = await SqlWarehouse.open({
    ...warehouseDatabase(dataDir, options),
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
  const dateLocks = new DateLocks(() => openDatabase(warehouseDatabase(options.dataDir, options)));
  const batchOf =
    (definition: AslDefinition) =>
    async (request: RunRequest): Promise<ExecutionOutcome & { state?: PipelineState }> => {
      const date =
        request.businessDate ?? previousUtcDate(request.time ? new Date(request.time) : new Date());
      const held = await dateLocks.tryLock(date);
      if (!held.locked) return { status: 'FAILED', error: held.error, steps: [] };
      try {
        const outcome = await run(definition, BATCH_STEPS, request);
        return { ...outcome, state: outcome.output as PipelineState | undefined };
      } finally {
        await held.unlock();
      }
    };

  return {
    ...services,
    async close() {
      await dateLocks.close();
      await services.close();
    },
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

/** Advisory lock key space of the batch runs (the second key is the business date as YYYYMMDD). */
const RUN_LOCK_SPACE = 0x63666c77;

/**
 * One batch run per business date at a time, across processes: a session advisory lock in the
 * warehouse, held by the runner for the whole execution. A second run of the date (another `cartflow
 * run`, a backfill) is refused, as Step Functions refuses StartExecution with a name already running.
 * A killed runner's connection closes and PostgreSQL releases its lock with it.
 */
class DateLocks {
  private db?: Promise<Database>;

  constructor(private readonly open: () => Promise<Database>) {}

  async tryLock(
    date: string,
  ): Promise<
    { locked: true; unlock(): Promise<void> } | { locked: false; error: { name: string; message: string } }
  > {
    const db = await (this.db ??= this.open());
    const key = Number(assertBusinessDate(date, 'businessDate').replaceAll('-', ''));
    const unlockDb = await db.lock();
    try {
      const [{ locked }] = (
        await db.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS locked', [
          RUN_LOCK_SPACE,
          key,
        ])
      ).rows;
      if (locked) {
        return {
          locked: true,
          unlock: async () => {
            const release = await db.lock();
            try {
              await db.query('SELECT pg_advisory_unlock($1, $2)', [RUN_LOCK_SPACE, key]);
            } finally {
              release();
            }
          },
        };
      }
      const holder = (
        await db.query<{ application_name: string }>(
          `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
           WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 AND l.granted`,
          [RUN_LOCK_SPACE, key],
        )
      ).rows[0]?.application_name;
      return {
        locked: false,
        error: {
          name: 'ExecutionAlreadyExists',
          message: `a run of ${date} is already in progress${holder ? ` (${holder})` : ''}; not started again — rerun it once that one has finished`,
        },
      };
    } finally {
      unlockDb();
    }
  }

  async close(): Promise<void> {
    if (this.db) await (await this.db).close();
  }
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
