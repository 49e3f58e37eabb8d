import type { ExtractResult, PipelineState } from '../core/contracts';
import { assertBusinessDate } from '../core/dates';
import { layout } from '../core/layout';
import type { Dataset } from '../core/model';
import {
  orderFromSource,
  orderItemFromSource,
  orderItemsCursorSql,
  ordersCursorSql,
} from '../core/source-rows';
import { TABLES, type TableDef } from '../core/tables';
import { adapters } from '../adapters/context';
import { writeParquet } from '../adapters/lake-tables';
import { logger } from '../adapters/observability';
import type { SqlClient } from '../adapters/ports';
import { HANDLER_ENV } from '../steps';

const DEFAULT_CHUNK_ROWS = 50_000;

/**
 * Source orders and their items for the business date → raw/ Parquet, one part per chunk read
 * through a server-side cursor, so the day never sits in memory whole.
 */
export const handler = async (state: PipelineState): Promise<ExtractResult[]> => {
  const businessDate = assertBusinessDate(state.run.businessDate, 'run.businessDate');
  const chunkRows = Number(process.env[HANDLER_ENV.extractChunkRows] ?? DEFAULT_CHUNK_ROWS);
  const { lake, source } = adapters();
  const connection = await source.connect();
  try {
    await connection.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const orders = await extractDataset(connection, {
      dataset: 'orders',
      sql: ordersCursorSql(businessDate),
      def: TABLES.raw_orders,
      toRow: orderFromSource,
      businessDate,
      chunkRows,
    });
    const items = await extractDataset(connection, {
      dataset: 'order_items',
      sql: orderItemsCursorSql(businessDate),
      def: TABLES.raw_order_items,
      toRow: orderItemFromSource,
      businessDate,
      chunkRows,
    });
    await connection.query('COMMIT');
    return [orders, items];
  } finally {
    await connection.release();
  }

  async function extractDataset<S, T extends object>(
    db: SqlClient,
    spec: {
      dataset: Dataset;
      sql: string;
      def: TableDef;
      toRow: (row: S) => T;
      businessDate: string;
      chunkRows: number;
    },
  ): Promise<ExtractResult> {
    // Parts of an earlier run of this date would otherwise linger if this run writes fewer.
    await lake.deletePrefix(layout.rawPrefix(spec.dataset, spec.businessDate));
    const cursor = `extract_${spec.dataset}`;
    await db.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${spec.sql}`);
    const keys: string[] = [];
    let rows = 0;
    for (;;) {
      const chunk = await db.query<S>(`FETCH FORWARD ${spec.chunkRows} FROM ${cursor}`);
      if (chunk.rows.length === 0 && keys.length > 0) break;
      const key = layout.rawPart(spec.dataset, spec.businessDate, keys.length);
      await writeParquet(lake, key, spec.def, chunk.rows.map(spec.toRow));
      keys.push(key);
      rows += chunk.rows.length;
      if (chunk.rows.length < spec.chunkRows) break;
    }
    await db.query(`CLOSE ${cursor}`);
    logger.info('extracted', { dataset: spec.dataset, rows, parts: keys.length });
    return { dataset: spec.dataset, keys, rows };
  }
};
