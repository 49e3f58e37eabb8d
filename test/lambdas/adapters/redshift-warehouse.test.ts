import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { RedshiftDataWarehouse } from '../../../lambdas/adapters/redshift-warehouse';
import { DataApiLimitError } from '../../../lambdas/core/data-api-limits';
import { toCsv } from '../../../cli/csv';
import {
  PermanentError,
  RETRYABLE_ERRORS,
  TransientError,
  WarehouseTimeoutError,
} from '../../../lambdas/core/errors';

type Handler = (input: Record<string, unknown>) => unknown;

/** The Data API at the SDK edge: a `send` answering each command by name, recording every call. */
function fakeDataApi(handlers: Record<string, Handler>) {
  const calls: { command: string; input: Record<string, unknown> }[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, '');
      calls.push({ command: name, input: command.input });
      const handler = handlers[name];
      if (!handler) throw new Error(`unexpected ${name}`);
      return handler(command.input);
    },
  };
  return { client: client as unknown as RedshiftDataClient, calls };
}

const warehouseOver = (client: RedshiftDataClient, timeoutMs?: number) =>
  new RedshiftDataWarehouse({
    workgroupName: 'cartflow-dev',
    database: 'analytics',
    client,
    pollIntervalMs: 1,
    maxPollIntervalMs: 2,
    timeoutMs,
  });

/** DescribeStatement answers in turn, the last one repeating. */
const statuses =
  (...answers: Record<string, unknown>[]): Handler =>
  () =>
    answers.length > 1 ? answers.shift() : answers[0];

