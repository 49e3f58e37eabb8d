/** Parquet objects for tests, written by DuckDB exactly as the steps write them (core/engine/table-io.ts). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LakeStore } from '../../lambdas/adapters/ports';
import { Engine } from '../../lambdas/core/engine/engine';
import { writeRowsParquet } from '../../lambdas/core/engine/table-io';
import type { TableDef } from '../../lambdas/core/tables';

/** Rows (keyed by each column's `field`) → one Parquet file at `path`. */
export async function writeParquetFile(def: TableDef, rows: readonly object[], path: string): Promise<void> {
  const engine = await Engine.open({ memoryLimitMb: 256, tempDirectory: `${path}.spill`, threads: 1 });
  try {
    await writeRowsParquet(engine, def, rows, path);
  } finally {
    engine.close();
  }
}

/** Rows → a Parquet object at `key` in the lake. */
export async function putParquet(
  lake: LakeStore,
  key: string,
  def: TableDef,
  rows: readonly object[],
): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), 'cartflow-test-parquet-'));
  try {
    const path = join(directory, 'part.parquet');
    await writeParquetFile(def, rows, path);
    await lake.upload(key, path, 'application/vnd.apache.parquet');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
