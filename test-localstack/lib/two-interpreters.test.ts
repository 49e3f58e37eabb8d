/**
 * The synthesized state machines of every environment run the same scenarios in LocalStack's Step
 * Functions (mocked tasks through SFN_MOCK_CONFIG) and in the local runtime's interpreter
 * (local/step-functions.ts), from the same task results (fixtures/<env>/*.json, recorded from real local
 * runs by record-fixtures.ts); both must take the same path of states with the same Task attempts and
 * retries, and end with the same output or error and cause.
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
import { synthesizeDefinitions, type AslDefinition } from '../../local/synth-definitions';
import {
  addTestCase,
  assertReachable,
  clientConfig,
  ENVIRONMENTS,
  FIXTURES,
  localstackEndpoint,
  mockFilePath,
  readMockFile,
  writeMockFile,
  type Scenario,
} from '../support';

/** What both interpreters must agree on. */
interface Outcome {
  status: string;
  output?: unknown;
  error?: { error: string; cause: string };
  /** The top-level states in the order they were entered. */
  path: string[];
  /** Invocations per Task state (Map iterations and retries included). */
  attempts: Record<string, number>;
  /** Failed attempts that were retried, per Task state. */
  retries: Record<string, number>;
}

const SCENARIOS = [
  'batch-clean-day',
  'batch-split-day',
  'batch-quality-gate-fails',
  'batch-transient-retried',
  'batch-task-timeout',
  'batch-load-table-fails',
  'batch-superseded',
  'batch-superseded-at-publish',
  'catalog-nothing-pending',
  'catalog-transient-retried',
  'catalog-load-fails',
  'catalog-file-rejected',
];
const ROLE = 'arn:aws:iam::000000000000:role/cartflow-localstack';

type Machine = 'batch' | 'batch-split' | 'catalog';
type Env = (typeof ENVIRONMENTS)[number];

const loadScenario = (env: Env, name: string): Scenario =>
  JSON.parse(readFileSync(join(FIXTURES, env, `${name}.json`), 'utf8')) as Scenario;

const machineOf = (scenario: Scenario): Machine =>
  scenario.machine === 'catalog' ? 'catalog' : scenario.split ? 'batch-split' : 'batch';

/**
 * The execution's start time differs between two runs. The Map results ($.buckets, $.loads) are compared
 * as sets: a mock's responses are handed out per state in invocation order, which under MaxConcurrency > 1
 * need not be item order, in either interpreter.
 */
function comparable(output: unknown): unknown {
  const parsed = JSON.parse(
    JSON.stringify(output ?? null).replace(/"startedAt":"[^"]*"/g, '"startedAt":"<start time>"'),
  ) as unknown;
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const state = parsed as Record<string, unknown>;
    for (const key of ['buckets', 'loads'])
      if (Array.isArray(state[key]))
        state[key] = (state[key] as unknown[]).map((item) => JSON.stringify(item)).sort();
  }
  return parsed;
}

/**
 * LocalStack's copy of a definition: every Retrier waits 1 s at most instead of its seconds to minutes
 * (prod's 6 attempts would take up to 10 minutes with real backoff); MaxAttempts, BackoffRate and
 * ErrorEquals are unchanged. The local interpreter waits 50 ms between retries whatever they say.
 */
function withShortRetries(definition: AslDefinition): AslDefinition {
  return JSON.parse(JSON.stringify(definition), (key: string, value: unknown) =>
    key === 'Retry' && Array.isArray(value)
      ? value.map((retrier: object) => ({ ...retrier, IntervalSeconds: 1, MaxDelaySeconds: 1 }))
      : value,
  ) as AslDefinition;
}

const count = (names: string[]) => {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
};

async function runLocal(
  definition: AslDefinition,
  scenario: Scenario,
  executionName: string,
): Promise<Outcome> {
  const calls = new Map<string, number>();
  const invocations: string[] = [];
  const entered: string[] = [];
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
  const outcome = await runStateMachine(definition, scenario.input, {
    handlers,
    executionName,
    onStateEntered: (state) => entered.push(state),
  });
  const retries: Record<string, number> = {};
  for (const step of outcome.steps)
    if (step.status === 'retried') retries[step.state] = (retries[step.state] ?? 0) + 1;
  return {
    status: outcome.status,
    ...(outcome.status === 'SUCCEEDED' ? { output: comparable(outcome.output) } : {}),
    ...(outcome.error ? { error: { error: outcome.error.name, cause: outcome.error.message } } : {}),
    path: entered.filter((state) => state in definition.States),
    attempts: count(invocations),
    retries,
  };
}

