/**
 * Generates docs/configuration.md from the config types of lib/config.ts: every field of EnvironmentConfig
 * (nested interfaces, arrays, records and optional fields included) with its type, its value in each
 * environment and its TSDoc. Types and comments come from the TypeScript compiler API; the values from
 * loadConfig, so the page shows exactly what a deploy of each environment uses.
 *
 *   npm run docs:config            writes docs/configuration.md
 *   npm run docs:config -- --check  exits 1 when docs/configuration.md is not what it would write
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CONFIG_FILE = join(REPO, 'lib/config.ts');
export const REFERENCE_FILE = join(REPO, 'docs/configuration.md');
export const ROOT_TYPE = 'EnvironmentConfig';
export const REGENERATE = 'npm run docs:config';

export interface ReferenceSource {
  /** The TypeScript file that declares the root interface. */
  file: string;
  /** The interface whose fields are documented (exported or not). */
  rootType: string;
  /** Each environment's config object, in column order. */
  environments: Record<string, unknown>;
  /** Title and introduction of the page (Markdown). */
  preamble: string;
}

export interface ConfigReference {
  markdown: string;
  /** Fields without any TSDoc (the field's own comment, or for a section its interface's). */
  undocumented: string[];
}

/** One documented field, or a field of the items of an array or record (`values` then undefined). */
interface Field {
  path: string;
  type: string;
  optional: boolean;
  description: string;
  defaultText?: string;
  /** Per environment, in column order; undefined for item fields, whose values their parent row shows. */
  values?: string[];
}

interface Section {
  /** Undefined for the top-level scalars. */
  field?: Field;
  rows: Field[];
}

const UNSET = '—';

/** The Markdown of the reference (not yet formatted); throws when the root interface is not found. */
export function configReference(source: ReferenceSource): ConfigReference {
  const program = ts.createProgram([source.file], compilerOptions());
  const checker = program.getTypeChecker();
  const sourceFile = program.getSourceFile(source.file);
  if (!sourceFile) throw new Error(`config reference: cannot read ${source.file}`);
  const root = sourceFile.statements.find(
    (s): s is ts.InterfaceDeclaration | ts.TypeAliasDeclaration =>
      (ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s)) && s.name.text === source.rootType,
  );
  if (!root) {
    throw new Error(`config reference: ${source.file} declares no interface or type ${source.rootType}`);
  }
  const envNames = Object.keys(source.environments);
  const walker = new Walker(checker, envNames);
  const sections = walker.sections(checker.getTypeAtLocation(root.name), source.environments);
  const file = relative(REPO, source.file);
  return {
    markdown: render(source.preamble, envNames, sections),
    undocumented: walker.undocumented.map((path) => `${file}: ${source.rootType}.${path}`),
  };
}

/** The reference as prettier formats Markdown in this repository, so the checked-in file stays stable. */
export async function formatReference(markdown: string, path = REFERENCE_FILE): Promise<string> {
  const options = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(markdown, { ...options, parser: 'markdown' });
}

/** The reference of this repository's lib/config.ts, formatted. */
export async function projectReference(): Promise<ConfigReference> {
  // Imported here so the generator itself can document any config file (the tests use a fixture).
  const { ENV_NAMES, loadConfig } = await import('../lib/config');
  const environments = Object.fromEntries(ENV_NAMES.map((name) => [name, loadConfig(name)]));
  const reference = configReference({
    file: CONFIG_FILE,
    rootType: ROOT_TYPE,
    environments,
    preamble: PROJECT_PREAMBLE,
  });
  return { ...reference, markdown: await formatReference(reference.markdown) };
}

const PROJECT_PREAMBLE = `<!-- Generated from lib/config.ts by scripts/config-reference.ts. Do not edit: change the TSDoc or the
config in lib/config.ts, then run \`${REGENERATE}\` (CI fails when this file is out of date). -->

# Configuration reference

Every difference between environments lives in [\`lib/config.ts\`](../lib/config.ts): one typed config per
environment, chosen at deploy time with \`npx cdk deploy -c env=<name>\` (no \`-c env\` means \`dev\`).
\`validateConfig\` checks every field before any construct reads it, so a bad value fails \`cdk synth\`
with an error naming the field, the value and what is allowed.

The columns below show each environment's value as \`loadConfig\` returns it; ${UNSET} means the field is
not set in that environment (its default applies).`;

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(REPO, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, REPO).options;
}

class Walker {
  readonly undocumented: string[] = [];

  constructor(
    private readonly checker: ts.TypeChecker,
    private readonly envNames: string[],
  ) {}

