/**
 * The state machine definitions exactly as `cdk synth` renders them, resolved to plain ASL so the
 * local runner executes the same workflow as AWS. In-process and offline: no esbuild, no AWS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';
import { CartflowStack } from '../lib/cartflow-stack';
import { cdkJsonContext } from '../lib/cdk-context';
import { loadConfig, validateConfig, type EnvironmentConfig } from '../lib/config';

export interface AslDefinition {
  StartAt: string;
  States: Record<string, unknown>;
  TimeoutSeconds?: number;
}

export interface SynthesizedDefinitions {
  batch: AslDefinition;
  catalog: AslDefinition;
  /** The whole CloudFormation template of the stack. */
  template: object;
  /** Logical ids, in `template`, of what the LocalStack suite recreates (test-localstack/lib/event-wiring.test.ts). */
  logicalIds: {
    batch: string;
    catalog: string;
    lakeBucket: string;
    scheduleRule: string;
    catalogRule: string;
    failedRunsRule: string;
    /** Only with the stream (config stream.enabled). */
    onFailureRule?: string;
  };
}

interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

/** A Lambda ARN that names the function's logical id, so a binding by ARN stays readable. */
const localLambdaArn = (logicalId: string): string =>
  `arn:aws:lambda:us-east-1:000000000000:function:${logicalId}`;

/**
 * Synthesizes `Cartflow-<envName>` in memory and returns both ASL definitions; `configure` may change the
 * environment's config first (a test's tiny volume threshold), which is validated again.
 */
export async function synthesizeDefinitions(
  envName = 'dev',
  configure?: (config: EnvironmentConfig) => void,
): Promise<SynthesizedDefinitions> {
  const outdir = mkdtempSync(join(tmpdir(), 'cartflow-synth-'));
  try {
    const app = new App({
      outdir,
      // An empty bundling-stacks list makes every NodejsFunction skip esbuild (Stack.bundlingRequired).
      context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] },
      // The template-wide CloudFormation rules take seconds and are `cdk synth`'s job, not the runner's.
      builtinCloudFormationValidation: false,
    });
    const config = loadConfig(envName);
    if (configure) {
      configure(config);
      validateConfig(config);
    }
    const stack = new CartflowStack(app, `Cartflow-${envName}`, { config });
    const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
    const logicalIdOf = (construct: IConstruct): string =>
      stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
    const definitionOf = (stateMachine: StateMachine): AslDefinition => {
      const logicalId = logicalIdOf(stateMachine);
      const resource = template.Resources[logicalId];
      if (resource?.Type !== 'AWS::StepFunctions::StateMachine') {
        throw new Error(
          `synthesizeDefinitions: no state machine ${logicalId} in the template of ${stack.stackName}.`,
        );
      }
      return JSON.parse(resolveToString(resource.Properties?.DefinitionString, template)) as AslDefinition;
    };
    return {
      batch: definitionOf(stack.pipeline.stateMachine),
      catalog: definitionOf(stack.pipeline.catalogStateMachine),
      template,
      logicalIds: {
        batch: logicalIdOf(stack.pipeline.stateMachine),
        catalog: logicalIdOf(stack.pipeline.catalogStateMachine),
        lakeBucket: logicalIdOf(stack.dataLake.bucket),
        scheduleRule: logicalIdOf(stack.triggers.scheduleRule),
        catalogRule: logicalIdOf(stack.triggers.catalogRule),
        failedRunsRule: logicalIdOf(stack.failedRuns.rule),
        ...(stack.stream ? { onFailureRule: logicalIdOf(stack.stream.onFailureRule) } : {}),
      },
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Flattens the Fn::Join CloudFormation renders the definition as; Lambda ARNs become local ARNs. */
function resolveToString(value: unknown, template: CfnTemplate): string {
  if (typeof value === 'string') return value;
  const intrinsic = value as Record<string, unknown> | undefined;
  if (intrinsic?.['Fn::Join']) {
    const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolveToString(part, template)).join(separator);
  }
  if (intrinsic?.['Fn::GetAtt']) {
    const [logicalId, attribute] = intrinsic['Fn::GetAtt'] as [string, string];
    if (template.Resources[logicalId]?.Type === 'AWS::Lambda::Function' && attribute === 'Arn') {
      return localLambdaArn(logicalId);
    }
    return `${logicalId}.${attribute}`;
  }
  if (intrinsic?.Ref) return `\${${String(intrinsic.Ref)}}`;
  throw new Error(`synthesizeDefinitions: unexpected value in DefinitionString: ${JSON.stringify(value)}`);
}

// `npx tsx local/synth-definitions.ts [env]` prints the batch ASL.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { batch } = await synthesizeDefinitions(process.argv[2]);
  console.log(JSON.stringify(batch, null, 2));
}
