import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { layout } from '../../lambdas/core/layout';
import { literal } from '../../lambdas/core/sql';
import type { LakeStore } from '../../lambdas/adapters/ports';
import type { WarehouseReader } from '../../lambdas/core/freshness';
import { dataDirOf, UsageError, type Command } from './command';

/** Where `report` writes when --out is not given: under the data dir, one file per run. */
export const REPORTS_DIR = 'reports';

export const command: Command = {
  usage: `report [<run>] [--out FILE]                 a run's HTML report (default: the latest run) written to a
                                              file (default: <data-dir>/${REPORTS_DIR}/<run>.html, with --env
                                              <data-dir>/${REPORTS_DIR}/<env>/<run>.html); prints its path`,
  aws: true,
  dataApiUse: 'to find the run in ops.pipeline_run',
  async run({ values, rest, out, services, aws }) {
    if (rest.length > 1) throw new UsageError('report takes at most one run id (cartflow status lists them)');
    let source: ReportSource;
    if (aws) {
      // The deployed run's report, from the stack's lake bucket, read through the Data API's ops.pipeline_run.
      const environment = await aws();
      source = { ...environment, reportsDir: join(dataDirOf(values), REPORTS_DIR, environment.envName) };
    } else {
      const local = await services();
      source = { ...local, reportsDir: join(local.dataDir, REPORTS_DIR) };
    }
    const path = await writeRunReportFile(source, rest[0], values.out);
    out.write(`${path}\n`);
    return 0;
  },
};

/** Where a report is read (ops.pipeline_run and the lake) and where it goes by default. */
export interface ReportSource {
  warehouse: WarehouseReader;
  lake: Pick<LakeStore, 'bucket' | 'list' | 'get'>;
  /** Where the file goes without --out. */
  reportsDir: string;
}

/**
 * Copies a run's report from the lake (its sibling of the quality JSON, which the run's last step wrote; the
 * local runner rewrites it with the step times, a deployed run's has none) to a local file, as it is;
 * `runId` absent: the latest run.
 */
export async function writeRunReportFile(
  local: ReportSource,
  runId: string | undefined,
  outFile: string | undefined,
): Promise<string> {
  // information_schema, not to_regclass: the same query on Redshift (report --env).
  const exists =
    (
      await local.warehouse.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'ops' AND table_name = 'pipeline_run'`,
      )
    ).length > 0;
  const [run] = exists
    ? await local.warehouse.query<{ run_id: string; business_date: string }>(
        `SELECT run_id, CAST(business_date AS VARCHAR) AS business_date FROM ops.pipeline_run
         ${runId === undefined ? '' : `WHERE run_id = ${literal(runId)}`} ORDER BY started_at DESC LIMIT 1`,
      )
    : [];
  if (run === undefined) {
    throw new UsageError(
      runId === undefined
        ? 'no runs yet: run one first (cartflow run --date D)'
        : `no run "${runId}" (cartflow status lists the runs)`,
    );
  }
  const key = layout.runReport(run.business_date.slice(0, 10), run.run_id);
  if (!(await local.lake.list(key)).some((o) => o.key === key)) {
    throw new Error(
      `run ${run.run_id} has no report at s3://${local.lake.bucket}/${key}: RecordRun (success) or Cleanup (failure) writes it, so a run still going or one that stopped before ResolveRun finished has none yet`,
    );
  }
  const path = resolve(outFile ?? join(local.reportsDir, `${run.run_id}.html`));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await local.lake.get(key));
  return path;
}
