/** JSON Lines over the lake (quarantined records), shared by the steps; Parquet is DuckDB's (core/engine). */
import type { LakeStore } from './ports';

const jsonReplacer = (_key: string, value: unknown) => (typeof value === 'bigint' ? value.toString() : value);

export async function writeJsonLines(lake: LakeStore, key: string, records: unknown[]) {
  const body = records.map((r) => JSON.stringify(r, jsonReplacer)).join('\n');
  await lake.put(key, records.length ? `${body}\n` : '', 'application/x-ndjson');
}
