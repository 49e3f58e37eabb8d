import { bucketKey } from '../core/buckets';
import { withRejected } from '../core/catalog-snapshot';
import type {
  CheckResult,
  PipelineState,
  TableToLoad,
  TransformResult,
  ValidationResult,
} from '../core/contracts';
import { dimProductSql, writeCurated, writeQuarantine } from '../core/curation/write-outputs';
import { assertBusinessDate } from '../core/dates';
import { Engine, sqlLiteral } from '../core/engine/engine';
import { quoteIdent } from '../core/engine/table-io';
import { PermanentError } from '../core/errors';
import { layout } from '../core/layout';
import { DATASETS } from '../core/model';
import { checkDataset, exampleRows, type CheckedDataset } from '../core/quality/check-dataset';
import {
  checkResult,
  ordersWithAllItemsQuarantinedSql,
  reconcileTotalSql,
  ROW_NUMBER,
} from '../core/quality/compile-sql';
import { decideGate } from '../core/quality/gate';
import { derivedRules, type Check, type ReconcileTotalCheck } from '../core/quality/rules';
import { qualityStepSettings, type QualityStepSettings } from '../core/step-settings';
import {
  DECLARATIONS,
  isProductSource,
  stagedTableOf,
  type CuratedContext,
  type CuratedTable,
  type Declarations,
} from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { withEngine, type LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, Env, LakeStore, Step } from '../adapters/ports';
import { METRIC } from '../contract';

function stagedKey(transform: TransformResult | undefined, dataset: string): string {
  const key = transform?.staged[dataset];
  if (key === undefined) throw new PermanentError(`validate needs transform.staged.${dataset}`);
  return key;
}

export interface ValidateSettings extends QualityStepSettings {
  /** The staged and curated tables (core/tables.ts; a test passes its own). */
  declarations: Declarations;
}

export const validateSettings = (env: Env): ValidateSettings => ({
  ...qualityStepSettings(env),
  declarations: DECLARATIONS,
});

/**
 * The declarative quality rules over staged/, as SQL in DuckDB: bad rows to quarantine/ with all their
 * reasons, a JSON report to quality/, and — only when the gate passes — the curated tables built from the
 * good rows. A source dataset a declaration adds is checked by rules derived from its declaration
 * (core/quality/rules.ts derivedRules). With `state.bucket`, the staged files are that bucket's and the
 * outputs are its own parts.
 */
