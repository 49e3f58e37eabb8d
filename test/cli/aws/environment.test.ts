import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient } from '@aws-sdk/client-sfn';
import { configuredEndpoint } from '../../../cli/aws/endpoints';
import { openAwsEnvironment, readStackOutputs, StackNotFoundError } from '../../../cli/aws/environment';
import { UsageError } from '../../../cli/usage-error';
import { EMPTY_LISTING, recordingEndpoint, testAwsVars, withAwsEnv } from '../../support/aws-endpoint';

type Stacks = { Stacks: { Outputs: { OutputKey: string; OutputValue: string }[] }[] };

const stacksFixture = async (): Promise<Stacks> =>
  JSON.parse(
    await readFile(new URL('../../fixtures/status/stack-outputs.json', import.meta.url), 'utf8'),
  ) as Stacks;

/** CloudFormation at the SDK edge: DescribeStacks of the named stacks, the API's error for any other. */
function fakeCloudFormation(stacks: Record<string, Stacks>) {
  const asked: string[] = [];
  return {
    asked,
    async send(command: object) {
      assert.ok(command instanceof DescribeStacksCommand);
      const name = command.input.StackName!;
      asked.push(name);
      const found = stacks[name];
      if (!found) {
        throw Object.assign(new Error(`Stack with id ${name} does not exist`), { name: 'ValidationError' });
      }
      return found;
    },
  };
}

describe('the deployed environment of --env', () => {
  it("maps the stack's outputs", async () => {
    // Prepare
    const cloudFormation = fakeCloudFormation({ 'Cartflow-dev': await stacksFixture() });

    // Act
    const outputs = await readStackOutputs(cloudFormation, 'dev');

    // Assess
    assert.deepEqual(cloudFormation.asked, ['Cartflow-dev']);
    assert.deepEqual(outputs, {
      batchStateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:cartflow-dev-batch',
      catalogStateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:cartflow-dev-catalog',
      bucket: 'cartflow-dev-lake-123456789012',
      workgroup: 'cartflow-dev',
      alertTopicArn: 'arn:aws:sns:eu-west-1:123456789012:cartflow-dev-alerts',
      kafkaTopic: 'clickstream',
      streamFunctionName: 'cartflow-dev-stream-to-parquet',
      copyRoleArn: 'arn:aws:iam::123456789012:role/cartflow-dev-copy',
    });
  });

  it('a stack without the stream has no topic nor stream function', async () => {
    // Prepare
    const stacks = await stacksFixture();
    stacks.Stacks[0].Outputs = stacks.Stacks[0].Outputs.filter((o) => !/^(Kafka|Stream)/.test(o.OutputKey));

    // Act
    const outputs = await readStackOutputs(fakeCloudFormation({ 'Cartflow-dev': stacks }), 'dev');

    // Assess
    assert.equal(outputs.kafkaTopic, undefined);
    assert.equal(outputs.streamFunctionName, undefined);
  });

  it('an output the commands need missing: names the stack and the output', async () => {
    // Prepare
    const stacks = await stacksFixture();
    stacks.Stacks[0].Outputs = stacks.Stacks[0].Outputs.filter((o) => o.OutputKey !== 'WorkgroupName');

    // Act
    const reading = readStackOutputs(fakeCloudFormation({ 'Cartflow-dev': stacks }), 'dev');

    // Assess
    await assert.rejects(reading, (error: Error) => {
      assert.ok(error instanceof StackNotFoundError);
      assert.match(error.message, /stack Cartflow-dev has no output WorkgroupName/);
      return true;
    });
  });

  it('opens the environment: one DescribeStacks, clients over the named profile and region', async () => {
    // Prepare
    const cloudFormation = fakeCloudFormation({ 'Cartflow-prod': await stacksFixture() });

    // Act
    const environment = await openAwsEnvironment({
      env: 'prod',
      region: 'eu-west-1',
      cloudFormation,
    });

    // Assess
    assert.deepEqual(cloudFormation.asked, ['Cartflow-prod']);
    assert.equal(environment.envName, 'prod');
    assert.equal(environment.lake.bucket, 'cartflow-dev-lake-123456789012');
    assert.ok(environment.sfn instanceof SFNClient);
    assert.equal(await environment.sfn.config.region(), 'eu-west-1');
    assert.ok(environment.maxConcurrentRuns >= 1);
  });

  it('a missing stack: a clear error naming the stack, the region and the profile', async () => {
    // Prepare
    const cloudFormation = fakeCloudFormation({});

    // Act
    const opening = openAwsEnvironment({
      env: 'staging',
      region: 'eu-central-1',
      profile: 'ops',
      cloudFormation,
    });

    // Assess
    await assert.rejects(opening, (error: Error) => {
      assert.ok(error instanceof StackNotFoundError);
      assert.match(
        error.message,
        /cannot read stack Cartflow-staging in region eu-central-1 with profile ops/,
      );
      assert.match(error.message, /Stack with id Cartflow-staging does not exist/);
      assert.match(error.message, /npx cdk deploy -c env=staging/);
      return true;
    });
  });

  it('a bad environment name is a usage error listing the accepted names', async () => {
    // Prepare
    const cloudFormation = fakeCloudFormation({});

    // Act
    const opening = openAwsEnvironment({ env: 'production', cloudFormation });

    // Assess
    await assert.rejects(opening, (error: Error) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /--env must be one of dev, staging, prod, got "production"/);
      return true;
    });
    assert.deepEqual(cloudFormation.asked, [], 'nothing asked of AWS');
  });
});

