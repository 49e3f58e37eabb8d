/** Shared synthesis for the infrastructure tests: one App per environment, esbuild skipped. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CartflowStack } from '../../lib/cartflow-stack';
import { cdkJsonContext } from '../../lib/cdk-context';
import { loadConfig, type EnvName, type EnvironmentConfig } from '../../lib/config';

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

/** Every AwsSolutions finding not acknowledged in the code, as "rule at path" lines. */
export function unacknowledgedNagFindings(app: App): string[] {
  const report = new AwsSolutionsChecks(app).validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
  );
}

/** The resource whose logical id the stack gave to `construct`'s default child. */
export function logicalIdOf(stack: CartflowStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.resolve((construct.node.defaultChild as { logicalId: string }).logicalId) as string;
}