export function makeValidate({ lake, logger, metrics }: Adapters, settings: ValidateSettings) {
  return async (state: PipelineState): Promise<ValidationResult> => {
    const { run, bucket } = state;
    const businessDate = assertBusinessDate(run.businessDate, 'run.businessDate');
    const { rules, declarations } = settings;
    const defs = declarations.tables;
    // Datasets a declaration adds: checked by rules derived from their declaration.
    const declared = Object.values(declarations.sources).filter((s) => !isProductSource(s.dataset));
    const now = new Date();
    return withEngine(lake, settings.workDirectory, settings.engine, async (engine, workspace) => {
      const datasets: string[] = [...DATASETS, ...declared.map((s) => s.dataset)];
      const paths = await workspace.fetch(datasets.map((d) => stagedKey(state.transform, d)));
      const staged = (dataset: string) =>
        `(SELECT *, file_row_number AS ${ROW_NUMBER} FROM read_parquet(${sqlLiteral(paths[datasets.indexOf(dataset)])}, file_row_number = true))`;

      const common = { businessDate, now };
      const products = await checkDataset(engine, {
        ...common,
        dataset: 'products',
        rules: rules.products,
        def: defs.products,
        source: staged('products'),
      });
      const orders = await checkDataset(engine, {
        ...common,
        dataset: 'orders',
        rules: rules.orders,
        def: defs.staged_orders,
        source: staged('orders'),
      });
      const items = await checkDataset(engine, {
        ...common,
        dataset: 'order_items',
        rules: rules.order_items,
        def: defs.staged_order_items,
        source: staged('order_items'),
        references: {
          catalog: { relation: products.valid, column: 'product_id' },
          orders: { relation: orders.valid, column: 'order_id' },
        },
      });

      const others: CheckedDataset[] = [];
      for (const source of declared) {
        others.push(
          await checkDataset(engine, {
            ...common,
            dataset: source.dataset,
            rules: derivedRules(source, declarations, settings.threshold),
            def: defs[stagedTableOf(source.dataset)],
            source: staged(source.dataset),
          }),
        );
      }

      const rejectedProducts =
        (state.extract ?? []).flat().find((e) => e.dataset === 'products')?.rejected ?? 0;
      const qualities = [
        withRejected(products.quality, rejectedProducts, products.checks),
        orders.quality,
        items.quality,
        ...others.map((o) => o.quality),
      ];
      const checks: CheckResult[] = [
        ...products.checks,
        ...orders.checks,
        ...items.checks,
        ...others.flatMap((o) => o.checks),
        ...(await crossDatasetChecks(engine, orders, items, rules.orders.checks)),
      ];
      const gate = decideGate(qualities, checks);

      for (const checked of [products, orders, items, ...others]) {
        await writeQuarantine(engine, workspace, run, checked, bucket);
      }
      const reportKey = bucketKey(layout.qualityReport(businessDate, run.runId), bucket);
      await lake.put(
        reportKey,
        JSON.stringify({ run, bucket, gate, datasets: qualities, checks }, null, 2),
        'application/json',
      );

      let tables: TableToLoad[] = [];
      // A bucket always writes its parts: MergeBuckets decides the gate over the whole day.
      if (gate.passed || bucket !== undefined) {
        tables = await writeFacts(engine, workspace, lake, state, declarations, {
          orders: orders.valid,
          items: items.valid,
          products: products.valid,
          others,
          itemsOfValidOrders: rules.order_items.checks.some(
            (c) => c.kind === 'references' && c.target === 'orders' && c.severity === 'quarantine',
          ),
        });
      }

      // A bucket's figures are partial (products counted in each): MergeBuckets reports the day's.
      if (bucket === undefined) {
        for (const quality of qualities) {
          metrics.count(METRIC.quarantinedRows, quality.rowsQuarantined, { dataset: quality.dataset });
        }
        metrics.count(METRIC.qualityGateFailed, gate.passed ? 0 : 1);
        metrics.flush();
      }
      logger.info('validated', { passed: gate.passed, reason: gate.failureReason, bucket });
      return {
        passed: gate.passed,
        failureReason: gate.failureReason,
        reportKey,
        datasets: qualities,
        checks,
        tables,
      };
    });
  };

  /** The report-only checks across orders and their lines. */
  async function crossDatasetChecks(
    engine: Engine,
    orders: CheckedDataset,
    items: CheckedDataset,
    orderChecks: readonly Check[],
  ): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    const reconcile = orderChecks.find((c): c is ReconcileTotalCheck => c.kind === 'reconcile_total');
    if (reconcile !== undefined) {
      const [found] = await engine.rows<{ failed: bigint; first: unknown }>(
        `SELECT count(reason) AS failed, min(CASE WHEN reason IS NOT NULL THEN ${ROW_NUMBER} END) AS first
         FROM (${reconcileTotalSql(reconcile, orders.valid, items.table)}) r`,
      );
      const result = checkResult('orders', reconcile);
      result.failedRows = Number(found.failed);
      result.passed = result.failedRows === 0;
      if (!result.passed) {
        const examples = await exampleRows(engine, orders.table, orders.def, [found.first]);
        result.example = examples.get(String(found.first));
      }
      results.push(result);
    }
    const allQuarantined = await engine.rows<{ failed: bigint; order_id: string; quarantined_lines: bigint }>(
      `SELECT count(*) OVER () AS failed, order_id, quarantined_lines
       FROM (${ordersWithAllItemsQuarantinedSql(orders.valid, items.table, items.compiled.quarantined)}) a
       ORDER BY ${ROW_NUMBER} LIMIT 1`,
    );
    const first = allQuarantined[0];
    results.push({
      dataset: 'orders',
      check: 'order has a valid line',
      column: 'order_id',
      passed: first === undefined,
      failedRows: first === undefined ? 0 : Number(first.failed),
      severity: 'report',
      ...(first && {
        example: JSON.stringify({
          order_id: first.order_id,
          quarantinedLines: Number(first.quarantined_lines),
        }),
      }),
    });
    return results;
  }
}

