/** Shared synthesis for the infrastructure tests: one App per environment, esbuild skipped. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { CartflowStack } from '../../lib/cartflow-stack';
import { cdkJsonContext } from '../../lib/cdk-context';
import { loadConfig, type EnvName, type EnvironmentConfig } from '../../lib/config';
import { Network } from '../../lib/constructs/network';
import type { AslDefinition } from '../../local/synth-definitions';

export interface Synthesized {
  app: App;
  stack: CartflowStack;
  config: EnvironmentConfig;
  template: Template;
}

const cache = new Map<EnvName, Synthesized>();

/** A fresh App with the cdk.json feature flags; bundling skipped (the real esbuild run is `cdk synth`). */
export function testApp(): App {
  return new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
}

/** A stack with a bucket, a key and the VPC to hang one construct under test on. */
export function scaffold() {
  const stack = new Stack(testApp(), 'Test');
  const key = new kms.Key(stack, 'Key');
  const bucket = new s3.Bucket(stack, 'Bucket');
  const { vpc } = new Network(stack, 'Network');
  return { stack, key, bucket, vpc };
}

/** A function that does nothing, to grant a construct's permissions to (a Warehouse needs a writer). */
export function stubFunction(scope: Construct, id: string): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {};'),
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized ASL, asserted field by field
export type AslState = Record<string, any>;

/** Every state of an ASL definition, including those inside Parallel branches and Map item processors. */
export function allStates(definition: { States: Record<string, unknown> }): Array<[string, AslState]> {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const s = state as AslState;
    const nested = [...(s.Branches ?? []), ...(s.ItemProcessor ? [s.ItemProcessor] : [])] as AslDefinition[];
    return [[name, s] as [string, AslState], ...nested.flatMap(allStates)];
  });
}

export function synth(envName: EnvName): Synthesized {
  let synthesized = cache.get(envName);
  if (!synthesized) {
    const app = testApp();
    const config = loadConfig(envName);
    const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
    synthesized = { app, stack, config, template: Template.fromStack(stack) };
    cache.set(envName, synthesized);
  }
  return synthesized;
}

const streamingCache = new Map<EnvName, Synthesized>();

/**
 * `envName` with `stream.enabled` set true, as a config that turns the stream on deploys it (dev starts
 * with it off): for the tests of the clickstream's resources in every environment.
 */
export function synthWithStream(envName: EnvName): Synthesized {
  if (loadConfig(envName).stream.enabled) return synth(envName);
  let synthesized = streamingCache.get(envName);
  if (!synthesized) {
    const app = testApp();
    const config = loadConfig(envName);
    config.stream.enabled = true;
    const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
    synthesized = { app, stack, config, template: Template.fromStack(stack) };
    streamingCache.set(envName, synthesized);
  }
  return synthesized;
}

/** Every AwsSolutions and Serverless finding not acknowledged in the code, as "rule at path" lines. */
export function unacknowledgedNagFindings(app: App): string[] {
  return [new AwsSolutionsChecks(app), new ServerlessChecks(app)].flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
      ),
  );
}

/** The resource whose logical id the stack gave to `construct`'s default child. */
export function logicalIdOf(stack: CartflowStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;
}
