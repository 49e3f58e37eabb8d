/**
 * A deployed environment for the command line (`--env <name> [--profile P] [--region R]`): the stack's
 * outputs and the SDK clients over the standard credential chain (fromIni for a named profile).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { SFNClient } from '@aws-sdk/client-sfn';
import { fromIni } from '@aws-sdk/credential-providers';
import type { LakeStore } from '../../lambdas/adapters/ports';
import { RedshiftDataWarehouse } from '../../lambdas/adapters/redshift-warehouse';
import { createS3Client, S3LakeStore } from '../../lambdas/adapters/s3-lake';
import { ENV_NAMES, loadConfig, maxConcurrentRunsOf, type EnvName } from '../../lib/config';
import { UsageError } from '../usage-error';
import { nameDataApiUser } from './data-api';
import { configuredEndpoint } from './endpoints';

/** The stack of an environment, as bin/cdk-app.ts names it. */
export const stackNameOf = (env: EnvName) => `Cartflow-${env}`;

/** The outputs of lib/cartflow-stack.ts the commands use. */
export interface StackOutputs {
  batchStateMachineArn: string;
  catalogStateMachineArn: string;
  bucket: string;
  workgroup: string;
  alertTopicArn: string;
  kafkaTopic?: string;
  /** The stream function (stream.enabled): the FunctionName dimension of its mapping's OffsetLag. */
  streamFunctionName?: string;
  /** The warehouse's COPY role (`rebuild`); absent on a stack deployed before the output existed. */
  copyRoleArn?: string;
}

/** What sends SDK commands: the real clients, or a stand-in in unit tests. */
export interface SdkClient {
  send(command: object): Promise<unknown>;
}

export interface AwsEnvironment {
  envName: EnvName;
  outputs: StackOutputs;
  sfn: SdkClient;
  warehouse: RedshiftDataWarehouse;
  /** The stack's lake bucket (quality JSON, run reports, on-failure objects). */
  lake: LakeStore;
  cloudWatch: SdkClient;
  /** redshift.maxConcurrentRuns of the environment's config. */
  maxConcurrentRuns: number;
  /** slaMinutes of the environment's config: the batch state machine's timeout. */
  slaMinutes: number;
}

/** The environment's stack is missing or lacks an output the command needs. */
export class StackNotFoundError extends Error {
  override name = 'StackNotFoundError';
}

/** Where the stack was looked for, for the error (the SDK's default chain decides what is absent). */
export interface StackLocation {
  region?: string;
  profile?: string;
}

const describeLocation = ({ region, profile }: StackLocation) =>
  `in region ${region ?? "(the default: AWS_REGION or the profile's)"} with profile ${profile ?? '(the default credential chain)'}`;

export async function readStackOutputs(
  cloudFormation: SdkClient,
  env: EnvName,
  location: StackLocation = {},
): Promise<StackOutputs> {
  const stackName = stackNameOf(env);
  let response: { Stacks?: { Outputs?: { OutputKey?: string; OutputValue?: string }[] }[] };
  try {
    response = (await cloudFormation.send(
      new DescribeStacksCommand({ StackName: stackName }),
    )) as typeof response;
  } catch (error) {
    throw new StackNotFoundError(
      `cannot read stack ${stackName} ${describeLocation(location)}: ${(error as Error).message} (deploy it with: npx cdk deploy -c env=${env}; or check --profile/--region)`,
    );
  }
  const outputs = new Map((response.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const need = (key: string) => {
    const value = outputs.get(key);
    if (!value)
      throw new StackNotFoundError(`stack ${stackName} has no output ${key}; redeploy it with this version`);
    return value;
  };
  return {
    batchStateMachineArn: need('BatchStateMachineArn'),
    catalogStateMachineArn: need('CatalogStateMachineArn'),
    bucket: need('LakeBucketName'),
    workgroup: need('WorkgroupName'),
    alertTopicArn: need('AlertTopicArn'),
    kafkaTopic: outputs.get('KafkaTopic'),
    streamFunctionName: outputs.get('StreamFunctionName'),
    copyRoleArn: outputs.get('CopyRoleArn'),
  };
}

export interface AwsOptions {
  env: string;
  profile?: string;
  region?: string;
  /** The command (named when the Redshift Data API is unavailable). @default 'this command' */
  command?: string;
  /** What the command uses the Data API for (Command.dataApiUse). */
  dataApiUse?: string;
  /** The CloudFormation client (unit tests pass a stand-in). @default a CloudFormationClient */
  cloudFormation?: SdkClient;
}

/** Parses --env and friends and opens the environment: one DescribeStacks, clients built, nothing else called. */
export async function openAwsEnvironment(options: AwsOptions): Promise<AwsEnvironment> {
  if (!(ENV_NAMES as readonly string[]).includes(options.env))
    throw new UsageError(`--env must be one of ${ENV_NAMES.join(', ')}, got "${options.env}"`);
  const envName = options.env as EnvName;
  // Absent --profile and --region, the SDK's default chain decides (AWS_PROFILE, SSO, instance roles, …).
  // A named profile gives its credentials, its region and its endpoint_url, as AWS_PROFILE would.
  const base = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile
      ? { profile: options.profile, credentials: fromIni({ profile: options.profile }) }
      : {}),
  };
  const endpointOf = (serviceId: string) => configuredEndpoint(serviceId, { profile: options.profile });
  const clientConfig = (serviceId: string) => {
    const endpoint = endpointOf(serviceId);
    return { ...base, ...(endpoint ? { endpoint } : {}) };
  };
  const outputs = await readStackOutputs(
    options.cloudFormation ?? new CloudFormationClient(clientConfig('CloudFormation')),
    envName,
    {
      region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION,
      profile: options.profile ?? process.env.AWS_PROFILE,
    },
  );
  const config = loadConfig(envName);
  const dataApi = new RedshiftDataClient(clientConfig('Redshift Data'));
  // Nothing is called here: the first command that reads the warehouse learns whether the API is there.
  nameDataApiUser(dataApi, {
    command: options.command ?? 'this command',
    use: options.dataApiUse,
    workgroup: outputs.workgroup,
  });
  return {
    envName,
    outputs,
    sfn: new SFNClient(clientConfig('SFN')),
    warehouse: new RedshiftDataWarehouse({
      workgroupName: outputs.workgroup,
      database: config.redshift.databaseName,
      client: dataApi,
    }),
    // Path-style whenever an endpoint is configured (env or the profile): no `<bucket>.localhost` on LocalStack.
    lake: new S3LakeStore(createS3Client(base, endpointOf('S3')), outputs.bucket),
    cloudWatch: new CloudWatchClient(clientConfig('CloudWatch')),
    maxConcurrentRuns: maxConcurrentRunsOf(config),
    slaMinutes: config.slaMinutes,
  };
}
