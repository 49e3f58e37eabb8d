/** The data lake on S3 (or any S3-compatible endpoint, e.g. the in-process s3rver on a laptop). */
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PermanentError, TransientError } from '../core/errors';
import { classifyAwsError, type AwsError } from './aws-errors';
import type { LakeObject, LakeStore } from './ports';

/**
 * The S3 clients' timeouts (the SDK sets none: a stalled connect or transfer would wait until the function
 * is killed, each of the SDK's retries again). A connect is given 5 s; a socket silent for 30 s is dropped;
 * a whole request gets 5 minutes (it throws, so the SDK retries it), room for the largest object the
 * handlers move (a compacted hour, an extract part) at far below S3's bandwidth in a region.
 */
export const S3_TIMEOUTS = {
  connectionTimeout: 5_000,
  socketTimeout: 30_000,
  requestTimeout: 300_000,
  throwOnRequestTimeout: true,
} as const;

/**
 * An S3 client for the environment, with S3_TIMEOUTS. A custom endpoint (AWS_ENDPOINT_URL_S3, else
 * AWS_ENDPOINT_URL, as the SDK reads them) points it at another server: path-style addressing (a server
 * such as LocalStack or s3rver has no `<bucket>.<host>` names), and checksums only where S3 requires them
 * (s3rver knows no CRC32 checksum headers).
 */
export function createS3Client(
  config: S3ClientConfig = {},
  endpoint: string | undefined = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL,
): S3Client {
  if (!endpoint) return new S3Client({ requestHandler: S3_TIMEOUTS, ...config });
  return new S3Client({
    requestHandler: S3_TIMEOUTS,
    endpoint,
    // A named profile's region comes from the profile (the SDK's chain); otherwise a region is needed to sign.
    ...(config.profile ? {} : { region: process.env.AWS_REGION ?? 'us-east-1' }),
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...config,
  });
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

/** Throttling, 5xx and network failures are worth a retry; anything else is not. */
export function classifyS3Error(error: unknown, what: string): Error {
  const e = error as AwsError;
  if (e.name === 'NoSuchKey' || e.name === 'NotFound') {
    return new PermanentError(`S3 ${what}: no such object`, { cause: error });
  }
  return classifyAwsError(
    error,
    `S3 ${what}: ${(error as Error).message || e.name}`,
    TRANSIENT_NAMES,
    NETWORK_CODES,
  );
}

const DELETE_BATCH = 1000; // DeleteObjects' limit

/** What S3 answers a conditional write whose condition did not hold (412), or that lost a race to one (409). */
const CONDITION_FAILED = new Set(['PreconditionFailed', 'ConditionalRequestConflict']);

export class S3LakeStore implements LakeStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  private async call<T>(what: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw classifyS3Error(error, what);
    }
  }

  private uri(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  async put(key: string, body: Uint8Array | string, contentType?: string): Promise<void> {
    await this.call(`put ${this.uri(key)}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          // Without a length the SDK takes an empty body for a stream of unknown length and warns.
          ContentLength: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
          ContentType: contentType,
        }),
      ),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    return this.call(`get ${this.uri(key)}`, async () => {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!Body) throw new PermanentError(`S3 get ${this.uri(key)}: empty response body`);
      return Body.transformToByteArray();
    });
  }

  async download(key: string, path: string): Promise<void> {
    await this.call(`get ${this.uri(key)}`, async () => {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!(Body instanceof Readable))
        throw new PermanentError(`S3 get ${this.uri(key)}: no response stream`);
      await pipeline(Body, createWriteStream(path));
    });
  }

  async upload(key: string, path: string, contentType?: string): Promise<void> {
    const { size } = await stat(path);
    await this.call(`put ${this.uri(key)}`, () =>
      this.client.send(this.putFile(key, path, size, contentType)),
    );
  }

  /** A PutObject streaming the file at `path` (a new stream per call, so that a retry sends it whole). */
  private putFile(
    key: string,
    path: string,
    size: number,
    contentType?: string,
    condition: { IfMatch?: string; IfNoneMatch?: string } = {},
  ): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: createReadStream(path),
      ContentLength: size,
      ContentType: contentType,
      ...condition,
    });
  }

  async uploadIf(
    key: string,
    path: string,
    etag: string | undefined,
    contentType?: string,
  ): Promise<boolean> {
    // Already changed: no upload to be refused (and no SDK warning about a failed streaming request).
    if ((await this.list(key)).find((o) => o.key === key)?.etag !== etag) return false;
    const { size } = await stat(path);
    try {
      await this.client.send(
        this.putFile(
          key,
          path,
          size,
          contentType,
          etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag },
        ),
      );
      return true;
    } catch (error) {
      // 412: the condition did not hold; 409: a concurrent conditional write to the key won.
      if (CONDITION_FAILED.has((error as AwsError).name ?? '')) return false;
      throw classifyS3Error(
        error,
        `put ${this.uri(key)} (${etag === undefined ? 'if absent' : `if ETag ${etag}`})`,
      );
    }
  }

  async getText(key: string): Promise<string> {
    return new TextDecoder().decode(await this.get(key));
  }

  async list(prefix: string): Promise<LakeObject[]> {
    const objects: LakeObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(`list ${this.uri(prefix)}`, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        objects.push({ key: o.Key, etag: o.ETag ?? '', size: o.Size ?? 0, lastModified: o.LastModified });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = (await this.list(prefix)).map((o) => o.key);
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH);
      const result = await this.call(`delete under ${this.uri(prefix)}`, () =>
        this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      );
      const failed = result.Errors?.[0];
      if (failed) {
        throw new TransientError(
          `S3 delete ${this.uri(failed.Key ?? '')}: ${failed.Code} ${failed.Message} (${result.Errors!.length} failed)`,
        );
      }
    }
    return keys.length;
  }

  async move(from: string, to: string): Promise<void> {
    // CopySource is "<bucket>/<key>", URL-encoded; each key segment on its own keeps the slashes.
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    await this.call(`copy ${this.uri(from)} to ${this.uri(to)}`, () =>
      this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: source })),
    );
    await this.call(`delete ${this.uri(from)}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: from })),
    );
  }
}
