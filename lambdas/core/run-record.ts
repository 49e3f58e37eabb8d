/** What a finished run records in ops.* and tells the alert topic. */
import type { DatasetQuality, PipelineState } from './contracts';
import type { BatchTable, Dataset } from './model';
import { percent } from './summary';

/** The table whose rows count as "loaded" for a dataset. */
export const TABLE_OF_DATASET: Record<Dataset, BatchTable> = {
  products: 'dim_product',
  orders: 'fact_order',
  order_items: 'fact_order_item',
};

export interface DatasetLoad extends DatasetQuality {
  rowsLoaded: number;
}

export function datasetLoads(state: PipelineState): DatasetLoad[] {
  const loaded = new Map((state.loads ?? []).map((l) => [l.table, l.rowsLoaded]));
  return (state.validation?.datasets ?? []).map((quality) => ({
    ...quality,
    rowsLoaded: loaded.get(TABLE_OF_DATASET[quality.dataset]) ?? 0,
  }));
}

export function describeRun(state: PipelineState): {
  status: 'SUCCEEDED' | 'FAILED';
  subject: string;
  summary: string;
} {
  const { run, validation, error } = state;
  const failed = error !== undefined || validation?.passed === false;
  const status = failed ? 'FAILED' : 'SUCCEEDED';
  const lines = [`cartflow run ${run?.runId ?? '(unresolved)'} for ${run?.businessDate ?? '?'}: ${status}`];
  if (error) lines.push(`error: ${error.Error}${error.Cause ? ` — ${causeMessage(error.Cause)}` : ''}`);
  else if (validation?.passed === false) lines.push(`quality gate: ${validation.failureReason}`);
  for (const d of validation?.datasets ?? []) {
    lines.push(
      `${d.dataset}: ${d.rowsIn} in, ${d.rowsValid} valid, ${d.rowsQuarantined} quarantined ` +
        `(${percent(d.quarantineShare)} of ${percent(d.threshold)} allowed)`,
    );
  }
  for (const load of state.loads ?? []) lines.push(`loaded ${load.table}: ${load.rowsLoaded} rows`);
  return {
    status,
    subject: `cartflow ${status} ${run?.businessDate ?? ''}`.trim(),
    summary: lines.join('\n'),
  };
}

/** Lambda failures arrive as a JSON Cause with errorMessage; other causes are plain text. */
function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: string };
    return parsed.errorMessage ?? cause;
  } catch {
    return cause;
  }
}
