/**
 * `cartflow <command> --env dev` against a real API: a `Cartflow-dev` stack created through LocalStack's
 * CloudFormation from the synthesized stack (test-localstack/env-stack.ts: the batch and catalog state
 * machines with mocked tasks, the lake bucket, the alert topic, the stack's own output names), then the CLI
 * as a child process with AWS_ENDPOINT_URL on LocalStack, dummy credentials and the real SDK clients.
 * Query and retry are not here: LocalStack community has no Redshift Data API and no RedriveExecution.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  waitUntilStackCreateComplete,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { layout } from '../../lambdas/core/layout';
import { synthesizeDefinitions } from '../../local/synth-definitions';
import { runCartflow } from '../../test/support/cartflow-cli';
import { envStackTemplate, startExecutionProxy, type EnvStackTemplate } from '../env-stack';
import {
  assertReachable,
  clientConfig,
  FIXTURES,
  localstackEndpoint,
  mockFilePath,
  readMockFile,
  writeMockFile,
  type Scenario,
} from '../support';

const STACK = 'Cartflow-dev';
/** The dates whose runs the scenario says (any other date runs the clean day). */
const GATE_FAILS = '2026-11-05';
/** Executions started by the suite itself (not through the CLI) that hold a run slot until stopped. */
const BLOCKER_CASE = 'Blocker';

const scenario = (name: string): Scenario =>
  JSON.parse(readFileSync(join(FIXTURES, 'dev', `${name}.json`), 'utf8')) as Scenario;

describe('cartflow --env dev against a Cartflow-dev stack in LocalStack', () => {
  const endpoint = localstackEndpoint();
  const sfn = new SFNClient(clientConfig(endpoint));
  const s3 = new S3Client(clientConfig(endpoint));
  const cloudFormation = new CloudFormationClient(clientConfig(endpoint));
  const dataDir = mkdtempSync(join(tmpdir(), 'cartflow-env-'));
  let stack: EnvStackTemplate;
  let outputs: Record<string, string>;
  let proxy: Awaited<ReturnType<typeof startExecutionProxy>>;
  let env: NodeJS.ProcessEnv;

  const cli = (...args: string[]) => runCartflow([...args, '--env', 'dev'], { dataDir, env, timeoutMs: 120_000 });

  const executionArn = (name: string) =>
    `${outputs.BatchStateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const describeRun = (name: string) => sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(name) }));
  async function executionNames(): Promise<string[]> {
    const { executions } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: outputs.BatchStateMachineArn, maxResults: 1000 }),
    );
    return (executions ?? []).map((e) => e.name!).sort();
  }

  before(async () => {
    await assertReachable(endpoint);
    const tag = String(Date.now());
    stack = envStackTemplate(await synthesizeDefinitions('dev'), tag);
    // The test cases of the batch machine in the mock file, before any execution names them.
    const path = mockFilePath();
    const mock = readMockFile(path);
    const cases = (mock.StateMachines[stack.batchName] = { TestCases: {} as Record<string, Record<string, string>> })
      .TestCases;
    const mockCase = (name: string, tasks: Scenario['tasks']) => {
      cases[name] = {};
      for (const [state, results] of Object.entries(tasks)) {
        const response = `env-${tag}.${name}.${state}`;
        cases[name][state] = response;
        mock.MockedResponses[response] = Object.fromEntries(
          results.map((result, i) => [
            i === results.length - 1 ? `${i}-999` : String(i),
            'Return' in result ? { Return: { StatusCode: 200, Payload: result.Return } } : result,
          ]),
        );
      }
    };
    mockCase('CleanDay', scenario('batch-clean-day').tasks);
    mockCase('GateFails', scenario('batch-quality-gate-fails').tasks);
    // Retried with the definition's real backoff (5 s, then 10 s): it runs until the suite stops it.
    mockCase(BLOCKER_CASE, {
      EnsureWarehouse: [{ Throw: { Error: 'TransientError', Cause: 'warehouse busy (a blocker of the suite)' } }],
    });
    writeMockFile(path, mock);
    proxy = await startExecutionProxy(endpoint, (input) =>
      input.businessDate === GATE_FAILS ? 'GateFails' : 'CleanDay',
    );
    // A Cartflow-dev left by an earlier run of the suite on this LocalStack goes first.
    const existing = await cloudFormation
      .send(new DescribeStacksCommand({ StackName: STACK }))
      .catch(() => undefined);
    if (existing?.Stacks?.length) {
      await cloudFormation.send(new DeleteStackCommand({ StackName: STACK }));
      await waitUntilStackDeleteComplete({ client: cloudFormation, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { StackName: STACK });
    }
    await cloudFormation.send(
      new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(stack.template) }),
    );
    await waitUntilStackCreateComplete({ client: cloudFormation, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { StackName: STACK });
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: STACK }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey!, o.OutputValue!]));
    env = {
      PATH: process.env.PATH,
      HOME: dataDir,
      AWS_CONFIG_FILE: join(dataDir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dataDir, 'no-aws-credentials'),
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_SFN: proxy.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  });

  after(async () => {
    await proxy?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the stack carries the synthesized outputs --env reads', () => {
    // Prepare: the stack created in before()
    // Act: DescribeStacks in before()
    // Assess
    for (const key of ['BatchStateMachineArn', 'CatalogStateMachineArn', 'LakeBucketName', 'WorkgroupName', 'AlertTopicArn'])
      assert.ok(outputs[key], `output ${key} of ${STACK}: ${JSON.stringify(outputs)}`);
    assert.match(outputs.BatchStateMachineArn, new RegExp(`:stateMachine:${stack.batchName}$`));
  });

  test('run --env --date D: execution D, then D-a2, in Step Functions', async () => {
    // Prepare
    const date = '2026-11-01';
    // Act
    const first = await cli('run', '--date', date);
    const second = await cli('run', '--date', date);
    // Assess
    assert.equal(first.code, 0, first.out + first.err);
    assert.match(first.out, new RegExp(`${date}\\s+SUCCEEDED.*${date}\\b`));
    assert.equal(second.code, 0, second.out + second.err);
    assert.match(second.out, new RegExp(`${date}\\s+SUCCEEDED.*${date}-a2\\b`));
    for (const name of [date, `${date}-a2`]) {
      const described = await describeRun(name);
      assert.equal(described.status, 'SUCCEEDED', name);
      assert.deepEqual(JSON.parse(described.input!), { businessDate: date });
    }
  });
});

export type { DescribeExecutionCommandOutput };
void [PutObjectCommand, StartExecutionCommand, StopExecutionCommand, layout];
