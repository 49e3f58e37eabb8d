/**
 * The batch steps run from this machine over a deployed environment's lake and warehouse, reading the lake
 * only (`rebuild --env`, `compare --env`): the Data API as the caller's IAM identity, which needs the
 * writer's grants, and the COPY role of the stack.
 */
import { localLogger, RecordedMetrics } from '../../lambdas/adapters/observability';
import type { Adapters } from '../../lambdas/adapters/ports';
import { HANDLER_ENV } from '../../lambdas/contract';
import type { Env } from '../../lambdas/core/settings';
import { NO_SOURCE } from '../rebuild';
import { StackNotFoundError, stackNameOf, type AwsEnvironment } from './environment';

export interface LakeSteps {
  /** The stack's COPY role (output CopyRoleArn). */
  copyRoleArn: string;
  /** The steps' settings: this process's environment, the COPY role and `settings`. */
  env: Env;
  adapters: Adapters;
}

/** Refuses a stack deployed before it had the CopyRoleArn output. Alerts go to `err`. */
export function lakeStepsOf(
  environment: AwsEnvironment,
  err: NodeJS.WritableStream,
  settings: Env = {},
): LakeSteps {
  const { copyRoleArn } = environment.outputs;
  if (!copyRoleArn)
    throw new StackNotFoundError(
      `stack ${stackNameOf(environment.envName)} has no output CopyRoleArn; redeploy it with this version`,
    );
  const env = { ...process.env, [HANDLER_ENV.copyRoleArn]: copyRoleArn, ...settings };
  return {
    copyRoleArn,
    env,
    adapters: {
      lake: environment.lake,
      warehouse: environment.warehouse,
      source: NO_SOURCE,
      alerts: { publish: async (subject, message) => void err.write(`${subject}\n${message}\n`) },
      logger: localLogger(env),
      metrics: new RecordedMetrics(),
    },
  };
}
