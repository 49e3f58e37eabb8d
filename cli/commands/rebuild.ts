import { HANDLER_ENV } from '../../lambdas/contract';
import { dateRange } from '../../lambdas/core/dates';
import { engineSettingsFromEnv } from '../../lambdas/core/engine/engine';
import { step as ensureWarehouseStep } from '../../lambdas/handlers/ensure-warehouse';
import type { AwsEnvironment } from '../aws/environment';
import { lakeStepsOf } from '../aws/lake-steps';
import { failureLines } from '../../local/failure-line';
import {
  CuratedFilesMissingError,
  DateRunningError,
  NO_SOURCE,
  rebuildFromLake,
  rebuildSummary,
  type RebuildServices,
} from '../rebuild';
import type { LocalServices } from '../../local/runtime';
import { dateOption, type Command } from './command';

export const command: Command = {
  usage: `rebuild --from D1 --to D2                   reload the warehouse's tables for those dates from the lake (curated
                                              Parquet + compacted event files), never the source; refuses dates
                                              whose curated files are gone; prints the rebuild rate`,
  quietSteps: true,
  aws: true,
  dataApiUse: 'to load the tables of the warehouse',
  async run({ values, out, err, services, aws }) {
    const dates = dateRange(dateOption(values, 'from'), dateOption(values, 'to'));
    const target = aws ? awsTarget(await aws(), err) : await localRebuildTarget(await services());
    err.write(
      `rebuild ${dates[0]} … ${dates.at(-1)} from s3://${target.lake.bucket}: ${dates.length} dates\n`,
    );
    let published = 0;
    let result;
    try {
      result = await rebuildFromLake(target, dates, {
        onDate: (d, i, total) => {
          published = i + 1;
          err.write(`[${i + 1}/${total}] ${d.date} published in ${(d.ms / 1000).toFixed(1)} s (${d.run})\n`);
        },
      });
    } catch (error) {
      // A refused range loaded nothing, and its message says what to run instead.
      if (error instanceof CuratedFilesMissingError || error instanceof DateRunningError) throw error;
      // Every date before the failed one is published: the rebuild goes on from it.
      const failed = dates[published];
      const on = values.env === undefined ? '' : ` --env ${values.env}`;
      const { name, message } = error as Error;
      out.write(
        failureLines(
          { name, message },
          failed,
          `cartflow rebuild --from ${failed} --to ${dates.at(-1)}${on}`,
        ),
      );
      return 1;
    }
    out.write(rebuildSummary(result));
    return 0;
  },
};

/** The local services: the warehouse's schema made first (a lost warehouse has none), as the batch does. */
export async function localRebuildTarget(local: LocalServices): Promise<RebuildServices> {
  await local.build(ensureWarehouseStep)(undefined);
  return {
    lake: local.lake,
    warehouse: local.warehouse,
    build: (step) => local.build(step, { source: NO_SOURCE }),
    copyRoleArn: local.env[HANDLER_ENV.copyRoleArn]!,
    engine: engineSettingsFromEnv(local.env),
    runTimeoutMinutes: local.slaMinutes,
  };
}

/**
 * The deployed environment's lake and warehouse (Data API as the caller's IAM identity, which needs the
 * writer's grants); the steps run here, built over them. The schema is the stack's: after a lost warehouse,
 * `cdk deploy` (its WarehouseSchema custom resource) creates it before the rebuild.
 */
function awsTarget(environment: AwsEnvironment, err: NodeJS.WritableStream): RebuildServices {
  const { copyRoleArn, env, adapters } = lakeStepsOf(environment, err);
  return {
    lake: environment.lake,
    warehouse: environment.warehouse,
    build: (step) => step.make(adapters, step.settings(env)),
    copyRoleArn,
    engine: engineSettingsFromEnv(env),
    runTimeoutMinutes: environment.slaMinutes,
  };
}
