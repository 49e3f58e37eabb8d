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
import { LAKE } from '../../lambdas/contract';
import { layout } from '../../lambdas/core/layout';
import type { StatusReport } from '../../local/status';
import { synthesizeDefinitions } from '../../local/synth-definitions';
import { runCartflow } from '../../test/support/cartflow-cli';
import { envStackTemplate, startExecutionProxy, type EnvStackTemplate } from '../env-stack';
import {
  addTestCase,
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
/** The date whose run fails at the quality gate (any other date runs the clean day). */
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

  /** Every command run, with its exit code and the lines that say its outcome, printed after the suite. */
  const transcript: string[] = [];
  const cli = async (...args: string[]) => {
    const started = Date.now();
    const ended = await runCartflow([...args, '--env', 'dev'], { dataDir, env, timeoutMs: 120_000 });
    const outcome = `${ended.out}\n${ended.err}`
      .split('\n')
      .filter((line) => /^( {2})?20\d\d-|^\/|^backfill \d|^! |^cartflow \w+: /.test(line))
      .map((line) => `    ${line.slice(0, 110)}`);
    transcript.push(
      `cartflow ${args.join(' ')} --env dev → exit ${ended.code} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      ...outcome,
    );
    return ended;
  };

  const executionArn = (name: string) =>
    `${outputs.BatchStateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const describeRun = (name: string) =>
    sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(name) }));
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
    const mockCase = (name: string, tasks: Scenario['tasks']) =>
      addTestCase(mock, stack.batchName, name, tasks, `env-${tag}.${name}`);
    mockCase('CleanDay', scenario('batch-clean-day').tasks);
    mockCase('GateFails', scenario('batch-quality-gate-fails').tasks);
    // Retried with the definition's real backoff (5 s, then 10 s): it runs until the suite stops it.
    mockCase(BLOCKER_CASE, {
      EnsureWarehouse: [
        { Throw: { Error: 'TransientError', Cause: 'warehouse busy (a blocker of the suite)' } },
      ],
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
      await waitUntilStackDeleteComplete(
        { client: cloudFormation, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
        { StackName: STACK },
      );
    }
    await cloudFormation.send(
      new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(stack.template) }),
    );
    await waitUntilStackCreateComplete(
      { client: cloudFormation, maxWaitTime: 60, minDelay: 1, maxDelay: 2 },
      { StackName: STACK },
    );
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
    console.log(`--env commands against ${STACK} in LocalStack:\n${transcript.join('\n')}`);
    await proxy?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('the stack carries the synthesized outputs --env reads', () => {
    // Prepare: the stack created in before()
    // Act: DescribeStacks in before()
    // Assess
    // The synthesized outputs whose resources the LocalStack stack has, under their synthesized names.
    assert.deepEqual(Object.keys(outputs).sort(), [
      'AlertTopicArn',
      'BatchStateMachineArn',
      'CatalogStateMachineArn',
      'LakeBucketName',
      'WorkgroupName',
    ]);
    assert.deepEqual(stack.dropped.sort(), [
      'BatchLiveAliasArn',
      'BatchVersionArn',
      'CopyRoleArn',
      'SourceDatabaseSecretArn',
      'WarehouseAdminSecretArn',
    ]);
    assert.match(outputs.BatchStateMachineArn, new RegExp(`:stateMachine:${stack.batchName}$`));
    assert.match(outputs.CatalogStateMachineArn, new RegExp(`:stateMachine:${stack.catalogName}$`));
  });

  test('run --env --date D: execution D, then D-a2; a failing date FAILED with its error, exit 1', async () => {
    // Prepare: GATE_FAILS runs the recorded failed quality gate, any other date the clean day
    const date = '2026-11-01';
    // Act
    const [[first, second], failed] = await Promise.all([
      cli('run', '--date', date).then(async (run) => [run, await cli('run', '--date', date)]),
      cli('run', '--date', GATE_FAILS),
    ]);
    // Assess
    assert.equal(first.code, 0, first.out + first.err);
    assert.match(first.out, new RegExp(`^${date}\\s+SUCCEEDED.*\\s${date}\\s`, 'm'));
    assert.equal(second.code, 0, second.out + second.err);
    assert.match(second.out, new RegExp(`^${date}\\s+SUCCEEDED.*\\s${date}-a2\\s`, 'm'));
    for (const name of [date, `${date}-a2`]) {
      const described = await describeRun(name);
      assert.equal(described.status, 'SUCCEEDED', name);
      assert.deepEqual(JSON.parse(described.input!), { businessDate: date });
    }
    assert.equal(failed.code, 1, failed.out + failed.err);
    assert.match(failed.out, new RegExp(`^${GATE_FAILS}\\s+FAILED`, 'm'));
    assert.match(failed.out, /QualityGateError/);
    assert.equal((await describeRun(GATE_FAILS)).status, 'FAILED');
  });

  test("backfill --env --concurrency 5: at most maxConcurrentRuns (2) executions at once, others' included", async () => {
    // Prepare: two executions started outside the CLI hold both of dev's run slots
    const blockers = await Promise.all(
      ['blocker-1', 'blocker-2'].map((name) =>
        sfn.send(
          new StartExecutionCommand({
            stateMachineArn: `${outputs.BatchStateMachineArn}#${BLOCKER_CASE}`,
            name,
            input: JSON.stringify({ businessDate: '2026-10-01' }),
          }),
        ),
      ),
    );
    const dates = ['2026-11-02', '2026-11-03', '2026-11-04'];
    // Act
    const running = cli('backfill', '--from', dates[0], '--to', dates[2], '--concurrency', '5', '--force');
    await new Promise((resolve) => setTimeout(resolve, 8000));
    const whileBlocked = await executionNames();
    for (const { executionArn } of blockers) await sfn.send(new StopExecutionCommand({ executionArn }));
    const backfill = await running;
    // Assess
    assert.equal(backfill.code, 0, backfill.out + backfill.err);
    assert.match(backfill.err, /3 dates, 2 at a time/);
    assert.deepEqual(
      whileBlocked.filter((name) => dates.includes(name)),
      [],
      'no date started while the two slots were taken',
    );
    const runs: DescribeExecutionCommandOutput[] = [];
    for (const date of dates) {
      assert.match(backfill.out, new RegExp(`${date}\\s+SUCCEEDED.*${date}\\b`));
      runs.push(await describeRun(date));
    }
    const stopped = Math.min(
      ...(await Promise.all(
        blockers.map(async (b) =>
          (await describeRun(b.executionArn!.split(':').at(-1)!)).stopDate!.getTime(),
        ),
      )),
    );
    for (const run of runs)
      assert.ok(run.startDate!.getTime() >= stopped, `${run.name} started before a slot was free`);
    // No instant with more than two of the backfill's executions running.
    for (const run of runs) {
      const at = run.startDate!.getTime();
      const overlapping = runs.filter((r) => r.startDate!.getTime() <= at && r.stopDate!.getTime() > at);
      assert.ok(overlapping.length <= 2, `${overlapping.map((r) => r.name).join(', ')} ran at once`);
    }
  });

  test('two backfills of the same dates at once: each date runs once, both exit 0', async (t) => {
    // Prepare
    const dates = ['2026-11-06', '2026-11-07', '2026-11-08'];
    const args = ['backfill', '--from', dates[0], '--to', dates[2], '--concurrency', '2', '--force'];
    // Act
    const [a, b] = await Promise.all([cli(...args), cli(...args)]);
    // Assess
    for (const backfill of [a, b]) assert.equal(backfill.code, 0, backfill.out + backfill.err);
    const names = await executionNames();
    for (const date of dates) {
      assert.deepEqual(
        names.filter((n) => n.startsWith(date)),
        [date],
        `${date}: one execution`,
      );
      assert.equal((await describeRun(date)).status, 'SUCCEEDED');
    }
    // Both report the one execution of each date as their run: a same-name start while it runs is
    // StartExecution's idempotent answer, after it ended ExecutionAlreadyExists, or it was seen running.
    for (const date of dates)
      for (const backfill of [a, b])
        assert.match(backfill.out, new RegExp(`^${date}\\s+SUCCEEDED.*\\s${date}\\s`, 'm'));
    t.diagnostic(
      [
        ...`${a.out}\n${b.out}`.matchAll(
          /^(\S+) .*?(started by another starter at the same time|run by another starter since this backfill began|was already running; waited for it)/gm,
        ),
      ]
        .map((m) => `${m[1]}: ${m[2]}`)
        .join('; ') || 'each date started by both at once (idempotent StartExecution)',
    );
    // The API fact the CLI relies on: a closed execution's name cannot be started again.
    await assert.rejects(
      sfn.send(
        new StartExecutionCommand({
          stateMachineArn: outputs.BatchStateMachineArn,
          name: dates[0],
          input: JSON.stringify({ businessDate: dates[0] }),
        }),
      ),
      { name: 'ExecutionAlreadyExists' },
    );
  });

  test('status --env: runs and steps from Step Functions, on-failure objects from the bucket, the warehouse said unread', async () => {
    // Prepare: the runs of the tests above; an on-failure object as the stream's Lambda destination writes it
    const key = `${LAKE.streamOnFailure}2026/11/09/failed-batch.json`;
    await s3.send(
      new PutObjectCommand({ Bucket: outputs.LakeBucketName, Key: key, Body: '{"requestContext":{}}' }),
    );
    // Act
    const [json, text] = await Promise.all([cli('status', '--json'), cli('status')]);
    // Assess
    assert.equal(json.code, 0, json.err);
    const report = JSON.parse(json.out) as StatusReport;
    assert.match(
      report.warehouseNote ?? '',
      /^runs from execution history; freshness and failed checks not read: .*Redshift Data API/,
    );
    const byDate = new Map(report.runs.map((d) => [d.businessDate, d]));
    assert.deepEqual(
      ['2026-11-01', GATE_FAILS, '2026-11-06'].map((date) => [
        date,
        byDate.get(date)?.runs,
        byDate.get(date)?.latest.status,
        byDate.get(date)?.latest.runId,
      ]),
      [
        ['2026-11-01', 2, 'SUCCEEDED', '2026-11-01-a2'],
        [GATE_FAILS, 1, 'FAILED', GATE_FAILS],
        ['2026-11-06', 1, 'SUCCEEDED', '2026-11-06'],
      ],
    );
    // The newest date's steps, read from its execution history: every Task of the clean day, succeeded
    // (in order of start: the Parallel's branches in either order).
    const newest = report.runs[0];
    assert.deepEqual(
      newest.steps?.map((step) => `${step.state} ${step.status}`).sort(),
      Object.keys(scenario('batch-clean-day').tasks)
        .map((state) => `${state} succeeded`)
        .sort(),
    );
    assert.ok(
      newest.steps?.some((step) => step.state === 'LoadTable' && step.count > 1),
      'the LoadTables Map',
    );
    assert.deepEqual(
      report.onFailure.newest.map((o) => o.key),
      [key],
    );
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /Freshness \(SLA per dataset\)\n {2}not read: the warehouse is unavailable/);
    assert.match(text.out, new RegExp(`^  ${GATE_FAILS}\\s+FAILED\\s+1\\s+${GATE_FAILS}\\s`, 'm'));
  });

  test("report --env: the run's report copied from the bucket; a run without one says where it looked", async () => {
    // Prepare: reports where RecordRun writes them (mocked here): of 2026-11-01 and of the newest run
    const put = (date: string, run: string) =>
      s3.send(
        new PutObjectCommand({
          Bucket: outputs.LakeBucketName,
          Key: layout.runReport(date, run),
          Body: `<html><body>report of ${run}</body></html>`,
        }),
      );
    const { executions } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: outputs.BatchStateMachineArn, maxResults: 1000 }),
    );
    const latest = [...(executions ?? [])].sort((a, b) => b.startDate!.getTime() - a.startDate!.getTime())[0];
    const latestDate = (JSON.parse((await describeRun(latest.name!)).input!) as { businessDate: string })
      .businessDate;
    await Promise.all([put('2026-11-01', '2026-11-01'), put(latestDate, latest.name!)]);
    // Act
    const [named, newestRun, none] = await Promise.all([
      cli('report', '2026-11-01'),
      cli('report'),
      cli('report', GATE_FAILS),
    ]);
    // Assess
    assert.equal(named.code, 0, named.err);
    assert.equal(named.out.trim(), join(dataDir, 'reports', 'dev', '2026-11-01.html'));
    assert.equal(readFileSync(named.out.trim(), 'utf8'), '<html><body>report of 2026-11-01</body></html>');
    assert.equal(newestRun.code, 0, newestRun.err);
    assert.equal(
      readFileSync(newestRun.out.trim(), 'utf8'),
      `<html><body>report of ${latest.name}</body></html>`,
    );
    assert.equal(none.code, 1);
    assert.match(
      none.err,
      new RegExp(
        `run ${GATE_FAILS} has no report at s3://${outputs.LakeBucketName}/${layout.runReport(GATE_FAILS, GATE_FAILS)}`,
      ),
    );
  });
});
