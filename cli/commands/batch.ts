import { randomUUID } from 'node:crypto';
import type { PipelineState } from '../../lambdas/core/contracts';
import { generateDay } from '../../lambdas/core/generator';
import { CATALOG_LANDING_PREFIX } from '../../lambdas/core/layout';
import { seedSourceDatabase } from '../../local/embedded-postgres';
import { failedStateOf, failureLines, nextAfterBatch } from '../../local/failure-line';
import type { LocalRuntime } from '../../local/runtime';
import { intOption, type Values } from './command';

/** Sample source rows and a catalog file for a date, as `seed` and `demo` write them. */
export async function seedDay(
  runtime: Pick<LocalRuntime, 'source' | 'lake'>,
  values: Values,
  date: string,
  defaultOrders: number,
) {
  const orders = intOption(values, 'orders', defaultOrders);
  const day = generateDay({
    date,
    orders,
    seed: intOption(values, 'seed', 42),
    dirty: plantedBadRows(intOption(values, 'bad-rows', 0)),
  });
  await seedSourceDatabase(runtime.source, { orders: day.orders, items: day.items }, date);
  await runtime.lake.put(
    `${CATALOG_LANDING_PREFIX}products.jsonl`,
    day.catalog.map((p) => JSON.stringify(p)).join('\n') + '\n',
    'application/x-ndjson',
  );
  return day;
}

/** Spreads N planted bad rows over the kinds the rules catch. */
function plantedBadRows(count: number) {
  const kinds = ['nullOrderId', 'badCurrency', 'negativeTotal', 'zeroQuantity', 'unknownProduct'] as const;
  const dirty: Partial<Record<(typeof kinds)[number], number>> = {};
  for (let i = 0; i < count; i++) dirty[kinds[i % kinds.length]] = (dirty[kinds[i % kinds.length]] ?? 0) + 1;
  return dirty;
}

/** Runs the batch state machine for one date, printing the failure and its alert on stderr. */
export async function runOne(runtime: LocalRuntime, date: string, err: NodeJS.WritableStream) {
  // Named here, so the run id to `retry` is on screen even if the process dies mid-run.
  const executionName = `${date}-${randomUUID().slice(0, 8)}`;
  err.write(`run ${date} as ${executionName}\n`);
  const outcome = await runtime.runBatch({ businessDate: date }, executionName);
  // Not a failure (no alert): the run that holds the date publishes it.
  if (outcome.superseded !== undefined) err.write(`run ${date} SUPERSEDED: ${outcome.superseded}\n`);
  else if (outcome.status !== 'SUCCEEDED') {
    const alert = runtime.alerts.published.at(-1);
    err.write(`run ${date} ${outcome.status}: ${outcome.error?.name} ${outcome.error?.message ?? ''}\n`);
    if (alert) err.write(`${alert.message}\n`);
  }
  return outcome;
}

/** A failed run's last lines: its failed step with the step's error, and the command to run next ('' on success). */
export function failureSummary(outcome: Awaited<ReturnType<LocalRuntime['runBatch']>>, date: string): string {
  if (outcome.status === 'SUCCEEDED') return '';
  const next = nextAfterBatch(outcome.error, date, outcome.runId);
  return failureLines(outcome.error, failedStateOf(outcome), next, outcome.status);
}

/** The run's summary: warehouse rows for the date, each dataset's gate, the failed checks. */
export async function summary(
  runtime: LocalRuntime,
  state: PipelineState,
  wallMs: number,
  extra: string[] = [],
): Promise<string> {
  const date = state.run.businessDate;
  const counts = await runtime.warehouse.query<{ table_name: string; rows: string; revenue: string | null }>(`
    SELECT 'dim_product' AS table_name, count(*)::text AS rows, NULL AS revenue FROM analytics.dim_product
    UNION ALL SELECT 'fact_order', count(*)::text, sum(total_amount)::text FROM analytics.fact_order WHERE order_date = '${date}'
    UNION ALL SELECT 'fact_order_item', count(*)::text, sum(line_amount)::text FROM analytics.fact_order_item i
      WHERE i.order_id IN (SELECT order_id FROM analytics.fact_order WHERE order_date = '${date}')
    UNION ALL SELECT 'agg_daily_sales', count(*)::text, sum(revenue)::text FROM analytics.agg_daily_sales WHERE order_date = '${date}'`);
  const lines = [
    `\ncartflow run ${state.run.runId} — business date ${date}`,
    '',
    'warehouse table      rows      amount',
  ];
  for (const c of counts)
    lines.push(`${c.table_name.padEnd(20)} ${c.rows.padStart(8)}  ${(c.revenue ?? '').padStart(12)}`);
  lines.push('', 'dataset        rows in   loaded  quarantined  share   gate');
  for (const d of state.validation?.datasets ?? []) {
    lines.push(
      `${d.dataset.padEnd(14)} ${String(d.rowsIn).padStart(7)} ${String(d.rowsValid).padStart(8)} ${String(d.rowsQuarantined).padStart(12)}  ${(d.quarantineShare * 100).toFixed(2).padStart(5)}%  ${d.passed ? 'pass' : 'FAIL'}`,
    );
  }
  const failedChecks = (state.validation?.checks ?? []).filter((c) => !c.passed);
  if (failedChecks.length) {
    lines.push('', 'checks with failures:');
    for (const c of failedChecks)
      lines.push(`  ${c.dataset}: ${c.check}: ${c.failedRows} rows [${c.severity}]`);
  }
  if (extra.length) lines.push('', ...extra);
  lines.push(
    '',
    `quality report: s3://${runtime.lake.bucket}/${state.validation?.reportKey}`,
    `wall time: ${(wallMs / 1000).toFixed(1)} s`,
    '',
  );
  return lines.join('\n');
}
