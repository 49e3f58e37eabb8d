import { createHash, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MSKEvent } from 'aws-lambda';
import type { EnvironmentConfig } from '../lib/config';
import type { PipelineState, RunRequest } from '../lambdas/core/contracts';
import { step as ensureWarehouseStep } from '../lambdas/handlers/ensure-warehouse';
import { step as loadEventsStep, type EventsLoadResult } from '../lambdas/handlers/load-events';
import { step as runFailedStep, type ExecutionStatusChange } from '../lambdas/handlers/run-failed';
import { step as slaCheckStep, type SlaCheckResult } from '../lambdas/handlers/sla-check';
import { step as streamToParquetStep, type StreamResult } from '../lambdas/handlers/stream-to-parquet';
import { localLogger, RecordedMetrics } from '../lambdas/adapters/observability';
import type { Adapters, Env, LakeStore, LiveRuns, Step } from '../lambdas/adapters/ports';
import { faultSwitch, withFaults } from '../lambdas/adapters/fault-injection';
import { S3LakeStore, createS3Client } from '../lambdas/adapters/s3-lake';
import { BATCH_STEPS, CATALOG_STEPS, supersededCause } from '../lambdas/steps';
import { HANDLER_ENV } from '../lambdas/contract';
import { requestedBusinessDate } from '../lambdas/core/dates';
import type { Declarations } from '../lambdas/core/tables';
import { FileAlerts } from './console-alerts';
import { openDatabase, PostgresSourceDatabase, type Database } from './embedded-postgres';
import { startS3Server } from './s3-server';
import { redriveSuperseded, warehouseLedger } from './backfill';
import { RunJournal } from './run-journal';
import { reportWithTimeline } from './run-report';
import { runStateMachine, type ExecutionOutcome, type LocalHandler } from './step-functions';
import type { AslDefinition } from './synth-definitions';
import { SqlWarehouse } from './warehouse';

const LOCAL_BUCKET = 'cartflow-lake';
const LOCAL_COPY_ROLE = 'arn:aws:iam::000000000000:role/cartflow-local-copy';
const LOCAL_REGION = 'us-east-1';
/** The embedded PostgreSQL server's data directory, under the data dir: databases `source` and `warehouse`. */
export const POSTGRES_DIR = 'postgres';

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
  /**
   * Variables over the functions' environment, read each time a handler is built (the batch handlers per
   * execution): how a test switches CARTFLOW_FAULT between runs without touching process.env.
   */
  handlerEnv?: () => Env;
  /**
   * Config environment whose settings the functions get (its quality settings) and, for the runtime, whose
   * synthesized definitions run locally. @default 'dev'
   */
  envName?: string;
  /**
   * The datasets and tables the handlers work with, instead of the product's (core/tables.ts): how a test
   * passes a new source column through without declaring it in the product (docs/adding-a-column.md).
   */
  declarations?: Declarations;
}

export interface LocalRuntimeOptions extends LocalServicesOptions {
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
  /** A step's handler, built as its Lambda entry builds it, over the local adapters (and `extra` ones). */
  build<S, I, O>(step: Step<S, I, O>, extra?: Partial<Adapters>): (input: I) => Promise<O>;
  close(): Promise<void>;
}

/**
 * A batch execution's outcome: its run id (the execution name; none when refused), attempt number, and
 * for a run that ended in the Superseded state (another run of its date held it), that state's cause.
 */
export type BatchOutcome = ExecutionOutcome & {
  state?: PipelineState;
  attempt: number;
  runId?: string;
  superseded?: string;
};

export interface LocalRuntime extends LocalServices {
  /**
   * The batch state machine, as synthesized, for one business date, as an execution named `executionName`
   * (the run id; default `<date>-<8 hex>`).
   */
  runBatch(request: RunRequest, executionName?: string): Promise<BatchOutcome>;
  /**
   * runBatch of the batch state machine synthesized from the environment's config as `configure` changes
   * it (e.g. a volume threshold that splits a small day), over the same services.
   */
  batchWith(configure: (config: EnvironmentConfig) => void): Promise<LocalRuntime['runBatch']>;
  /**
   * Redrives a failed (or abandoned) batch run from its persisted state: the same definition and input, and
   * every Task the earlier attempts finished returns its recorded output without running again.
   */
  retryBatch(runId: string): Promise<BatchOutcome>;
  /**
   * The catalog-refresh state machine, as the debounce Pipe starts it: with one window's arrivals (one
   * `{ time }` per file landed; default one, now). It merges every file pending in landing/catalog/.
   */
  refreshCatalog(arrivals?: readonly CatalogArrival[]): Promise<ExecutionOutcome>;
  /** stream-to-parquet, invoked the way the MSK event-source mapping invokes it. */
  streamToParquet(event: MSKEvent): Promise<StreamResult>;
  /**
   * load-events, invoked the way its EventBridge schedule invokes it, again while it reports a backlog
   * (its per-run object cap): what the schedule would do over the next runs.
   */
  loadEvents(): Promise<EventsLoadResult[]>;
  /** sla-check as its schedule invokes it, with the environment's SLA rules (lib/config.ts freshnessRulesOf). */
  slaCheck(time?: Date): Promise<SlaCheckResult>;
}

