/**
 * Records the two-interpreters suite's task results from real local runs: each scenario runs once through
 * the local runtime's handlers (embedded PostgreSQL, s3rver, the fault switch for the failures a handler
 * or Lambda produces) and every Task invocation's result or error is written, in invocation order, to
 * fixtures/<env>/<scenario>.json. Re-run it when a handler's output changes:
 *
 *   node --openssl-legacy-provider --import tsx test-localstack/record-fixtures.ts
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { Adapters, Env, Step } from '../lambdas/adapters/ports';
import { HANDLER_ENV, LAKE } from '../lambdas/contract';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY } from '../lambdas/core/layout';
import { generateDay, type DirtySpec } from '../lambdas/core/generator';
import { BATCH_STEPS, CATALOG_STEPS } from '../lambdas/steps';
import { step as resolveRunStep } from '../lambdas/handlers/resolve-run';
import { seedSourceDatabase } from '../local/embedded-postgres';
import { startLocalServices, type LocalServices } from '../local/runtime';
import { runStateMachine } from '../local/step-functions';
import { synthesizeDefinitions, type AslDefinition } from '../local/synth-definitions';
import { ENVIRONMENTS, FIXTURES, type Scenario, type TaskResult } from './support';

const RECORDED_DATE = '2026-03-01';

interface Recording {
  machine: 'batch' | 'catalog';
  /** CARTFLOW_FAULT for the run (lambdas/adapters/fault-injection.ts). */
  fault?: string;
  /** The batch machine synthesized with a volume threshold of 1 line: every day splits. */
  split?: boolean;
  prepare?(services: LocalServices, record: Recorder): Promise<void>;
  input: unknown;
  /** Adapters over the local ones for the run's handlers. */
  extra?: Partial<Adapters>;
  /** Called before each Task invocation, with the state's name. */
  beforeTask?(state: string, services: LocalServices): Promise<void>;
  /** The fixture from the recording and the scenarios recorded before it in the environment. */
  derive?: (recorded: Scenario, earlier: Record<string, Scenario>) => Scenario;
}

type Recorder = (recording: Recording, executionName: string) => Promise<Scenario>;

const seedDay = async (services: LocalServices, orders: number, dirty: DirtySpec = {}) => {
  const day = generateDay({ date: RECORDED_DATE, orders, seed: 7, dirty });
  await seedSourceDatabase(services.source, { orders: day.orders, items: day.items }, RECORDED_DATE);
  await services.lake.put(
    `${CATALOG_LANDING_PREFIX}products.jsonl`,
    day.catalog.map((p) => JSON.stringify(p)).join('\n'),
  );
};

const RECORDINGS: Record<string, Recording> = {
  'batch-clean-day': {
    machine: 'batch',
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60),
  },
  'batch-split-day': {
    machine: 'batch',
    split: true,
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60),
  },
  'batch-quality-gate-fails': {
    machine: 'batch',
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60, { negativeTotal: 12 }),
  },
  'batch-transient-retried': {
    machine: 'batch',
    fault: 'transform:fail-once',
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60),
  },
  'batch-task-timeout': {
    machine: 'batch',
    fault: 'extract-orders:timeout',
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60),
  },
  'batch-load-table-fails': {
    machine: 'batch',
    fault: 'load-table:crash',
    input: { businessDate: RECORDED_DATE },
    prepare: (services) => seedDay(services, 60),
    // The last table's load crashes, the others load as on the clean day (the same seeded day): a Map
    // whose first iteration fails stops at whatever iterations had started, a race in either interpreter.
    derive: (recorded, earlier) => {
      const loads = earlier['batch-clean-day']!.tasks.LoadTable!;
      const crash = recorded.tasks.LoadTable![0]!;
      return { ...recorded, tasks: { ...recorded.tasks, LoadTable: [...loads.slice(0, -1), crash] } };
    },
  },
  'batch-superseded': {
    machine: 'batch',
    input: { businessDate: RECORDED_DATE },
    // A first run of the date dies after ResolveRun claimed it; its runner still lives (no run-failed).
    prepare: async (services, record) => {
      await seedDay(services, 60);
      await record(
        {
          machine: 'batch',
          fault: 'extract-orders:crash',
          input: { businessDate: RECORDED_DATE },
        } as Recording,
        `${RECORDED_DATE}-holder`,
      );
    },
  },
  'batch-superseded-at-publish': {
    machine: 'batch',
    input: { businessDate: RECORDED_DATE },
    // The run's runner counts as gone (as a killed one), so a second run takes the date over while the
    // first loads; the first one's PublishDate then finds the date taken.
    extra: { liveRuns: { isRunning: async () => false } },
    prepare: (services) => seedDay(services, 60),
    beforeTask: async (state, services) => {
      if (state !== 'PublishDate') return;
      const takeOver = services.build(resolveRunStep, { liveRuns: { isRunning: async () => false } });
      await takeOver({
        request: { businessDate: RECORDED_DATE },
        executionName: `${RECORDED_DATE}-takeover`,
        timeoutMinutes: 60,
      });
    },
  },
  'catalog-nothing-pending': {
    machine: 'catalog',
    input: [],
    prepare: async (services) => void (await services.lake.deletePrefix(CATALOG_LANDING_PREFIX)),
  },
  'catalog-transient-retried': {
    machine: 'catalog',
    fault: 'ensure-warehouse:fail-once',
    input: [],
    prepare: async (services) => void (await services.lake.deletePrefix(CATALOG_LANDING_PREFIX)),
  },
  'catalog-load-fails': {
    machine: 'catalog',
    fault: 'load-table:crash',
    input: [{ time: '2026-03-01T06:00:00.000Z' }],
    prepare: (services) => seedDay(services, 10),
  },
  'catalog-file-rejected': {
    machine: 'catalog',
    input: [{ time: '2026-03-01T06:00:00.000Z' }],
    // An empty catalog and a file with 1 bad row of 2: over the 5 % gate (test/e2e/batch-scenarios.ts).
    prepare: async (services) => {
      await services.lake.deletePrefix(CATALOG_SNAPSHOT_KEY);
      await services.lake.deletePrefix(LAKE.catalogRejected);
      const file = readFileSync(
        new URL('../test/fixtures/catalog-rejection/missing-price.json', import.meta.url),
      );
      await services.lake.put(`${CATALOG_LANDING_PREFIX}missing-price.json`, file);
    },
  },
};

