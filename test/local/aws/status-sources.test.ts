import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { executionHistory, offsetLag, stepsOfHistory } from '../../../local/aws/status-sources';
import { summarizeSteps } from '../../../local/status';

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
});
