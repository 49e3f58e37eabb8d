import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { seedDay } from '../../../cli/commands/batch';
import { startLocalServices } from '../../../local/runtime';
import { cartflow, spawnCartflow } from '../../support/cartflow-cli';

const DATES = [
  '2026-05-01',
  '2026-05-02',
  '2026-05-03',
  '2026-05-04',
  '2026-05-05',
  '2026-05-06',
  '2026-05-07',
];
const ORDERS = 20;

async function seedDates(dataDir: string, dates: string[]) {
  const services = await startLocalServices({ dataDir });
  try {
    for (const date of dates) await seedDay(services, { orders: String(ORDERS) }, date, ORDERS);
  } finally {
    await services.close();
  }
}

/** Each analytics table's rows as one digest, and the runs per date and status, as CSV. */
async function warehouseState(dataDir: string) {
  const tables = ['dim_product', 'fact_order', 'fact_order_item', 'agg_daily_sales'];
  const digests = await cartflow(
    'query',
    tables
      .map(
        (t) =>
          `SELECT '${t}' AS t, md5(string_agg(x::text, '|' ORDER BY x::text)) AS d FROM analytics.${t} x`,
      )
      .join(' UNION ALL ') + ' ORDER BY 1',
    '--data-dir',
    dataDir,
  );
  const runs = await cartflow(
    'query',
    `SELECT business_date, status, count(*) AS runs FROM ops.pipeline_run GROUP BY 1, 2 ORDER BY 1, 2`,
    '--data-dir',
    dataDir,
  );
  const orders = await cartflow(
    'query',
    'SELECT order_date, count(*) AS orders FROM analytics.fact_order GROUP BY 1 ORDER BY 1',
    '--data-dir',
    dataDir,
  );
  return { digests: digests.out, runs: runs.out, orders: orders.out };
}

const oncePerDate = (dates: string[]) =>
  `business_date,status,runs\n${dates.map((d) => `${d},SUCCEEDED,1\n`).join('')}`;

describe('cartflow backfill', () => {
  const dirs: string[] = [];
  const newDataDir = async () => {
    dirs.push(await mkdtemp(join(tmpdir(), 'cartflow-backfill-')));
    return dirs.at(-1)!;
  };

  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  describe('a 7-day range run twice', () => {
    let dataDir: string;

    before(async () => {
      dataDir = await newDataDir();
      await seedDates(dataDir, DATES);
    });

    it('loads each date once: the second run skips every date and leaves the tables identical', async () => {
      // Act
      const backfillWeek = () =>
        cartflow(
          'backfill',
          '--from',
          DATES[0],
          '--to',
          DATES[6],
          '--concurrency',
          '2',
          '--data-dir',
          dataDir,
        );
      const first = await backfillWeek();
      const afterFirst = await warehouseState(dataDir);
      const second = await backfillWeek();
      const afterSecond = await warehouseState(dataDir);

      // Assess
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /backfill 7 dates: 7 succeeded/);
      assert.match(first.err, /\[7\/7\] \d{4}-\d\d-\d\d SUCCEEDED in [\d.]+ s · done in/);
      assert.equal(second.code, 0, second.err);
      assert.match(second.out, /backfill 7 dates: 7 skipped/);
      for (const date of DATES) assert.match(second.out, new RegExp(`${date}  SKIPPED .* succeeded before`));
      assert.equal(afterFirst.runs, oncePerDate(DATES));
      assert.deepEqual(afterSecond, afterFirst);
      assert.equal(afterFirst.orders, `order_date,orders\n${DATES.map((d) => `${d},${ORDERS}\n`).join('')}`);
    });

    it('--force runs a date again, replacing its rows rather than adding to them', async () => {
      // Prepare
      const before = await warehouseState(dataDir);

      // Act
      const forced = await cartflow(
        'backfill',
        '--from',
        DATES[2],
        '--to',
        DATES[2],
        '--force',
        '--data-dir',
        dataDir,
      );
      const after = await warehouseState(dataDir);

      // Assess
      assert.equal(forced.code, 0, forced.err);
      assert.match(forced.out, new RegExp(`${DATES[2]}  SUCCEEDED`));
      assert.equal(after.digests, before.digests);
      assert.match(after.runs, new RegExp(`${DATES[2]},SUCCEEDED,2`));
    });
  });

  it('stopped by Ctrl-C, then killed midway, the same command resumes and loads every date once', async () => {
    // Prepare
    const dates = DATES.slice(0, 4);
    const dataDir = await newDataDir();
    await seedDates(dataDir, dates);
    const args = ['backfill', '--from', dates[0], '--to', dates[3], '--data-dir', dataDir];

    // Act
    const interrupted = spawnCartflow(args);
    await interrupted.stderrMatches(/\[1\/4\] \S+ SUCCEEDED/);
    interrupted.child.kill('SIGINT');
    const stopped = await interrupted.exited;
    const killed = spawnCartflow(args);
    await killed.stderrMatches(/\[\d\/4\] \S+ SUCCEEDED in/);
    killed.child.kill('SIGKILL');
    await killed.exited;
    const resumed = await cartflow(...args);
    const state = await warehouseState(dataDir);

    // Assess
    assert.equal(stopped.code, 130, interrupted.printed.err);
    assert.match(interrupted.printed.err, /interrupted: starting no new date/);
    assert.match(interrupted.printed.out, /NOT STARTED/);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.out, /SKIPPED/);
    assert.equal(state.orders, `order_date,orders\n${dates.map((d) => `${d},${ORDERS}\n`).join('')}`);
    // Each date succeeded exactly once; a run the kill cut short may stay RUNNING beside it.
    assert.deepEqual(
      state.runs.split('\n').filter((l) => l.includes('SUCCEEDED')),
      oncePerDate(dates)
        .split('\n')
        .filter((l) => l.includes('SUCCEEDED')),
    );
  });
});
