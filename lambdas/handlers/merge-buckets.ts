import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { bucketKey, mergeBucketReports, perBucket, type BucketReport } from '../core/buckets';
import type {
  BucketValidation,
  PipelineState,
  RunContext,
  TableToLoad,
  ValidationResult,
} from '../core/contracts';
import { writeCurated } from '../core/curation/write-outputs';
import { assertBusinessDate } from '../core/dates';
import { Engine, fileList, sqlLiteral } from '../core/engine/engine';
import { PermanentError } from '../core/errors';
import { layout } from '../core/layout';
import { DATASETS, type BatchTable, type Dataset } from '../core/model';
import { decideGate } from '../core/quality/gate';
import { qualityStepSettings, type QualityStepSettings } from '../core/step-settings';
import { awsHandler } from '../adapters/aws-entry';
import { LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, LakeStore, Step } from '../adapters/ports';
import { METRIC } from '../contract';

/**
 * After the SplitDay Map: the buckets' Validate results as the ONE ValidationResult of the day, so the
 * QualityGate, loads and run record after it are those of the single path. The gate is decided over the
 * day's totals, the day's report and quarantine files are written at their usual keys (the buckets' own
 * quarantine parts are folded in and removed), agg_daily_sales is summed into one file (exact: an order
 * never spans buckets), and curated parts of earlier runs that this run did not write are removed.
 */
export function makeMergeBuckets({ lake, logger, metrics }: Adapters, settings: QualityStepSettings) {
  return async (state: PipelineState): Promise<ValidationResult> => {
    const { run } = state;
    const businessDate = assertBusinessDate(run.businessDate, 'run.businessDate');
    const buckets = state.buckets ?? [];
    const count = state.volume?.count;
    if (count === undefined || buckets.length !== count) {
      throw new PermanentError(
        `MergeBuckets needs $.volume.count and one $.buckets entry per bucket; got ${count} and ${buckets.length}`,
      );
    }
    const reports = await Promise.all(
      buckets.map(async (b) => JSON.parse(await lake.getText(b.reportKey)) as BucketReport),
    );
    const { datasets, checks } = mergeBucketReports(reports, settings.rules, new Date());
    const gate = decideGate(datasets, checks);

    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    try {
      for (const dataset of DATASETS) await foldQuarantine(lake, workspace, businessDate, dataset, count);
      const reportKey = layout.qualityReport(businessDate, run.runId);
      const report = { run, buckets: buckets.map((b) => b.reportKey), gate, datasets, checks };
      await lake.put(reportKey, JSON.stringify(report, null, 2), 'application/json');
      const tables = gate.passed ? await mergeTables(lake, workspace, settings, run, buckets) : [];

      for (const quality of datasets) {
        metrics.count(METRIC.quarantinedRows, quality.rowsQuarantined, { dataset: quality.dataset });
      }
      metrics.count(METRIC.qualityGateFailed, gate.passed ? 0 : 1);
      metrics.flush();
      logger.info('merged buckets', { buckets: count, passed: gate.passed, reason: gate.failureReason });
      return { passed: gate.passed, failureReason: gate.failureReason, reportKey, datasets, checks, tables };
    } finally {
      await workspace.dispose();
    }
  };
}

const partName = (index: number) => `part-${String(index).padStart(5, '0')}.parquet`;

/**
 * The buckets' quarantined rows as the day's one file (bucket order; the products' from the first bucket,
 * every bucket checked the same catalog), then every bucket part under the folder removed, this run's and
 * those an earlier run with another bucket count left.
 */
async function foldQuarantine(
  lake: LakeStore,
  workspace: LakeWorkspace,
  businessDate: string,
  dataset: Dataset,
  count: number,
): Promise<void> {
  const dayKey = layout.quarantine(dataset, businessDate);
  const indexes = perBucket(dataset) ? [...Array(count).keys()] : [0];
  const keys = indexes.map((index) => bucketKey(dayKey, { index, count }));
  const stem = dayKey.slice(0, dayKey.lastIndexOf('.'));
  const folder = dayKey.slice(0, dayKey.lastIndexOf('/') + 1);
  const listed = new Set((await lake.list(folder)).map((o) => o.key));
  // Every bucket writes its part (empty when nothing was quarantined) and the parts are removed only after
  // the day's file is written: a part missing means an earlier attempt of this step (retried after a
  // timeout or a crash) already folded them, and its day file stands.
  if (keys.every((key) => listed.has(key))) {
    const parts = await workspace.fetch(keys);
    const path = workspace.path(`quarantine-${dataset}.jsonl`);
    // Each part is JSON Lines ending in a newline (DuckDB's FORMAT JSON), so appending keeps one row a line.
    await pipeline(async function* () {
      for (const part of parts) yield* createReadStream(part);
    }, createWriteStream(path));
    await workspace.publish(path, dayKey, 'application/x-ndjson');
  }
  for (const key of listed) {
    if (key.startsWith(`${stem}.bucket-`)) await lake.deletePrefix(key);
  }
}

