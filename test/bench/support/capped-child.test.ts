import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCapped } from '../../../bench/support/capped-child';

const script = fileURLToPath(new URL('../../fixtures/bench/allocate.ts', import.meta.url));

describe('runCapped', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'capped-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  const run = (mb: number, capMb: number, timeoutMs = 60_000) =>
    runCapped<{ touchedMb: number }>({
      script,
      args: ['--mb', String(mb)],
      env: { PATH: process.env.PATH ?? '' },
      capMb,
      timeoutMs,
      resultFile: join(dir, `${mb}-${capMb}-${timeoutMs}.json`),
      intervalMs: 10,
    });

  it("returns the child's result and its whole-process peak when it stays under the cap", async () => {
    // Act: 100 MB touched in a process capped at 1 GB
    const result = await run(100, 1024);
    // Assess: the peak holds the buffer and Node itself
    assert.equal(result.fits, true);
    assert.deepEqual(result.result, { touchedMb: 100 });
    assert.ok(result.peakRssMb > 100 && result.peakRssMb < 1024, `peak ${result.peakRssMb} MB`);
  });

  it('kills the child past the cap, as Lambda ends a function out of memory', async () => {
    // Act: 400 MB touched in a process capped at 200 MB
    const result = await run(400, 200);
    // Assess
    assert.equal(result.fits, false);
    assert.equal(result.result, undefined);
    assert.match(result.error ?? '', /over the 200 MB cap/);
  });

  it("kills the child past the function's timeout, as Lambda ends the invocation", async () => {
    // Act: a timeout shorter than Node takes to start
    const result = await run(100, 1024, 20);
    // Assess
    assert.equal(result.result, undefined);
    assert.match(result.error ?? '', /killed after 0.02 s, the function's timeout/);
  });
});
