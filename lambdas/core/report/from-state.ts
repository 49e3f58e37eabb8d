/** The parts of a run report a step can tell from the run's state alone: what ran, and where data went. */
import { LAKE } from '../../contract';
import type { ExtractResult, PipelineState } from '../contracts';
import { CATALOG_LANDING_PREFIX, CATALOG_SNAPSHOT_KEY, layout } from '../layout';
import { BATCH_TABLES, DATASETS, type BatchTable, type Dataset } from '../model';
import { TABLES } from '../tables';
import type { Lineage, LineageNode, Timeline, TimelineStep } from './model';

/** The state as the failure path and RecordRun see it: the results the state machine stored so far. */
export type FinishedState = Partial<PipelineState> & {
  publish?: unknown;
  record?: { finishedAt?: string };
  notify?: unknown;
};

/** Which warehouse tables a dataset feeds (validate.ts writeFacts): an order's item_count counts its lines. */
const TABLES_OF_DATASET: Record<Dataset, BatchTable[]> = {
  products: ['dim_product'],
  orders: ['fact_order'],
  order_items: ['fact_order', 'fact_order_item', 'agg_daily_sales'],
};

const SOURCE_TABLE: Partial<Record<Dataset, string>> = {
  orders: 'source table orders',
  order_items: 'source table order_items',
};

const count = (n: number) => n.toLocaleString('en-US');

/**
 * The steps the state holds a result of, in the order the state machine runs them; no times. A caught error
 * is the failed state's step when the execution history named it (`failedState`).
 */
export function timelineFromState(state: FinishedState, failedState?: string): Timeline {
  const steps: TimelineStep[] = [];
  const done = (name: string, reached: unknown) => {
    if (reached !== undefined) steps.push({ state: name, status: 'succeeded' });
  };
  done('ResolveRun', state.run);
  done('ExtractOrders', state.extract?.[0]);
  done('ExtractProducts', state.extract?.[1]);
  if (state.buckets !== undefined) {
    done('SplitDay', state.buckets);
    done('MergeBuckets', state.validation);
  } else {
    done('Transform', state.transform);
    done('Validate', state.validation);
  }
  if (state.validation?.passed === false) {
    steps.push({ state: 'QualityGate', status: 'failed', error: state.validation.failureReason });
  }
  for (const load of state.loads ?? []) steps.push({ state: `LoadTable ${load.table}`, status: 'succeeded' });
  done('PublishDate', state.publish);
  done('RecordRun', state.record);
  if (state.error !== undefined) {
    steps.push({
      state: failedState ?? 'caught error',
      status: failedState ? 'failed' : 'caught',
      error: errorText(state.error),
    });
  }
  done(
    state.error !== undefined || state.validation?.passed === false ? 'NotifyFailure' : 'NotifySuccess',
    state.notify,
  );
  return { source: 'state', steps };
}

/** Why the run failed, from its state: the caught error, else the quality gate's reason. */
export function failureOf(state: FinishedState): string | undefined {
  if (state.error !== undefined) return errorText(state.error);
  if (state.validation?.passed === false)
    return `quality gate: ${state.validation.failureReason ?? 'failed'}`;
  return undefined;
}

/** A Catch's error: Lambda failures arrive as a JSON Cause with errorMessage; other causes are plain text. */
function errorText(error: { Error: string; Cause?: string }): string {
  if (error.Cause === undefined) return error.Error;
  let cause = error.Cause;
  try {
    cause = (JSON.parse(error.Cause) as { errorMessage?: string }).errorMessage ?? error.Cause;
  } catch {
    // a plain-text cause
  }
  return `${error.Error}: ${cause}`;
}

/**
 * Source tables and catalog files → raw/ → staged/ → curated/ → warehouse tables, as far as the run got:
 * the whole graph always, the parts the state has no result of marked not reached.
 */
export function lineageOf(state: FinishedState): Lineage {
  const date = state.run?.businessDate ?? '';
  const nodes: LineageNode[] = [];
  const edges: Lineage['edges'] = [];
  const node = (n: LineageNode) => (nodes.push(n), n.id);
  const extracts = new Map<string, ExtractResult>(
    (state.extract ?? []).flat().map((e) => [e.dataset, e] as const),
  );
  const quality = new Map((state.validation?.datasets ?? []).map((d) => [d.dataset, d]));
  const tables = new Map((state.validation?.tables ?? []).map((t) => [t.table, t]));
  const loads = new Map((state.loads ?? []).map((l) => [l.table, l.rowsLoaded]));

  for (const dataset of DATASETS) {
    const extract = extracts.get(dataset);
    const raw = node({
      id: `raw:${dataset}`,
      layer: 1,
      label: layout.rawPrefix(dataset, date),
      detail: extract
        ? `${count(extract.rows)} rows${extract.rejected ? `, ${count(extract.rejected)} unparseable` : ''}`
        : undefined,
      reached: extract !== undefined,
    });
    const sourceTable = SOURCE_TABLE[dataset];
    if (sourceTable !== undefined) {
      edges.push({
        from: node({ id: `source:${dataset}`, layer: 0, label: sourceTable, reached: true }),
        to: raw,
      });
    } else {
      // Products: the current catalog plus the landing files not merged yet (extract-products.ts).
      const sources = extract?.sources ?? [
        CATALOG_SNAPSHOT_KEY,
        `${CATALOG_LANDING_PREFIX}* (not merged yet)`,
      ];
      for (const key of sources) {
        edges.push({
          from: node({ id: `file:${key}`, layer: 0, label: key, reached: extract !== undefined }),
          to: raw,
        });
      }
    }
    const checked = quality.get(dataset);
    const staged = node({
      id: `staged:${dataset}`,
      layer: 2,
      label: layout.staged(dataset, date),
      detail: checked
        ? `${count(checked.rowsIn)} rows, ${count(checked.rowsQuarantined)} quarantined`
        : state.transform?.rows[dataset] !== undefined
          ? `${count(state.transform.rows[dataset])} rows`
          : undefined,
      reached: state.transform !== undefined || state.buckets !== undefined,
    });
    edges.push({ from: raw, to: staged });
  }
  // Transform gives each order line its product's category.
  edges.push({ from: 'raw:products', to: 'staged:order_items' });

  for (const table of BATCH_TABLES) {
    const curated = tables.get(table);
    node({
      id: `curated:${table}`,
      layer: 3,
      label: layout.curatedPrefix(table, date),
      detail: curated ? `${count(curated.rows)} rows` : undefined,
      reached: curated !== undefined,
    });
    const loaded = loads.get(table);
    node({
      id: `warehouse:${table}`,
      layer: 4,
      label: `${TABLES[table].schema}.${table}`,
      detail: loaded !== undefined ? `${count(loaded)} rows loaded` : undefined,
      reached: loaded !== undefined,
    });
    edges.push({ from: `curated:${table}`, to: `warehouse:${table}` });
  }
  for (const dataset of DATASETS) {
    for (const table of TABLES_OF_DATASET[dataset])
      edges.push({ from: `staged:${dataset}`, to: `curated:${table}` });
  }
  return { layers: ['source', LAKE.raw, LAKE.staged, LAKE.curated, 'warehouse'], nodes, edges };
}