/** A step's settings with `declarations` in place of the product's, when it has them and some are given. */
function withDeclarations<S>(settings: S, declarations: Declarations | undefined): S {
  const takes = typeof settings === 'object' && settings !== null && 'declarations' in settings;
  return declarations !== undefined && takes ? { ...settings, declarations } : settings;
}

/**
 * Starts the laptop edition of the AWS parts: s3rver for the lake, the embedded PostgreSQL server over
 * `<dataDir>/postgres` (or the given servers) for the source and the warehouse, each a database of its
 * own, and binds the handlers' adapters to them.
 */
export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  // A bad fault switch fails here, before any server starts: every handler would refuse to build.
  faultSwitch({ ...process.env, ...options.handlerEnv?.() });
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // What has started so far, closed in reverse if a later start fails: a failed command must exit, not
  // wait on an s3rver or a database connection nobody will close.
  const started = new Resources();
  try {
    const s3 = started.add(await startS3Server({ directory: join(dataDir, 's3'), bucket: LOCAL_BUCKET }));
    const env: Env = { ...process.env, ...(await localHandlerEnvironment(options.envName ?? 'dev')) };
    const lake = new S3LakeStore(
      // s3rver's fixed local credentials; nothing leaves the machine.
      createS3Client(
        { region: LOCAL_REGION, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
        s3.endpoint,
      ),
      LOCAL_BUCKET,
    );
    const source = started.add(
      await openDatabase({
        url: options.sourceDatabaseUrl,
        dataDir: join(dataDir, POSTGRES_DIR),
        database: 'source',
      }),
    );
    const warehouse = started.add(
      await SqlWarehouse.open({
        ...warehouseDatabase(dataDir, options),
        lake,
      }),
    );
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
      build(step, extra) {
        const declared = {
          ...step,
          settings: (e: Env) => withDeclarations(step.settings(e), options.declarations),
        };
        const faulty = withFaults(declared);
        return faulty.make({ ...adapters, ...extra }, faulty.settings({ ...env, ...options.handlerEnv?.() }));
      },
      close: () => started.close(),
    };
  } catch (error) {
    await started.close();
    throw error;
  }
}

/**
 * Things with a close(), closed in reverse order of start; a failing close does not keep the rest open
 * (the first such error is rethrown after all were tried).
 */
export class Resources {
  private readonly open: { close(): Promise<void> }[] = [];

  add<T extends { close(): Promise<void> }>(resource: T): T {
    this.open.push(resource);
    return resource;
  }

  async close(): Promise<void> {
    let failure: unknown;
    for (let resource = this.open.pop(); resource; resource = this.open.pop())
      await resource.close().catch((error: unknown) => (failure ??= error));
    if (failure) throw failure;
  }
}

/** The local services plus the state machines as synthesized from the CDK stack, and the stream handlers. */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const services = await startLocalServices(options);
  try {
    return await runtimeOver(services, options);
  } catch (error) {
    // The first error is the one to report; the services must close either way, or the process never exits.
    await services.close().catch(() => undefined);
    throw error;
  }
}

