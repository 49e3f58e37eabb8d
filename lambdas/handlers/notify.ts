import type { NotifyResult, PipelineState } from '../core/contracts';
import { describeRun } from '../core/run-record';
import { adapters } from '../adapters/context';

/** Publishes the run summary (success) or the reason it failed to the alert topic. */
export const handler = async (state: PipelineState): Promise<NotifyResult> => {
  const { status, subject, summary } = describeRun(state);
  await adapters().alerts.publish(subject, summary);
  return { status, summary };
};
