/**
 * A LakeStore that keeps the objects in memory: the benchmarks bind it when they measure the handlers'
 * own work, so S3 (or s3rver) I/O is not part of the figure.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { LakeObject, LakeStore } from '../../lambdas/adapters/ports';

/** An ETag as S3 gives it for a single-part object: the quoted MD5 of the body. */
const etagOf = (body: Uint8Array): string => `"${createHash('md5').update(body).digest('hex')}"`;

export class MemoryLakeStore implements LakeStore {
  readonly bucket: string;
  readonly objects = new Map<string, Uint8Array>();

  constructor(bucket = 'cartflow-bench') {
    this.bucket = bucket;
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    this.objects.set(key, typeof body === 'string' ? Buffer.from(body) : body);
    return Promise.resolve();
  }

  get(key: string): Promise<Uint8Array> {
    const body = this.objects.get(key);
    return body === undefined ? Promise.reject(new Error(`NoSuchKey: ${key}`)) : Promise.resolve(body);
  }

  async getText(key: string): Promise<string> {
    return Buffer.from(await this.get(key)).toString('utf8');
  }

  list(prefix: string): Promise<LakeObject[]> {
    const found: LakeObject[] = [];
    for (const [key, body] of this.objects) {
      if (key.startsWith(prefix)) found.push({ key, etag: etagOf(body), size: body.byteLength });
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.resolve(found);
  }

  async download(key: string, path: string): Promise<void> {
    await writeFile(path, await this.get(key));
  }

  async upload(key: string, path: string): Promise<void> {
    this.objects.set(key, await readFile(path));
  }

  async uploadIf(key: string, path: string, etag: string | undefined): Promise<boolean> {
    const body = await readFile(path);
    const current = this.objects.get(key);
    if ((current === undefined ? undefined : etagOf(current)) !== etag) return false;
    this.objects.set(key, body);
    return true;
  }

  deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for (const key of [...this.objects.keys()]) {
      if (key.startsWith(prefix)) {
        this.objects.delete(key);
        deleted++;
      }
    }
    return Promise.resolve(deleted);
  }

  async move(from: string, to: string): Promise<void> {
    this.objects.set(to, await this.get(from));
    this.objects.delete(from);
  }

  /** Total bytes held under a prefix. */
  bytes(prefix = ''): number {
    let total = 0;
    for (const [key, body] of this.objects) if (key.startsWith(prefix)) total += body.byteLength;
    return total;
  }
}