/** The SELECT list of a curated table over `s`, its source dataset's valid rows (core/tables.ts CURATED). */
function curatedColumns(table: CuratedTable, context: CuratedContext): string {
  return table.columns
    .map((c) =>
      typeof c === 'string' ? `s.${quoteIdent(c)}` : `${c.sql(context)} AS ${quoteIdent(c.column.name)}`,
    )
    .join(', ');
}

/**
 * The curated tables from the valid rows, their columns as declared: fact_order_item (lines of valid orders),
 * fact_order, agg_daily_sales per category, dim_product and the curated tables of the source datasets a
 * declaration adds. A bucket other than the first leaves dim_product and those to the first: their rows are
 * the same in every bucket.
 */
async function writeFacts(
  engine: Engine,
  workspace: LakeWorkspace,
  lake: LakeStore,
  state: PipelineState,
  declarations: Declarations,
  valid: {
    orders: string;
    items: string;
    products: string;
    itemsOfValidOrders: boolean;
    /** The datasets a declaration adds, checked. */
    others: readonly CheckedDataset[];
  },
): Promise<TableToLoad[]> {
  const { run, bucket } = state;
  const { orders: validOrders, items: validItems, products: validProducts } = valid;
  const { curated } = declarations;
  const date = `DATE ${sqlLiteral(run.businessDate)}`;
  const context: CuratedContext = { date, curated: () => 'fact_items' };
  // The default rules already quarantine lines of invalid orders; rules without that check still get
  // only lines of valid orders, then materialized once for the three tables that read them.
  const ofValidOrders = `EXISTS (SELECT 1 FROM ${validOrders} o WHERE o.order_id = s.order_id)`;
  await engine.run(`CREATE OR REPLACE ${valid.itemsOfValidOrders ? 'VIEW' : 'TABLE'} fact_items AS
    SELECT s.${ROW_NUMBER}, ${curatedColumns(curated.fact_order_item, context)}
    FROM ${validItems} s WHERE ${valid.itemsOfValidOrders ? 'TRUE' : ofValidOrders}`);
  const facts: [string, string][] = [
    [
      'fact_order',
      `SELECT ${curatedColumns(curated.fact_order, context)} FROM ${validOrders} s ORDER BY s.${ROW_NUMBER}`,
    ],
    // In input order: the window functions of the checks reorder, and the same input should give the same file.
    ['fact_order_item', `SELECT * FROM fact_items ORDER BY ${ROW_NUMBER}`],
    [
      'agg_daily_sales',
      `SELECT ${date} AS order_date, category, count(DISTINCT order_id) AS orders, sum(quantity) AS units,
        sum(line_amount) AS revenue
      FROM fact_items GROUP BY category ORDER BY category`,
    ],
  ];
  const firstBucket = bucket === undefined || bucket.index === 0;
  if (firstBucket) facts.unshift(['dim_product', dimProductSql(validProducts)]);
  // A table a declaration adds: its dataset's valid rows as declared, sorted by key.
  const from = new Map<string, string>();
  for (const checked of firstBucket ? valid.others : []) {
    for (const table of Object.values(curated).filter((c) => c.from === checked.dataset)) {
      const key = table.primaryKey.map((k) => `s.${quoteIdent(k)}`).join(', ');
      facts.push([
        table.name,
        `SELECT ${curatedColumns(table, context)} FROM ${checked.valid} s ORDER BY ${key}`,
      ]);
      from.set(table.name, checked.dataset);
    }
  }
  const tables: TableToLoad[] = [];
  for (const [table, select] of facts) {
    const written = await writeCurated(
      engine,
      workspace,
      lake,
      table,
      select,
      run.businessDate,
      bucket,
      declarations.tables,
    );
    const source = from.get(table);
    tables.push(source === undefined ? written : { ...written, from: source });
  }
  return tables;
}

export const step: Step<ValidateSettings, PipelineState, ValidationResult> = {
  name: 'validate',
  settings: validateSettings,
  make: makeValidate,
};
export const handler = awsHandler(step);
