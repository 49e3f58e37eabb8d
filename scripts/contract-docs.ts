/**
 * Generates the declared parts of the contract docs from lambdas/core/tables.ts (and the other tables the
 * warehouse DDL creates): the source tables' SQL in docs/source-contract.md and the column table of every
 * `### \`schema.table\`` section of docs/warehouse-contract.md. The prose around them stays hand-written.
 *
 *   npm run docs:contracts            rewrites both files
 *   npm run docs:contracts -- --check  exits 1 when either is not what it would write
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { sourceType } from '../lambdas/core/source-rows';
import { declaredTables, sqlType } from '../lambdas/core/sql';
import { DECLARATIONS, warehouseTables, type Declarations, type TableDef } from '../lambdas/core/tables';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_CONTRACT = join(REPO, 'docs/source-contract.md');
export const WAREHOUSE_CONTRACT = join(REPO, 'docs/warehouse-contract.md');
export const REGENERATE = 'npm run docs:contracts';

/** The source tables as the extract expects them, one comment per column that says more than its type. */
export function sourceTablesSql(declarations: Declarations): string {
  return Object.values(declarations.sources)
    .map((dataset) => {
      const width = Math.max(...dataset.columns.map((c) => c.name.length));
      const types = dataset.columns.map(
        (c, i) => `${sourceType(c)}${i < dataset.columns.length - 1 ? ',' : ''}`,
      );
      const typeWidth = Math.max(...types.map((t) => t.length));
      const lines = dataset.columns.map((c, i) => {
        const line = `  ${c.name.padEnd(width)} ${c.doc === undefined ? types[i] : types[i].padEnd(typeWidth)}`;
        return c.doc === undefined ? line : `${line} -- ${c.doc}`;
      });
      return `CREATE TABLE ${dataset.table} (\n${lines.join('\n')}\n);`;
    })
    .join('\n');
}

/** A table's columns as the Markdown table of its warehouse-contract section. */
export function columnTable(table: TableDef): string[] {
  return [
    '| column | type | null |',
    '| --- | --- | --- |',
    ...table.columns.map((c) => `| \`${c.name}\` | \`${sqlType(c)}\` | ${c.nullable ? 'yes' : 'no'} |`),
  ];
}

/** docs/source-contract.md with the SQL block under "## The shop database" generated. */
export function withSourceTables(markdown: string, declarations: Declarations): string {
  const lines = markdown.split('\n');
  const heading = lines.findIndex((l) => l.startsWith('## The shop database'));
  const start = lines.findIndex((l, i) => i > heading && l === '```sql');
  const end = lines.findIndex((l, i) => i > start && l === '```');
  if (heading < 0 || start < 0 || end < 0) {
    throw new Error('docs/source-contract.md: expected a ```sql block under "## The shop database"');
  }
  return [...lines.slice(0, start + 1), sourceTablesSql(declarations), ...lines.slice(end)].join('\n');
}

/** docs/warehouse-contract.md with the column table of every table the DDL creates generated. */
export function withColumnTables(markdown: string, tables: readonly TableDef[]): string {
  const lines = markdown.split('\n');
  for (const table of tables) {
    const title = `### \`${table.schema}.${table.name}\``;
    const heading = lines.indexOf(title);
    if (heading < 0) {
      throw new Error(
        `docs/warehouse-contract.md has no section ${title}: add it (a sentence on what a row is and its key), then run ${REGENERATE}`,
      );
    }
    const next = lines.findIndex((l, i) => i > heading && l.startsWith('#'));
    const sectionEnd = next < 0 ? lines.length : next;
    const start = lines.findIndex((l, i) => i > heading && i < sectionEnd && l.startsWith('| column'));
    if (start < 0) {
      // A new section: the table goes after its prose, before the next heading.
      lines.splice(sectionEnd, 0, ...columnTable(table), '');
      continue;
    }
    let end = start;
    while (end < lines.length && lines[end].startsWith('|')) end++;
    lines.splice(start, end - start, ...columnTable(table));
  }
  return lines.join('\n');
}

const format = async (markdown: string, path: string): Promise<string> =>
  prettier.format(markdown, { ...((await prettier.resolveConfig(path)) ?? {}), parser: 'markdown' });

/** Both contract docs as they would be written from `declarations`, formatted; keyed by path. */
export async function contractDocs(declarations: Declarations = DECLARATIONS): Promise<Map<string, string>> {
  const source = await readFile(SOURCE_CONTRACT, 'utf8');
  const warehouse = await readFile(WAREHOUSE_CONTRACT, 'utf8');
  const tables = declaredTables(warehouseTables(declarations.tables));
  return new Map([
    [SOURCE_CONTRACT, await format(withSourceTables(source, declarations), SOURCE_CONTRACT)],
    [WAREHOUSE_CONTRACT, await format(withColumnTables(warehouse, tables), WAREHOUSE_CONTRACT)],
  ]);
}

async function main(argv: string[]): Promise<number> {
  let stale = 0;
  for (const [path, markdown] of await contractDocs()) {
    const target = relative(process.cwd(), path);
    if (argv.includes('--check')) {
      if ((await readFile(path, 'utf8')) === markdown) continue;
      process.stderr.write(`${target} is out of date with lambdas/core/tables.ts: run ${REGENERATE}\n`);
      stale++;
    } else {
      await writeFile(path, markdown);
      process.stdout.write(`wrote ${target}\n`);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
