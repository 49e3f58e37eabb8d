import type { NotifyResult, PipelineState } from '../core/contracts';
import { describeRun, type ExecutionContext } from '../core/run-record';
import { requireEnv, type Env } from '../core/settings';
import { awsHandler } from '../adapters/aws-entry';
import type { Adapters, Step } from '../adapters/ports';
import { HANDLER_ENV } from '../contract';

/** What the NotifySuccess task passes: the run's state and `$$.Execution`. */
export interface NotifyInput {
  state: PipelineState;
  execution?: ExecutionContext;
}

export interface NotifySettings {
  /** The lake bucket, for the quality report's and quarantine's locations. */
  bucket: string;
  /** The config environment the stack was deployed as (`local` on a laptop). */
  environment: string;
}

export const notifySettings = (env: Env): NotifySettings => ({
  bucket: requireEnv(env, HANDLER_ENV.bucket),
  environment: requireEnv(env, HANDLER_ENV.environment),
});

/**
 * Publishes a succeeded run's summary to the alert topic. A failed run's notice (what failed, what to do next)
 * comes from the run-failed step, which the execution's status change invokes.
 */
export function makeNotify({ alerts }: Adapters, settings: NotifySettings) {
  return async ({ state, execution }: NotifyInput): Promise<NotifyResult> => {
    const { status, subject, summary } = describeRun(state, { ...settings, execution, now: new Date() });
    await alerts.publish(subject, summary);
    return { status, subject };
  };
}

export const step: Step<NotifySettings, NotifyInput, NotifyResult> = {
  name: 'notify',
  settings: notifySettings,
  make: makeNotify,
};
export const handler = awsHandler(step);