async function runtimeOver(services: LocalServices, options: LocalRuntimeOptions): Promise<LocalRuntime> {
  // Imported here, not at the top: it loads the CDK app, which startLocalServices' users (the benchmark) do without.
  const { synthesizeDefinitions } = await import('./synth-definitions');
  const envName = options.envName ?? 'dev';
  const definitions = await synthesizeDefinitions(envName);

  // What the stack's WarehouseSchema custom resource does at deploy: the stream loader never creates tables.
  await services.build(ensureWarehouseStep)(undefined);
  const streamToParquet = services.build(streamToParquetStep);
  const loadEvents = services.build(loadEventsStep);
  // The rules the stack gives the deployed check (SlaCheck sets SLA_RULES from freshnessRulesOf), with
  // the events rule whatever the environment deploys: the local stand-in always runs the stream.
  const { localFreshnessRulesOf, loadConfig } = await import('../lib/config');
  const slaRules = JSON.stringify(localFreshnessRulesOf(loadConfig(envName)));
  const slaCheck = services.build({
    ...slaCheckStep,
    settings: (env: Env) => slaCheckStep.settings({ ...env, [HANDLER_ENV.slaRules]: slaRules }),
  });
  const run = (definition: AslDefinition, steps: Record<string, string>, input: unknown) =>
    runStateMachine(definition, input, { handlers: bindHandlers(services, steps), onStep: options.onStep });
  const runLocks = new RunLocks(() => openDatabase(warehouseDatabase(options.dataDir, options)));
  const journal = new RunJournal(() => openDatabase(warehouseDatabase(options.dataDir, options)));
  // The run id is the execution name, as on AWS when the caller names the execution: `retry <run>` finds it.
  const batchOf =
    (definition: AslDefinition) =>
    async (request: RunRequest, name?: string): Promise<BatchOutcome> => {
      const executionName = name ?? `${requestedBusinessDate(request)}-${randomUUID().slice(0, 8)}`;
      const held = await runLocks.hold(executionName);
      if (!held) {
        const message = `run ${executionName} is running in another process; retry it once it has ended`;
        return {
          status: 'FAILED',
          error: { name: 'ExecutionNotRedrivable', message },
          steps: [],
          attempt: 0,
        };
      }
      try {
        const attempt = await journal.begin(executionName, 'batch', request);
        // Each step's time in the journal as it ends (what `status` shows), in order, awaited before finish.
        let logged = Promise.resolve();
        let seq = 0;
        const outcome = await runStateMachine(definition, request, {
          // ResolveRun asks whether the holder of its date still runs (core/run-claim.ts).
          handlers: bindHandlers(services, BATCH_STEPS, { liveRuns: runLocks }),
          onStep: (step) => {
            options.onStep?.(step);
            const at = seq++;
            // Display only: a lost line must not fail the run (status then says it has no steps).
            logged = logged
              .then(() => journal.step(executionName, attempt, at, step))
              .catch((error: Error) =>
                services.adapters.logger.warn('step not logged', { state: step.state, error: error.message }),
              );
          },
          executionName,
          memo: journal.memo(executionName, attempt),
        });
        await logged;
        await journal.finish(
          executionName,
          outcome.status,
          outcome.error && `${outcome.error.name}: ${outcome.error.message}`,
        );
        // What the stack's FailedRuns rule does on the execution's status change: record, report, notify.
        if (outcome.status !== 'SUCCEEDED') await handleFailure(services, executionName, outcome);
        const superseded = supersededCause(outcome.output);
        if (superseded !== undefined) return { ...outcome, attempt, runId: executionName, superseded };
        // The report the run's last step wrote from its state, again with the step times the runner measured.
        await reportWithTimeline(services.adapters, outcome).catch((error: Error) =>
          services.adapters.logger.warn('run report without timeline', { error: error.message }),
        );
        const state = outcome.output as PipelineState | undefined;
        return { ...outcome, state, attempt, runId: executionName };
      } finally {
        await held.release();
      }
    };

  return {
    ...services,
    async close() {
      await journal.close();
      await runLocks.close();
      await services.close();
    },
    runBatch: batchOf(definitions.batch),
    async retryBatch(runId) {
      const execution = await journal.execution(runId);
      if (!execution || execution.machine !== 'batch')
        throw new RunNotFoundError(`no local batch run "${runId}" (cartflow status lists the runs)`);
      if (execution.status === 'SUCCEEDED')
        throw new RunNotFoundError(
          `run ${runId} succeeded; there is nothing to retry (backfill --force reruns its date)`,
        );
      const later = await warehouseLedger(services.warehouse).succeededAfter(runId);
      if (later) throw redriveSuperseded(runId, later);
      return batchOf(definitions.batch)(execution.input as RunRequest, runId);
    },
    async batchWith(configure) {
      return batchOf((await synthesizeDefinitions(envName, configure)).batch);
    },
    refreshCatalog(arrivals = [{ time: new Date().toISOString() }]) {
      return run(definitions.catalog, CATALOG_STEPS, arrivals);
    },
    streamToParquet: (event) => streamToParquet(event),
    async loadEvents() {
      const runs: EventsLoadResult[] = [];
      // Each run takes a bounded slice of the backlog; go on while there is one and the last run made progress.
      do runs.push(await loadEvents(scheduledEvent()));
      while ((runs.at(-1)!.backlog ?? 0) > 0 && runs.at(-1)!.objects > 0);
      return runs;
    },
    slaCheck: (time = new Date()) => slaCheck({ time: time.toISOString() }),
  };
}

