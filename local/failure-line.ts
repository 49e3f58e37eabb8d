/**
 * The last lines of a command that failed: the failed step with its own error (name and message), then the
 * command to run next. Every command that runs a state machine ends this way, locally and with --env.
 */
import { LAKE } from '../lambdas/contract';
import { QUALITY_GATE_ERROR, type StepError } from '../lambdas/steps';

export const errorText = (error: StepError): string =>
  error.message ? `${error.name}: ${error.message}` : error.name;

/** What ran, as much as finding the failed step needs (the local runner's ExecutionOutcome). */
interface RanSteps {
  steps?: { state: string; status: string }[];
  stop?: { state?: string };
}

/** The step that failed first (a caught failure too), else where the execution stopped (a Fail state). */
export const failedStateOf = (outcome: RanSteps): string | undefined =>
  outcome.steps?.find((s) => s.status === 'failed' || s.status === 'caught')?.state ?? outcome.stop?.state;

/**
 * What to run after a batch run of `date` failed: a quality gate fails again on the same data, so the data
 * is corrected and the date run again; anything else resumes the run from its failed step.
 */
export function nextAfterBatch(
  error: StepError | undefined,
  date: string,
  run?: string,
  env?: string,
): string {
  const on = env === undefined ? '' : ` --env ${env}`;
  if (error?.name === QUALITY_GATE_ERROR) {
    const report = run ? ` (cartflow report ${run}${on} shows the failed checks and their rows)` : '';
    return `correct the source data of ${date}${report}, then: cartflow run --date ${date}${on}`;
  }
  return run ? `cartflow retry ${run}${on}` : `cartflow run --date ${date}${on}`;
}

/** What to run after a catalog refresh of `files` failed: its files, corrected, dropped again. */
export function nextAfterRefresh(error: StepError | undefined, files: string[]): string {
  // A file that failed its gate was moved whole to the rejected zone; the notice above names where.
  const named = files.map((f) => f.slice(f.lastIndexOf('/') + 1)).join(', ');
  return error?.name === QUALITY_GATE_ERROR
    ? `correct ${named} (set aside under ${LAKE.catalogRejected} with its quality report), then: cartflow drop <corrected file>`
    : `once the cause is fixed: cartflow drop <file> (a refresh takes every file still in ${LAKE.catalogLanding})`;
}

/** `FAILED at <state>: <Error>: <message>` and `next: <command>`, each a line. */
export function failureLines(
  error: StepError | undefined,
  state: string | undefined,
  next: string,
  status = 'FAILED',
): string {
  const what = error ? errorText(error) : 'no error recorded';
  return `${status}${state ? ` at ${state}` : ''}: ${what}\nnext: ${next}\n`;
}
