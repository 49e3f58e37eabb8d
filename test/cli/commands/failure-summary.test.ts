/**
 * A command that ends in failure says what happened last: the failed step with that step's own error (not
 * the state machine's), then the command to run next.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HANDLER_ENV } from '../../../lambdas/contract';
import { runCartflow } from '../../support/cartflow-cli';

const MISSING_PRICE = new URL('../../fixtures/catalog/missing-price.json', import.meta.url).pathname;
const DATE = '2026-03-02';

/** The last `n` non-empty lines of a command's output. */
const lastLines = (text: string, n: number) => text.trimEnd().split('\n').slice(-n);

describe('the last lines of a failed command', { timeout: 300_000 }, () => {
  let parent: string;
  let dataDir: string;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'cartflow-failure-summary-'));
    // As root the embedded PostgreSQL runs as `postgres`, which must enter the data dir's parent.
    await chmod(parent, 0o755);
    dataDir = join(parent, 'data');
  });

  after(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('a failed catalog refresh ends with the file set aside, its gate error and how to resubmit', async () => {
    // Act
    const dropped = await runCartflow(['drop', MISSING_PRICE, '--window-ms', '0'], { dataDir });

    // Assess
    assert.equal(dropped.code, 1, dropped.err);
    // The notice spans lines: each file set aside, its checks, where it went and how to resubmit.
    const failed = dropped.err.split('\n').find((line) => line.startsWith('FAILED at')) ?? '';
    const [next] = lastLines(dropped.err, 1);
    assert.match(
      failed,
      /^FAILED at CatalogFileRejected: QualityGateError: catalog refresh \S+ merged 0 file\(s\) and set aside 1 that failed the quality gate:$/,
    );
    assert.equal(
      next,
      'next: correct missing-price.json (set aside under rejected/catalog/ with its quality report), then: cartflow drop <corrected file>',
    );
    assert.match(
      dropped.err,
      /^- landing\/catalog\/missing-price\.json: products: 1 of 2 rows quarantined .*check 'price not null' failed 1 rows, e\.g\. \{"product_id":"Q002"/m,
    );
    assert.doesNotMatch(dropped.err, /CatalogRefreshFailed|See the \$\.error/);
  });

  it('a failed batch run ends with the gate step, its error and the date to run again', async () => {
    // Prepare: a fifth of the orders planted bad, far over the 5 % threshold.
    const seeded = await runCartflow(['seed', '--date', DATE, '--orders', '50', '--bad-rows', '20'], {
      dataDir,
    });
    assert.equal(seeded.code, 0, seeded.err);

    // Act
    const run = await runCartflow(['run', '--date', DATE], { dataDir });

    // Assess
    assert.equal(run.code, 1, run.err);
    const [failed, next] = lastLines(run.out, 2);
    assert.match(
      failed,
      /^FAILED at QualityGateFailed: QualityGateError: orders: \d+ of \d+ rows quarantined/,
    );
    assert.match(
      next,
      new RegExp(
        `^next: correct the source data of ${DATE} \\(cartflow report ${DATE}-[0-9a-f]{8} .*\\), then: cartflow run --date ${DATE}$`,
      ),
    );
  });

  it('a run whose step crashed ends with that step, its error and the retry; a rebuild likewise', async () => {
    // Prepare: a clean day, and every load-table invocation dying as Lambda reports a crashed runtime.
    const clean = '2026-03-01';
    const seeded = await runCartflow(['seed', '--date', clean, '--orders', '40'], { dataDir });
    assert.equal(seeded.code, 0, seeded.err);
    const crash = { ...process.env, [HANDLER_ENV.fault]: 'load-table:crash' };

    // Act
    const run = await runCartflow(['run', '--date', clean], { dataDir, env: crash });
    const [failed, next] = lastLines(run.out, 2);
    const runId = /^next: cartflow retry (\S+)$/.exec(next)?.[1];
    const retried = await runCartflow(['retry', runId ?? '-'], { dataDir });
    const rebuild = await runCartflow(['rebuild', '--from', clean, '--to', clean], { dataDir, env: crash });

    // Assess
    assert.equal(run.code, 1, run.err);
    assert.match(failed, /^FAILED at LoadTable: Runtime\.ExitError: /);
    assert.match(runId ?? '', new RegExp(`^${clean}-[0-9a-f]{8}$`));
    assert.equal(retried.code, 0, retried.err);
    assert.equal(rebuild.code, 1, rebuild.err);
    const [rebuildFailed, rebuildNext] = lastLines(rebuild.out, 2);
    assert.match(rebuildFailed, new RegExp(`^FAILED at ${clean}: \\S+: `));
    assert.equal(rebuildNext, `next: cartflow rebuild --from ${clean} --to ${clean}`);
  });
});