/**
 * The day's tables to load, as the single path lists them. Each bucket wrote its part of the facts; the
 * first bucket wrote dim_product; agg_daily_sales is summed over the buckets' rows per category.
 */
async function mergeTables(
  lake: LakeStore,
  workspace: LakeWorkspace,
  settings: QualityStepSettings,
  run: RunContext,
  buckets: readonly BucketValidation[],
): Promise<TableToLoad[]> {
  const tableOf = (index: number, table: BatchTable): TableToLoad => {
    const found = buckets[index].tables.find((t) => t.table === table);
    if (found === undefined) {
      // A bucket writes no tables when its own gate fails; the day's gate may still pass.
      throw new PermanentError(
        `bucket ${index} of ${buckets.length} wrote no ${table} although the day passed the quality gate: ` +
          `see ${buckets[index].reportKey}`,
      );
    }
    return found;
  };
  const tables: TableToLoad[] = [];
  for (const { table } of buckets[0].tables) {
    if (table === 'dim_product') {
      await keepOnly(lake, tableOf(0, table).prefix, [partName(0)]);
      tables.push(tableOf(0, table));
    } else if (table === 'agg_daily_sales') {
      tables.push(
        await sumDailySales(
          lake,
          workspace,
          settings,
          run,
          buckets.map((_, i) => tableOf(i, table)),
        ),
      );
    } else {
      const parts = buckets.map((_, i) => tableOf(i, table));
      await keepOnly(
        lake,
        parts[0].prefix,
        parts.map((_, i) => partName(i)),
      );
      tables.push({ ...parts[0], rows: parts.reduce((sum, p) => sum + p.rows, 0) });
    }
  }
  return tables;
}

/** Removes the objects under `prefix` other than `names`: parts an earlier run with more buckets wrote. */
async function keepOnly(lake: LakeStore, prefix: string, names: readonly string[]): Promise<void> {
  const keep = new Set(names.map((name) => `${prefix}${name}`));
  for (const { key } of await lake.list(prefix)) if (!keep.has(key)) await lake.deletePrefix(key);
}

async function sumDailySales(
  lake: LakeStore,
  workspace: LakeWorkspace,
  settings: QualityStepSettings,
  run: RunContext,
  parts: readonly TableToLoad[],
): Promise<TableToLoad> {
  const keys = parts.map((p, i) => `${p.prefix}${partName(i)}`);
  const listed = new Set((await lake.list(parts[0].prefix)).map((o) => o.key));
  // The sum replaces the parts with the day's file: parts missing mean an earlier attempt of this step
  // (retried after a timeout or a crash) already wrote it.
  const summed = !keys.every((key) => listed.has(key));
  const paths = await workspace.fetch(summed ? [layout.curated('agg_daily_sales', run.businessDate)] : keys);
  const engine = await Engine.open(settings.engine);
  try {
    if (summed) {
      const rows = Number(await engine.scalar(`SELECT count(*) FROM read_parquet(${fileList(paths)})`));
      return { table: 'agg_daily_sales', prefix: parts[0].prefix, rows };
    }
    // count(DISTINCT order_id) adds up across buckets because an order and its lines share one.
    const select = `SELECT DATE ${sqlLiteral(run.businessDate)} AS order_date, category, sum(orders) AS orders,
        sum(units) AS units, sum(revenue) AS revenue
      FROM read_parquet(${fileList(paths)}) GROUP BY category ORDER BY category`;
    return await writeCurated(engine, workspace, lake, 'agg_daily_sales', select, run.businessDate);
  } finally {
    engine.close();
  }
}

export const step: Step<QualityStepSettings, PipelineState, ValidationResult> = {
  name: 'merge-buckets',
  settings: qualityStepSettings,
  make: makeMergeBuckets,
};
export const handler = awsHandler(step);
