/** JSON Lines over the lake (quarantined records), shared by the steps; Parquet is DuckDB's (core/engine). */
import type { LakeObject, LakeStore } from './ports';

/** The object at exactly `key` (a listing of `key` as a prefix may hold longer keys too); undefined if none. */
export async function findObject(lake: LakeStore, key: string): Promise<LakeObject | undefined> {
  return (await lake.list(key)).find((o) => o.key === key);
}

const jsonReplacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export async function writeJsonLines(lake: LakeStore, key: string, records: unknown[]) {
  const body = records.map((r) => JSON.stringify(r, jsonReplacer)).join('\n');
  await lake.put(key, records.length ? `${body}\n` : '', 'application/x-ndjson');
}
