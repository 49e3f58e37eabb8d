import { PGlite } from '@electric-sql/pglite';
import { encodeParquet, readParquetColumns } from './lambdas/core/parquet';
import { TABLES } from './lambdas/core/tables';
import { warehouseDdl } from './lambdas/core/sql';
const n = 250_000;
const rows = Array.from({ length: n }, (_, i) => ({ order_id: 'O-' + Math.floor(i / 4), line_no: i % 4, product_id: 'P-' + (i % 1000), category: 'cat' + (i % 20), quantity: 1 + (i % 4), unit_price_cents: BigInt(i % 10000), line_amount_cents: BigInt(i % 30000), order_date: '2024-03-10' }));
const bytes = encodeParquet(TABLES.fact_order_item, rows);
const cols = await readParquetColumns(bytes);
const f = (v: unknown) => v === null ? '' : typeof v === 'string' ? `"${v}"` : String(v);
let t = Date.now();
const csv = cols.rows.map(r => r.map(f).join(',') + '\n').join('');
console.log('csv build', Date.now() - t, csv.length);
const db = await PGlite.create(process.argv[3]);
for (const s of warehouseDdl()) await db.query(s);
await db.query('BEGIN');
await db.query(`CREATE ${process.argv[2]} TABLE x (LIKE analytics.fact_order_item)`);
for (let p = 0; p < 6; p++) {
  t = Date.now();
  await db.query(`COPY x FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob([csv]) });
  console.log('copy', Date.now() - t);
}
await db.query('COMMIT');