describe('RedshiftDataWarehouse', () => {
  it('runs a batch as one BatchExecuteStatement and polls until it finishes', async () => {
    // Prepare
    const { client, calls } = fakeDataApi({
      BatchExecuteStatement: () => ({ Id: 'b-1' }),
      DescribeStatement: statuses({ Status: 'SUBMITTED' }, { Status: 'STARTED' }, { Status: 'FINISHED' }),
    });

    // Act
    await warehouseOver(client).executeBatch(['CREATE TEMP TABLE s (LIKE t)', 'DROP TABLE s']);

    // Assess
    assert.deepEqual(calls[0], {
      command: 'BatchExecuteStatement',
      input: {
        WorkgroupName: 'cartflow-dev',
        Database: 'analytics',
        Sqls: ['CREATE TEMP TABLE s (LIKE t)', 'DROP TABLE s'],
      },
    });
    assert.deepEqual(
      calls.slice(1).map((c) => [c.command, c.input.Id]),
      [
        ['DescribeStatement', 'b-1'],
        ['DescribeStatement', 'b-1'],
        ['DescribeStatement', 'b-1'],
      ],
    );
  });

  it('refuses a batch over 40 statements or a statement over 100 KB without calling the Data API', async () => {
    // Prepare
    const { client, calls } = fakeDataApi({});
    const warehouse = warehouseOver(client);

    // Act + Assess
    await assert.rejects(warehouse.executeBatch(Array.from({ length: 41 }, (_, i) => `SELECT ${i}`)), {
      name: DataApiLimitError.name,
      message: /41 statements, the Data API takes at most 40/,
    });
    await assert.rejects(warehouse.query(`SELECT '${'é'.repeat(50_000)}'`), {
      name: DataApiLimitError.name,
      message: /^ExecuteStatement: statement 1\/1 is 100009 bytes/,
    });
    assert.deepEqual(calls, []);
  });

  it('names the failing sub-statement and its error, as a permanent error', async () => {
    // Prepare
    const { client } = fakeDataApi({
      BatchExecuteStatement: () => ({ Id: 'b-2' }),
      DescribeStatement: () => ({
        Status: 'FAILED',
        Error: 'ERROR: Spectrum Scan Error',
        SubStatements: [
          { Id: 'b-2:1', Status: 'FINISHED', QueryString: 'CREATE TEMP TABLE s (LIKE t)' },
          {
            Id: 'b-2:2',
            Status: 'FAILED',
            Error: 'Spectrum Scan Error',
            QueryString: "COPY s FROM 's3://b/p/'",
          },
          { Id: 'b-2:3', Status: 'ABORTED', QueryString: 'DROP TABLE s' },
        ],
      }),
    });

    // Act + Assess
    await assert.rejects(warehouseOver(client).executeBatch(['a', 'b', 'c']), {
      name: PermanentError.name,
      message: "Redshift statement 2/3 FAILED: ERROR: Spectrum Scan Error\n  in: COPY s FROM 's3://b/p/'",
    });
  });

  it('retries a serialization conflict and a busy workgroup', async () => {
    // Prepare
    const conflict = fakeDataApi({
      BatchExecuteStatement: () => ({ Id: 'b-3' }),
      DescribeStatement: () => ({
        Status: 'FAILED',
        Error: 'ERROR: 1023 DETAIL: Serializable isolation violation on table',
      }),
    });
    const busy = fakeDataApi({
      BatchExecuteStatement: () => {
        throw Object.assign(new Error('Active statements exceeded the allowed quota.'), {
          name: 'ActiveStatementsExceededException',
          $metadata: { httpStatusCode: 400 },
        });
      },
    });
    const invalid = fakeDataApi({
      ExecuteStatement: () => {
        throw Object.assign(new Error('Workgroup not found'), {
          name: 'ValidationException',
          $metadata: { httpStatusCode: 400 },
        });
      },
    });

    // Act + Assess
    await assert.rejects(warehouseOver(conflict.client).executeBatch(['x']), { name: TransientError.name });
    await assert.rejects(warehouseOver(busy.client).executeBatch(['x']), {
      name: TransientError.name,
      message: /ActiveStatementsExceededException/,
    });
    await assert.rejects(warehouseOver(invalid.client).query('SELECT 1'), { name: PermanentError.name });
  });

  it('cancels a statement that outlives the wait, so a retry does not race it', async () => {
    // Prepare
    const { client, calls } = fakeDataApi({
      BatchExecuteStatement: () => ({ Id: 'b-4' }),
      DescribeStatement: () => ({ Status: 'STARTED' }),
      CancelStatement: () => ({ Status: true }),
    });

    // Act + Assess
    await assert.rejects(warehouseOver(client, 5).executeBatch(['x']), { name: WarehouseTimeoutError.name });
    assert.deepEqual(calls.at(-1), { command: 'CancelStatement', input: { Id: 'b-4' } });
  });

  it("cancels before the function's remaining time runs out, with a retried error", async () => {
    // Prepare: the function has 400 ms left; the warehouse keeps 150 ms back for the cancel.
    const { client, calls } = fakeDataApi({
      ExecuteStatement: () => ({ Id: 'q-9' }),
      DescribeStatement: () => ({ Status: 'STARTED' }),
      CancelStatement: () => ({ Status: true }),
    });
    const end = Date.now() + 400;
    let remainingAtCancel = Number.NaN;
    const warehouse = new RedshiftDataWarehouse({
      workgroupName: 'cartflow-dev',
      database: 'analytics',
      client: {
        send: (command: { constructor: { name: string } }) => {
          if (command.constructor.name === 'CancelStatementCommand') remainingAtCancel = end - Date.now();
          return client.send(command as never);
        },
      } as unknown as RedshiftDataClient,
      pollIntervalMs: 20,
      maxPollIntervalMs: 1_000,
      remainingTimeMs: () => end - Date.now(),
      cancelMarginMs: 150,
    });

    // Act + Assess
    await assert.rejects(warehouse.query('VACUUM analytics.fact_order'), {
      name: WarehouseTimeoutError.name,
      message: /still STARTED .* cancelled/,
    });
    assert.deepEqual(calls.at(-1), { command: 'CancelStatement', input: { Id: 'q-9' } });
    assert.ok(remainingAtCancel >= 100, `cancelled with only ${remainingAtCancel} ms left`);
    // The state machine retries it by name (Retry matches exact names, not base classes).
    assert.ok((RETRYABLE_ERRORS as readonly string[]).includes(WarehouseTimeoutError.name));
    assert.ok(new WarehouseTimeoutError('x') instanceof TransientError);
  });

  it('reads every result page into objects typed like the local warehouse', async () => {
    // Prepare
    const columns = [
      { name: 'order_id', typeName: 'varchar' },
      { name: 'total_amount', typeName: 'numeric' },
      { name: 'order_ts', typeName: 'timestamp' },
      { name: 'order_date', typeName: 'date' },
      { name: 'n', typeName: 'int8' },
      { name: 'ok', typeName: 'bool' },
    ];
    const pages: Record<string, Record<string, unknown>> = {
      first: {
        ColumnMetadata: columns,
        Records: [
          [
            { stringValue: 'O-1' },
            { stringValue: '-1.50' },
            { stringValue: '2024-03-10 12:34:56.789' },
            { stringValue: '2024-03-10' },
            { longValue: 3 },
            { booleanValue: true },
          ],
        ],
        NextToken: 'next',
      },
      next: {
        ColumnMetadata: columns,
        Records: [
          [
            { stringValue: 'O-2' },
            { isNull: true },
            { stringValue: '2024-03-10 00:00:00' },
            { stringValue: '2024-03-10' },
            { longValue: 0 },
            { booleanValue: false },
          ],
        ],
      },
    };
    const { client, calls } = fakeDataApi({
      ExecuteStatement: () => ({ Id: 'q-1' }),
      DescribeStatement: () => ({ Status: 'FINISHED', HasResultSet: true }),
      GetStatementResult: (input) => pages[(input.NextToken as string | undefined) ?? 'first'],
    });

    // Act
    const rows = await warehouseOver(client).query('SELECT * FROM analytics.fact_order');

    // Assess
    assert.deepEqual(calls[0].input, {
      WorkgroupName: 'cartflow-dev',
      Database: 'analytics',
      Sql: 'SELECT * FROM analytics.fact_order',
    });
    assert.deepEqual(rows, [
      {
        order_id: 'O-1',
        total_amount: '-1.50',
        order_ts: new Date('2024-03-10T12:34:56.789Z'),
        order_date: '2024-03-10',
        n: 3,
        ok: true,
      },
      {
        order_id: 'O-2',
        total_amount: null,
        order_ts: new Date('2024-03-10T00:00:00.000Z'),
        order_date: '2024-03-10',
        n: 0,
        ok: false,
      },
    ]);
  });

  it('returns no rows for a statement without a result set', async () => {
    // Prepare
    const { client, calls } = fakeDataApi({
      ExecuteStatement: () => ({ Id: 'q-2' }),
      DescribeStatement: () => ({ Status: 'FINISHED', HasResultSet: false }),
    });

    // Act
    const rows = await warehouseOver(client).query('DELETE FROM ops.pipeline_run');

    // Assess
    assert.deepEqual(rows, []);
    assert.equal(calls.filter((c) => c.command === 'GetStatementResult').length, 0);
  });
  it('passes SecretArn on every statement when a secret is given, and none otherwise', async () => {
    // Prepare
    const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:cartflow/redshift-AbCdEf';
    const { client, calls } = fakeDataApi({
      BatchExecuteStatement: () => ({ Id: 'b-5' }),
      ExecuteStatement: () => ({ Id: 'q-5' }),
      DescribeStatement: () => ({ Status: 'FINISHED', HasResultSet: false }),
    });
    const withSecret = new RedshiftDataWarehouse({
      workgroupName: 'cartflow-dev',
      database: 'analytics',
      secretArn,
      client,
      pollIntervalMs: 1,
    });

    // Act
    await withSecret.executeBatch(['SELECT 1', 'SELECT 2']);
    await withSecret.query('SELECT 3');
    await warehouseOver(client).query('SELECT 4');

    // Assess
    const submitted = calls.filter((c) => c.command !== 'DescribeStatement').map((c) => c.input);
    assert.deepEqual(submitted, [
      {
        WorkgroupName: 'cartflow-dev',
        Database: 'analytics',
        SecretArn: secretArn,
        Sqls: ['SELECT 1', 'SELECT 2'],
      },
      { WorkgroupName: 'cartflow-dev', Database: 'analytics', SecretArn: secretArn, Sql: 'SELECT 3' },
      { WorkgroupName: 'cartflow-dev', Database: 'analytics', Sql: 'SELECT 4' },
    ]);
  });

  it('queryArrays keeps duplicate and unnamed columns by position, as the local warehouse does', async () => {
    // Prepare: what Redshift answers for the query fixture
    const fixture = (name: string) =>
      readFile(new URL(`../../fixtures/query/duplicate-and-unnamed.${name}`, import.meta.url), 'utf8');
    const { client } = fakeDataApi({
      ExecuteStatement: () => ({ Id: 'q-1' }),
      DescribeStatement: () => ({ Status: 'FINISHED', HasResultSet: true }),
      GetStatementResult: () => ({
        ColumnMetadata: [
          { name: 'a', typeName: 'int4' },
          { name: 'a', typeName: 'int4' },
          { name: '?column?', typeName: 'int4' },
        ],
        Records: [[{ longValue: 1 }, { longValue: 2 }, { longValue: 3 }]],
      }),
    });

    // Act
    const { columns, rows } = await warehouseOver(client).queryArrays(await fixture('sql'));

    // Assess
    assert.deepEqual(columns, ['a', 'a', '?column?']);
    assert.deepEqual(rows, [[1, 2, 3]]);
    assert.equal(toCsv(columns, rows), await fixture('csv'));
  });
});