  /** Top-level scalars first, then one section per top-level object field, in declaration order. */
  sections(root: ts.Type, environments: Record<string, unknown>): Section[] {
    const top: Section = { rows: [] };
    const nested: Section[] = [];
    for (const property of this.checker.getPropertiesOfType(root)) {
      const name = property.getName();
      const values = this.envNames.map((env) => member(environments[env], name));
      const type = this.nonNullType(property);
      if (this.isSection(type)) {
        const section: Section = { field: this.field(property, name, values), rows: [] };
        this.collect(type, name, values, section.rows);
        nested.push(section);
      } else {
        top.rows.push(...this.leaf(property, name, values));
      }
    }
    return [top, ...nested];
  }

  /** The rows of every field under `type`, nested objects flattened to dotted paths. */
  private collect(type: ts.Type, prefix: string, values: unknown[] | undefined, rows: Field[]): void {
    for (const property of this.checker.getPropertiesOfType(type)) {
      const name = property.getName();
      const path = `${prefix}.${name}`;
      const own = values?.map((value) => member(value, name));
      const propertyType = this.nonNullType(property);
      if (this.isSection(propertyType)) {
        rows.push(this.field(property, path, own));
        this.collect(propertyType, path, own, rows);
      } else {
        rows.push(...this.leaf(property, path, own));
      }
    }
  }

  /**
   * A value field; an array or record of objects adds rows for its items' fields (values in this row), a
   * union of an interface and literals (`Network | 'public'`) rows for the interface's fields.
   */
  private leaf(property: ts.Symbol, path: string, values: unknown[] | undefined): Field[] {
    const rows = [this.field(property, path, values)];
    const type = this.nonNullType(property);
    const items = this.itemsOf(type);
    if (items && this.isSection(items.type))
      this.collect(items.type, `${path}${items.suffix}`, undefined, rows);
    else if (type.isUnion() && type.types.some((t) => !(t.flags & ts.TypeFlags.Object))) {
      // A union of interfaces only (`ByTime | ByAge`) stays one row: its docs name the members.
      for (const member of type.types) if (this.isSection(member)) this.collect(member, path, values, rows);
    }
    return rows;
  }

  private field(property: ts.Symbol, path: string, values: unknown[] | undefined): Field {
    const type = this.nonNullType(property);
    const description = docText(property.getDocumentationComment(this.checker)) || this.typeDoc(type);
    // A member of a mapped type (`{ [D in Dataset]?: Rule }`) has no declaration to comment: its parent's
    // comment describes it.
    const declared = property.valueDeclaration !== undefined;
    if (description === '' && declared) this.undocumented.push(path);
    const defaultTag = property.getJsDocTags(this.checker).find((tag) => tag.name === 'default');
    return {
      path,
      type: this.typeText(type),
      optional: (property.flags & ts.SymbolFlags.Optional) !== 0,
      description,
      defaultText: defaultTag ? docText(defaultTag.text ?? []) : undefined,
      values: values?.map((value) => this.valueText(type, value)),
    };
  }

  /**
   * A field without a comment of its own takes its type's: an interface's (`engine: EngineConfig`), or for
   * a union of interfaces each member's (`LoadedByRule | MaxAgeRule`).
   */
  private typeDoc(type: ts.Type): string {
    const named = (t: ts.Type) => {
      const name = t.getSymbol()?.getName();
      return name !== undefined && !name.startsWith('__') ? name : undefined;
    };
    const doc = (t: ts.Type) => docText(t.getSymbol()?.getDocumentationComment(this.checker) ?? []);
    if (type.isUnion() && type.types.every((t) => t.flags & ts.TypeFlags.Object && named(t))) {
      const parts = type.types.filter((t) => doc(t) !== '').map((t) => `\`${named(t)}\`: ${doc(t)}`);
      return parts.length === type.types.length ? parts.join(' ') : '';
    }
    return type.aliasSymbol === undefined && named(type) ? doc(type) : '';
  }

  private nonNullType(property: ts.Symbol): ts.Type {
    return this.checker.getNonNullableType(this.checker.getTypeOfSymbol(property));
  }

  /** An object with named fields of its own, declared in the project (not a library class). */
  private isSection(type: ts.Type): boolean {
    if (
      !(type.flags & ts.TypeFlags.Object) ||
      this.checker.isArrayType(type) ||
      this.checker.isTupleType(type)
    ) {
      return false;
    }
    if (type.getCallSignatures().length > 0 || this.checker.getPropertiesOfType(type).length === 0)
      return false;
    const declarations = type.getSymbol()?.declarations ?? [];
    return declarations.every((d) => !d.getSourceFile().fileName.includes('/node_modules/'));
  }

