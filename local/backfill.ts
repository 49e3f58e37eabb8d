/**
 * The backfill driver, the same locally and on AWS: a queue of dates, N at a time, dates that already
 * succeeded skipped, progress with an ETA, a stop that starts no new date, and one outcome per date.
 */

import { assertBusinessDate } from '../lambdas/core/dates';
import { SupersededRunError } from '../lambdas/core/errors';
import { literal } from '../lambdas/core/sql';
import type { StepError } from '../lambdas/steps';
import { failureLines, nextAfterBatch } from './failure-line';

const assertDate = (date: string) => assertBusinessDate(date, 'date');

export type DateStatus =
  | 'SUCCEEDED'
  | 'FAILED'
  | 'SKIPPED'
  /** Another run of the date held it (core/run-claim.ts): that run publishes the date, this one nothing. */
  | 'SUPERSEDED'
  | 'NOT STARTED'
  | 'ABANDONED'
  | 'TIMED_OUT'
  | 'ABORTED';

export interface DateOutcome {
  date: string;
  status: DateStatus;
  /** Wall time of this backfill's run of the date (0 when it did not run it). */
  ms: number;
  /** Rows loaded by the run (the succeeded run's, for a skipped date). */
  rows?: number;
  /** The run (execution name) that ran or had run the date. */
  run?: string;
  /** Why it was skipped, failed or not run. */
  reason?: string;
  /** A failed run's failed step and its own error: the summary's last lines, with the command to run next. */
  failure?: { state?: string; error?: StepError };
}

/** Where the dates run: the local runtime or a deployed state machine. */
export interface BackfillTarget {
  /** The runs among `dates` that already succeeded (latest per date). */
  succeeded(dates: string[]): Promise<Map<string, { run: string; rows?: number }>>;
  /**
   * Runs one date to its end; `force` runs it even when it succeeded before. `abandon` aborted: stop waiting
   * for it (rejects; the backfill reports the date ABANDONED).
   */
  runDate(date: string, force: boolean, abandon?: AbortSignal): Promise<Omit<DateOutcome, 'date' | 'ms'>>;
}

/** The run records in ops.* (local warehouse or Redshift through the Data API): what succeeded, rows loaded. */
export interface RunLedger {
  succeeded(dates: string[]): Promise<Map<string, { run: string; rows?: number }>>;
  rowsOf(runId: string): Promise<number | undefined>;
  /**
   * A run of the same business date that started after `runId` and succeeded: redriving `runId` would
   * republish older data over it (and PublishDate dropped its stage tables).
   */
  succeededAfter(runId: string): Promise<string | undefined>;
}

/** `retry` of a run whose date a later run has published since (RunLedger.succeededAfter), locally and on AWS. */
export const redriveSuperseded = (run: string, later: string) =>
  new SupersededRunError(
    `run ${run} is not redriven: run ${later} of the same date started later and succeeded, so a redrive ` +
      'would publish older data over it; run the date again instead (cartflow run --date <date>)',
  );

/** A RunLedger over any warehouse that answers SQL (PostgreSQL and Redshift both take this SQL). */
export function warehouseLedger(warehouse: { query<T>(sql: string): Promise<T[]> }): RunLedger {
  const runs = async (where: string) =>
    (
      await warehouse.query<{ business_date: string; run_id: string; rows: string | number | null }>(
        `SELECT to_char(r.business_date, 'YYYY-MM-DD') AS business_date, r.run_id,
                max(r.finished_at) AS finished_at, sum(d.rows_loaded) AS rows
         FROM ops.pipeline_run r LEFT JOIN ops.dataset_load d ON d.run_id = r.run_id
         WHERE ${where} GROUP BY 1, 2 ORDER BY 3`,
      )
    ).map((r) => ({ date: r.business_date, run: r.run_id, rows: r.rows === null ? 0 : Number(r.rows) }));
  return {
    async succeeded(dates) {
      if (dates.length === 0) return new Map();
      const found = await runs(
        `r.status = 'SUCCEEDED' AND r.business_date IN (${dates.map((d) => `'${assertDate(d)}'`).join(', ')})`,
      );
      // Ordered by finish: the latest success of a date wins.
      return new Map(found.map((r) => [r.date, { run: r.run, rows: r.rows }]));
    },
    async rowsOf(runId) {
      const found = await runs(`r.run_id = ${literal(runId)}`);
      return found[0]?.rows;
    },
    async succeededAfter(runId) {
      const [later] = await warehouse.query<{ run_id: string }>(
        `SELECT l.run_id FROM ops.pipeline_run l JOIN ops.pipeline_run f ON l.business_date = f.business_date
         WHERE f.run_id = ${literal(runId)} AND l.run_id <> f.run_id
           AND l.status = 'SUCCEEDED' AND l.started_at > f.started_at
         ORDER BY l.started_at DESC LIMIT 1`,
      );
      return later?.run_id;
    },
  };
}

export interface BackfillOptions {
  concurrency: number;
  force: boolean;
  /** Aborted: start no new date, let the running ones end. */
  stop?: AbortSignal;
  /** Aborted: stop waiting for the running ones too (they are reported ABANDONED). */
  abandon?: AbortSignal;
  progress?: BackfillProgress;
}

export interface BackfillProgress {
  started(date: string): void;
  finished(outcome: DateOutcome): void;
}

