import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LAKE } from '../../../lambdas/contract';
import { startLocalServices } from '../../../local/runtime';
import type { StatusReport } from '../../../local/status';
import { cartflow } from '../../support/cartflow-cli';

const CLEAN = '2026-05-01';
const BAD = '2026-05-02';
/** Before 06:00 UTC on D+2 the batch SLA (loadedBy 06:00) holds for D = CLEAN; after it BAD is due and missing. */
const BEFORE_DEADLINE = '2026-05-03T05:00:00Z';
const AFTER_DEADLINE = '2026-05-03T07:00:00Z';
const ON_FAILURE_KEY = `${LAKE.streamOnFailure}0a1b2c3d-mapping/0/2026/05/02/batch-1.json`;

describe('cartflow status over real local runs', () => {
  let dataDir: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-status-'));
    const cli = (...args: string[]) => cartflow(...args, '--data-dir', dataDir);
    // A clean date run twice (two runs of one date), and a date whose planted bad rows fail checks and the gate.
    for (const args of [
      ['seed', '--date', CLEAN, '--orders', '20'],
      ['seed', '--date', BAD, '--orders', '20', '--bad-rows', '3'],
    ]) {
      const seeded = await cli(...args);
      assert.equal(seeded.code, 0, seeded.err);
    }
    assert.equal((await cli('run', '--date', CLEAN)).code, 0);
    assert.equal((await cli('run', '--date', CLEAN)).code, 0);
    assert.equal((await cli('run', '--date', BAD)).code, 1);
    // What Lambda writes when a stream batch exhausts its retries (the local poller writes there too).
    const services = await startLocalServices({ dataDir });
    try {
      await services.lake.put(ON_FAILURE_KEY, '{"requestContext":{"condition":"RetryAttemptsExhausted"}}');
    } finally {
      await services.close();
    }
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows each date with its runs and steps, freshness met, the failed checks with an example row', async () => {
    // Act
    const status = await cartflow('status', '--now', BEFORE_DEADLINE, '--data-dir', dataDir);

    // Assess
    assert.equal(status.code, 0, status.err);
    const text = status.out;
    assert.match(text, new RegExp(`${BAD}\\s+FAILED\\s+1\\s+${BAD}-\\w+\\s`));
    assert.match(text, new RegExp(`${CLEAN}\\s+SUCCEEDED\\s+2\\s+${CLEAN}-\\w+\\s`));
    assert.match(text, /✓\s+ResolveRun\s+\d+ ms/);
    assert.match(text, /✓\s+LoadTable\s+[\d.]+ m?s\s+×4/);
    assert.match(text, /✓\s+Validate\s+[\d.]+ m?s/);
    assert.match(text, /Freshness \(SLA per dataset\) · all within SLA/);
    for (const dataset of ['products', 'orders', 'order_items']) {
      assert.match(text, new RegExp(`✓\\s+${dataset}\\s+met\\s+1 d 05:00\\s+1 d 06:00\\s+${CLEAN}`));
    }
    assert.match(
      text,
      /orders\s+currency accepted\s+currency\s+1\s+quarantine\n\s+example: \{.*"currency":"XYZ"/,
    );
    assert.match(text, /On-failure objects \(aws\/lambda\/; 1 in all\)/);
    assert.match(text, new RegExp(`\\d\\d:\\d\\d:\\d\\d\\s+\\d+\\s+${ON_FAILURE_KEY}\n`));
  });

  it('after the deadline the batch datasets are breached and marked', async () => {
    // Act
    const status = await cartflow('status', '--now', AFTER_DEADLINE, '--data-dir', dataDir);

    // Assess
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, /Freshness \(SLA per dataset\) · BREACHED: products, orders, order_items/);
    for (const dataset of ['products', 'orders', 'order_items']) {
      assert.match(
        status.out,
        new RegExp(
          `!!\\s+${dataset}\\s+BREACHED\\s+1 d 07:00\\s+1 d 06:00\\s+${CLEAN}\\s+${dataset} for ${BAD} was due by 2026-05-03 06:00 UTC`,
        ),
      );
    }
  });

  it('--json: one object with runs, steps, freshness, breaches, failed checks, lag and on-failure objects', async () => {
    // Act
    const status = await cartflow('status', '--json', '--now', AFTER_DEADLINE, '--data-dir', dataDir);
    const failed = await cartflow(
      'query',
      `SELECT dataset, check_name, failed_rows FROM ops.quality_result q JOIN ops.pipeline_run r USING (run_id)
       WHERE NOT q.passed AND r.business_date = '${BAD}' ORDER BY 1, 2`,
      '--data-dir',
      dataDir,
    );

    // Assess
    assert.equal(status.code, 0, status.err);
    const report = JSON.parse(status.out) as StatusReport;
    assert.deepEqual(
      report.runs.map((d) => [d.businessDate, d.runs, d.latest.status]),
      [
        [BAD, 1, 'FAILED'],
        [CLEAN, 2, 'SUCCEEDED'],
      ],
    );
    for (const date of report.runs) {
      assert.ok(date.steps && date.steps.length > 0, `${date.businessDate} has steps`);
      for (const step of date.steps) assert.ok(Number.isInteger(step.ms) && step.ms! >= 0, step.state);
      assert.ok(date.latest.ms! > 0);
    }
    // The failed gate ends the run: Validate is its last Task, and no Catch path runs after it.
    assert.equal(report.runs[0].steps!.at(-1)?.state, 'Validate');
    assert.match(report.runs[0].error ?? '', /QualityGateError/);
    assert.deepEqual(
      report.freshness.map((f) => [f.dataset, f.status]),
      [
        ['products', 'breached'],
        ['orders', 'breached'],
        ['order_items', 'breached'],
        ['events', 'no-data'],
      ],
    );
    assert.deepEqual(report.breaches, ['products', 'orders', 'order_items']);
    assert.equal(
      `dataset,check_name,failed_rows\n${[...report.failedChecks]
        .sort((a, b) => (a.dataset + a.check < b.dataset + b.check ? -1 : 1))
        .map((c) => `${c.dataset},${c.check},${c.failedRows}\n`)
        .join('')}`,
      failed.out,
    );
    for (const check of report.failedChecks) {
      assert.equal(check.businessDate, BAD);
      assert.equal(typeof JSON.parse(check.example!), 'object', `${check.check} has an example row`);
    }
    assert.deepEqual(
      report.onFailure.newest.map((o) => o.key),
      [ON_FAILURE_KEY],
    );
    // The local lag needs a broker: with none named the reason says so.
    if (process.env.KAFKA_BROKERS) assert.equal(report.streamLag.source, 'kafka');
    else assert.match(report.streamLag.note ?? '', /KAFKA_BROKERS is not set/);
  });

  it('a bad --env is a usage error listing the environments', async () => {
    // Act
    const status = await cartflow('status', '--env', 'production');

    // Assess
    assert.equal(status.code, 2);
    assert.match(status.err, /--env must be one of dev, staging, prod, got "production"/);
  });
});
