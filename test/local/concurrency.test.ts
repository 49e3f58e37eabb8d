/**
 * Several `cartflow` processes over one data dir, as people use it: a query while a run loads, a run
 * killed with SIGKILL and the next command after it, two runs of one date at once (one publishes, the
 * other ends superseded), a backfill racing a run. Each command is its own process, sharing the embedded PostgreSQL server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../local/embedded-postgres';
import { runLockKeys } from '../../local/runtime';

const ROOT = resolve(import.meta.dirname, '../..');
const DAY_A = '2026-05-01';
const DAY_B = '2026-05-02';

interface Command {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
  /** Resolves when stderr first matches `pattern`. */
  waitFor(pattern: RegExp): Promise<void>;
}

function start(dataDir: string, ...args: string[]): Command {
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '--import', 'tsx', 'bin/cartflow.ts', ...args, '--data-dir', dataDir],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  const watchers: { pattern: RegExp; resolve: () => void }[] = [];
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
    for (const w of watchers.splice(0)) {
      if (w.pattern.test(err)) w.resolve();
      else watchers.push(w);
    }
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>(
    (resolvePromise) =>
      child.on('close', (code, signal) => {
        resolvePromise({ code, signal, out, err });
      }),
  );
  return {
    child,
    done,
    waitFor: (pattern) =>
      Promise.race([
        new Promise<void>((r) => (pattern.test(err) ? r() : watchers.push({ pattern, resolve: r }))),
        done.then((d) => {
          throw new Error(`exited (${d.code ?? d.signal}) before ${pattern}: ${d.err}`);
        }),
      ]),
  };
}

async function cartflow(dataDir: string, ...args: string[]) {
  const result = await start(dataDir, ...args).done;
  return result;
}

/** The subjects of the notices published so far (the local SNS stand-in appends each to alerts.log). */
async function alertSubjects(dataDir: string): Promise<string[]> {
  const log = await readFile(join(dataDir, 'alerts.log'), 'utf8').catch(() => '');
  return log
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { subject: string }).subject);
}

/** The notices since `before` of them: one success notice per run that published, no failure notice. */
async function assertNoticesSince(dataDir: string, before: number, published: number) {
  const subjects = (await alertSubjects(dataDir)).slice(before);
  assert.equal(subjects.length, published, subjects.join('\n'));
  assert.ok(
    subjects.every((subject) => !/FAILED/.test(subject)),
    subjects.join('\n'),
  );
}

async function ordersOf(dataDir: string, date: string): Promise<number> {
  const q = await cartflow(
    dataDir,
    'query',
    `SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM analytics.fact_order WHERE order_date = '${date}'`,
  );
  assert.equal(q.code, 0, q.err);
  const [n, d] = q.out.split('\n')[1].split(',').map(Number);
  assert.equal(n, d, `duplicate orders on ${date}`);
  return n;
}

