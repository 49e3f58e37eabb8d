import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Size } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { HANDLER_ENV, METRICS_NAMESPACE, METRICS_SERVICE } from '../../lambdas/contract';
import { removalPolicyOf, type EnvironmentConfig } from '../config';
import { acknowledgeNag, LAMBDA_BASIC_EXECUTION_FINDING, s3GrantFindings, type S3GrantKind } from '../nag';
import type { DuckDbLayer } from './duckdb-layer';
import { FUNCTION_RUNTIME } from './function-runtime';

export interface CartflowFunctionProps {
  readonly config: EnvironmentConfig;
  /** Directory holding `<entry>.ts`. */
  readonly handlersDir: string;
  /** Handler entry, e.g. `stream-to-parquet` (file `<handlersDir>/<entry>.ts`, export `handler`). */
  readonly entry: string;
  /**
   * The handler's variables; NODE_OPTIONS (source maps) is always added.
   * @default none beyond NODE_OPTIONS
   */
  readonly environment?: Record<string, string>;
  /**
   * @default config.lambdaTimeoutSeconds
   */
  readonly timeout?: Duration;
  /**
   * @default config.engine.memoryMb for a DuckDB function, else config.lambdaMemoryMb
   */
  readonly memorySize?: number;
  /**
   * Set for a handler that runs DuckDB: the function gets the layer with the native binding, the
   * binding's architecture, config.engine memory and ephemeral storage (DuckDB spills to /tmp).
   * @default no DuckDB: arm64, no layer, 512 MB of /tmp
   */
  readonly engine?: DuckDbLayer;
  /**
   * @default no reserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Private subnets to attach the function to.
   * @default not in a VPC
   */
  readonly vpc?: {
    readonly vpc: ec2.IVpc;
    readonly subnets: ec2.SubnetSelection;
    readonly securityGroups: ec2.ISecurityGroup[];
    /**
     * Whether the X-Ray API is reachable from these subnets (an X-Ray interface endpoint, or a NAT).
     * Without it the function is not traced: its segments would have no route out.
     * @default false
     */
    readonly xrayReachable?: boolean;
  };
}

/** `stream-to-parquet` → `StreamToParquet`: the construct id prefix of an entry's function and log group. */
export const pascalCase = (entry: string): string =>
  entry.replace(/(^|-)(\w)/g, (_, _dash: string, c: string) => c.toUpperCase());

/** Powertools settings of the handlers that log and publish EMF metrics (Monitoring alarms on them). */
export const POWERTOOLS_ENVIRONMENT: Record<string, string> = {
  [HANDLER_ENV.powertoolsServiceName]: METRICS_SERVICE,
  [HANDLER_ENV.powertoolsMetricsNamespace]: METRICS_NAMESPACE,
};

/** Where the handler entries of this repository live (BATCH_STEPS, CATALOG_STEPS, STREAM_HANDLERS). */
export const DEFAULT_HANDLERS_DIR = fileURLToPath(new URL('../../lambdas/handlers', import.meta.url));

/**
 * Active X-Ray tracing, except for a function in subnets with no route to the X-Ray API (private isolated
 * subnets without an X-Ray endpoint or NAT): there it is off, so no trace is silently dropped.
 */
export const tracingOf = (vpc: CartflowFunctionProps['vpc']): lambda.Tracing =>
  vpc && !vpc.xrayReachable ? lambda.Tracing.DISABLED : lambda.Tracing.ACTIVE;

/** Throws naming the missing file, so a wrong entry fails synth before esbuild does. */
export function requireHandlerFile(owner: string, handlersDir: string, entry: string, fix: string): void {
  const file = join(handlersDir, `${entry}.ts`);
  if (!existsSync(file)) {
    throw new Error(`${owner}: ${file} is missing; create it (exporting \`handler\`) or ${fix}.`);
  }
}

/**
 * The one place that decides how a cartflow handler is built and run: Node.js 22 on arm64 (on the DuckDB
 * layer's architecture when `engine` is set), esbuild ESM bundle (AWS SDK included), X-Ray where reachable, its own log
 * group. Construct ids are `<Entry>Function` and `<Entry>Logs`.
 */
