/**
 * The synthesized state machines run the same scenarios in LocalStack's Step Functions (mocked tasks
 * through SFN_MOCK_CONFIG) and in the local runtime's interpreter (local/step-functions.ts), from the
 * same task results (fixtures/*.json); both must take the same Task path with the same retries and end
 * with the same output or error and cause.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { runStateMachine } from '../../local/step-functions';
import { synthesizeDefinitions, type SynthesizedDefinitions } from '../../local/synth-definitions';
import {
  assertReachable,
  clientConfig,
  FIXTURES,
  localstackEndpoint,
  mockFilePath,
  readMockFile,
  writeMockFile,
} from '../support';

type TaskResult = { Return: unknown } | { Throw: { Error: string; Cause: string } };

interface Scenario {
  machine: 'batch' | 'catalog';
  input: unknown;
  /** Each Task state's results, one per invocation in order (Map iterations and retries included). */
  tasks: Record<string, TaskResult[]>;
}

/** What both interpreters must agree on. */
interface Outcome {
  status: string;
  output?: unknown;
  error?: { error: string; cause: string };
  /** Task states in the order they were invoked, one entry per attempt. */
  invocations: string[];
  /** Failed attempts that were retried, per Task state. */
  retries: Record<string, number>;
}

const SCENARIOS = ['catalog-nothing-pending', 'catalog-transient-retried', 'catalog-load-fails'];
const ROLE = 'arn:aws:iam::000000000000:role/cartflow-localstack';

const loadScenario = (name: string): Scenario =>
  JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Scenario;

/** The execution's start time differs between two runs; everything else must not. */
function comparable(output: unknown): unknown {
  return JSON.parse(
    JSON.stringify(output ?? null).replace(/"startedAt":"[^"]*"/g, '"startedAt":"<start time>"'),
  );
}

async function runLocal(definition: object, scenario: Scenario, executionName: string): Promise<Outcome> {
  const calls = new Map<string, number>();
  const invocations: string[] = [];
  const handlers = Object.fromEntries(
    Object.entries(scenario.tasks).map(([state, results]) => [
      state,
      async () => {
        const n = calls.get(state) ?? 0;
        calls.set(state, n + 1);
        invocations.push(state);
        const result = results[Math.min(n, results.length - 1)]!;
        if ('Throw' in result) {
          const error = new Error(result.Throw.Cause);
          error.name = result.Throw.Error;
          throw error;
        }
        return result.Return;
      },
    ]),
  );
  const outcome = await runStateMachine(definition as never, scenario.input, { handlers, executionName });
  const retries: Record<string, number> = {};
  for (const step of outcome.steps)
    if (step.status === 'retried') retries[step.state] = (retries[step.state] ?? 0) + 1;
  return {
    status: outcome.status,
    ...(outcome.status === 'SUCCEEDED' ? { output: comparable(outcome.output) } : {}),
    ...(outcome.error ? { error: { error: outcome.error.name, cause: outcome.error.message } } : {}),
    invocations,
    retries,
  };
}

async function runLocalStack(
  sfn: SFNClient,
  stateMachineArn: string,
  testCase: string,
  scenario: Scenario,
  executionName: string,
): Promise<Outcome> {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn: `${stateMachineArn}#${testCase}`,
      name: executionName,
      input: JSON.stringify(scenario.input),
    }),
  );
  let described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  for (let i = 0; described.status === 'RUNNING'; i++) {
    assert.ok(i < 600, `${testCase}: execution still RUNNING after 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  }
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  // A Task's attempts show as *Scheduled events; the state they belong to is the last one entered in
  // that branch, found through previousEventId.
  const byId = new Map(events.map((event) => [event.id, event]));
  const stateOf = (event: HistoryEvent): string => {
    for (let at: HistoryEvent | undefined = event; at; at = byId.get(at.previousEventId)) {
      if (at.stateEnteredEventDetails) return at.stateEnteredEventDetails.name!;
    }
    return '?';
  };
  const invocations = events
    .filter((event) => event.type === 'TaskScheduled' || event.type === 'LambdaFunctionScheduled')
    .map(stateOf);
  const retries: Record<string, number> = {};
  const attempts = new Map<string, number>();
  for (const state of invocations) attempts.set(state, (attempts.get(state) ?? 0) + 1);
  const entered = new Map<string, number>();
  for (const event of events) {
    const name = event.stateEnteredEventDetails?.name;
    if (name && attempts.has(name)) entered.set(name, (entered.get(name) ?? 0) + 1);
  }
  for (const [state, n] of attempts)
    if (n > (entered.get(state) ?? 0)) retries[state] = n - entered.get(state)!;
  return {
    status: described.status!,
    ...(described.status === 'SUCCEEDED'
      ? { output: comparable(JSON.parse(described.output ?? 'null')) }
      : {}),
    ...(described.status !== 'SUCCEEDED'
      ? { error: { error: described.error ?? '', cause: described.cause ?? '' } }
      : {}),
    invocations,
    retries,
  };
}

describe('two interpreters agree on the synthesized state machines', () => {
  let sfn: SFNClient;
  let definitions: SynthesizedDefinitions;
  const arns: Partial<Record<Scenario['machine'], string>> = {};
  const machineName = (machine: string) => `cartflow-dev-${machine}`;

  before(async () => {
    const endpoint = localstackEndpoint();
    await assertReachable(endpoint);
    sfn = new SFNClient(clientConfig(endpoint));
    definitions = await synthesizeDefinitions('dev');
    // Every scenario is a test case in the mock file before any execution names it.
    const path = mockFilePath();
    const mock = readMockFile(path);
    for (const name of SCENARIOS) {
      const scenario = loadScenario(name);
      const cases = (mock.StateMachines[machineName(scenario.machine)] ??= { TestCases: {} }).TestCases;
      cases[name] = {};
      for (const [state, results] of Object.entries(scenario.tasks)) {
        const response = `${name}.${state}`;
        cases[name][state] = response;
        // A mocked Lambda task returns the Invoke response; the state's result is its Payload.
        mock.MockedResponses[response] = Object.fromEntries(
          results.map((result, i) => [
            i === results.length - 1 ? `${i}-999` : String(i),
            'Return' in result ? { Return: { StatusCode: 200, Payload: result.Return } } : result,
          ]),
        );
      }
    }
    writeMockFile(path, mock);
    for (const machine of ['batch', 'catalog'] as const) {
      const created = await sfn.send(
        new CreateStateMachineCommand({
          name: machineName(machine),
          definition: JSON.stringify(definitions[machine]),
          roleArn: ROLE,
        }),
      );
      arns[machine] = created.stateMachineArn;
    }
  });

  for (const name of SCENARIOS) {
    test(name, async () => {
      // Prepare
      const scenario = loadScenario(name);
      const executionName = `${name}-${Date.now()}`;
      // Act
      const local = await runLocal(definitions[scenario.machine], scenario, executionName);
      const remote = await runLocalStack(sfn, arns[scenario.machine]!, name, scenario, executionName);
      // Assess
      assert.deepEqual(local, remote, `${name}: local interpreter (actual) vs LocalStack (expected)`);
    });
  }
});
