import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ENV_NAMES, loadConfig } from '../../lib/config';
import {
  configReference,
  projectReference,
  REFERENCE_FILE,
  REGENERATE,
} from '../../scripts/config-reference';
import { FIXTURE_CONFIGS } from '../fixtures/docs/config-types';

const FIXTURE_FILE = fileURLToPath(new URL('../fixtures/docs/config-types.ts', import.meta.url));

/** The table row of a field: its cells, without the leading and trailing pipe; undefined without one. */
function rowOf(markdown: string, path: string): string[] | undefined {
  const line = markdown.split('\n').find((l) => l.startsWith(`| \`${path}\` `));
  return line
    ?.slice(2, -2)
    .split(/ (?<!\\)\| /)
    .map((c) => c.trim());
}

function row(markdown: string, path: string): string[] {
  const cells = rowOf(markdown, path);
  assert.ok(cells, `no row for ${path}`);
  return cells;
}

/** `a.b.c` → `a.b.c`, `a.b`, `a`. */
const ancestors = (path: string): string[] =>
  path.split('.').map((_, i, parts) => parts.slice(0, parts.length - i).join('.'));

const valueAt = (config: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], config);

/** Every path of a config object that holds a value (objects walked, arrays and scalars are values). */
function valuePaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([key, v]) => valuePaths(v, prefix ? `${prefix}.${key}` : key));
}

describe('docs/configuration.md', () => {
  // One generation for the three tests: the compiler reads lib/config.ts with all of aws-cdk-lib's types.
  let generated: ReturnType<typeof projectReference> | undefined;
  const generate = () => (generated ??= projectReference());

  test('is what scripts/config-reference.ts generates from lib/config.ts', async () => {
    // Prepare
    const current = await readFile(REFERENCE_FILE, 'utf8').catch(() => '');
    // Act
    const { markdown } = await generate();
    // Assess
    assert.ok(
      current === markdown,
      `docs/configuration.md is out of date with lib/config.ts: run ${REGENERATE} and commit the result`,
    );
  });

  test('every field of lib/config.ts has TSDoc', async () => {
    const { undocumented } = await generate();
    assert.deepEqual(undocumented, [], `document these fields in lib/config.ts, then run ${REGENERATE}`);
  });

  test("lists every field any environment sets, with that environment's value", async () => {
    // Prepare: the paths come from the config objects at run time, not from the types the generator reads.
    const configs = ENV_NAMES.map((env) => loadConfig(env));
    const paths = new Set(configs.flatMap((config) => valuePaths(config)));
    // Act
    const { markdown } = await generate();
    // Assess: each value is in the row of its field, or of the nearest parent shown whole (a union of objects).
    for (const path of paths) {
      const shown = ancestors(path).find((p) => {
        const cells = rowOf(markdown, p);
        return cells !== undefined && cells.slice(2, 2 + ENV_NAMES.length).some((c) => c !== '' && c !== '—');
      });
      assert.ok(shown, `no row shows the value of ${path}`);
      const cells = row(markdown, shown);
      ENV_NAMES.forEach((env, i) => {
        const value = valueAt(configs[i], path);
        if (value === undefined) assert.equal(cells[2 + i], '—', `${path} in ${env}`);
        else assert.notEqual(cells[2 + i], '—', `${path} in ${env}`);
      });
    }
    assert.deepEqual(row(markdown, 'stream.batchSize').slice(2, 5), ['`500`', '`1000`', '`5000`']);
  });
});

describe('configReference', () => {
  const reference = configReference({
    file: FIXTURE_FILE,
    rootType: 'FixtureConfig',
    environments: FIXTURE_CONFIGS,
    preamble: '# Fixture',
  });

  test('flattens nested interfaces into dotted fields with their own and their interface TSDoc', () => {
    assert.deepEqual(row(reference.markdown, 'sla.orders.deadlineUtc'), [
      '`sla.orders.deadlineUtc`',
      '`string`',
      "`'06:00'`",
      "`'05:00'`",
      'Loaded by this UTC time of the next day, e.g. `06:00`.',
    ]);
    assert.deepEqual(row(reference.markdown, 'sla.orders').slice(1), ['`Sla`', '', '', 'The daily orders.']);
    assert.match(reference.markdown, /## `sla`\n\nFreshness per dataset\.\n/);
  });

  test('marks optional fields, shows @default and a dash where an environment leaves a field unset', () => {
    assert.deepEqual(row(reference.markdown, 'feature').slice(1), [
      '`boolean`',
      '—',
      '`true`',
      'Turns the feature on. Optional. Default: false.',
    ]);
    assert.deepEqual(row(reference.markdown, 'sla.events.deadlineUtc').slice(2, 4), ['—', "`'00:15'`"]);
    assert.deepEqual(row(reference.markdown, 'network.vpcId').slice(2, 4), [
      '—',
      "`'vpc-0123456789abcdef0'`",
    ]);
  });

  test('shows arrays and records whole, and the fields of their items below them', () => {
    assert.deepEqual(row(reference.markdown, 'subscribers').slice(1, 4), [
      '`Subscriber[]`',
      '`[]`',
      "`[{ address: 'ops@example.com', kind: 'mail' }]`",
    ]);
    assert.deepEqual(row(reference.markdown, 'subscribers[].kind').slice(1), [
      '`"mail" \\| "hook"`',
      '',
      '',
      "'mail' or 'hook'.",
    ]);
    assert.deepEqual(row(reference.markdown, 'overrides').slice(2, 4), [
      '`{}`',
      "`{ fact_order: { deadlineUtc: '04:00' } }`",
    ]);
    assert.ok(row(reference.markdown, 'overrides.<key>.graceMinutes'));
  });

  test('spells out literal unions, names enum members and escapes pipes in cells', () => {
    assert.equal(row(reference.markdown, 'mode')[1], '`"fast" \\| "safe"`');
    assert.deepEqual(row(reference.markdown, 'retention').slice(2, 4), [
      '`Retention.ONE_WEEK (7)`',
      '`Retention.ONE_MONTH (30)`',
    ]);
    assert.equal(row(reference.markdown, 'tags')[2], "`['a\\|b']`");
    assert.equal(row(reference.markdown, 'undocumentedCount')[2], '`12_345`');
  });

  test('shows a union of interfaces by their names and docs, and a mapped member without flagging it', () => {
    assert.deepEqual(row(reference.markdown, 'rules.events').slice(1), [
      '`ByTime \\| ByAge`',
      '—',
      '`{ maxAgeMinutes: 15 }`',
      '`ByTime`: Loaded by a time of day. `ByAge`: No older than some minutes. Optional.',
    ]);
  });

  test("shows a union of an interface and a literal whole, with the interface's fields below it", () => {
    assert.deepEqual(row(reference.markdown, 'source').slice(1), [
      '`Sla \\| "public"`',
      "`'public'`",
      "`{ deadlineUtc: '04:30' }`",
      "Where the source is: its network, or 'public'.",
    ]);
    assert.deepEqual(row(reference.markdown, 'source.deadlineUtc').slice(2, 4), ['—', "`'04:30'`"]);
  });

  test('names the fields without TSDoc', () => {
    assert.deepEqual(reference.undocumented, [
      'test/fixtures/docs/config-types.ts: FixtureConfig.undocumentedCount',
    ]);
  });

  test('fails with the file and type when the root type is missing', () => {
    assert.throws(
      () => configReference({ file: FIXTURE_FILE, rootType: 'Nope', environments: {}, preamble: '' }),
      /config-types\.ts declares no interface or type Nope/,
    );
  });
});