  /** The item type of an array (`[]`) or of a string-keyed record (`.<key>`). */
  private itemsOf(type: ts.Type): { type: ts.Type; suffix: string } | undefined {
    if (this.checker.isArrayType(type)) {
      return { type: this.checker.getTypeArguments(type as ts.TypeReference)[0], suffix: '[]' };
    }
    const index = this.checker.getIndexInfosOfType(type)[0];
    if (index && this.checker.getPropertiesOfType(type).length === 0) {
      return { type: index.type, suffix: '.<key>' };
    }
    return undefined;
  }

  private typeText(type: ts.Type): string {
    if (this.isSection(type)) {
      // A named interface by its name; an inline type literal is just an object.
      const name = type.getSymbol()?.getName();
      return name === undefined || name.startsWith('__') ? 'object' : name;
    }
    const literals = type.isUnion() ? type.types : [type];
    // A union of interfaces by their names (the alias alone would hide what is allowed).
    const names = literals.map((t) => t.getSymbol()?.getName());
    if (
      type.isUnion() &&
      literals.every((t, i) => t.flags & ts.TypeFlags.Object && !names[i]?.startsWith('__'))
    ) {
      return names.join(' | ');
    }
    // A union of string or number literals reads best spelled out, whatever alias declared it.
    if (!this.enumMembers(type) && literals.every((t) => t.isStringLiteral() || t.isNumberLiteral())) {
      return literals.map((t) => this.checker.typeToString(t)).join(' | ');
    }
    return this.checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);
  }

  /** For an enum type, value → `Enum.MEMBER`. */
  private enumMembers(type: ts.Type): Map<unknown, string> | undefined {
    const symbol = type.getSymbol() ?? type.aliasSymbol;
    if (!symbol || !(symbol.flags & ts.SymbolFlags.Enum)) return undefined;
    const members = new Map<unknown, string>();
    for (const member of type.isUnion() ? type.types : [type]) {
      if ((member.isNumberLiteral() || member.isStringLiteral()) && !members.has(member.value)) {
        members.set(member.value, `${symbol.getName()}.${member.getSymbol()?.getName()}`);
      }
    }
    return members;
  }

  private valueText(type: ts.Type, value: unknown): string {
    if (value === undefined) return UNSET;
    if (this.isSection(type)) return '';
    const member = this.enumMembers(type)?.get(value);
    return `\`${member ? `${member} (${literal(value)})` : literal(value)}\``;
  }
}

const member = (value: unknown, name: string): unknown =>
  value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;

const docText = (parts: readonly ts.SymbolDisplayPart[]): string =>
  ts
    .displayPartsToString([...parts])
    .replace(/\s*\n\s*/g, ' ')
    .trim();

/** A value as TypeScript source would spell it: 'text', 5_000_000, [a, b], { key: value }. */
function literal(value: unknown): string {
  if (typeof value === 'string') return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) >= 10_000
      ? String(value).replace(/\B(?=(\d{3})+(?!\d))/g, '_')
      : String(value);
  }
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return `{ ${entries.map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : literal(k)}: ${literal(v)}`).join(', ')} }`;
  }
  return String(value);
}

/** A table cell: one line, pipes escaped (also inside code spans, as GitHub's tables require). */
const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replaceAll('|', '\\|');

function describeField(field: Field): string {
  const notes: string[] = [];
  if (field.optional) notes.push('Optional.');
  if (field.defaultText) notes.push(`Default: ${field.defaultText}.`);
  return [field.description, ...notes].filter((s) => s !== '').join(' ');
}

function table(envNames: string[], rows: Field[]): string[] {
  const header = ['Field', 'Type', ...envNames, 'Description'];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) {
    const values = row.values ?? envNames.map(() => '');
    const cells = [`\`${row.path}\``, `\`${row.type}\``, ...values, describeField(row)];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return lines;
}

function render(preamble: string, envNames: string[], sections: Section[]): string {
  const lines = [preamble, ''];
  for (const section of sections) {
    if (section.field === undefined) {
      if (section.rows.length === 0) continue;
      lines.push('## Top-level fields', '');
    } else {
      lines.push(`## \`${section.field.path}\``, '', describeField(section.field), '');
    }
    lines.push(...table(envNames, section.rows), '');
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { markdown, undocumented } = await projectReference();
  for (const path of undocumented) process.stderr.write(`warning: no TSDoc on ${path}\n`);
  const target = relative(process.cwd(), REFERENCE_FILE);
  if (argv.includes('--check')) {
    const current = await readFile(REFERENCE_FILE, 'utf8').catch(() => '');
    if (current === markdown) return 0;
    process.stderr.write(`${target} is out of date with lib/config.ts: run ${REGENERATE}\n`);
    return 1;
  }
  await writeFile(REFERENCE_FILE, markdown);
  process.stdout.write(`wrote ${target}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