export function cartflowFunction(scope: Construct, props: CartflowFunctionProps): NodejsFunction {
  const { config, entry, engine } = props;
  const name = pascalCase(entry);
  const removalPolicy = removalPolicyOf(config.removalPolicy);
  const fn = new NodejsFunction(scope, `${name}Function`, {
    entry: join(props.handlersDir, `${entry}.ts`),
    handler: 'handler',
    runtime: FUNCTION_RUNTIME,
    architecture: engine?.architecture ?? lambda.Architecture.ARM_64,
    layers: engine ? [engine.layer] : undefined,
    memorySize: props.memorySize ?? (engine ? config.engine.memoryMb : config.lambdaMemoryMb),
    ephemeralStorageSize: engine ? Size.mebibytes(config.engine.ephemeralStorageMb) : undefined,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    timeout: props.timeout ?? Duration.seconds(config.lambdaTimeoutSeconds),
    tracing: tracingOf(props.vpc),
    // The bundle carries a source map; this makes stack traces point at the TypeScript.
    environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
    description: `cartflow ${config.envName}: ${entry}`,
    logGroup: new logs.LogGroup(scope, `${name}Logs`, { retention: config.logRetentionDays, removalPolicy }),
    vpc: props.vpc?.vpc,
    vpcSubnets: props.vpc?.subnets,
    securityGroups: props.vpc?.securityGroups,
    bundling: {
      format: OutputFormat.ESM,
      minify: true,
      // Retry/Catch match on error names (TransientError, ...); minifying must not rename classes.
      keepNames: true,
      sourceMap: true,
      target: 'node24',
      mainFields: ['module', 'main'],
      // CommonJS dependencies call require(); ESM output has none unless we create it.
      banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
      // Bundle the AWS SDK v3 too, so its version is the one the tests ran against; only DuckDB's native
      // binding, which esbuild cannot bundle, is left to the layer.
      externalModules: engine ? [...engine.externalModules] : [],
      forceDockerBundling: false,
    },
  });
  acknowledgeNag(
    fn,
    'Pinned to Node.js 22 (LTS) on purpose: the esbuild target and the tests use it; runtime upgrades are deliberate.',
    'AwsSolutions-L1',
    'Serverless-LambdaLatestVersion',
  );
  acknowledgeNag(
    fn,
    'AWSLambdaBasicExecutionRole only lets the function write its own CloudWatch logs.',
    LAMBDA_BASIC_EXECUTION_FINDING,
  );
  if (props.vpc) {
    acknowledgeNag(
      fn,
      'AWSLambdaVPCAccessExecutionRole only manages the network interfaces a VPC-attached function needs.',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
    );
  }
  if (tracingOf(props.vpc) === lambda.Tracing.ACTIVE) {
    acknowledgeNag(
      fn,
      'X-Ray PutTraceSegments/PutTelemetryRecords accept only Resource "*".',
      'AwsSolutions-IAM5[Resource::*]',
    );
  } else {
    acknowledgeNag(
      fn,
      'Its subnets have no route to the X-Ray API (no NAT, no X-Ray endpoint), so traces would be dropped; it is traced where the network reaches X-Ray (xrayReachable).',
      'Serverless-LambdaTracing',
    );
  }
  return fn;
}

/** A CDK S3 grant on one lake zone, with the nag findings it produces acknowledged. */
export function grantLake(
  fn: NodejsFunction,
  bucket: s3.IBucket,
  kind: S3GrantKind,
  ...patterns: string[]
): void {
  for (const pattern of patterns) {
    if (kind === 'read') bucket.grantRead(fn, pattern);
    else if (kind === 'readWrite') bucket.grantReadWrite(fn, pattern);
    else bucket.grantDelete(fn, pattern);
    acknowledgeNag(
      fn,
      `CDK S3 grant scoped to the ${pattern} zone of the lake (objects are partitioned below it), with the matching KMS data-key actions on the lake key.`,
      ...s3GrantFindings(bucket, pattern, kind),
    );
  }
}
