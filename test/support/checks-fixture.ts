/**
 * The batch check fixtures, test/fixtures/batch/checks-<dataset>.jsonl: one day of staged rows (order
 * lines with their category), each with `expect`, the reasons the quality checks must give it.
 */
import { join } from 'node:path';
import type { Adapters } from '../../lambdas/adapters/ports';
import { HANDLER_ENV } from '../../lambdas/contract';
import type {
  PipelineState,
  RunContext,
  TransformResult,
  ValidationResult,
} from '../../lambdas/core/contracts';
import { sqlLiteral } from '../../lambdas/core/engine/engine';
import { castSelect, duckType } from '../../lambdas/core/engine/table-io';
import { layout } from '../../lambdas/core/layout';
import type { Dataset } from '../../lambdas/core/model';
import { TABLES, type TableDef } from '../../lambdas/core/tables';
import { step as transformStep } from '../../lambdas/handlers/transform';
import { step as validateStep } from '../../lambdas/handlers/validate';
import type { Workspace } from './workspace';

export const FIXTURE_RUN: RunContext = {
  runId: 'run-1',
  businessDate: '2026-03-01',
  startedAt: '2026-03-02T01:00:00Z',
};

/** The table each fixture's rows are rows of. */
export const FIXTURE_DEFS: Record<Dataset, TableDef> = {
  orders: TABLES.staged_orders,
  order_items: TABLES.staged_order_items,
  products: TABLES.products,
};

/** A fixture as a DuckDB table function: the row of `dataset`'s table plus `expect`, its expected reasons. */
export function readChecksFixture(dataset: Dataset): string {
  const path = new URL(`../fixtures/batch/checks-${dataset}.jsonl`, import.meta.url).pathname;
  const columns = [
    ...FIXTURE_DEFS[dataset].columns.map((c) => `${sqlLiteral(c.name)}: '${duckType(c)}'`),
    `'expect': 'VARCHAR[]'`,
  ];
  return `read_json(${sqlLiteral(path)}, format = 'newline_delimited', columns = {${columns.join(', ')}})`;
}

/** Writes the raw/ parts the extract steps would write from the fixture rows, one part per dataset. */
export async function writeRawFixtureDay({ dir, engine, lake }: Workspace): Promise<void> {
  const raw: [Dataset, TableDef][] = [
    ['orders', TABLES.raw_orders],
    ['order_items', TABLES.raw_order_items],
    ['products', TABLES.products],
  ];
  for (const [dataset, rawDef] of raw) {
    const path = join(dir, `raw-${dataset}.parquet`);
    await engine.writeParquet(castSelect(rawDef, readChecksFixture(dataset)), path);
    await lake.upload(layout.rawPart(dataset, FIXTURE_RUN.businessDate, 0), path);
  }
}

/** The batch steps' environment over the fixture day: a small engine, and a gate the bad rows do not fail. */
export const fixtureEnv = (dir: string) => ({
  TMPDIR: dir,
  [HANDLER_ENV.qualitySettings]: JSON.stringify({ threshold: 1 }),
  CARTFLOW_ENGINE_MEMORY_MB: '128',
});

/** Transform then Validate on `state`, as the state machine runs them; returns the state with both results. */
export async function transformThenValidate(
  adapters: Adapters,
  dir: string,
  state: PipelineState,
): Promise<PipelineState & { transform: TransformResult; validation: ValidationResult }> {
  const env = fixtureEnv(dir);
  const transform = await transformStep.make(adapters, transformStep.settings(env))(state);
  const validation = await validateStep.make(adapters, validateStep.settings(env))({ ...state, transform });
  return { ...state, transform, validation };
}
