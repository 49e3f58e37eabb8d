import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { S3_TIMEOUTS, classifyS3Error, createS3Client } from '../../../lambdas/adapters/s3-lake';
import { PermanentError, TransientError } from '../../../lambdas/core/errors';
import { startTestLake, type TestLake } from '../../support/s3';

describe('S3LakeStore against s3rver', () => {
  let s3: TestLake;

  before(async () => {
    s3 = await startTestLake('lake-test');
  });

  after(() => s3.close());

  it('puts and gets bytes and text', async () => {
    // Prepare
    const bytes = new Uint8Array([0, 1, 2, 255]);

    // Act
    await s3.lake.put('raw/a.bin', bytes, 'application/octet-stream');
    await s3.lake.put('quality/r.json', '{"ok":"✓"}', 'application/json');

    // Assess
    assert.deepEqual(await s3.lake.get('raw/a.bin'), bytes);
    assert.equal(await s3.lake.getText('quality/r.json'), '{"ok":"✓"}');
  });

  it('reports a missing key as a permanent error naming it', async () => {
    await assert.rejects(s3.lake.get('raw/missing.parquet'), {
      name: PermanentError.name,
      message: 'S3 get s3://lake-test/raw/missing.parquet: no such object',
    });
  });

  it('lists past 1000 keys and deletes them in batches', async () => {
    // Prepare
    const keys = Array.from(
      { length: 1105 },
      (_, i) => `events/dt=2024-03-10/part-${String(i).padStart(5, '0')}`,
    );
    for (let i = 0; i < keys.length; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((key) => s3.lake.put(key, 'x')));
    }
    await s3.lake.put('events/dt=2024-03-11/keep', 'y');

    // Act
    const listed = await s3.lake.list('events/dt=2024-03-10/');
    const deleted = await s3.lake.deletePrefix('events/dt=2024-03-10/');
    const left = await s3.lake.list('events/');

    // Assess
    assert.deepEqual(
      listed.map((o) => o.key),
      keys,
    );
    assert.equal(listed[0].size, 1);
    assert.equal(deleted, keys.length);
    assert.deepEqual(
      left.map((o) => o.key),
      ['events/dt=2024-03-11/keep'],
    );
  });
  it('gives the AWS and the custom-endpoint client connect, idle and request timeouts that throw', async () => {
    // Prepare: both branches of createS3Client, each pointed at s3rver (the AWS one through its own config).
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
    const clients = [
      createS3Client(
        { region: 'us-east-1', credentials, endpoint: s3.endpoint, forcePathStyle: true },
        undefined,
      ),
      createS3Client({ credentials }, s3.endpoint),
    ];

    // Act: the handler resolves its options on its first request.
    const configs = await Promise.all(
      clients.map(async (client) => {
        await client.send(new ListObjectsV2Command({ Bucket: 'lake-test' }));
        // The SDK's NodeHttpHandler (an HttpHandler: its resolved options are public).
        const handler = client.config.requestHandler as unknown as {
          httpHandlerConfigs(): Record<string, unknown>;
        };
        return handler.httpHandlerConfigs();
      }),
    );

    // Assess
    for (const config of configs) {
      assert.equal(config.connectionTimeout, 5_000);
      assert.equal(config.socketTimeout, 30_000);
      assert.equal(config.requestTimeout, 300_000);
      assert.equal(config.throwOnRequestTimeout, true);
    }
    assert.deepEqual(S3_TIMEOUTS, {
      connectionTimeout: 5_000,
      socketTimeout: 30_000,
      requestTimeout: 300_000,
      throwOnRequestTimeout: true,
    });
    clients.forEach((c) => c.destroy());
  });
});

describe('S3 errors and client settings', () => {
  it('retries throttling, 5xx and network failures, not the rest', () => {
    const transient = [
      Object.assign(new Error('slow down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }),
      Object.assign(new Error('internal'), { name: 'Unknown', $metadata: { httpStatusCode: 500 } }),
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
    ];
    const permanent = Object.assign(new Error('denied'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });

    for (const error of transient)
      assert.equal(classifyS3Error(error, 'put s3://b/k').name, TransientError.name);
    const denied = classifyS3Error(permanent, 'put s3://b/k');
    assert.equal(denied.name, PermanentError.name);
    assert.equal(denied.message, 'S3 put s3://b/k: denied');
  });

  it('uses path-style addressing and checksums only when required for a custom endpoint', async () => {
    // Act
    const client = createS3Client({}, 'http://127.0.0.1:4568');

    // Assess
    assert.equal(client.config.forcePathStyle, true);
    assert.equal(await client.config.requestChecksumCalculation(), 'WHEN_REQUIRED');
    assert.equal(await client.config.responseChecksumValidation(), 'WHEN_REQUIRED');
    client.destroy();
  });
});
