/**
 * One batch run per business date. ResolveRun claims the date in ops.run_claim: the first run of a date takes
 * it; a second run while the holder lives ends superseded (SupersededRunError, a Succeed state, no alert).
 * A holder that finished (SUCCEEDED, FAILED, SUPERSEDED) or whose claim is older than the state machine's
 * timeout, which no execution outlives, is taken over: reruns and retries of the date still run.
 * PublishDate checks the claim again, so a redriven run whose date another run took since publishes nothing.
 */
import { SupersededRunError } from './errors';
import { claimRunStatements, recordRunStatements, runClaimSql } from './sql';

/** The ops.pipeline_run statuses of a run that no longer runs. */
export const FINISHED_RUN_STATUSES = ['SUCCEEDED', 'FAILED', 'SUPERSEDED'] as const;

export interface ClaimWarehouse {
  executeBatch(statements: string[]): Promise<void>;
  query<T>(sql: string): Promise<T[]>;
}

export interface ClaimOptions {
  /** The state machine's timeout: a claim older than this is an execution that no longer runs. */
  timeoutMinutes: number;
  /**
   * Whether the holder's execution still runs, where the runtime knows it better than ops.pipeline_run:
   * a local runner killed with SIGKILL records nothing (on AWS, run-failed records the abort).
   */
  isRunning?: (runId: string) => Promise<boolean>;
  now?: Date;
}

interface ClaimRow {
  run_id: string;
  status: string | null;
  expired: number | string;
}

/** The date's claim: its holder and whether that run still runs (a rebuild refuses a live one). */
export async function holderOf(
  warehouse: ClaimWarehouse,
  businessDate: string,
  { timeoutMinutes, isRunning, now = new Date() }: ClaimOptions,
): Promise<{ runId: string; live: boolean } | undefined> {
  const [row] = await warehouse.query<ClaimRow>(
    runClaimSql(businessDate, new Date(now.getTime() - timeoutMinutes * 60_000)),
  );
  if (!row) return undefined;
  const finished = (FINISHED_RUN_STATUSES as readonly (string | null)[]).includes(row.status);
  const live = !finished && Number(row.expired) === 0 && (isRunning ? await isRunning(row.run_id) : true);
  return { runId: row.run_id, live };
}

/** Claims the date for `runId` (idempotent for its holder), or throws SupersededRunError naming the holder. */
export async function claimDate(
  warehouse: ClaimWarehouse,
  run: { runId: string; businessDate: string },
  options: ClaimOptions,
): Promise<void> {
  const before = await holderOf(warehouse, run.businessDate, options);
  if (before?.runId === run.runId) return;
  if (before?.live) throw superseded(run, before.runId, 'is running');
  await warehouse.executeBatch(
    claimRunStatements(run.businessDate, run.runId, options.now ?? new Date(), before?.runId),
  );
  const after = await holderOf(warehouse, run.businessDate, options);
  if (after && after.runId !== run.runId)
    throw superseded(run, after.runId, 'claimed it at the same moment and is running');
}

/**
 * PublishDate's check: the date is still the run's (or nobody's: a run started before claims existed).
 * A redrive resumes after ResolveRun, so a run whose date was taken over meanwhile must not publish.
 */
export async function assertClaimHeld(
  warehouse: ClaimWarehouse,
  run: { runId: string; businessDate: string },
): Promise<void> {
  // Whoever holds it, live or not: only the holder publishes.
  const holder = await holderOf(warehouse, run.businessDate, { timeoutMinutes: 0 });
  if (holder && holder.runId !== run.runId)
    throw superseded(run, holder.runId, 'took the date over since this run started');
}

const superseded = (run: { runId: string; businessDate: string }, holder: string, what: string) =>
  new SupersededRunError(
    `run ${run.runId} of ${run.businessDate} ends superseded: run ${holder} of the same date ${what} and ` +
      'publishes it (ops.run_claim); nothing to do, or run the date again once it has finished',
  );

/** The superseded run's own row: it ran, it published nothing, and it no longer holds anything. */
export function supersededRunStatements(
  run: { runId: string; businessDate: string; startedAt: string },
  error: SupersededRunError,
): string[] {
  return recordRunStatements({
    ...run,
    status: 'SUPERSEDED',
    finishedAt: new Date(),
    message: error.message,
    datasets: [],
    checks: [],
  });
}
