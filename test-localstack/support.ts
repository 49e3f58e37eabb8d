/**
 * The LocalStack suite's connection: the endpoint `localstack/localstack.sh start` printed and the
 * Step Functions mock file it was started with. Missing or unreachable fails the suite; it never skips.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class LocalStackUnavailableError extends Error {
  override name = 'LocalStackUnavailableError';
}

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** The config environments whose synthesized state machines the suite runs (lib/config.ts). */
export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;

/** A Task invocation's result as a mock file gives it: what the handler returned, or the error it threw. */
export type TaskResult = { Return: unknown } | { Throw: { Error: string; Cause: string } };

/** One recorded scenario (fixtures/<env>/<name>.json, written by record-fixtures.ts). */
export interface Scenario {
  machine: 'batch' | 'catalog';
  /** Run on the batch machine synthesized with a volume threshold of 1 line (the bucket Map). */
  split?: boolean;
  input: unknown;
  /** Each Task state's results, one per invocation in order (Map iterations and retries included). */
  tasks: Record<string, TaskResult[]>;
}

export function localstackEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) {
    throw new LocalStackUnavailableError(
      'AWS_ENDPOINT_URL is not set: start LocalStack with `bash localstack/localstack.sh start` and export the URL it prints',
    );
  }
  return endpoint;
}

export async function assertReachable(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/_localstack/health`).catch((error: unknown) => {
    throw new LocalStackUnavailableError(
      `LocalStack at ${endpoint} (AWS_ENDPOINT_URL) is unreachable: ${String(error)}`,
    );
  });
  if (!response.ok)
    throw new LocalStackUnavailableError(
      `LocalStack health at ${endpoint} answered ${response.status}, expected 200`,
    );
}

/** The SDK settings every client of the suite takes. */
export function clientConfig(endpoint: string) {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}

export interface MockFile {
  StateMachines: Record<string, { TestCases: Record<string, Record<string, string>> }>;
  MockedResponses: Record<string, Record<string, unknown>>;
}

/** The SFN_MOCK_CONFIG file LocalStack was started with; it re-reads the file when it changes. */
export function mockFilePath(): string {
  const path = process.env.SFN_MOCK_CONFIG;
  if (!path || !existsSync(path)) {
    throw new LocalStackUnavailableError(
      `SFN_MOCK_CONFIG (${path ?? 'unset'}) must name the mock file LocalStack was started with (localstack.sh creates it)`,
    );
  }
  return path;
}

export function readMockFile(path: string): MockFile {
  const text = readFileSync(path, 'utf8').trim();
  const parsed = (text ? JSON.parse(text) : {}) as Partial<MockFile>;
  return { StateMachines: parsed.StateMachines ?? {}, MockedResponses: parsed.MockedResponses ?? {} };
}

/**
 * Adds test case `testCase` of state machine `machine` to `mock`: each Task state's results in invocation
 * order, the last one repeated. Response names start with `prefix` (unique per scenario).
 */
export function addTestCase(
  mock: MockFile,
  machine: string,
  testCase: string,
  tasks: Scenario['tasks'],
  prefix: string,
): void {
  const cases = (mock.StateMachines[machine] ??= { TestCases: {} }).TestCases;
  cases[testCase] = {};
  for (const [state, results] of Object.entries(tasks)) {
    const response = `${prefix}.${state}`;
    cases[testCase][state] = response;
    // A mocked Lambda task returns the Invoke response; the state's result is its Payload.
    mock.MockedResponses[response] = Object.fromEntries(
      results.map((result, i) => [
        i === results.length - 1 ? `${i}-999` : String(i),
        'Return' in result ? { Return: { StatusCode: 200, Payload: result.Return } } : result,
      ]),
    );
  }
}

export function writeMockFile(path: string, mock: MockFile): void {
  writeFileSync(path, JSON.stringify(mock, null, 2));
}
