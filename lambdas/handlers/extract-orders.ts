import { rm } from 'node:fs/promises';
import type { ExtractResult, PipelineState } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { Engine, type EngineSettings } from '../core/engine/engine';
import { writeRowsParquet } from '../core/engine/table-io';
import { layout } from '../core/layout';
import { engineStepSettings } from '../core/step-settings';
import { integerEnv, type Env } from '../core/settings';
import { PermanentError } from '../core/errors';
import { cursorSql, fromSource, sourceColumns } from '../core/source-rows';
import { DECLARATIONS, rawTableOf, type Declarations, type SourceDataset } from '../core/tables';
import { awsHandler } from '../adapters/aws-entry';
import { LakeWorkspace } from '../adapters/lake-workspace';
import type { Adapters, SqlClient, Step } from '../adapters/ports';
import { HANDLER_ENV } from '../contract';

const DEFAULT_CHUNK_ROWS = 50_000;

export interface ExtractOrdersSettings {
  /** Rows per cursor fetch, and so per raw/ part: bounds the memory the extract holds at once. */
  chunkRows: number;
  engine: EngineSettings;
  /** Where the parts are written before upload (Lambda: under /tmp). */
  workDirectory: string;
  /** The source datasets extracted and their raw/ tables (core/tables.ts; a test passes its own). */
  declarations: Declarations;
}

export const extractOrdersSettings = (env: Env): ExtractOrdersSettings => ({
  chunkRows: integerEnv(env, HANDLER_ENV.extractChunkRows, DEFAULT_CHUNK_ROWS),
  ...engineStepSettings(env),
  declarations: DECLARATIONS,
});

/**
 * Source orders and their items for the business date → raw/ Parquet, one part per chunk read through a
 * server-side cursor and handed to DuckDB's appender, so the day never sits in memory whole.
 */
export function makeExtractOrders({ lake, source, logger }: Adapters, settings: ExtractOrdersSettings) {
  return async (state: PipelineState): Promise<ExtractResult[]> => {
    const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
    const engine = await Engine.open(settings.engine);
    const workspace = await LakeWorkspace.open(lake, settings.workDirectory);
    const connection = await source.connect();
    try {
      await connection.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { sources } = settings.declarations;
      await assertSourceColumns(connection, sourceColumns(sources));
      const results: ExtractResult[] = [];
      for (const dataset of Object.values(sources)) {
        results.push(await extractDataset(connection, engine, workspace, dataset, businessDate));
      }
      await connection.query('COMMIT');
      return results;
    } finally {
      await connection.release();
      engine.close();
      await workspace.dispose();
    }
  };

  async function extractDataset(
    db: SqlClient,
    engine: Engine,
    workspace: LakeWorkspace,
    source: SourceDataset,
    businessDate: string,
  ): Promise<ExtractResult> {
    const spec = {
      dataset: source.dataset,
      def: settings.declarations.tables[rawTableOf(source.dataset)],
      toRow: fromSource(source),
      businessDate,
    };
    // Parts of an earlier run of this date would otherwise linger if this run writes fewer.
    await lake.deletePrefix(layout.rawPrefix(spec.dataset, spec.businessDate));
    const cursor = `extract_${spec.dataset}`;
    await db.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${cursorSql(source, businessDate)}`);
    const keys: string[] = [];
    let rows = 0;
    for (;;) {
      const chunk = await db.query<Record<string, unknown>>(
        `FETCH FORWARD ${settings.chunkRows} FROM ${cursor}`,
      );
      // An empty day still gets one (empty) part, so the next steps always find the dataset's schema.
      if (chunk.rows.length === 0 && keys.length > 0) break;
      const key = layout.rawPart(spec.dataset, spec.businessDate, keys.length);
      const path = workspace.path(`${spec.dataset}-${keys.length}.parquet`);
      await writeRowsParquet(engine, spec.def, chunk.rows.map(spec.toRow), path);
      await workspace.publish(path, key);
      await rm(path);
      keys.push(key);
      rows += chunk.rows.length;
      if (chunk.rows.length < settings.chunkRows) break;
    }
    await db.query(`CLOSE ${cursor}`);
    logger.info('extracted', { dataset: spec.dataset, rows, parts: keys.length });
    return { dataset: spec.dataset, keys, rows };
  }
}

/**
 * The source contract's tables and columns are all there: otherwise the error names the table and every
 * missing column, where PostgreSQL would name only the first column and not its table.
 */
async function assertSourceColumns(db: SqlClient, expected: Record<string, string[]>): Promise<void> {
  const { rows } = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY($1)`,
    [Object.keys(expected)],
  );
  for (const [table, columns] of Object.entries(expected)) {
    const present = new Set(rows.filter((r) => r.table_name === table).map((r) => r.column_name));
    const missing = columns.filter((c) => !present.has(c));
    if (missing.length === 0) continue;
    throw new PermanentError(
      present.size === 0
        ? `source table ${table} is missing (or not readable by the extract); expected it with columns ${columns.join(', ')}`
        : `source table ${table} lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; the extract reads ${columns.join(', ')}`,
    );
  }
}

export const step: Step<ExtractOrdersSettings, PipelineState, ExtractResult[]> = {
  name: 'extract-orders',
  settings: extractOrdersSettings,
  make: makeExtractOrders,
};
export const handler = awsHandler(step);
