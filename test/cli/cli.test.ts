import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StatusReport } from '../../local/status';
import { cartflow } from '../support/cartflow-cli';

describe('cartflow command line', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-cli-'));
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('rejects an unknown command and a bad date with exit code 2 and says what was expected', async () => {
    // Act
    const unknown = await cartflow('frobnicate', '--data-dir', dataDir);
    const badDate = await cartflow('run', '--date', '2026-02-30', '--data-dir', dataDir);

    // Assess
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command "frobnicate"; expected one of demo, seed, run/);
    assert.equal(badDate.code, 2);
    assert.match(badDate.err, /--date/);
    assert.match(badDate.err, /YYYY-MM-DD/);
  });

  it('seeds and runs a date, then answers queries as CSV with a header and lists the run', async () => {
    // Prepare
    const seeded = await cartflow('seed', '--date', '2026-04-01', '--orders', '50', '--data-dir', dataDir);

    // Act
    const run = await cartflow('run', '--date', '2026-04-01', '--data-dir', dataDir);
    const query = await cartflow(
      'query',
      "SELECT count(*) AS orders FROM analytics.fact_order WHERE order_date = '2026-04-01'",
      '--data-dir',
      dataDir,
    );
    const columns = await cartflow(
      'query',
      "SELECT 1 AS a, 2 AS a, 3, NULL AS n, '' AS e",
      '--data-dir',
      dataDir,
    );
    const status = await cartflow('status', '--json', '--data-dir', dataDir);

    // Assess
    assert.equal(seeded.code, 0, seeded.err);
    assert.match(seeded.out, /seeded 2026-04-01: 50 orders/);
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /✓ LoadTable/);
    assert.match(run.out, /fact_order\s+50/);
    assert.equal(query.out, 'orders\n50\n');
    assert.equal(columns.out, 'a,a,?column?,n,e\n1,2,3,,""\n', columns.err);
    const { runs } = JSON.parse(status.out) as StatusReport;
    assert.deepEqual(
      runs.map((r) => [r.businessDate, r.latest.status]),
      [['2026-04-01', 'SUCCEEDED']],
    );
  });
});