describe('several cartflow processes over one data dir', { timeout: 600_000 }, () => {
  let dataDir: string;
  let ordersA: number;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cartflow-concurrency-'));
    for (const [date, orders] of [
      [DAY_A, '300'],
      [DAY_B, '20000'],
    ]) {
      const seeded = await cartflow(dataDir, 'seed', '--date', date, '--orders', orders);
      assert.equal(seeded.code, 0, seeded.err);
    }
    const run = await cartflow(dataDir, 'run', '--date', DAY_A);
    assert.equal(run.code, 0, run.err);
    ordersA = await ordersOf(dataDir, DAY_A);
    assert.ok(ordersA > 0);
  });

  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers query and status from another process while a run is in progress', async () => {
    // Prepare
    const run = start(dataDir, 'run', '--date', DAY_B);
    await run.waitFor(/✓ ResolveRun/);
    let runEnded = false;
    void run.done.then(() => (runEnded = true));

    // Act
    const [query, status] = await Promise.all([
      cartflow(
        dataDir,
        'query',
        `SELECT count(*) AS n FROM analytics.fact_order WHERE order_date = '${DAY_A}'`,
      ),
      cartflow(dataDir, 'status'),
    ]);
    const answeredDuringRun = !runEnded;
    const finished = await run.done;

    // Assess
    assert.equal(query.code, 0, query.err);
    assert.equal(query.out, `n\n${ordersA}\n`);
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, new RegExp(`${DAY_B}\\s+RUNNING\\s`));
    assert.ok(answeredDuringRun, 'the run had finished before the query answered');
    assert.equal(finished.code, 0, finished.err);
  });

  it('after a kill -9 mid-run, the next commands work and earlier runs are intact', async () => {
    // Prepare
    const before = await ordersOf(dataDir, DAY_B);

    for (const step of [/✓ ExtractOrders/, /✓ Validate/]) {
      // Act
      const run = start(dataDir, 'run', '--date', DAY_B);
      await run.waitFor(step);
      run.child.kill('SIGKILL');
      const killed = await run.done;

      // Assess
      assert.equal(killed.signal, 'SIGKILL');
      assert.equal(await ordersOf(dataDir, DAY_A), ordersA);
      assert.equal(await ordersOf(dataDir, DAY_B), before, 'a half-loaded date is visible');
    }
    const rerun = await cartflow(dataDir, 'run', '--date', DAY_B);
    assert.equal(rerun.code, 0, rerun.err);
    assert.equal(await ordersOf(dataDir, DAY_B), before);
    // The last command stopped the server the killed one had left running.
    assert.equal(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), false);
  });

  it('ends a second run of a date in progress as superseded (no alert), and a backfill racing a run too', async () => {
    // Prepare
    const alertsBefore = (await alertSubjects(dataDir)).length;

    // Act: two runs of one date at once
    const first = start(dataDir, 'run', '--date', DAY_B);
    await first.waitFor(/✓ ResolveRun/);
    const second = await cartflow(dataDir, 'run', '--date', DAY_B);
    const firstDone = await first.done;

    // Assess: the first publishes; the second ends superseded by it, publishing nothing and alerting nobody.
    assert.equal(firstDone.code, 0, firstDone.err);
    assert.equal(second.code, 1);
    const firstRun = /run \S+ as (\S+)/.exec(firstDone.err)![1];
    assert.match(
      second.err,
      new RegExp(
        `run ${DAY_B} SUPERSEDED: run \\S+ of ${DAY_B} ends superseded: run ${firstRun} of the same date is running`,
      ),
    );
    assert.doesNotMatch(second.err, /FAILED/);
    await assertNoticesSince(dataDir, alertsBefore, 1);
    // As after one run: the seeded day has no bad rows, so every order is loaded, once.
    const expected = await ordersOf(dataDir, DAY_B);
    assert.equal(expected, 20_000);

    // Act: a rerun of the date once both have ended
    const rerun = await cartflow(dataDir, 'run', '--date', DAY_B);

    // Assess
    assert.equal(rerun.code, 0, rerun.err);
    assert.equal(await ordersOf(dataDir, DAY_B), expected);

    // Prepare: a backfill over both dates while a run of the second is in progress. The run is this
    // process holding the date's claim and its runner's lock as a runner does, so the race does not
    // depend on timing.
    const runner = await openDatabase({ dataDir: join(dataDir, 'postgres'), database: 'warehouse' });
    await runner.query('SELECT pg_advisory_lock($1, $2)', runLockKeys('held-by-test'));
    await runner.query(
      `INSERT INTO ops.pipeline_run (run_id, business_date, status, started_at) VALUES ('held-by-test', $1, 'RUNNING', now())`,
      [DAY_B],
    );
    await runner.query(
      `UPDATE ops.run_claim SET run_id = 'held-by-test', claimed_at = now() AT TIME ZONE 'UTC' WHERE business_date = $1`,
      [DAY_B],
    );

    // Act
    const backfill = await cartflow(
      dataDir,
      'backfill',
      '--from',
      DAY_A,
      '--to',
      DAY_B,
      '--concurrency',
      '2',
      // Both dates succeeded above: without --force the backfill would skip them, racing nothing.
      '--force',
    );
    await runner.query(`DELETE FROM ops.pipeline_run WHERE run_id = 'held-by-test'`);
    await runner.close();

    // Assess: the raced date ends superseded by the holder, the other one runs.
    assert.equal(backfill.code, 1);
    assert.match(
      backfill.out,
      new RegExp(`${DAY_B}\\s+SUPERSEDED.*run held-by-test of the same date is running`),
    );
    assert.match(backfill.out, new RegExp(`${DAY_A}\\s+SUCCEEDED`), backfill.err);
    assert.equal(await ordersOf(dataDir, DAY_A), ordersA);
    assert.equal(await ordersOf(dataDir, DAY_B), expected);
    // The first run, the rerun and the backfill's DAY_A published; nobody failed.
    await assertNoticesSince(dataDir, alertsBefore, 3);
  });
});