interface HandlerModule {
  step: Step<unknown, unknown, unknown>;
}

async function recordEnvironment(envName: string): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cartflow-record-'));
  let fault: string | undefined;
  const services = await startLocalServices({
    dataDir,
    handlerEnv: (): Env => ({ [HANDLER_ENV.fault]: fault }),
  });
  try {
    const plain = await synthesizeDefinitions(envName);
    const split = await synthesizeDefinitions(envName, (config) => {
      config.volume.bucketThresholdLines = 1;
    });
    const definitionOf = (recording: Recording): AslDefinition =>
      recording.machine === 'catalog' ? plain.catalog : recording.split ? split.batch : plain.batch;
    const record: Recorder = async (recording, executionName) => {
      fault = recording.fault;
      const steps = recording.machine === 'batch' ? BATCH_STEPS : CATALOG_STEPS;
      const extra = recording.extra ?? {};
      const built = new Map<string, (input: unknown) => Promise<unknown>>();
      const tasks: Record<string, TaskResult[]> = {};
      const handlers = Object.fromEntries(
        Object.entries(steps).map(([state, entry]) => [
          state,
          async (input: unknown) => {
            let handler = built.get(entry);
            if (!handler) {
              const module = (await import(`../lambdas/handlers/${entry}.ts`)) as HandlerModule;
              handler = services.build(module.step, extra);
              built.set(entry, handler);
            }
            await recording.beforeTask?.(state, services);
            const results = (tasks[state] ??= []);
            try {
              const output = await handler(input);
              results.push({ Return: output ?? null });
              return output;
            } catch (error) {
              const { name, message } = error as Error;
              results.push({ Throw: { Error: name, Cause: message } });
              throw error;
            }
          },
        ]),
      );
      const outcome = await runStateMachine(definitionOf(recording), recording.input, {
        handlers,
        executionName,
      });
      fault = undefined;
      console.log(`${envName} ${executionName}: ${outcome.status} ${outcome.error?.name ?? ''}`);
      return { machine: recording.machine, split: recording.split, input: recording.input, tasks };
    };
    const dir = join(FIXTURES, envName);
    mkdirSync(dir, { recursive: true });
    const recorded: Record<string, Scenario> = {};
    for (const [name, recording] of Object.entries(RECORDINGS)) {
      // Each scenario from empty schemas and an empty source, as a fresh day.
      await services.warehouse.executeBatch([
        'DROP SCHEMA IF EXISTS analytics CASCADE',
        'DROP SCHEMA IF EXISTS ops CASCADE',
        'DROP SCHEMA IF EXISTS staging CASCADE',
      ]);
      await services.source.query('DROP TABLE IF EXISTS order_items, orders');
      await services.lake.deletePrefix('');
      await recording.prepare?.(services, record);
      const raw = await record(recording, `${RECORDED_DATE}-recorded`);
      const scenario = (recorded[name] = recording.derive ? recording.derive(raw, recorded) : raw);
      // As `npm run lint` wants it (prettier --check .).
      const file = join(dir, `${name}.json`);
      const options = { ...(await resolveConfig(file)), filepath: file };
      writeFileSync(file, await format(JSON.stringify(scenario), options));
    }
  } finally {
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const envName of ENVIRONMENTS) await recordEnvironment(envName);
