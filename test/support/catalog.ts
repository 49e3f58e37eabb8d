/** information_schema.columns as Redshift and PostgreSQL report the tables warehouseDdl creates. */
import type { CatalogColumn } from '../../lambdas/core/schema-migration';
import type { ColumnDef, TableDef } from '../../lambdas/core/tables';

const DATA_TYPES: Record<ColumnDef['kind'], string> = {
  string: 'character varying',
  int32: 'integer',
  int64: 'bigint',
  decimal: 'numeric',
  timestamp: 'timestamp without time zone',
  date: 'date',
  bool: 'boolean',
};

/** The catalog's rows for `tables`, created as declared. */
export function catalogOf(tables: readonly TableDef[]): CatalogColumn[] {
  return tables.flatMap((table) =>
    table.columns.map((column, i) => ({
      table_schema: table.schema!,
      table_name: table.name,
      column_name: column.name,
      ordinal_position: i + 1,
      data_type: DATA_TYPES[column.kind],
      character_maximum_length: column.kind === 'string' ? (column.length ?? 256) : null,
      numeric_precision: column.kind === 'decimal' ? column.precision! : null,
      numeric_scale: column.kind === 'decimal' ? (column.scale ?? 0) : null,
      is_nullable: column.nullable && !table.primaryKey.includes(column.name) ? 'YES' : 'NO',
    })),
  );
}
