import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { BATCH_STEPS, CATALOG_STEPS } from '../../lambdas/steps';
import { synthesizeDefinitions, type SynthesizedDefinitions } from '../../local/synth-definitions';
import { allStates } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Json = any;

/** The execution failed with this error (a Task's, or the Fail state's), its cause the message. */
const failedWith = (name: string, message?: string) => (error: Json) =>
  error?.cause?.name === name && (message === undefined || error.cause.message === message);

/** Names of all states, nested ones included. */
const stateNames = (definition: { States: Record<string, unknown> }): string[] =>
  allStates(definition).map(([name]) => name);

const RUN = { runId: 'run-1', businessDate: '2024-05-01', startedAt: '2024-05-02T03:00:00Z' };
const TABLES = [
  { table: 'dim_product', prefix: 'curated/dim_product/dt=2024-05-01/', rows: 3 },
  { table: 'fact_order', prefix: 'curated/fact_order/dt=2024-05-01/', rows: 5 },
];

/** Stub handlers returning what the contracts say each step returns; `calls` records every input. */
function stubHandlers(overrides: Record<string, (input: Json) => Json> = {}) {
  const calls: Array<[string, Json]> = [];
  const results: Record<string, (input: Json) => Json> = {
    EnsureWarehouse: () => ({ created: false }),
    PrepareWarehouse: () => ({ created: true }),
    ResolveRun: () => RUN,
    ExtractOrders: () => [
      { dataset: 'orders', keys: ['raw/orders/x'], rows: 5 },
      { dataset: 'order_items', keys: ['raw/order_items/x'], rows: 9 },
    ],
    ExtractProducts: () => [{ dataset: 'products', keys: ['raw/products/x'], rows: 3 }],
    Transform: () => ({ staged: {}, rows: {} }),
    Validate: () => ({ passed: true, reportKey: 'quality/x.json', datasets: [], checks: [], tables: TABLES }),
    LoadTable: (input) => ({ table: input.item.table, rowsLoaded: input.item.rows }),
    PublishDate: (input) => ({ tables: input.validation.tables.map((t: Json) => t.table) }),
    RecordRun: () => ({ recorded: true }),
    NotifySuccess: () => ({ status: 'SUCCEEDED', subject: 'ok' }),
    CleanupCatalog: () => ({ droppedStages: 1 }),
    ...overrides,
  };
  const handlers = Object.fromEntries(
    Object.entries(results).map(([name, fn]) => [
      name,
      async (input: Json) => {
        calls.push([name, input]);
        return fn(input);
      },
    ]),
  );
  return { handlers, calls };
}

