import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DataApiUnavailableError } from '../../../lambdas/core/errors';
import { openAwsEnvironment } from '../../../cli/aws/environment';
import { recordingEndpoint, testAwsVars, withAwsEnv, type Answer } from '../../support/aws-endpoint';

/** LocalStack community's answer to any Redshift Data API call (HTTP 501, JSON protocol). */
const LOCALSTACK_UNSERVED: Answer = {
  status: 501,
  contentType: 'application/x-amz-json-1.1',
  body: JSON.stringify({
    __type: 'InternalFailure',
    message:
      "The API for service 'redshift-data' is either not included in your current license plan or has not yet been emulated by LocalStack.",
  }),
};

/** A SQL mistake: the API is there and said no. */
const VALIDATION: Answer = {
  status: 400,
  contentType: 'application/x-amz-json-1.1',
  body: JSON.stringify({ __type: 'ValidationException', message: 'Workgroup name is invalid' }),
};

const stacks = async () => {
  const fixture = JSON.parse(
    await readFile(new URL('../../fixtures/status/stack-outputs.json', import.meta.url), 'utf8'),
  ) as unknown;
  return {
    async send(command: object) {
      assert.ok(command instanceof DescribeStacksCommand);
      return fixture;
    },
  };
};

/** `query` through the environment's warehouse, the Data API at `endpoint`, as `backfill` opened it. */
async function queryThrough(endpoint: string) {
  return withAwsEnv(testAwsVars({ AWS_ENDPOINT_URL: endpoint }), async () => {
    const environment = await openAwsEnvironment({
      env: 'dev',
      command: 'backfill',
      dataApiUse: 'to skip the dates that succeeded before',
      cloudFormation: await stacks(),
    });
    return environment.warehouse.query('SELECT 1').then(
      () => undefined,
      (error: Error) => error,
    );
  });
}

describe('an --env command where the Redshift Data API is unavailable', () => {
  it("LocalStack's 501: a typed error naming the command and what it needs the API for", async () => {
    // Prepare
    const endpoint = await recordingEndpoint(LOCALSTACK_UNSERVED);

    try {
      // Act
      const error = await queryThrough(endpoint.url);

      // Assess
      assert.ok(error instanceof DataApiUnavailableError, String(error));
      assert.match(
        error.message,
        /^cartflow backfill --env needs the Redshift Data API \(to skip the dates that succeeded before\), and it is unavailable for workgroup cartflow-dev: .*not included in your current license plan/,
      );
      assert.equal(endpoint.requests[0].target, 'RedshiftData.ExecuteStatement');
    } finally {
      await endpoint.close();
    }
  });

  it('nothing listening at the endpoint: the same typed error', async () => {
    // Prepare: a port that was just freed
    const closed = await recordingEndpoint(VALIDATION);
    await closed.close();

    // Act
    const error = await queryThrough(closed.url);

    // Assess
    assert.ok(error instanceof DataApiUnavailableError, String(error));
    assert.match(error.message, /cartflow backfill --env needs the Redshift Data API/);
  });

  it('an error of an API that is there stays what it is', async () => {
    // Prepare
    const endpoint = await recordingEndpoint(VALIDATION);

    try {
      // Act
      const error = await queryThrough(endpoint.url);

      // Assess
      assert.ok(error && !(error instanceof DataApiUnavailableError), String(error));
      assert.match(error.message, /ValidationException: Workgroup name is invalid/);
    } finally {
      await endpoint.close();
    }
  });
});
