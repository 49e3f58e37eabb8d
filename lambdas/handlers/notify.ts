import type { NotifyResult, PipelineState } from '../core/contracts';
import { describeRun } from '../core/run-record';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';

/** Publishes the run summary (success) or the reason it failed to the alert topic. */
export function makeNotify({ alerts }: Adapters) {
  return async (state: PipelineState): Promise<NotifyResult> => {
    const { status, subject, summary } = describeRun(state);
    await alerts.publish(subject, summary);
    return { status, summary };
  };
}

export const step: Step<void, PipelineState, NotifyResult> = { settings: () => undefined, make: makeNotify };
export const handler = awsHandler(step);
