/** Loads test/fixtures/warehouse/*.json into typed rows: money strings → bigint cents, ISO strings → Date. */
import { readFileSync } from 'node:fs';
import type { BatchTable } from '../../lambdas/core/model';
import type { TableDef } from '../../lambdas/core/tables';
import { TABLES } from '../../lambdas/core/tables';

const FIXTURES = new URL('../fixtures/warehouse/', import.meta.url);

/** JSON values → the row types of `def` (decimal fields as strings, timestamps as ISO strings). */
export function typedRows(def: TableDef, json: Record<string, unknown>[]): Record<string, unknown>[] {
  return json.map((row) => {
    const typed: Record<string, unknown> = { ...row };
    for (const column of def.columns) {
      const value = row[column.field];
      if (value === null || value === undefined) continue;
      if (column.kind === 'decimal') typed[column.field] = BigInt(value as string);
      if (column.kind === 'timestamp') typed[column.field] = new Date(value as string);
    }
    return typed;
  });
}

export interface CuratedFixture {
  businessDate: string;
  rows: Record<BatchTable, Record<string, unknown>[]>;
}

export function loadCuratedFixture(name = 'curated-2024-03-10.json'): CuratedFixture {
  const json = JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as Record<string, unknown>;
  const table = (t: BatchTable) => typedRows(TABLES[t], json[t] as Record<string, unknown>[]);
  return {
    businessDate: json.businessDate as string,
    rows: {
      dim_product: table('dim_product'),
      fact_order: table('fact_order'),
      fact_order_item: table('fact_order_item'),
      agg_daily_sales: table('agg_daily_sales'),
    },
  };
}