describe('--env clients and custom endpoints', () => {
  it("--profile P takes P's region and endpoint_url; S3 is path-style at that endpoint", async () => {
    // Prepare: the fixture config with the stand-in's port, no credentials file
    const s3 = await recordingEndpoint(EMPTY_LISTING);
    const dir = await mkdtemp(join(tmpdir(), 'cartflow-aws-config-'));
    const configFile = join(dir, 'config');
    const template = await readFile(new URL('../../fixtures/aws/config', import.meta.url), 'utf8');
    await writeFile(configFile, template.replaceAll('PORT', String(s3.port)));
    const cloudFormation = fakeCloudFormation({ 'Cartflow-dev': await stacksFixture() });

    try {
      // Act
      const { sfnRegion, sfnEndpoint } = await withAwsEnv(
        { AWS_CONFIG_FILE: configFile, AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none') },
        async () => {
          const environment = await openAwsEnvironment({ env: 'dev', profile: 'localstack', cloudFormation });
          await environment.lake.list('runs/');
          const sfn = environment.sfn as SFNClient;
          return { sfnRegion: await sfn.config.region(), sfnEndpoint: await sfn.config.endpoint?.() };
        },
      );

      // Assess
      assert.equal(sfnRegion, 'eu-central-1');
      assert.equal(sfnEndpoint?.hostname, 'localhost');
      assert.equal(sfnEndpoint?.port, s3.port);
      assert.equal(s3.requests.length, 1);
      assert.equal(s3.requests[0].host, `localhost:${s3.port}`);
      assert.match(s3.requests[0].url ?? '', /^\/cartflow-dev-lake-123456789012\/\?/);
    } finally {
      await s3.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('AWS_ENDPOINT_URL alone makes S3 path-style (no <bucket>.localhost)', async () => {
    // Prepare
    const s3 = await recordingEndpoint(EMPTY_LISTING);
    const cloudFormation = fakeCloudFormation({ 'Cartflow-dev': await stacksFixture() });

    try {
      // Act
      await withAwsEnv(testAwsVars({ AWS_ENDPOINT_URL: `http://localhost:${s3.port}` }), async () =>
        (await openAwsEnvironment({ env: 'dev', cloudFormation })).lake.list('runs/'),
      );

      // Assess
      assert.equal(s3.requests[0]?.host, `localhost:${s3.port}`);
      assert.match(s3.requests[0]?.url ?? '', /^\/cartflow-dev-lake-123456789012\/\?/);
    } finally {
      await s3.close();
    }
  });

  it("the SDK's order: the service's variable, the global one, the profile's services section, its endpoint_url", async () => {
    // Prepare
    const configText = (
      await readFile(new URL('../../fixtures/aws/config', import.meta.url), 'utf8')
    ).replaceAll('PORT', '4566');
    const env = { AWS_ENDPOINT_URL: 'http://global:1' };

    // Act
    const found = {
      serviceVariable: configuredEndpoint('S3', {
        env: { ...env, AWS_ENDPOINT_URL_S3: 'http://s3:2' },
        configText,
      }),
      serviceVariableOfOther: configuredEndpoint('Redshift Data', {
        env: { ...env, AWS_ENDPOINT_URL_S3: 'http://s3:2' },
        configText,
      }),
      servicesSection: configuredEndpoint('S3', { profile: 'split', env: {}, configText }),
      notInServicesSection: configuredEndpoint('SFN', { profile: 'split', env: {}, configText }),
      profileEndpoint: configuredEndpoint('SFN', { profile: 'localstack', env: {}, configText }),
      defaultProfile: configuredEndpoint('S3', { env: {}, configText }),
      ignored: configuredEndpoint('S3', {
        env: { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
        configText,
      }),
    };

    // Assess
    assert.deepEqual(found, {
      serviceVariable: 'http://s3:2',
      serviceVariableOfOther: 'http://global:1',
      servicesSection: 'http://localhost:4566',
      notInServicesSection: undefined,
      profileEndpoint: 'http://localhost:4566',
      defaultProfile: undefined,
      ignored: undefined,
    });
  });
});
