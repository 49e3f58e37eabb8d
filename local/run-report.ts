/**
 * The local runner is the execution history: after a batch run it renders the run's report again with
 * every attempt's start and duration, over the report the run's last step wrote from its state.
 */
import type { Adapters } from '../lambdas/adapters/ports';
import { writeRunReport } from '../lambdas/adapters/run-report';
import type { FinishedState } from '../lambdas/core/report/from-state';
import type { ShadowComparison, Timeline } from '../lambdas/core/report/model';
import { QUALITY_GATE_ERROR } from '../lambdas/steps';
import { STEP_STATUS } from './run-journal';
import type { ExecutionOutcome } from './step-functions';

/** The runner's step log as a report timeline, in start order. */
export function timelineOfSteps(steps: ExecutionOutcome['steps']): Timeline {
  return {
    source: 'execution',
    steps: [...steps]
      .sort((a, b) => a.startedAt - b.startedAt)
      .map((s) => ({
        state: s.state,
        status: STEP_STATUS[s.status],
        startedAt: new Date(s.startedAt).toISOString(),
        ms: s.ms,
        ...(s.error !== undefined && { error: s.error }),
      })),
  };
}

/** Rewrites the finished run's report with its timeline; nothing when the run never got a run id. */
export async function reportWithTimeline(
  adapters: Pick<Adapters, 'lake' | 'warehouse'>,
  outcome: ExecutionOutcome,
): Promise<string | undefined> {
  // A failed run's state is where it stopped (what the run-failed step reads from the history).
  const stopped = outcome.stop?.input as FinishedState | undefined;
  const gate = outcome.error?.name === QUALITY_GATE_ERROR;
  const state: FinishedState | undefined =
    outcome.status === 'SUCCEEDED'
      ? (outcome.output as FinishedState | undefined)
      : stopped && {
          ...stopped,
          ...(gate || !outcome.error
            ? {}
            : { error: { Error: outcome.error.name, Cause: outcome.error.message } }),
        };
  if (state?.run === undefined) return undefined;
  return writeRunReport(adapters, {
    state,
    status: outcome.status === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED',
    timeline: timelineOfSteps(outcome.steps),
    ...(outcome.status === 'SUCCEEDED' ? {} : { failedState: outcome.stop?.state }),
    environment: 'local',
  });
}

/**
 * A shadow run's report (`cartflow compare`): its own figures, its step times, and a section on how it
 * differs from the published run of its date. `adapters.lake` is the shadow's: it lands under its prefix.
 */
export function writeShadowReport(
  adapters: Pick<Adapters, 'lake' | 'warehouse'>,
  state: FinishedState,
  comparison: ShadowComparison,
  timeline: Timeline,
): Promise<string> {
  return writeRunReport(adapters, {
    state,
    status: state.validation?.passed === false ? 'FAILED' : 'SUCCEEDED',
    timeline,
    environment: 'local (shadow run)',
    comparison,
  });
}
