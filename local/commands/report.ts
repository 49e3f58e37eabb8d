import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { layout } from '../../lambdas/core/layout';
import { literal } from '../../lambdas/core/sql';
import type { LakeStore } from '../../lambdas/adapters/ports';
import type { WarehouseReader } from '../../lambdas/core/freshness';
import { batchRunOf } from '../aws/step-functions';
import { dataDirOf, UsageError, type Command } from './command';

/** Where `report` writes when --out is not given: under the data dir, one file per run. */
export const REPORTS_DIR = 'reports';

export const command: Command = {
  usage: `report [<run>] [--out FILE]                 a run's HTML report (default: the latest run) written to a
                                              file (default: <data-dir>/${REPORTS_DIR}/<run>.html, with --env
                                              <data-dir>/${REPORTS_DIR}/<env>/<run>.html); prints its path`,
  aws: true,
  async run({ values, rest, out, services, aws }) {
    if (rest.length > 1) throw new UsageError('report takes at most one run id (cartflow status lists them)');
    let source: ReportSource;
    if (aws) {
      // The deployed run's report, from the stack's lake bucket; the run and its date from Step Functions (the
      // run id is the execution name), so no Data API is needed.
      const environment = await aws();
      source = {
        lake: environment.lake,
        findRun: (runId) => batchRunOf(environment.sfn, environment.outputs.batchStateMachineArn, runId),
        reportsDir: join(dataDirOf(values), REPORTS_DIR, environment.envName),
      };
    } else {
      const local = await services();
      source = {
        lake: local.lake,
        findRun: (runId) => pipelineRunOf(local.warehouse, runId),
        reportsDir: join(local.dataDir, REPORTS_DIR),
      };
    }
    const path = await writeRunReportFile(source, rest[0], values.out);
    out.write(`${path}\n`);
    return 0;
  },
};

/** Where a report is read (the run: ops.pipeline_run, or Step Functions with --env; the lake), where it goes. */
export interface ReportSource {
  /** The run `runId` (absent: the latest) and its business date; undefined when there is none. */
  findRun(runId: string | undefined): Promise<{ runId: string; businessDate: string } | undefined>;
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
  const run = await local.findRun(runId);
  if (run === undefined) {
    throw new UsageError(
      runId === undefined
        ? 'no runs yet: run one first (cartflow run --date D)'
        : `no run "${runId}" (cartflow status lists the runs)`,
    );
  }
  const key = layout.runReport(run.businessDate.slice(0, 10), run.runId);
  if (!(await local.lake.list(key)).some((o) => o.key === key)) {
    throw new Error(
      `run ${run.runId} has no report at s3://${local.lake.bucket}/${key}: RecordRun (success) or Cleanup (failure) writes it, so a run still going or one that stopped before ResolveRun finished has none yet`,
    );
  }
  const path = resolve(outFile ?? join(local.reportsDir, `${run.runId}.html`));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, await local.lake.get(key));
  return path;
}

/** The run in the warehouse's ops.pipeline_run (the local runtime's ledger). */
async function pipelineRunOf(
  warehouse: WarehouseReader,
  runId: string | undefined,
): Promise<{ runId: string; businessDate: string } | undefined> {
  const exists =
    (
      await warehouse.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'ops' AND table_name = 'pipeline_run'`,
      )
    ).length > 0;
  if (!exists) return undefined;
  const [run] = await warehouse.query<{ run_id: string; business_date: string }>(
    `SELECT run_id, CAST(business_date AS VARCHAR) AS business_date FROM ops.pipeline_run
     ${runId === undefined ? '' : `WHERE run_id = ${literal(runId)}`} ORDER BY started_at DESC LIMIT 1`,
  );
  return run && { runId: run.run_id, businessDate: run.business_date };
}
