import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import type { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { MemoryLakeStore } from '../../../bench/support/memory-lake';
import { stepAdapters } from '../../../bench/support/step-adapters';
import { RedshiftDataWarehouse } from '../../../lambdas/adapters/redshift-warehouse';
import { HANDLER_ENV } from '../../../lambdas/contract';
import type { CatalogColumn } from '../../../lambdas/core/schema-migration';
import { DECLARED_TABLES } from '../../../lambdas/core/sql';
import { TABLES } from '../../../lambdas/core/tables';
import {
  ensureWarehouse,
  step,
  WAREHOUSE_SCHEMA_RESOURCE_ID,
} from '../../../lambdas/handlers/ensure-warehouse';
import { APPENDED, WIDENED } from '../../fixtures/schema/declarations';
import { catalogOf } from '../../support/catalog';

/**
 * The deploy-time EnsureWarehouse as CloudFormation sees it: the CDK Provider framework's own onEvent code
 * (the function the stack deploys, from aws-cdk-lib) invokes the step, built by its factory over the
 * Redshift Data API adapter; the AWS edges are the Lambda Invoke answer (Lambda's error shape: HTTP 200 with
 * FunctionError) and the Data API client.
 */
const require = createRequire(import.meta.url);
const RUNTIME = join(
  dirname(require.resolve('aws-cdk-lib')),
  'custom-resources/lib/provider-framework/runtime',
);
const framework = require(join(RUNTIME, 'framework.js')) as {
  onEvent(event: CloudFormationCustomResourceEvent): Promise<void>;
};
const outbound = require(join(RUNTIME, 'outbound.js')) as {
  invokeFunction(req: { FunctionName: string; Payload: string }): Promise<unknown>;
  httpRequest(options: unknown, body: string): Promise<void>;
};

const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:cartflow-prod-ensure-warehouse';
const WRITER = 'IAMR:cartflow-prod-writer';

interface CfnResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason: string;
  PhysicalResourceId: string;
  Data?: Record<string, unknown>;
}

/** A Data API result set: the rows' columns in order, each value in the field the API uses for it. */
function resultSet(rows: readonly object[]) {
  const names = Object.keys(rows[0] ?? {});
  const field = (value: unknown) =>
    value === null
      ? { isNull: true }
      : typeof value === 'number'
        ? { longValue: value }
        : { stringValue: String(value) };
  return {
    ColumnMetadata: names.map((name) => ({ name })),
    Records: rows.map((row) => names.map((name) => field((row as Record<string, unknown>)[name]))),
  };
}

/**
 * The Data API at the SDK edge: the writer exists; the warehouse is `ready` (its catalog as `catalog`, by
 * default as declared) or empty, when its DDL batch fails. `statements` records what each call ran.
 */
function dataApi(state: { ready: boolean; catalog?: CatalogColumn[] }) {
  const calls: string[] = [];
  const statements: { call: string; sqls: string[] }[] = [];
  const sqlOf = new Map<string, string>();
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name.replace(/Command$/, '');
      calls.push(name);
      const { input } = command;
      if (name === 'ExecuteStatement' || name === 'BatchExecuteStatement') {
        const id = `s-${calls.length}`;
        statements.push({ call: name, sqls: (input.Sqls as string[] | undefined) ?? [String(input.Sql)] });
        sqlOf.set(id, String(input.Sql ?? (input.Sqls as string[])[0]));
        return { Id: id };
      }
      const sql = sqlOf.get(String(input.Id)) ?? '';
      if (name === 'DescribeStatement') {
        if (sql.startsWith('CREATE SCHEMA') && !state.ready) {
          return {
            Status: 'FAILED',
            Error: 'ERROR: permission denied for database cartflow',
            SubStatements: [{ Status: 'FAILED', QueryString: sql }],
          };
        }
        return { Status: 'FINISHED', HasResultSet: sql.startsWith('SELECT') };
      }
      if (name === 'GetStatementResult') {
        if (sql.includes('pg_user'))
          return { ColumnMetadata: [{ name: 'exists' }], Records: [[{ longValue: 1 }]] };
        if (sql.includes('information_schema.columns'))
          return resultSet(state.ready ? (state.catalog ?? catalogOf(DECLARED_TABLES)) : []);
        const present = state.ready ? 14 : 3;
        return {
          ColumnMetadata: [{ name: 'present' }, { name: 'expected' }],
          Records: [[{ longValue: present }, { longValue: 14 }]],
        };
      }
      throw new Error(`unexpected ${name}`);
    },
  };
  return { client: client as unknown as RedshiftDataClient, calls, statements };
}

