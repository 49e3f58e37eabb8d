/** An S3-compatible server in this process (s3rver), objects kept on disk: the laptop's data lake. */
import { mkdir } from 'node:fs/promises';
import S3rver, { type Middleware, type Store } from 's3rver';

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
  // First in the stack: the check answers before s3rver's own handling of the PUT.
  server.middleware.unshift(atomicObjects(), conditionalWrites(server.store));
  const address = await server.run();
  return { endpoint: `http://127.0.0.1:${address.port}`, close: () => server.close() };
}

/**
 * S3 never shows a half-written object; s3rver writes a PUT into the object's file in place, so a GET (or a
 * second PUT) of the key meanwhile reads (or leaves) a mix. Requests for one object run one at a time here:
 * a PUT until s3rver has stored it, a GET or HEAD until its response has been sent. Within this server;
 * every process of the laptop runs its own.
 */
export function atomicObjects(): Middleware {
  const last = new Map<string, Promise<void>>();
  return async (ctx, next) => {
    const [, bucket, ...segments] = ctx.path.split('/');
    const key = segments.map(decodeURIComponent).join('/');
    if (key === '' || !['GET', 'HEAD', 'PUT'].includes(ctx.method)) return next();
    const id = `${bucket}/${key}`;
    const before = last.get(id);
    let done = () => {};
    const mine = new Promise<void>((resolve) => (done = resolve));
    last.set(id, mine);
    const release = () => {
      done();
      if (last.get(id) === mine) last.delete(id);
    };
    await before;
    if (ctx.method !== 'PUT') ctx.res.once('close', release);
    try {
      await next();
    } finally {
      if (ctx.method === 'PUT') release();
    }
  };
}

/**
 * S3's conditional writes, which s3rver ignores: a PutObject with If-Match (the ETag the writer read) or
 * If-None-Match: * is refused with 412 PreconditionFailed, as S3 refuses it, when the object has changed
 * or exists. Conditional writes to one key run one at a time, so two writers that read the same ETag
 * cannot both win (within this server; every process of the laptop runs its own).
 */
export function conditionalWrites(store: Store): Middleware {
  const last = new Map<string, Promise<void>>();
  return async (ctx, next) => {
    const ifMatch = ctx.get('if-match');
    const ifNoneMatch = ctx.get('if-none-match');
    if (ctx.method !== 'PUT' || (ifMatch === '' && ifNoneMatch === '')) return next();
    const [, bucket, ...segments] = ctx.path.split('/');
    const key = segments.map(decodeURIComponent).join('/');
    const id = `${bucket}/${key}`;
    const before = last.get(id);
    let done = () => {};
    const mine = new Promise<void>((resolve) => (done = resolve));
    last.set(id, mine);
    await before;
    try {
      const etag = await store.getMetadata(bucket, key).then(
        (metadata) => metadata.etag,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        },
      );
      const holds = ifNoneMatch === '*' ? etag === undefined : ifMatch !== '' && etag === ifMatch;
      if (holds) return await next();
      ctx.status = 412;
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
        '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
        `<Condition>${ifNoneMatch === '' ? 'If-Match' : 'If-None-Match'}</Condition></Error>`;
    } finally {
      done();
      if (last.get(id) === mine) last.delete(id);
    }
  };
}
