/**
 * The fault switch's real crash: `cartflow run` with CARTFLOW_FAULT=<step>:kill dies by SIGKILL right after
 * the step's side effect (its warehouse transaction open, before COMMIT). The next commands work, readers
 * see the previous run's day whole, and a plain rerun loads the new one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HANDLER_ENV } from '../../lambdas/contract';
import { runCartflow } from '../support/cartflow-cli';

const DATE = '2026-06-01';

/** One `cartflow` command in a process of its own, with `fault` as CARTFLOW_FAULT (unset when absent). */
const cartflow = (dataDir: string, args: string[], fault?: string) =>
  runCartflow(args, { dataDir, env: { ...process.env, [HANDLER_ENV.fault]: fault ?? '' } });

describe('cartflow run killed by the fault switch', { timeout: 300_000 }, () => {
  let dataDir: string;

  const orders = async () => {
    const q = await cartflow(dataDir, [
      'query',
      `SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM analytics.fact_order WHERE order_date = '${DATE}'`,
    ]);
    assert.equal(q.code, 0, q.err);
    const [n, d] = q.out.split('\n')[1].split(',').map(Number);
    assert.equal(n, d, 'duplicate orders');
    return n;
  };

  const seed = async (count: number) => {
    const seeded = await cartflow(dataDir, ['seed', '--date', DATE, '--orders', String(count)]);
    assert.equal(seeded.code, 0, seeded.err);
  };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-cli-faults-'));
    await seed(60);
    const run = await cartflow(dataDir, ['run', '--date', DATE]);
    assert.equal(run.code, 0, run.err);
  });

  after(async () => {
    // The killed runs leave the embedded server running; a last command over the data dir stops it.
    await cartflow(dataDir, ['status']);
    await rm(dataDir, { recursive: true, force: true });
  });

  test('an invalid switch fails the command with the variable and what it accepts', async () => {
    // Act
    const run = await cartflow(dataDir, ['run', '--date', DATE], 'publish-date:explode');

    // Assess
    assert.equal(run.code, 1);
    assert.match(run.err, /CARTFLOW_FAULT="publish-date:explode" names no mode "explode"/);
    assert.match(run.err, /mode one of fail-once, timeout, crash, kill/);
  });

  for (const step of ['load-table', 'publish-date']) {
    test(`${step}:kill dies before COMMIT; readers keep the previous day and a rerun converges`, async () => {
      // Prepare: the source now holds another day's worth of orders for the date
      const before = await orders();
      await seed(before === 60 ? 45 : 60);

      // Act
      const killed = await cartflow(dataDir, ['run', '--date', DATE], `${step}:kill`);
      const afterKill = await orders();
      const rerun = await cartflow(dataDir, ['run', '--date', DATE]);

      // Assess
      assert.equal(killed.signal, 'SIGKILL', killed.err);
      assert.equal(afterKill, before, 'a half-loaded date is visible');
      assert.equal(rerun.code, 0, rerun.err);
      assert.equal(await orders(), before === 60 ? 45 : 60);
    });
  }
});
