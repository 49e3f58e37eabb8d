/**
 * Brings a deployed warehouse's tables forward to their declarations (core/tables.ts, core/sql.ts), for
 * EnsureWarehouse: `CREATE TABLE IF NOT EXISTS` leaves an existing table as it is, so each declared table is
 * compared with the warehouse's catalog (information_schema.columns, alike in Redshift and PostgreSQL).
 *
 * Applied: a missing table is created, a column appended to the declaration is added (nullable, or with its
 * declared default), a VARCHAR is widened. Refused, before anything changes: whatever would lose data or
 * break COPY FROM PARQUET, which maps columns by position (a dropped, renamed, reordered, inserted or
 * retyped column). The statements are the same for both dialects and keep to Redshift's ALTER TABLE rules:
 * one column per ADD COLUMN, a NOT NULL column only with a DEFAULT, no key column added, ALTER COLUMN … TYPE
 * only to widen a VARCHAR that is no key and has no default, and never inside a transaction block.
 */
import { chunked, MAX_BATCH_STATEMENTS } from './data-api-limits';
import { SchemaChangeRefusedError, type RefusedSchemaChange } from './errors';
import { columnSql, ident, insertSql, literal, qualifiedName, sqlType } from './sql';
import { TABLES, type ColumnDef, type TableDef } from './tables';

/** One column of a warehouse table, as information_schema.columns describes it in both dialects. */
export interface CatalogColumn {
  table_schema: string;
  table_name: string;
  column_name: string;
  ordinal_position: number | string;
  data_type: string;
  character_maximum_length: number | string | null;
  numeric_precision: number | string | null;
  numeric_scale: number | string | null;
  /** 'YES' or 'NO' */
  is_nullable: string;
}

/** The columns of the declared tables that exist, in table and column order: the readiness check's one query. */
export function catalogColumnsSql(tables: readonly TableDef[]): string {
  const names = tables.map((t) => literal(`${t.schema}.${t.name}`)).join(', ');
  return `SELECT table_schema, table_name, column_name, ordinal_position, data_type,
      character_maximum_length, numeric_precision, numeric_scale, is_nullable
    FROM information_schema.columns
    WHERE table_schema || '.' || table_name IN (${names})
    ORDER BY table_schema, table_name, ordinal_position`;
}

/** One change EnsureWarehouse applies. */
export interface SchemaChange {
  table: TableDef;
  /** '' for a created table. */
  column: string;
  /** What it does, as ops.schema_change records it: `created table`, `added INTEGER`, `widened VARCHAR(3) to VARCHAR(8)`. */
  change: string;
  /** The ALTER TABLE that applies it; none for a created table (warehouseDdl creates it). */
  sql?: string;
  /** Redshift runs ALTER COLUMN … TYPE only outside a transaction block: its own statement, not a batch. */
  ownStatement: boolean;
}

/** The catalog's type of a column in the declarations' spelling (core/sql.ts sqlType). */
function catalogType(column: CatalogColumn): string {
  const number = (value: number | string | null) => (value === null ? undefined : Number(value));
  switch (column.data_type) {
    case 'character varying': {
      const length = number(column.character_maximum_length);
      return length === undefined ? 'VARCHAR' : `VARCHAR(${length})`;
    }
    case 'numeric':
      return `NUMERIC(${number(column.numeric_precision)},${number(column.numeric_scale) ?? 0})`;
    case 'timestamp without time zone':
      return 'TIMESTAMP';
    default:
      return column.data_type.toUpperCase();
  }
}

const varcharLength = (type: string): number | undefined => {
  const match = /^VARCHAR\((\d+)\)$/.exec(type);
  return match ? Number(match[1]) : undefined;
};

/** Primary, sort and distribution key columns: Redshift neither adds nor alters them. */
const keyColumns = (table: TableDef) =>
  new Set([...table.primaryKey, ...(table.sortKey ?? []), ...(table.distKey ? [table.distKey] : [])]);

/** A primary key column is NOT NULL whatever it declares: PostgreSQL makes it so. */
const declaredNullable = (table: TableDef, column: ColumnDef) =>
  column.nullable && !table.primaryKey.includes(column.name);

