/** Typed Parquet and JSON Lines I/O over the lake, shared by the steps. */
import { decodeParquet, encodeParquet } from '../core/parquet';
import type { TableDef } from '../core/tables';
import type { LakeStore } from './ports';

export async function writeParquet<T extends object>(lake: LakeStore, key: string, def: TableDef, rows: T[]) {
  await lake.put(key, encodeParquet(def, rows), 'application/vnd.apache.parquet');
}

/** Every Parquet object under a prefix, in key order, as rows of `def`. */
export async function readParquetPrefix<T>(lake: LakeStore, def: TableDef, prefix: string): Promise<T[]> {
  const objects = (await lake.list(prefix)).filter((o) => o.key.endsWith('.parquet'));
  objects.sort((a, b) => a.key.localeCompare(b.key));
  const rows: T[] = [];
  for (const object of objects) {
    for (const row of (await decodeParquet(def, await lake.get(object.key))) as T[]) rows.push(row);
  }
  return rows;
}

export async function readParquet<T>(lake: LakeStore, def: TableDef, key: string): Promise<T[]> {
  return (await decodeParquet(def, await lake.get(key))) as T[];
}

const jsonReplacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export async function writeJsonLines(lake: LakeStore, key: string, records: unknown[]) {
  const body = records.map((r) => JSON.stringify(r, jsonReplacer)).join('\n');
  await lake.put(key, records.length ? `${body}\n` : '', 'application/x-ndjson');
}

export async function writeJson(lake: LakeStore, key: string, value: unknown) {
  await lake.put(key, JSON.stringify(value, jsonReplacer, 2), 'application/json');
}