async function runLocalStack(
  sfn: SFNClient,
  stateMachineArn: string,
  definition: AslDefinition,
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
    assert.ok(i < 600, `${executionName}: execution still RUNNING after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
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
  const attempts = count(
    events
      .filter((event) => event.type === 'TaskScheduled' || event.type === 'LambdaFunctionScheduled')
      .map(stateOf),
  );
  const enteredNames = events.flatMap((event) =>
    event.stateEnteredEventDetails ? [event.stateEnteredEventDetails.name!] : [],
  );
  const entered = count(enteredNames);
  // Each entry of a Task state is one first attempt; the attempts beyond them are retries.
  const retries: Record<string, number> = {};
  for (const [state, n] of Object.entries(attempts))
    if (n > (entered[state] ?? 0)) retries[state] = n - (entered[state] ?? 0);
  return {
    status: described.status!,
    ...(described.status === 'SUCCEEDED'
      ? { output: comparable(JSON.parse(described.output ?? 'null')) }
      : {}),
    ...(described.status !== 'SUCCEEDED'
      ? { error: { error: described.error ?? '', cause: described.cause ?? '' } }
      : {}),
    path: enteredNames.filter((state) => state in definition.States),
    attempts,
    retries,
  };
}

describe('two interpreters agree on the synthesized state machines of every environment', () => {
  /** Both interpreters' outcomes per `<env> <scenario>`, all started at once (LocalStack's retries wait). */
  const runs = new Map<string, Promise<{ local: Outcome; remote: Outcome }>>();

  before(async () => {
    const endpoint = localstackEndpoint();
    await assertReachable(endpoint);
    const sfn = new SFNClient(clientConfig(endpoint));
    const definitions = {} as Record<Env, Record<Machine, AslDefinition>>;
    for (const env of ENVIRONMENTS) {
      const plain = await synthesizeDefinitions(env);
      // The bucket Map for a day of a few lines: the environment's machine with a volume threshold of 1.
      const split = await synthesizeDefinitions(env, (config) => {
        config.volume.bucketThresholdLines = 1;
      });
      definitions[env] = { batch: plain.batch, 'batch-split': split.batch, catalog: plain.catalog };
    }
    const machineName = (env: Env, machine: Machine) => `cartflow-${env}-${machine}`;
    // Every scenario is a test case in the mock file before any execution names it.
    const path = mockFilePath();
    const mock = readMockFile(path);
    for (const env of ENVIRONMENTS)
      for (const name of SCENARIOS) {
        const scenario = loadScenario(env, name);
        const machine = machineName(env, machineOf(scenario));
        addTestCase(mock, machine, name, scenario.tasks, `${env}.${name}`);
      }
    writeMockFile(path, mock);
    const arns = new Map<string, string>();
    for (const env of ENVIRONMENTS)
      for (const machine of ['batch', 'batch-split', 'catalog'] as const) {
        const created = await sfn.send(
          new CreateStateMachineCommand({
            name: machineName(env, machine),
            definition: JSON.stringify(withShortRetries(definitions[env][machine])),
            roleArn: ROLE,
          }),
        );
        arns.set(machineName(env, machine), created.stateMachineArn!);
      }
    const stamp = Date.now();
    for (const env of ENVIRONMENTS)
      for (const name of SCENARIOS) {
        const scenario = loadScenario(env, name);
        const machine = machineOf(scenario);
        const definition = definitions[env][machine];
        const executionName = `${env}-${name}-${stamp}`;
        const run = Promise.all([
          runLocal(definition, scenario, executionName),
          runLocalStack(sfn, arns.get(machineName(env, machine))!, definition, name, scenario, executionName),
        ]).then(([local, remote]) => ({ local, remote }));
        // Awaited by its test; a rejection must not be unhandled meanwhile.
        run.catch(() => undefined);
        runs.set(`${env} ${name}`, run);
      }
  });

  for (const env of ENVIRONMENTS)
    for (const name of SCENARIOS) {
      test(`${env} ${name}`, async (t) => {
        // Prepare: the runs started in before(), from fixtures/<env>/<name>.json
        // Act
        const { local, remote } = await runs.get(`${env} ${name}`)!;
        // Assess
        const ending = remote.error ? `${remote.error.error}: ${remote.error.cause.slice(0, 80)}` : '';
        t.diagnostic(
          `LocalStack ${remote.status} ${ending} | ${remote.path.join(' > ')} | retries ${JSON.stringify(remote.retries)}`,
        );
        assert.deepEqual(
          local,
          remote,
          `${env} ${name}: local interpreter (actual) vs LocalStack (expected)`,
        );
      });
    }
});
