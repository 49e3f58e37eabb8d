/**
 * The `Cartflow-<env>` stack as LocalStack community can hold it, for the `--env` commands: built from the
 * synthesized stack (its state machines' definitions, its logical ids, its Outputs), keeping the resources
 * `--env` reads and calls (both state machines, the lake bucket, the alert topic) and every output that
 * names only those or a literal. An output renamed or a definition changed in lib/ is what the suite runs.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SynthesizedDefinitions } from '../local/synth-definitions';

type Json = Record<string, unknown>;

export interface EnvStackTemplate {
  template: { Resources: Record<string, Json>; Outputs: Record<string, Json> };
  /** The synthesized outputs left out: they name a resource the LocalStack stack does not have. */
  dropped: string[];
  /** The state machines' names (the mock file keys its test cases by them). */
  batchName: string;
  catalogName: string;
}

const ROLE = 'arn:aws:iam::000000000000:role/cartflow-localstack';

/** The logical ids an output's value refers to (Ref and Fn::GetAtt, anywhere in it). */
function referencedIds(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(referencedIds);
  if (!value || typeof value !== 'object') return [];
  const intrinsic = value as Json;
  if (typeof intrinsic.Ref === 'string') return [intrinsic.Ref];
  if (Array.isArray(intrinsic['Fn::GetAtt'])) return [String((intrinsic['Fn::GetAtt'] as unknown[])[0])];
  return Object.values(intrinsic).flatMap(referencedIds);
}

/** The LocalStack template of `synthesized` (one environment's stack); `tag` makes the machine names unique. */
export function envStackTemplate(synthesized: SynthesizedDefinitions, tag: string): EnvStackTemplate {
  const source = synthesized.template as {
    Resources: Record<string, { Type: string }>;
    Outputs?: Record<string, Json>;
  };
  const topics = Object.entries(source.Resources).filter(([, r]) => r.Type === 'AWS::SNS::Topic');
  if (topics.length !== 1)
    throw new Error(`envStackTemplate: expected one SNS topic (the alert topic), found ${topics.length}`);
  const { logicalIds: ids } = synthesized;
  const batchName = `cartflow-env-batch-${tag}`;
  const catalogName = `cartflow-env-catalog-${tag}`;
  const machine = (name: string, definition: object) => ({
    Type: 'AWS::StepFunctions::StateMachine',
    Properties: { StateMachineName: name, DefinitionString: JSON.stringify(definition), RoleArn: ROLE },
  });
  const resources: Record<string, Json> = {
    [ids.batch]: machine(batchName, synthesized.batch),
    [ids.catalog]: machine(catalogName, synthesized.catalog),
    [ids.lakeBucket]: { Type: 'AWS::S3::Bucket' },
    [topics[0][0]]: { Type: 'AWS::SNS::Topic' },
  };
  const outputs: Record<string, Json> = {};
  const dropped: string[] = [];
  for (const [key, output] of Object.entries(source.Outputs ?? {})) {
    if (referencedIds(output.Value).every((id) => id in resources)) outputs[key] = output;
    else dropped.push(key);
  }
  return { template: { Resources: resources, Outputs: outputs }, dropped, batchName, catalogName };
}

/**
 * The Step Functions endpoint the CLI is given: LocalStack's, with every StartExecution's state machine ARN
 * suffixed `#<test case>` (LocalStack chooses mocked task results only so; the CLI starts the plain ARN the
 * stack output gives). The test case is `testCaseOf` the execution's input. Everything else passes as it is.
 */
export async function startExecutionProxy(
  target: string,
  testCaseOf: (input: Json) => string,
): Promise<{ url: string; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((incoming, answer) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      let body = Buffer.concat(chunks);
      if (incoming.headers['x-amz-target'] === 'AWSStepFunctions.StartExecution') {
        const start = JSON.parse(body.toString()) as Json;
        const testCase = testCaseOf(JSON.parse(String(start.input ?? '{}')) as Json);
        body = Buffer.from(
          JSON.stringify({ ...start, stateMachineArn: `${String(start.stateMachineArn)}#${testCase}` }),
        );
      }
      const forwarded = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: upstream.host, 'content-length': String(body.length) },
        },
        (response) => {
          answer.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(answer);
        },
      );
      forwarded.on('error', (error) => {
        answer.writeHead(502);
        answer.end(String(error));
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
