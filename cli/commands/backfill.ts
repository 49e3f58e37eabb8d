import { dateRange } from '../../lambdas/core/dates';
import { datasetLoads } from '../../lambdas/core/run-record';
import { AbandonedWaitError, stateMachineRuns } from '../aws/step-functions';
import {
  ProgressBar,
  runBackfill,
  summaryTable,
  warehouseLedger,
  type BackfillTarget,
  type DateOutcome,
} from '../../local/backfill';
import { failedStateOf } from '../../local/failure-line';
import type { LocalRuntime } from '../../local/runtime';
import { dateOption, intOption, type Command } from './command';

export const command: Command = {
  usage: `backfill --from D1 --to D2 [--concurrency N] [--force]
                                              run a range of dates, N at a time (default 1); dates that
                                              succeeded before are skipped unless --force; Ctrl-C starts no
                                              new date (twice: abandons the running ones); rerun to resume`,
  quietSteps: true,
  aws: true,
  dataApiUse:
    'to skip the dates that succeeded before, from ops.pipeline_run; --force runs every date without it',
  async run({ values, out, err, runtime, aws }) {
    const dates = dateRange(dateOption(values, 'from'), dateOption(values, 'to'));
    let concurrency = Math.max(1, intOption(values, 'concurrency', 1));
    let target: BackfillTarget;
    if (aws) {
      const environment = await aws();
      // The warehouse is a shared pool: never more at once than the environment allows, whatever --concurrency says.
      concurrency = Math.min(concurrency, environment.maxConcurrentRuns);
      target = stateMachineRuns(environment).target();
    } else target = localTarget(await runtime());
    return interruptible(err, async (stop, abandon) => {
      const progress = new ProgressBar(err, dates.length, concurrency);
      err.write(`backfill ${dates[0]} … ${dates.at(-1)}: ${dates.length} dates, ${concurrency} at a time\n`);
      const outcomes = await runBackfill(target, dates, {
        concurrency,
        force: values.force === true,
        stop,
        abandon,
        progress,
      });
      progress.end();
      out.write(summaryTable(outcomes, values.env));
      return exitCode(outcomes, stop.aborted);
    });
  },
};

/** 0 when every date is loaded, 130 after Ctrl-C (as a shell reports SIGINT), 1 when a date failed. */
export function exitCode(outcomes: DateOutcome[], interrupted: boolean): number {
  if (interrupted) return 130;
  return outcomes.every((o) => o.status === 'SUCCEEDED' || o.status === 'SKIPPED') ? 0 : 1;
}

/**
 * Runs `work` with Ctrl-C handled: the first SIGINT aborts `stop` (no new dates), the second `abandon`
 * (stop waiting). The process's own SIGINT handling is back once the work ends.
 */
export async function interruptible(
  err: NodeJS.WritableStream,
  work: (stop: AbortSignal, abandon: AbortSignal) => Promise<number>,
): Promise<number> {
  const stop = new AbortController();
  const abandon = new AbortController();
  const onSigint = () => {
    if (!stop.signal.aborted) {
      err.write(
        '\ninterrupted: starting no new date; waiting for the running ones (Ctrl-C again to abandon them)\n',
      );
      stop.abort();
    } else {
      err.write(
        '\nabandoning the running dates: they stay RUNNING in ops.pipeline_run and rerun on resume\n',
      );
      abandon.abort();
    }
  };
  process.on('SIGINT', onSigint);
  try {
    return await work(stop.signal, abandon.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * Waits for one deployed execution (`run`, `retry` --env) with Ctrl-C handled: it stops the wait, not the
 * execution, which goes on in Step Functions. Undefined when stopped (the command exits 130).
 */
export async function waitUnlessInterrupted<T>(
  err: NodeJS.WritableStream,
  work: (abandon: AbortSignal) => Promise<T>,
): Promise<T | undefined> {
  const abandon = new AbortController();
  const onSigint = () => abandon.abort();
  process.on('SIGINT', onSigint);
  try {
    return await work(abandon.signal);
  } catch (error) {
    if (!(error instanceof AbandonedWaitError)) throw error;
    err.write(`\n${error.message}\n`);
    return undefined;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The local runtime: runs and their rows from ops.pipeline_run / ops.dataset_load in the local warehouse. */
function localTarget(local: LocalRuntime): BackfillTarget {
  return {
    succeeded: (dates) => warehouseLedger(local.warehouse).succeeded(dates),
    async runDate(date) {
      const outcome = await local.runBatch({ businessDate: date });
      if (outcome.superseded !== undefined)
        return { status: 'SUPERSEDED', run: outcome.runId, reason: outcome.superseded };
      const failedStep = failedStateOf(outcome);
      return {
        status: outcome.status,
        run: outcome.runId,
        // What RecordRun writes to ops.dataset_load, so a later skip shows the same figure.
        rows: outcome.state && datasetLoads(outcome.state).reduce((sum, d) => sum + d.rowsLoaded, 0),
        ...(outcome.status === 'SUCCEEDED'
          ? {}
          : {
              reason:
                `${failedStep ? `${failedStep}: ` : ''}${outcome.error?.name ?? ''} ${outcome.error?.message ?? ''}`.trim(),
              failure: { state: failedStep, error: outcome.error },
            }),
      };
    },
  };
}
