/** An S3-compatible server in this process (s3rver), objects kept on disk: the laptop's data lake. */
import { mkdir } from 'node:fs/promises';
import S3rver from 's3rver';

export interface S3Server {
  /** http://127.0.0.1:<port> — give it to clients as AWS_ENDPOINT_URL_S3. */
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts s3rver on 127.0.0.1 (port 0 picks a free one) with `bucket` created if missing.
 * Any credentials are accepted; the SDK still needs some to sign with.
 * Listing past 1000 keys needs node's --openssl-legacy-provider (s3rver encrypts continuation tokens with DES).
 */
export async function startS3Server({
  directory,
  port = 0,
  bucket,
}: {
  directory: string;
  port?: number;
  bucket: string;
}): Promise<S3Server> {
  await mkdir(directory, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port,
    directory,
    silent: true,
    allowMismatchedSignatures: true,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}
