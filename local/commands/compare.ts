import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { HANDLER_ENV } from '../../lambdas/contract';
import { step as ensureWarehouseStep } from '../../lambdas/handlers/ensure-warehouse';
import { loadConfig, qualitySettingsOf } from '../../lib/config';
import type { AwsEnvironment } from '../aws/environment';
import { lakeStepsOf } from '../aws/lake-steps';
import { compareDate, comparisonSummary, type CompareServices } from '../compare';
import { dataDirOf, dateOption, type Command } from './command';
import { REPORTS_DIR } from './report';

/** `compare`'s exit status when the shadow run differs from what is published (0: the same, 1: failed). */
export const DIFFERS_EXIT_CODE = 3;

export const command: Command = {
  usage: `compare --date D [--json] [--out FILE]      a shadow run of the current code for a past date (from its raw
                                              extract, into the shadow schema, never the published tables), then
                                              rows added/removed/changed per table by key, numeric column sums and
                                              quarantined rows per check against what is published, and its HTML
                                              report (default <data-dir>/${REPORTS_DIR}/<shadow run>.html, with --env
                                              <data-dir>/${REPORTS_DIR}/<env>/<shadow run>.html); exit status
                                              0 the same, 3 different, 1 failed; with --env the steps run here
                                              over the environment's lake and warehouse, with its quality threshold`,
  quietSteps: true,
  aws: true,
  dataApiUse: 'to load the shadow tables and compare them with the published ones',
  async run({ values, out, err, services, aws }) {
    const date = dateOption(values, 'date');
    let target: CompareServices;
    let reportsDir: string;
    if (aws) {
      const environment = await aws();
      target = awsCompareTarget(environment, err);
      reportsDir = join(dataDirOf(values), REPORTS_DIR, environment.envName);
      err.write(`compare ${date} on ${environment.envName} (s3://${environment.lake.bucket}): `);
    } else {
      const local = await services();
      // The schema first, as rebuild's: a warehouse made before the shadow schema was in its DDL lacks it.
      await local.build(ensureWarehouseStep)(undefined);
      target = { lake: local.lake, warehouse: local.warehouse, build: local.build };
      reportsDir = join(local.dataDir, REPORTS_DIR);
      err.write(`compare ${date}: `);
    }
    err.write('shadow run of the current code into the shadow schema\n');
    const comparison = await compareDate(target, date);
    const reportFile = resolve(values.out ?? join(reportsDir, `${comparison.shadowRun}.html`));
    await mkdir(dirname(reportFile), { recursive: true });
    await writeFile(reportFile, await target.lake.getText(comparison.report));
    out.write(
      values.json
        ? `${JSON.stringify({ ...comparison, reportFile }, null, 2)}\n`
        : `${comparisonSummary(comparison)}report: ${reportFile}\n`,
    );
    return comparison.differ ? DIFFERS_EXIT_CODE : 0;
  },
};

/**
 * The deployed environment's lake and warehouse (Data API as the caller's IAM identity, which needs the
 * writer's grants, the shadow schema's among them); the shadow run's Transform, Validate and LoadTable run
 * here, built over them, with the environment's quality settings (lib/config.ts) and the COPY role of its
 * stack, which reads the shadow runs' curated files. QUALITY_RULES of this shell still tries a changed rule.
 */
export function awsCompareTarget(environment: AwsEnvironment, err: NodeJS.WritableStream): CompareServices {
  const { env, adapters } = lakeStepsOf(environment, err, {
    [HANDLER_ENV.qualitySettings]: qualitySettingsOf(loadConfig(environment.envName)),
    [HANDLER_ENV.environment]: environment.envName,
  });
  return {
    lake: environment.lake,
    warehouse: environment.warehouse,
    build: (step, extra) => step.make({ ...adapters, ...extra }, step.settings(env)),
  };
}
