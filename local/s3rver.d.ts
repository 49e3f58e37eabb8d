/** The part of s3rver's API that local/s3-server.ts uses (the package ships no types). */
declare module 's3rver' {
  import type { ServerResponse } from 'node:http';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** The part of a Koa context a middleware of local/s3-server.ts reads and answers with. */
  export interface Context {
    method: string;
    /** The request path, percent-encoded: `/<bucket>/<key>` (path-style). */
    path: string;
    /** A request header, '' when absent. */
    get(header: string): string;
    status: number;
    type: string;
    body: unknown;
    /** The response being sent: its body streams after the middleware has returned. */
    res: ServerResponse;
  }

  export type Middleware = (ctx: Context, next: () => Promise<void>) => Promise<void>;

  /** s3rver's object store: getMetadata rejects (ENOENT) for a missing object. */
  export interface Store {
    getMetadata(bucket: string, key: string): Promise<{ etag: string }>;
  }

  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Koa's middleware stack, composed when the server starts. */
    middleware: Middleware[];
    store: Store;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
