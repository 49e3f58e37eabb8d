import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { openAwsEnvironment } from '../../../cli/aws/environment';
import { executionHistory, offsetLag, stepsOfHistory } from '../../../cli/aws/status-sources';
import { gatherStatus, summarizeSteps } from '../../../local/status';
import { formatStatus } from '../../../cli/status-text';
import { freshnessRulesOf, loadConfig } from '../../../lib/config';
import { EMPTY_LISTING, recordingEndpoint, testAwsVars, withAwsEnv } from '../../support/aws-endpoint';

const MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:cartflow-dev-batch';

/** The fixture's events as the SDK returns them (timestamps as Date). */
async function historyFixture(file = 'execution-history.json'): Promise<HistoryEvent[]> {
  const { events } = JSON.parse(
    await readFile(new URL(`../../fixtures/status/${file}`, import.meta.url), 'utf8'),
  ) as { events: (HistoryEvent & { timestamp: string })[] };
  return events.map((e) => ({ ...e, timestamp: new Date(e.timestamp) }));
}

describe('status sources on AWS', () => {
  it('reads steps, retries, Map iterations and a redrive from an execution history', async () => {
    // Prepare
    const events = await historyFixture();

    // Act
    const { attempt, steps, error } = stepsOfHistory(events);
    const summary = summarizeSteps(steps);

    // Assess
    assert.equal(attempt, 2);
    assert.equal(error, undefined, 'the failure before the redrive is history');
    assert.deepEqual(
      summary.map(({ state, count, retries, ms, status }) => ({ state, count, retries, ms, status })),
      [
        { state: 'ResolveRun', count: 1, retries: 0, ms: 600, status: 'succeeded' },
        { state: 'Transform', count: 1, retries: 1, ms: 5000, status: 'succeeded' },
        { state: 'LoadTable', count: 2, retries: 0, ms: 4000, status: 'succeeded' },
        { state: 'Validate', count: 2, retries: 0, ms: 3_591_100, status: 'succeeded' },
      ],
    );
    const validate = steps.filter((s) => s.state === 'Validate');
    assert.deepEqual(
      validate.map((s) => [s.status, s.error]),
      [
        ['failed', 'PermanentError: staged/orders missing'],
        ['succeeded', undefined],
      ],
    );
  });

  it('a history that ends failed reports the failed step and the execution error', async () => {
    // Prepare: the history up to ExecutionFailed (no redrive yet)
    const events = (await historyFixture()).filter((e) => (e.id ?? 0) <= 34);

    // Act
    const { attempt, steps, error } = stepsOfHistory(events);
    const validate = summarizeSteps(steps).find((s) => s.state === 'Validate');

    // Assess
    assert.equal(attempt, 1);
    assert.equal(error, 'PermanentError: staged/orders missing');
    assert.equal(validate?.status, 'failed');
    assert.equal(validate?.ms, 2000);
    assert.equal(validate?.error, 'PermanentError: staged/orders missing');
  });

  it('reads failed, timed-out and retried steps of Tasks on plain function ARNs (LambdaFunction* events)', async () => {
    // Prepare
    const events = await historyFixture('lambda-function-history.json');

    // Act
    const { attempt, steps, error } = stepsOfHistory(events);
    const summary = summarizeSteps(steps);

    // Assess
    assert.equal(attempt, 1);
    assert.equal(error, 'PermanentError: staged/orders missing');
    assert.deepEqual(
      summary.map(({ state, retries, ms, status, error }) => ({ state, retries, ms, status, error })),
      [
        { state: 'ResolveRun', retries: 0, ms: 600, status: 'succeeded', error: undefined },
        { state: 'Transform', retries: 1, ms: 3000, status: 'succeeded', error: undefined },
        {
          state: 'Validate',
          retries: 1,
          ms: 2000,
          status: 'failed',
          error: 'PermanentError: staged/orders missing',
        },
      ],
    );
  });

  it('follows nextToken for the run named after its execution; an unknown name is no history', async () => {
    // Prepare: Step Functions at the SDK edge, the fixture in two pages
    const events = await historyFixture();
    const calls: { executionArn?: string; nextToken?: string }[] = [];
    const sfn = {
      async send(command: object) {
        assert.ok(command instanceof GetExecutionHistoryCommand);
        calls.push(command.input);
        if (!command.input.executionArn?.endsWith(':2026-05-02')) {
          throw Object.assign(new Error('Execution Does Not Exist'), { name: 'ExecutionDoesNotExist' });
        }
        return command.input.nextToken === 'page-2'
          ? { events: events.slice(20) }
          : { events: events.slice(0, 20), nextToken: 'page-2' };
      },
    };
    const history = executionHistory(sfn, MACHINE);

    // Act
    const known = await history.steps('2026-05-02');
    const unknown = await history.steps('2026-05-02-1a2b3c4d');

    // Assess
    assert.equal(
      calls[0].executionArn,
      'arn:aws:states:eu-west-1:123456789012:execution:cartflow-dev-batch:2026-05-02',
    );
    assert.deepEqual(
      calls.map((c) => c.nextToken),
      [undefined, 'page-2', undefined],
    );
    assert.deepEqual(known, stepsOfHistory(events));
    assert.equal(unknown, undefined);
  });

  it("OffsetLag: the newest 5-minute maximum of the stream function's mapping", async () => {
    // Prepare: CloudWatch at the SDK edge, datapoints out of order
    const sent: GetMetricStatisticsCommand['input'][] = [];
    const cloudWatch = {
      async send(command: object) {
        assert.ok(command instanceof GetMetricStatisticsCommand);
        sent.push(command.input);
        return {
          Datapoints: [
            { Timestamp: new Date('2026-05-02T05:50:00Z'), Maximum: 40 },
            { Timestamp: new Date('2026-05-02T05:55:00Z'), Maximum: 12 },
            { Timestamp: new Date('2026-05-02T05:45:00Z'), Maximum: 90 },
          ],
        };
      },
    };
    const now = new Date('2026-05-02T06:00:00Z');

    // Act
    const lag = await offsetLag(cloudWatch, 'cartflow-dev-stream', () => now).lag();

    // Assess
    assert.equal(lag.total, 12);
    assert.equal(lag.at, '2026-05-02T05:55:00.000Z');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].Namespace, 'AWS/Lambda');
    assert.equal(sent[0].MetricName, 'OffsetLag');
    assert.deepEqual(sent[0].Dimensions, [{ Name: 'FunctionName', Value: 'cartflow-dev-stream' }]);
    assert.deepEqual(sent[0].Statistics, ['Maximum']);
    assert.equal(sent[0].EndTime?.getTime(), now.getTime());
  });

  it('OffsetLag without a datapoint is no figure, with the reason', async () => {
    // Prepare
    const cloudWatch = { send: async () => ({ Datapoints: [] }) };

    // Act
    const lag = await offsetLag(cloudWatch, 'cartflow-dev-stream', () => new Date()).lag();

    // Assess
    assert.equal(lag.total, null);
    assert.match(lag.note ?? '', /no OffsetLag datapoint/);
  });

  it('without the Data API: runs and steps from Step Functions, freshness and failed checks said not read', async () => {
    // Prepare: the Data API answers as LocalStack community does (501), S3 lists nothing, Step Functions at
    // the SDK edge has a failed run of 2026-05-02 (the fixture's history) and a later-dated older one
    const events = (await historyFixture()).filter((e) => (e.id ?? 0) <= 34);
    const executions = [
      {
        name: '2026-05-03',
        input: '{"businessDate":"2026-05-03"}',
        status: 'SUCCEEDED',
        at: '2026-05-04T01:00:00Z',
      },
      {
        name: '2026-05-02',
        input: '{"businessDate":"2026-05-02"}',
        status: 'FAILED',
        at: '2026-05-04T02:00:00Z',
      },
    ];
    const sfn = {
      async send(command: object) {
        await Promise.resolve();
        if (command instanceof ListExecutionsCommand)
          return { executions: executions.map((e) => ({ name: e.name, startDate: new Date(e.at) })) };
        const arn = (command as { input: { executionArn?: string } }).input.executionArn ?? '';
        const execution = executions.find((e) => arn.endsWith(`:${e.name}`))!;
        if (command instanceof DescribeExecutionCommand)
          return {
            status: execution.status,
            input: execution.input,
            startDate: new Date(execution.at),
            stopDate: new Date(Date.parse(execution.at) + 90_000),
          };
        assert.ok(command instanceof GetExecutionHistoryCommand);
        return { events: execution.name === '2026-05-02' ? events : [] };
      },
    };
    const unserved = await recordingEndpoint({
      status: 501,
      contentType: 'application/x-amz-json-1.1',
      body: JSON.stringify({
        __type: 'InternalFailure',
        message: "The API for service 'redshift-data' is either not included in your current license plan",
      }),
    });
    const s3 = await recordingEndpoint(EMPTY_LISTING);
    const outputs = JSON.parse(
      await readFile(new URL('../../fixtures/status/stack-outputs.json', import.meta.url), 'utf8'),
    ) as unknown;
    try {
      // Act
      const report = await withAwsEnv(
        testAwsVars({ AWS_ENDPOINT_URL: unserved.url, AWS_ENDPOINT_URL_S3: s3.url }),
        async () => {
          const environment = await openAwsEnvironment({
            env: 'dev',
            command: 'status',
            dataApiUse: 'for the runs, freshness and failed checks',
            cloudFormation: {
              async send(command: object) {
                assert.ok(command instanceof DescribeStacksCommand);
                return outputs;
              },
            },
          });
          return gatherStatus(
            {
              warehouse: environment.warehouse,
              lake: environment.lake,
              history: executionHistory(sfn, MACHINE),
            },
            {
              environment: 'dev',
              rules: freshnessRulesOf(loadConfig('dev')),
              now: new Date('2026-05-04T03:00:00Z'),
            },
          );
        },
      );
      const text = formatStatus(report);

      // Assess
      assert.match(
        report.warehouseNote ?? '',
        /^runs from execution history; freshness and failed checks not read: cartflow status --env needs the Redshift Data API/,
      );
      assert.deepEqual(
        report.runs.map((d) => [
          d.businessDate,
          d.latest.runId,
          d.latest.status,
          d.latest.startedAt,
          d.latest.ms,
        ]),
        [
          ['2026-05-02', '2026-05-02', 'FAILED', '2026-05-04T02:00:00.000Z', 90_000],
          ['2026-05-03', '2026-05-03', 'SUCCEEDED', '2026-05-04T01:00:00.000Z', 90_000],
        ],
      );
      assert.equal(report.runs[0].error, 'PermanentError: staged/orders missing');
      assert.ok(report.runs[0].steps?.some((step) => step.state === 'Validate' && step.status === 'failed'));
      assert.deepEqual([report.freshness, report.failedChecks], [[], []]);
      assert.match(
        text,
        /Freshness \(SLA per dataset\)\n {2}not read: the warehouse is unavailable \(above\)\n/,
      );
      assert.match(
        text,
        /Failed checks \(latest run of each date listed\)\n {2}not read: the warehouse is unavailable/,
      );
    } finally {
      await Promise.all([unserved.close(), s3.close()]);
    }
  });
});
