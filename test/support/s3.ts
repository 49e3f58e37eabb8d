/** A real S3 endpoint for tests: s3rver in this process, in a temporary directory. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3LakeStore, createS3Client } from '../../lambdas/adapters/s3-lake';
import { startS3Server } from '../../local/s3-server';

export interface TestLake {
  lake: S3LakeStore;
  endpoint: string;
  close(): Promise<void>;
}

export async function startTestLake(bucket = 'cartflow-test'): Promise<TestLake> {
  const directory = await mkdtemp(join(tmpdir(), 'cartflow-s3-'));
  const server = await startS3Server({ directory, bucket });
  const client = createS3Client(
    { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    server.endpoint,
  );
  return {
    lake: new S3LakeStore(client, bucket),
    endpoint: server.endpoint,
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
