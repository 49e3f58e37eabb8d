import { bucketFilter, bucketKey } from '../core/buckets';
import type { PipelineState, TransformResult } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { Engine, fileList } from '../core/engine/engine';
import { castSelect, createTableSql } from '../core/engine/table-io';
import { layout } from '../core/layout';
import type { Dataset } from '../core/model';
import { engineStepSettings, type EngineStepSettings } from '../core/step-settings';
import { TABLES, type TableDef } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { withEngine } from '../adapters/lake-workspace';
import type { Adapters, Step } from '../adapters/ports';

/** Trimmed text, '' as NULL: what the source's padding and empty strings mean. */
const text = (column: string) => `NULLIF(trim(${column}), '')`;

/**
 * The raw parts of a dataset as one relation in input order (`__part`, `__line`), or an empty relation of
 * the dataset's columns when there are none.
 */
async function rawSource(engine: Engine, def: TableDef, paths: readonly string[]): Promise<string> {
  if (paths.length === 0) {
    await engine.run(createTableSql(def, `${def.name}_none`));
    return `(SELECT *, 0 AS __part, 0 AS __line FROM "${def.name}_none")`;
  }
  const files = fileList(paths);
  return `(SELECT *, list_position(${files}, filename) AS __part, file_row_number AS __line
    FROM read_parquet(${files}, filename = true, file_row_number = true))`;
}

/**
 * raw/ → staged/: orders trimmed and cased, items trimmed and given their product's category from the
 * catalog snapshot, products as they are. DuckDB reads and writes the files; the rows never enter
 * JavaScript. With `state.bucket`, only that bucket's orders and lines are staged, under bucket keys.
 */
export function makeTransform({ lake, logger }: Adapters, settings: EngineStepSettings) {
  return async (state: PipelineState): Promise<TransformResult> => {
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const { bucket } = state;
    return withEngine(lake, settings.workDirectory, settings.engine, async (engine, workspace) => {
      // One fetch for all three: the workspace names files by their position in the call.
      const keys = await Promise.all(
        (['orders', 'order_items', 'products'] as const).map(async (dataset) =>
          (await lake.list(layout.rawPrefix(dataset, businessDate)))
            .map((o) => o.key)
            .filter((key) => key.endsWith('.parquet'))
            .sort(),
        ),
      );
      const paths = await workspace.fetch(keys.flat());
      const orders = paths.slice(0, keys[0].length);
      const items = paths.slice(keys[0].length, keys[0].length + keys[1].length);
      const products = paths.slice(keys[0].length + keys[1].length);
      const rawOrders = await rawSource(engine, TABLES.raw_orders, orders);
      const rawItems = await rawSource(engine, TABLES.raw_order_items, items);
      const rawProducts = await rawSource(engine, TABLES.products, products);

      const stagedOrders = `SELECT ${text('order_id')} AS order_id, ${text('customer_id')} AS customer_id,
          order_ts, lower(${text('status')}) AS status, upper(${text('currency')}) AS currency,
          total_amount, updated_at
        FROM ${rawOrders} o WHERE ${bucketFilter(text('order_id'), bucket)}`;
      // One category per product id (the snapshot holds each id once; the latest row would win otherwise).
      const stagedItems = `WITH catalog AS (
          SELECT product_id, arg_max(category, (__part, __line)) AS category FROM ${rawProducts} p
          WHERE product_id IS NOT NULL AND category IS NOT NULL GROUP BY product_id
        )
        SELECT i.order_id, i.line_no, i.product_id, i.quantity, i.unit_price, catalog.category
        FROM (
          SELECT ${text('order_id')} AS order_id, line_no, ${text('product_id')} AS product_id, quantity,
            unit_price, __part, __line
          FROM ${rawItems} r WHERE ${bucketFilter(text('order_id'), bucket)}
        ) i LEFT JOIN catalog ON catalog.product_id = i.product_id
        ORDER BY i.__part, i.__line`; // a join does not keep the input order; scans and filters do
      const stagedProducts = `SELECT * FROM ${rawProducts} p`;

      const outputs: [Dataset, TableDef, string][] = [
        ['orders', TABLES.staged_orders, stagedOrders],
        ['order_items', TABLES.staged_order_items, stagedItems],
        ['products', TABLES.products, stagedProducts],
      ];
      const result: TransformResult = { staged: {}, rows: {} };
      for (const [dataset, def, select] of outputs) {
        const path = workspace.path(`staged-${dataset}.parquet`);
        const rows = await engine.writeParquet(castSelect(def, `(${select}) s`), path);
        // Products are not bucketed: every bucket stages the same snapshot under the day's key.
        const key =
          dataset === 'products'
            ? layout.staged(dataset, businessDate)
            : bucketKey(layout.staged(dataset, businessDate), bucket);
        await workspace.publish(path, key);
        result.staged[dataset] = key;
        result.rows[dataset] = rows;
      }
      logger.info('transformed', { ...result.rows, bucket });
      return result;
    });
  };
}

export const step: Step<EngineStepSettings, PipelineState, TransformResult> = {
  name: 'transform',
  settings: engineStepSettings,
  make: makeTransform,
};
export const handler = awsHandler(step);