/** The local execution ARN of a batch run (what the EventBridge event and the history name it by). */
const localExecutionArn = (name: string) =>
  `arn:aws:states:${LOCAL_REGION}:000000000000:execution:cartflow-local-batch:${name}`;

/**
 * The run-failed step over the local adapters, invoked with the event EventBridge delivers for a failed or
 * timed-out execution; its execution history is the run just executed. A failing handler is logged: on
 * AWS its event would go to the dead-letter queue, the run's own outcome stands.
 */
async function handleFailure(services: LocalServices, name: string, outcome: ExecutionOutcome) {
  const executionArn = localExecutionArn(name);
  const stopDate = Date.now();
  const event: ExecutionStatusChange = {
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn,
      stateMachineArn: executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''),
      name,
      status: outcome.status,
      startDate: outcome.steps[0]?.startedAt ?? stopDate,
      stopDate,
      error: outcome.error?.name ?? null,
      cause: outcome.error?.message ?? null,
    },
  };
  const executions = { stopOf: async () => outcome.stop ?? {} };
  await services
    .build(runFailedStep, { executions })(event)
    .catch((error: Error) =>
      services.adapters.logger.error('run-failed handler failed', { run: name, error: error.message }),
    );
}

/** `retry` named a run that does not exist locally, or one with nothing to redrive. */
export class RunNotFoundError extends Error {
  override name = 'RunNotFoundError';
}

/**
 * The advisory lock keys a local runner holds for its run: the batch runs' key space, and 31 bits of the
 * execution name's digest (pg_locks shows objid unsigned).
 */
export const runLockKeys = (name: string): [number, number] => [
  0x63666c77,
  createHash('sha256').update(name).digest().readUInt32BE(0) & 0x7fffffff,
];

/**
 * Which local batch runs have a live runner, across processes: each runner holds a session advisory lock
 * keyed by its execution name for the whole execution, and PostgreSQL releases it with the connection of
 * a runner killed with SIGKILL. It answers ResolveRun's "does the holder of this date still run"
 * (core/run-claim.ts): on AWS the aborted execution's status change records the run FAILED; locally
 * nothing would. A second runner of one execution (a retry while it runs) is refused, as Step Functions
 * refuses to redrive a running execution.
 */
class RunLocks implements LiveRuns {
  private db?: Promise<Database>;

  constructor(private readonly open: () => Promise<Database>) {}

  private async query<T>(sql: string, name: string): Promise<T[]> {
    const db = await (this.db ??= this.open());
    const unlock = await db.lock();
    try {
      return (await db.query<T>(sql, runLockKeys(name))).rows;
    } finally {
      unlock();
    }
  }

  /** Holds the run's lock; undefined when another runner holds it. */
  async hold(name: string): Promise<{ release(): Promise<void> } | undefined> {
    const [{ locked }] = await this.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1, $2) AS locked',
      name,
    );
    if (!locked) return undefined;
    return { release: async () => void (await this.query('SELECT pg_advisory_unlock($1, $2)', name)) };
  }

  async isRunning(name: string): Promise<boolean> {
    const held = await this.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks
       WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2 AND granted`,
      name,
    );
    return held[0].n > 0;
  }

  async close(): Promise<void> {
    if (this.db) await (await this.db).close();
  }
}

/** What the stack sets on every function, for the local stand-ins: the environment's quality settings too. */
async function localHandlerEnvironment(envName: string): Promise<Record<string, string>> {
  // Imported here, not at the top: lib/config loads aws-cdk-lib.
  const { loadConfig, qualitySettingsOf } = await import('../lib/config');
  return {
    [HANDLER_ENV.bucket]: LOCAL_BUCKET,
    [HANDLER_ENV.copyRoleArn]: LOCAL_COPY_ROLE,
    [HANDLER_ENV.environment]: 'local',
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig(envName)),
  };
}

/** Each Task state bound to the step the stack deploys for it, built once over the local adapters. */
function bindHandlers(
  services: LocalServices,
  steps: Record<string, string>,
  extra?: Partial<Adapters>,
): Record<string, LocalHandler> {
  const built = new Map<string, Promise<LocalHandler>>();
  const handlerOf = (entry: string) => {
    let handler = built.get(entry);
    if (!handler) {
      handler = import(`../lambdas/handlers/${entry}.ts`).then((module: HandlerModule) =>
        services.build(module.step, extra),
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

/** One catalog arrival as the Pipe's input template renders it (lib/constructs/triggers.ts): its event time. */
export interface CatalogArrival {
  time: string;
}