/** Runs one stack event through the framework; returns what it PUT to CloudFormation's response URL. */
async function deploy(
  event: Partial<CloudFormationCustomResourceEvent>,
  state: { ready: boolean },
): Promise<{ response: CfnResponse; dataApiCalls: string[] }> {
  const { client, calls } = dataApi(state);
  const warehouse = new RedshiftDataWarehouse({
    workgroupName: 'cartflow-prod',
    database: 'cartflow',
    client,
    pollIntervalMs: 1,
    maxPollIntervalMs: 1,
  });
  const handle = step.make(
    stepAdapters({ lake: new MemoryLakeStore(), warehouse }),
    step.settings({ [HANDLER_ENV.warehouseWriterUser]: WRITER }),
  );
  const responses: CfnResponse[] = [];
  // Lambda Invoke (RequestResponse): an error is no HTTP error but FunctionError with the runtime's payload.
  outbound.invokeFunction = async ({ FunctionName, Payload }) => {
    assert.equal(FunctionName, FUNCTION_ARN);
    try {
      const result = await handle(JSON.parse(Payload));
      return { StatusCode: 200, Payload: Buffer.from(JSON.stringify(result)) };
    } catch (error) {
      const { name, message, stack = '' } = error as Error;
      const payload = { errorType: name, errorMessage: message, trace: stack.split('\n') };
      return { StatusCode: 200, FunctionError: 'Unhandled', Payload: Buffer.from(JSON.stringify(payload)) };
    }
  };
  outbound.httpRequest = async (_options, body) => void responses.push(JSON.parse(body) as CfnResponse);
  await framework.onEvent({
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework-onEvent',
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/response',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Cartflow-prod/1',
    RequestId: 'request-1',
    LogicalResourceId: 'PipelineWarehouseSchema',
    ResourceType: 'Custom::WarehouseSchema',
    ResourceProperties: { ServiceToken: 'token', Schema: 'a'.repeat(64) },
    ...event,
  } as CloudFormationCustomResourceEvent);
  assert.equal(responses.length, 1);
  return { response: responses[0], dataApiCalls: calls };
}

describe('EnsureWarehouse as the deploy-time custom resource', () => {
  before(() => {
    process.env.USER_ON_EVENT_FUNCTION_ARN = FUNCTION_ARN;
    // The framework logs every step to stdout.
    mock.method(console, 'log', () => undefined);
  });

  after(() => mock.restoreAll());

  it('a failed DDL fails the Create with the warehouse error as the reason', async () => {
    // Prepare
    const state = { ready: false };
    // Act
    const { response } = await deploy({ RequestType: 'Create' }, state);
    // Assess
    assert.equal(response.Status, 'FAILED');
    assert.match(response.Reason, /permission denied for database cartflow/);
    assert.match(response.Reason, /Logs: \/aws\/lambda\/cartflow-prod-ensure-warehouse/);
  });

  it('an Update on a ready warehouse succeeds with one physical id and nothing created', async () => {
    // Prepare
    const state = { ready: true };
    // Act
    const { response, dataApiCalls } = await deploy(
      {
        RequestType: 'Update',
        PhysicalResourceId: WAREHOUSE_SCHEMA_RESOURCE_ID,
        OldResourceProperties: { ServiceToken: 'token' },
      },
      state,
    );
    // Assess
    assert.equal(response.Status, 'SUCCESS');
    assert.equal(response.PhysicalResourceId, WAREHOUSE_SCHEMA_RESOURCE_ID);
    assert.deepEqual(response.Data, { Created: false });
    assert.ok(!dataApiCalls.includes('BatchExecuteStatement'));
  });

  it('a Delete succeeds without a single warehouse call', async () => {
    // Prepare
    const state = { ready: false };
    // Act
    const { response, dataApiCalls } = await deploy(
      { RequestType: 'Delete', PhysicalResourceId: WAREHOUSE_SCHEMA_RESOURCE_ID },
      state,
    );
    // Assess
    assert.equal(response.Status, 'SUCCESS');
    assert.equal(response.PhysicalResourceId, WAREHOUSE_SCHEMA_RESOURCE_ID);
    assert.deepEqual(dataApiCalls, []);
  });
});

describe('EnsureWarehouse over the Redshift Data API', () => {
  it('brings a warehouse forward in the calls Redshift takes: ADD COLUMN in a batch, ALTER COLUMN TYPE alone', async () => {
    // Prepare: the warehouse the current release made; a release appending a column and widening another.
    const { client, statements } = dataApi({ ready: true });
    const warehouse = new RedshiftDataWarehouse({
      workgroupName: 'cartflow-prod',
      database: 'cartflow',
      client,
      pollIntervalMs: 1,
      maxPollIntervalMs: 1,
    });
    const tables = APPENDED.map((t) =>
      t.name === TABLES.fact_order.name
        ? { ...t, columns: [...WIDENED.find((w) => w.name === t.name)!.columns, t.columns.at(-1)!] }
        : t,
    );

    // Act
    const result = await ensureWarehouse(warehouse, { writerUser: WRITER, tables, codeVersion: '1.2.3' });

    // Assess
    assert.deepEqual(result.changes, [
      'analytics.fact_order.coupon_code: added VARCHAR(32)',
      'analytics.fact_order.status: widened VARCHAR(32) to VARCHAR(64)',
    ]);
    const changing = statements.filter((s) => !s.sqls[0].startsWith('SELECT'));
    assert.deepEqual(
      changing.map(({ call, sqls }) => [call, sqls.map((sql) => sql.replace(/ VALUES[^]*$/, ' VALUES …'))]),
      [
        [
          'BatchExecuteStatement',
          [
            'ALTER TABLE analytics.fact_order ADD COLUMN coupon_code VARCHAR(32)',
            'INSERT INTO ops.schema_change (applied_at, table_name, column_name, change, code_version) VALUES …',
          ],
        ],
        ['ExecuteStatement', ['ALTER TABLE analytics.fact_order ALTER COLUMN status TYPE VARCHAR(64)']],
        [
          'BatchExecuteStatement',
          [
            'INSERT INTO ops.schema_change (applied_at, table_name, column_name, change, code_version) VALUES …',
          ],
        ],
      ],
    );
  });
});