const REBUILD =
  'rebuild the table (docs/warehouse-contract.md, "Changing a table by hand"), or restore its declaration';

/**
 * What EnsureWarehouse must apply for the warehouse (`catalog`, catalogColumnsSql's rows) to match the
 * declared `tables`; none when it matches. Throws SchemaChangeRefusedError, naming every table, column and
 * change it will not apply, when any difference would lose data or break COPY.
 */
export function planSchemaChanges(
  tables: readonly TableDef[],
  catalog: readonly CatalogColumn[],
): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const refusals: RefusedSchemaChange[] = [];
  for (const table of tables) {
    const existing = catalog
      .filter((c) => c.table_schema === table.schema && c.table_name === table.name)
      .sort((a, b) => Number(a.ordinal_position) - Number(b.ordinal_position));
    if (existing.length === 0) {
      changes.push({ table, column: '', change: 'created table', ownStatement: false });
      continue;
    }
    const compared = compareTable(table, existing);
    changes.push(...compared.changes);
    refusals.push(...compared.refusals);
  }
  if (refusals.length > 0) throw new SchemaChangeRefusedError(refusals);
  return changes;
}

function compareTable(
  table: TableDef,
  existing: CatalogColumn[],
): { changes: SchemaChange[]; refusals: RefusedSchemaChange[] } {
  const name = qualifiedName(table);
  const changes: SchemaChange[] = [];
  const refusals: RefusedSchemaChange[] = [];
  const refuse = (column: string, change: string, byHand: string) =>
    refusals.push({ table: `${table.schema}.${table.name}`, column, change, byHand });
  const declared = table.columns;
  const declaredNames = new Set(declared.map((c) => c.name));
  const existingNames = new Set(existing.map((c) => c.column_name));
  const keys = keyColumns(table);

  // A warehouse column no longer declared: renamed when a new name took its place, else dropped.
  const renamedTo = new Set<string>();
  existing.forEach((column, i) => {
    if (declaredNames.has(column.column_name)) return;
    const successor = declared[i];
    if (successor !== undefined && !existingNames.has(successor.name)) {
      renamedTo.add(successor.name);
      refuse(
        column.column_name,
        `renamed to ${successor.name}`,
        `ALTER TABLE ${name} RENAME COLUMN ${ident(column.column_name)} TO ${ident(successor.name)}`,
      );
    } else {
      refuse(
        column.column_name,
        'dropped (in the warehouse, no longer declared; COPY needs as many columns as the Parquet has)',
        `keep what you need of its data, then ALTER TABLE ${name} DROP COLUMN ${ident(column.column_name)}; or restore its declaration`,
      );
    }
  });

  // The columns both have must keep their order: COPY maps by position.
  const inWarehouse = existing.map((c) => c.column_name).filter((c) => declaredNames.has(c));
  const inDeclaration = declared.map((c) => c.name).filter((c) => existingNames.has(c));
  const moved = inDeclaration.findIndex((column, i) => inWarehouse[i] !== column);
  if (moved >= 0) {
    const column = inDeclaration[moved];
    refuse(
      column,
      `reordered (declared column ${declared.findIndex((c) => c.name === column) + 1}, column ${existing.findIndex((c) => c.column_name === column) + 1} in the warehouse)`,
      REBUILD,
    );
  }

  // Declared columns the warehouse lacks: appended when none it has follows them.
  const lastPresent = declared.findLastIndex((c) => existingNames.has(c.name) || renamedTo.has(c.name));
  declared.forEach((column, i) => {
    if (existingNames.has(column.name) || renamedTo.has(column.name)) return;
    if (i < lastPresent) {
      refuse(
        column.name,
        `missing before ${declared[i + 1].name} (ALTER TABLE adds a column only at the end)`,
        `declare it after the last column instead, or ${REBUILD}`,
      );
    } else if (keys.has(column.name)) {
      refuse(
        column.name,
        'added as a key column (Redshift adds no primary, sort or distribution key)',
        REBUILD,
      );
    } else if (!declaredNullable(table, column) && column.default === undefined) {
      refuse(
        column.name,
        'added NOT NULL without a default (the rows already loaded have no value for it)',
        `declare it nullable or with a default (ColumnDef.default), or ALTER TABLE ${name} ADD COLUMN ${ident(column.name)} ${sqlType(column)} DEFAULT <value> NOT NULL`,
      );
    } else {
      changes.push({
        table,
        column: column.name,
        change: `added ${sqlType(column)}${column.default === undefined ? '' : ` DEFAULT ${column.default}`}`,
        sql: `ALTER TABLE ${name} ADD COLUMN ${columnSql(column)}`,
        ownStatement: false,
      });
    }
  });

  // The columns both have: same type (or a VARCHAR to widen) and nullability.
  for (const column of existing) {
    const def = declared.find((c) => c.name === column.column_name);
    if (def === undefined) continue;
    const was = catalogType(column);
    const wanted = sqlType(def);
    if (was !== wanted) {
      const from = varcharLength(was);
      const to = varcharLength(wanted);
      const change = `${was} to ${wanted}`;
      if (from === undefined || to === undefined) {
        refuse(def.name, `retyped ${change}`, `add a column of the new type and fill it; ${REBUILD}`);
      } else if (to < from) {
        refuse(
          def.name,
          `narrowed ${change} (longer values would not fit)`,
          `restore the length, or ${REBUILD}`,
        );
      } else if (keys.has(def.name) || def.default !== undefined) {
        refuse(
          def.name,
          `widened ${change}, but Redshift alters no key column and no column with a default`,
          REBUILD,
        );
      } else {
        changes.push({
          table,
          column: def.name,
          change: `widened ${change}`,
          sql: `ALTER TABLE ${name} ALTER COLUMN ${ident(def.name)} TYPE ${wanted}`,
          ownStatement: true,
        });
      }
    }
    const nullable = column.is_nullable === 'YES';
    if (nullable !== declaredNullable(table, def)) {
      refuse(
        def.name,
        nullable
          ? 'made NOT NULL (nullable in the warehouse)'
          : 'made nullable (NOT NULL in the warehouse: COPY would refuse a null)',
        `Redshift changes no column's nullability: ${REBUILD}`,
      );
    }
  }
  return { changes, refusals };
}

