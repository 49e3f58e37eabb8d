import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import type { GetExecutionHistoryCommand, HistoryEvent } from '@aws-sdk/client-sfn';
import { SfnExecutionHistory, stopFromEvents } from '../../../lambdas/adapters/execution-history';

const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:PipelineStateMachine3A4F3E2B-AbCdEf:2026-03-09';

const history = async (name: string): Promise<HistoryEvent[]> =>
  (
    JSON.parse(
      await readFile(new URL(`../../fixtures/execution-history/${name}.json`, import.meta.url), 'utf8'),
    ) as { events: HistoryEvent[] }
  ).events;

/** The SFN edge: GetExecutionHistory answered from the events, `pageSize` at a time, newest first. */
function sfnServing(events: HistoryEvent[], pageSize: number) {
  const calls: GetExecutionHistoryCommand['input'][] = [];
  return {
    calls,
    client: {
      send: async (command: GetExecutionHistoryCommand) => {
        calls.push(command.input);
        const from = Number(command.input.nextToken ?? 0);
        const next = from + pageSize;
        return {
          events: events.slice(from, next),
          nextToken: next < events.length ? String(next) : undefined,
        };
      },
    },
  };
}

describe('SfnExecutionHistory', () => {
  it('names the Task that failed (not a sibling entered later) and the run state the Map received', async () => {
    // Prepare
    const events = await history('failed-load-table');
    const sfn = sfnServing(events, 4);

    // Act
    const stop = await new SfnExecutionHistory(sfn.client as never).stopOf(ARN);

    // Assess
    assert.equal(stop.state, 'LoadTable');
    const input = stop.input as { run: { runId: string }; validation: { tables: unknown[] } };
    assert.equal(input.run.runId, '2026-03-09-a1');
    assert.equal(input.validation.tables.length, 2);
    // Newest first, with the states' inputs, and no page past the Map's entered event.
    assert.ok(sfn.calls.every((c) => c.reverseOrder === true && c.includeExecutionData === true));
    assert.equal(sfn.calls.length, 3);
  });

  it('without a failed Task (a timeout), stops at the state entered last', async () => {
    // Prepare: the history up to the second iteration's Task, as an execution timeout leaves it.
    const events = (await history('failed-load-table')).filter((e) => Number(e.id) <= 9);

    // Act
    const { stop, complete } = stopFromEvents(events);

    // Assess
    assert.equal(complete, true);
    assert.equal(stop.state, 'LoadTable');
    assert.equal((stop.input as { run: { runId: string } }).run.runId, '2026-03-09-a1');
  });

  it('before any top-level state received the run, has no input to give', () => {
    // Act
    const { stop, complete } = stopFromEvents([{ id: 1, type: 'ExecutionStarted', timestamp: new Date() }]);

    // Assess
    assert.deepEqual(stop, { state: undefined });
    assert.equal(complete, false);
  });
});
