import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { CLICKSTREAM_TABLES } from '../../lambdas/core/clickstream/tables';
import {
  createTableSql,
  EVENT_LOAD_LEDGER,
  EVENT_LOAD_MUTEX,
  ident,
  RUN_CLAIM,
  STAGE_TABLE_REGISTRY,
} from '../../lambdas/core/sql';
import { WAREHOUSE_TABLES, type TableDef } from '../../lambdas/core/tables';

const DOC = new URL('../../docs/warehouse-contract.md', import.meta.url);
const DECLARED: TableDef[] = [
  ...WAREHOUSE_TABLES,
  ...Object.values(CLICKSTREAM_TABLES),
  EVENT_LOAD_LEDGER,
  EVENT_LOAD_MUTEX,
  STAGE_TABLE_REGISTRY,
  RUN_CLAIM,
];

interface DocColumn {
  name: string;
  type: string;
  nullable: boolean;
}

/** `### \`schema.table\`` sections and the rows of the column table under each. */
function documentedTables(markdown: string): Map<string, DocColumn[]> {
  const tables = new Map<string, DocColumn[]>();
  let current: DocColumn[] | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^### `([a-z_]+\.[a-z_]+)`$/.exec(line);
    if (heading) tables.set(heading[1], (current = []));
    else if (line.startsWith('## ')) current = undefined;
    const row = /^\| `([a-z_]+)` +\| `([A-Z]+(?:\(\d+(?:,\d+)?\))?)` +\| (yes|no) +\|$/.exec(line);
    if (row && current) current.push({ name: row[1], type: row[2], nullable: row[3] === 'yes' });
  }
  return tables;
}

describe('docs/warehouse-contract.md', () => {
  test('documents exactly the tables the DDL creates, columns in order with their types', async () => {
    // Prepare
    const markdown = await readFile(DOC, 'utf8');
    // Act
    const documented = documentedTables(markdown);
    // Assess
    assert.deepEqual(
      [...documented.keys()].sort(),
      DECLARED.map((t) => `${t.schema}.${t.name}`).sort(),
      'the ### `schema.table` sections of docs/warehouse-contract.md',
    );
    for (const table of DECLARED) {
      const name = `${table.schema}.${table.name}`;
      const columns = documented.get(name)!;
      assert.deepEqual(
        columns.map((c) => c.name),
        table.columns.map((c) => c.name),
        `columns of ${name}`,
      );
      // Each documented column is a line of the table's real DDL.
      const ddl = createTableSql(table, 'postgres').split('\n');
      for (const column of columns) {
        const line = `  ${ident(column.name)} ${column.type}${column.nullable ? '' : ' NOT NULL'}`;
        assert.ok(ddl.includes(line) || ddl.includes(`${line},`), `${name}.${column.name}: ${line.trim()}`);
      }
      assert.match(markdown, new RegExp(`Key \\(${table.primaryKey.join(', ')}\\)`), `key of ${name}`);
    }
  });
});