/** Runs `dates` against `target`; the outcomes come back in date order. */
export async function runBackfill(
  target: BackfillTarget,
  dates: string[],
  options: BackfillOptions,
): Promise<DateOutcome[]> {
  const outcomes = new Map<string, DateOutcome>();
  const done = (outcome: DateOutcome) => {
    outcomes.set(outcome.date, outcome);
    options.progress?.finished(outcome);
  };
  const before = options.force ? new Map() : await target.succeeded(dates);
  const queue: string[] = [];
  for (const date of dates) {
    const prior = before.get(date);
    if (prior) done({ date, status: 'SKIPPED', ms: 0, ...prior, reason: 'succeeded before' });
    else queue.push(date);
  }
  const worker = async () => {
    for (let date = queue.shift(); date !== undefined; date = queue.shift()) {
      if (options.stop?.aborted) {
        queue.unshift(date);
        return;
      }
      // Another backfill may have finished the date since the range was checked.
      const meanwhile = options.force ? undefined : (await target.succeeded([date])).get(date);
      if (meanwhile) {
        done({ date, status: 'SKIPPED', ms: 0, ...meanwhile, reason: 'succeeded elsewhere meanwhile' });
        continue;
      }
      options.progress?.started(date);
      const started = Date.now();
      try {
        const result = await target.runDate(date, options.force, options.abandon);
        done({ date, ms: Date.now() - started, ...result });
      } catch (error) {
        // Stopped waiting (Ctrl-C twice): the date is ABANDONED below, not FAILED.
        if (options.abandon?.aborted) return;
        done({ date, status: 'FAILED', ms: Date.now() - started, reason: (error as Error).message });
      }
    }
  };
  const workers = Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  await Promise.race([workers, aborted(options.abandon)]);
  for (const date of queue) outcomes.set(date, { date, status: 'NOT STARTED', ms: 0, reason: 'interrupted' });
  // Whatever started and has no outcome was running when the backfill stopped waiting.
  for (const date of dates)
    if (!outcomes.has(date))
      outcomes.set(date, { date, status: 'ABANDONED', ms: 0, reason: 'interrupted while running' });
  return dates.map((date) => outcomes.get(date)!);
}

const aborted = (signal: AbortSignal | undefined) =>
  new Promise<void>((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

const seconds = (ms: number) =>
  ms >= 60_000
    ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
    : `${(ms / 1000).toFixed(1)} s`;

/**
 * Progress on stderr: a bar redrawn in place on a terminal, one plain line per finished date otherwise
 * (logs, CI). The ETA is the mean run time of the dates run so far × the dates left ÷ the concurrency.
 */
export class ProgressBar implements BackfillProgress {
  private finishedCount = 0;
  private ranMs = 0;
  private ran = 0;
  private failed = 0;
  private readonly running = new Set<string>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly total: number,
    private readonly concurrency: number,
    private readonly tty = (out as NodeJS.WriteStream).isTTY === true,
  ) {}

  started(date: string): void {
    this.running.add(date);
    if (this.tty) this.draw();
  }

  finished(outcome: DateOutcome): void {
    this.running.delete(outcome.date);
    this.finishedCount++;
    if (outcome.status !== 'SKIPPED') {
      this.ran++;
      this.ranMs += outcome.ms;
    }
    if (outcome.status !== 'SUCCEEDED' && outcome.status !== 'SKIPPED') this.failed++;
    if (this.tty) {
      this.draw();
      return;
    }
    const took = outcome.status === 'SKIPPED' ? `(${outcome.reason})` : `in ${seconds(outcome.ms)}`;
    this.out.write(
      `[${this.finishedCount}/${this.total}] ${outcome.date} ${outcome.status} ${took}${this.eta()}\n`,
    );
  }

  /** Ends the bar's line on a terminal before the summary follows. */
  end(): void {
    if (this.tty) this.out.write('\n');
  }

  private eta(): string {
    const left = this.total - this.finishedCount;
    if (left === 0) return ` · done in ${seconds(Date.now() - this.startedAt)}`;
    if (this.ran === 0) return '';
    return ` · ETA ${seconds(((this.ranMs / this.ran) * left) / this.concurrency)}`;
  }

  private draw(): void {
    const width = 24;
    const filled = Math.round((this.finishedCount / Math.max(1, this.total)) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const failed = this.failed ? ` · ${this.failed} failed` : '';
    this.out.write(
      `\r\x1b[2K${bar} ${this.finishedCount}/${this.total} dates · ${this.running.size} running${failed}${this.eta()}`,
    );
  }
}

/**
 * The summary table: one line per date; with --env, `env` goes into the next commands. A backfill's ends
 * with its totals; a single run's (`run`, `retry`) has none.
 */
export function summaryTable(
  outcomes: DateOutcome[],
  env?: string,
  kind: 'backfill' | 'run' = 'backfill',
): string {
  const rows = outcomes.map((o) => [
    o.date,
    o.status,
    o.ms ? seconds(o.ms) : '-',
    o.rows === undefined ? '-' : String(o.rows),
    o.run ?? '',
    o.reason ?? '',
  ]);
  const header = ['date', 'status', 'duration', 'rows', 'run', 'note'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  const totals = [...counts].map(([status, n]) => `${n} ${status.toLowerCase()}`).join(', ');
  // Each failed date's step, error and next command last, where a reader of the output looks first.
  const failures = outcomes.flatMap((o) =>
    o.failure
      ? [
          `${o.date} ${failureLines(o.failure.error, o.failure.state, nextAfterBatch(o.failure.error, o.date, o.run, env), o.status).trimEnd()}`,
        ]
      : [],
  );
  return [
    line(header),
    ...rows.map(line),
    '',
    ...(kind === 'backfill' ? [`backfill ${outcomes.length} dates: ${totals}`] : []),
    ...failures,
    '',
  ].join('\n');
}
