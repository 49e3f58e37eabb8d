/**
 * The laptop's S3 refuses a conditional write whose condition does not hold, as S3 does (PutObject with
 * If-Match / If-None-Match: *), so the catalog refresh's optimistic snapshot write is exercised locally.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findObject } from '../../lambdas/adapters/lake-tables';
import { startTestLake, type TestLake } from '../support/s3';

const fixture = (name: string) => new URL(`../fixtures/s3-server/${name}`, import.meta.url).pathname;
const KEY = 'catalog/dt=2026-03-01/snapshot.txt';

describe('s3 server: conditional writes', () => {
  let s3: TestLake;
  before(async () => {
    s3 = await startTestLake();
  });
  after(() => s3.close());

  it('If-None-Match: * creates an object only when it is not there', async () => {
    // Act
    const created = await s3.lake.uploadIf(KEY, fixture('v1.txt'), undefined);
    const again = await s3.lake.uploadIf(KEY, fixture('v2.txt'), undefined);

    // Assess
    assert.deepEqual([created, again], [true, false]);
    assert.equal(await s3.lake.getText(KEY), 'first version\n');
  });

  it('If-Match replaces the object as read, and refuses once another writer changed it', async () => {
    // Prepare
    const read = (await findObject(s3.lake, KEY))!.etag;

    // Act
    const first = await s3.lake.uploadIf(KEY, fixture('v2.txt'), read);
    const stale = await s3.lake.uploadIf(KEY, fixture('v3.txt'), read);

    // Assess
    assert.deepEqual([first, stale], [true, false]);
    assert.equal(await s3.lake.getText(KEY), 'second version\n');
  });

  it('of two writers that read the same ETag at once, exactly one wins', async () => {
    // Prepare
    const read = (await findObject(s3.lake, KEY))!.etag;

    // Act
    const outcomes = await Promise.all([
      s3.lake.uploadIf(KEY, fixture('v1.txt'), read),
      s3.lake.uploadIf(KEY, fixture('v3.txt'), read),
    ]);

    // Assess
    assert.deepEqual(outcomes.filter(Boolean).length, 1);
    const winner = outcomes[0] ? 'first version\n' : 'third version\n';
    assert.equal(await s3.lake.getText(KEY), winner);
  });
});

describe('s3 server: an object is never seen half-written', () => {
  let s3: TestLake;
  before(async () => {
    s3 = await startTestLake();
  });
  after(() => s3.close());

  it('reads racing rewrites of one key each get one whole version', async () => {
    // Prepare: two versions of different sizes, rewritten in turn while being read.
    const key = 'ops/freshness/products.json';
    const versions = [
      JSON.stringify({ v: 'short' }),
      JSON.stringify({ v: 'long', pad: 'x'.repeat(512 * 1024) }),
    ];
    await s3.lake.put(key, versions[0]);

    // Act
    const reads = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        i % 2 === 0 ? s3.lake.put(key, versions[(i / 2) % 2]).then(() => undefined) : s3.lake.getText(key),
      ),
    );

    // Assess
    const seen = reads.filter((r) => r !== undefined);
    assert.equal(seen.length, 15);
    for (const text of seen) assert.ok(versions.includes(text!), `a mix of ${text!.length} characters`);
  });
});