describe('synthesizeDefinitions', () => {
  let synthesized: SynthesizedDefinitions;
  before(async () => {
    synthesized = await synthesizeDefinitions('dev');
  });

  test('returns the batch and catalog ASL with the state names of lambdas/steps.ts', () => {
    // Assess
    const batchNames = stateNames(synthesized.batch);
    for (const name of Object.keys(BATCH_STEPS)) assert.ok(batchNames.includes(name), `batch lacks ${name}`);
    for (const name of ['Extract', 'QualityGate', 'LoadTables', 'Succeeded', 'QualityGateFailed']) {
      assert.ok(batchNames.includes(name), `batch lacks ${name}`);
    }
    const catalogNames = stateNames(synthesized.catalog);
    for (const name of Object.keys(CATALOG_STEPS)) {
      assert.ok(catalogNames.includes(name), `catalog lacks ${name}`);
    }
    assert.equal(synthesized.batch.StartAt, 'EnsureWarehouse');
    assert.equal(synthesized.catalog.StartAt, 'CatalogRun');
    assert.ok('Resources' in synthesized.template);
  });

  test('Lambda ARNs are resolved to local placeholders', () => {
    const resource = (synthesized.batch.States.ResolveRun as Json).Resource as string;
    assert.match(
      resource,
      /^arn:aws:lambda:us-east-1:000000000000:function:PipelineResolveRunFunction[0-9A-F]{8}$/,
    );
  });

  test('a day that passes the gate runs every step and ends Succeeded', async () => {
    // Prepare
    const { handlers, calls } = stubHandlers();
    const machine = new StateMachine(synthesized.batch as Json);
    // Act
    const output = (await machine.run(
      { time: '2024-05-02T03:00:00Z' },
      { overrides: { taskResourceLocalHandlers: handlers }, context: { Execution: { Name: 'nightly-1' } } },
    ).result) as Json;
    // Assess
    assert.deepEqual(output.run, RUN);
    assert.equal(output.extract.length, 2);
    assert.equal(output.extract[0][0].dataset, 'orders');
    assert.equal(output.validation.passed, true);
    assert.deepEqual(output.loads, [
      { table: 'dim_product', rowsLoaded: 3 },
      { table: 'fact_order', rowsLoaded: 5 },
    ]);
    assert.deepEqual(output.publish, { tables: ['dim_product', 'fact_order'] });
    assert.equal(output.notify.status, 'SUCCEEDED');
    const names = calls.map(([name]) => name);
    assert.ok(names.lastIndexOf('LoadTable') < names.indexOf('PublishDate'), 'publish after every load');
    assert.ok(names.indexOf('PublishDate') < names.indexOf('RecordRun'));
    const loadInputs = calls.filter(([name]) => name === 'LoadTable').map(([, input]) => input);
    assert.deepEqual(loadInputs[0], { run: RUN, item: TABLES[0] });
    // ResolveRun gets the execution input and the execution's name, the run id `retry` redrives.
    const resolve = calls.find(([name]) => name === 'ResolveRun')?.[1];
    assert.equal(resolve.request.time, '2024-05-02T03:00:00Z');
    assert.equal(typeof resolve.executionName, 'string');
  });

  test("a failed quality gate fails at QualityGateFailed with the gate's reason as its cause", async () => {
    // Prepare
    const { handlers, calls } = stubHandlers({
      Validate: () => ({
        passed: false,
        reportKey: 'q',
        datasets: [],
        checks: [],
        tables: [],
        failureReason: 'orders: unique',
      }),
    });
    const machine = new StateMachine(synthesized.batch as Json);
    // Act + Assess
    await assert.rejects(
      machine.run(
        {},
        { overrides: { taskResourceLocalHandlers: handlers }, context: { Execution: { Name: 'nightly-1' } } },
      ).result,
      failedWith('QualityGateError', 'orders: unique'),
    );
    assert.ok(!calls.some(([name]) => ['LoadTable', 'PublishDate', 'NotifySuccess'].includes(name)));
  });

  test('a table that fails to stage fails the execution with its error and never reaches PublishDate', async () => {
    // Prepare
    class CopyMismatchError extends Error {
      name = 'CopyMismatchError';
    }
    const { handlers, calls } = stubHandlers({
      LoadTable: (input) => {
        if (input.item.table === 'fact_order') throw new CopyMismatchError('column count');
        return { table: input.item.table, rowsLoaded: input.item.rows };
      },
    });
    const machine = new StateMachine(synthesized.batch as Json);
    // Act + Assess
    await assert.rejects(
      machine.run(
        {},
        { overrides: { taskResourceLocalHandlers: handlers }, context: { Execution: { Name: 'nightly-1' } } },
      ).result,
      failedWith('CopyMismatchError', 'column count'),
    );
    assert.ok(!calls.some(([name]) => name === 'PublishDate' || name === 'NotifySuccess'));
  });

  test('a TransientError is retried; a permanent error fails the execution at its state', async () => {
    // Prepare
    let attempts = 0;
    class TransientError extends Error {
      name = 'TransientError';
    }
    class PermanentError extends Error {
      name = 'PermanentError';
    }
    const { handlers, calls } = stubHandlers({
      Transform: () => {
        attempts += 1;
        if (attempts < 3) throw new TransientError('source busy');
        return { staged: {}, rows: {} };
      },
      RecordRun: () => {
        throw new PermanentError('bad row');
      },
    });
    const machine = new StateMachine(synthesized.batch as Json);
    // Act
    const run = machine.run(
      {},
      {
        overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: { Transform: 0 } },
        context: { Execution: { Name: 'nightly-1' } },
      },
    );
    // Assess
    await assert.rejects(run.result, failedWith('PermanentError', 'bad row'));
    assert.equal(attempts, 3);
    assert.equal(calls.filter(([name]) => name === 'RecordRun').length, 1);
    assert.ok(!calls.some(([name]) => name === 'NotifySuccess'));
  });

  test('the catalog refresh passes run and arrival count to RefreshCatalog, then its result to LoadCatalog and PublishCatalog', async () => {
    // Prepare
    const loadInput = { run: RUN, item: TABLES[0], files: 3 };
    const { handlers, calls } = stubHandlers({
      RefreshCatalog: () => loadInput,
      LoadCatalog: () => ({ table: 'dim_product', rowsLoaded: 3 }),
      PublishCatalog: () => ({ tables: ['dim_product'] }),
    });
    // What the Pipe delivers: one window's arrivals as an array.
    const arrivals = [{ time: '2024-05-01T10:15:00Z' }, { time: '2024-05-01T10:15:20Z' }];
    const machine = new StateMachine(synthesized.catalog as Json);
    // Act
    const output = (await machine.run(arrivals, {
      overrides: { taskResourceLocalHandlers: handlers },
      context: { Execution: { Name: 'exec-1' } } as Json,
    }).result) as Json;
    // Assess
    assert.equal(calls[0][0], 'PrepareWarehouse');
    const [name, refreshInput] = calls[1];
    assert.equal(name, 'RefreshCatalog');
    assert.equal(refreshInput.run.runId, 'exec-1');
    // The refresh's own UTC start date (the interpreter sets StartTime to now, as Step Functions does).
    assert.ok(!Number.isNaN(Date.parse(refreshInput.run.startedAt)));
    assert.equal(refreshInput.run.businessDate, refreshInput.run.startedAt.slice(0, 10));
    assert.equal(refreshInput.catalogArrivals, 2);
    // The arrivals themselves are gone from the state: run, count and the steps' small results only.
    assert.deepEqual(Object.keys(refreshInput).sort(), ['catalogArrivals', 'run']);
    assert.deepEqual(calls[2], ['LoadCatalog', loadInput]);
    assert.deepEqual(output.load, { table: 'dim_product', rowsLoaded: 3 });
    assert.deepEqual(calls[3], ['PublishCatalog', loadInput]);
    assert.deepEqual(output.publish, { tables: ['dim_product'] });
    assert.ok(!calls.some(([called]) => called === 'CleanupCatalog'));
  });

  test('a catalog refresh that finds nothing pending succeeds without loading or publishing', async () => {
    // Prepare: an earlier refresh merged this window's files.
    const { handlers, calls } = stubHandlers({ RefreshCatalog: () => ({ run: RUN, files: 0 }) });
    const machine = new StateMachine(synthesized.catalog as Json);
    // Act
    const output = (await machine.run([{ time: '2024-05-01T10:15:00Z' }], {
      overrides: { taskResourceLocalHandlers: handlers },
      context: { Execution: { Name: 'exec-3' } } as Json,
    }).result) as Json;
    // Assess
    assert.deepEqual(
      calls.map(([called]) => called),
      ['PrepareWarehouse', 'RefreshCatalog'],
    );
    assert.deepEqual(output.refresh, { run: RUN, files: 0 });
  });

  test('a failed catalog publish runs CleanupCatalog with the run and the error, then fails', async () => {
    // Prepare
    const { handlers, calls } = stubHandlers({
      RefreshCatalog: () => ({ run: RUN, item: TABLES[0] }),
      LoadCatalog: () => ({ table: 'dim_product', rowsLoaded: 3 }),
      PublishCatalog: () => {
        throw Object.assign(new Error('publish failed'), { name: 'PermanentError' });
      },
    });
    const machine = new StateMachine(synthesized.catalog as Json);
    // Act
    const run = machine.run([{ time: '2024-05-01T10:15:00Z' }], {
      overrides: { taskResourceLocalHandlers: handlers },
      context: { Execution: { Name: 'exec-2' } } as Json,
    });
    // Assess
    // The execution fails with the step's own error, not the Fail state's name.
    await assert.rejects(
      run.result,
      (error: Json) => error?.cause?.name === 'PermanentError' && error?.cause?.message === 'publish failed',
    );
    const cleanupInput = calls.find(([called]) => called === 'CleanupCatalog')?.[1];
    assert.equal(cleanupInput.run.runId, 'exec-2');
    assert.equal(cleanupInput.catalogArrivals, 1);
    assert.equal(cleanupInput.error.Error, 'PermanentError');
  });

  test('is fast enough for every local run', async () => {
    // Act
    const started = Date.now();
    await synthesizeDefinitions('prod');
    // Assess
    assert.ok(Date.now() - started < 5000);
  });
});
