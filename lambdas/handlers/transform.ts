import { bucketFilter, bucketKey, perBucket } from '../core/buckets';
import type { PipelineState, TransformResult } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { Engine, fileList } from '../core/engine/engine';
import { castSelect, createTableSql, quoteIdent } from '../core/engine/table-io';
import { layout } from '../core/layout';
import { engineStepSettings, type EngineStepSettings } from '../core/step-settings';
import {
  DECLARATIONS,
  isProductSource,
  rawTableOf,
  stagedTableOf,
  type Declarations,
  type SourceDataset,
  type TableDef,
} from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { withEngine } from '../adapters/lake-workspace';
import type { Adapters, Env, Step } from '../adapters/ports';

/** Trimmed text, '' as NULL: what the source's padding and empty strings mean. */
const text = (column: string) => `NULLIF(trim(${column}), '')`;

/** Every column of a source dataset as staged/ holds it: strings trimmed, then cased as declared. */
function conformed(dataset: SourceDataset): string {
  return dataset.columns
    .map((c) => {
      const name = quoteIdent(c.name);
      if (c.kind !== 'string') return name;
      const trimmed = text(name);
      const cased = c.conform === undefined ? trimmed : `${c.conform}(${trimmed})`;
      return `${cased} AS ${name}`;
    })
    .join(', ');
}

export interface TransformSettings extends EngineStepSettings {
  /** The source datasets and their raw/ and staged/ tables (core/tables.ts; a test passes its own). */
  declarations: Declarations;
}

export const transformSettings = (env: Env): TransformSettings => ({
  ...engineStepSettings(env),
  declarations: DECLARATIONS,
});

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
 * catalog snapshot, products as they are, and any other declared source dataset conformed and then given
 * its declared `stage` SQL (core/tables.ts). DuckDB reads and writes the files; the rows never enter
 * JavaScript. With `state.bucket`, only that bucket's orders and lines are staged, under bucket keys.
 */
export function makeTransform({ lake, logger }: Adapters, settings: TransformSettings) {
  return async (state: PipelineState): Promise<TransformResult> => {
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const { bucket } = state;
    return withEngine(lake, settings.workDirectory, settings.engine, async (engine, workspace) => {
      const { sources, tables } = settings.declarations;
      // Datasets a declaration adds are staged from their declaration alone.
      const declared = Object.values(sources).filter((s) => !isProductSource(s.dataset));
      // One fetch for all: the workspace names files by their position in the call.
      const keys = await Promise.all(
        ['orders', 'order_items', 'products', ...declared.map((s) => s.dataset)].map(async (dataset) =>
          (await lake.list(layout.rawPrefix(dataset, businessDate)))
            .map((o) => o.key)
            .filter((key) => key.endsWith('.parquet'))
            .sort(),
        ),
      );
      const paths = await workspace.fetch(keys.flat());
      let at = 0;
      const [orders, items, products, ...others] = keys.map((k) => paths.slice(at, (at += k.length)));
      const rawOrders = await rawSource(engine, tables.raw_orders, orders);
      const rawItems = await rawSource(engine, tables.raw_order_items, items);
      const rawProducts = await rawSource(engine, tables.products, products);

      const stagedOrders = `SELECT ${conformed(sources.orders)}
        FROM ${rawOrders} o WHERE ${bucketFilter(text('order_id'), bucket)}`;
      const itemColumns = sources.order_items.columns.map((c) => `i.${quoteIdent(c.name)}`).join(', ');
      // One category per product id (the snapshot holds each id once; the latest row would win otherwise).
      const stagedItems = `WITH catalog AS (
          SELECT product_id, arg_max(category, (__part, __line)) AS category FROM ${rawProducts} p
          WHERE product_id IS NOT NULL AND category IS NOT NULL GROUP BY product_id
        )
        SELECT ${itemColumns}, catalog.category
        FROM (
          SELECT ${conformed(sources.order_items)}, __part, __line
          FROM ${rawItems} r WHERE ${bucketFilter(text('order_id'), bucket)}
        ) i LEFT JOIN catalog ON catalog.product_id = i.product_id
        ORDER BY i.__part, i.__line`; // a join does not keep the input order; scans and filters do
      const stagedProducts = `SELECT * FROM ${rawProducts} p`;

      const outputs: [string, TableDef, string][] = [
        ['orders', tables.staged_orders, stagedOrders],
        ['order_items', tables.staged_order_items, stagedItems],
        ['products', tables.products, stagedProducts],
      ];
      for (const [i, source] of declared.entries()) {
        const raw = await rawSource(engine, tables[rawTableOf(source.dataset)], others[i]);
        const rows = `(SELECT ${conformed(source)}, __part, __line FROM ${raw} r)`;
        const select = source.stage?.(rows) ?? `SELECT * FROM ${rows} c ORDER BY __part, __line`;
        outputs.push([source.dataset, tables[stagedTableOf(source.dataset)], select]);
      }
      const result: TransformResult = { staged: {}, rows: {} };
      for (const [dataset, def, select] of outputs) {
        const path = workspace.path(`staged-${dataset}.parquet`);
        const rows = await engine.writeParquet(castSelect(def, `(${select}) s`), path);
        // Every bucket stages the same rows of an unsplit dataset, under the day's key.
        const key = perBucket(dataset)
          ? bucketKey(layout.staged(dataset, businessDate), bucket)
          : layout.staged(dataset, businessDate);
        await workspace.publish(path, key);
        result.staged[dataset] = key;
        result.rows[dataset] = rows;
      }
      logger.info('transformed', { ...result.rows, bucket });
      return result;
    });
  };
}

export const step: Step<TransformSettings, PipelineState, TransformResult> = {
  name: 'transform',
  settings: transformSettings,
  make: makeTransform,
};
export const handler = awsHandler(step);