/** `schema.table[.column]: change`, as EnsureWarehouse logs and returns an applied change. */
export const describeChange = ({ table, column, change }: SchemaChange): string =>
  `${table.schema}.${table.name}${column ? `.${column}` : ''}: ${change}`;

/** ops.schema_change's rows for `changes`, applied by `codeVersion` at `appliedAt`. */
export function recordSchemaChangesSql(
  changes: readonly SchemaChange[],
  codeVersion: string,
  appliedAt: Date,
): string[] {
  return insertSql(
    TABLES.schema_change,
    changes.map(({ table, column, change }) => ({
      applied_at: appliedAt,
      table_name: `${table.schema}.${table.name}`,
      column_name: column,
      change,
      code_version: codeVersion,
    })),
  );
}

/** One call that applies changes: `statement` alone first (ExecuteStatement) when given, then `batch`. */
export interface AlterCall {
  statement?: string;
  batch: string[];
  /** What the call applies. */
  changes: SchemaChange[];
}

/**
 * The ALTER TABLE statements of `changes` in the calls that apply them: adds in batches the Data API takes,
 * each with its ops.schema_change rows (a transaction each), and each widening on its own (`ownStatement`),
 * its record in a batch after it.
 */
export function alterCalls(
  changes: readonly SchemaChange[],
  codeVersion: string,
  appliedAt: Date,
): AlterCall[] {
  const altered = changes.filter((c) => c.sql !== undefined);
  const record = (of: SchemaChange[]) => recordSchemaChangesSql(of, codeVersion, appliedAt);
  return [
    ...chunked(
      altered.filter((c) => !c.ownStatement),
      MAX_BATCH_STATEMENTS - 1,
    ).map((adds) => ({ batch: [...adds.map((c) => c.sql!), ...record(adds)], changes: adds })),
    ...altered
      .filter((c) => c.ownStatement)
      .map((c) => ({ statement: c.sql!, batch: record([c]), changes: [c] })),
  ];
}
