import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { HANDLER_ENV, LAKE, LAKE_ZONES, METRIC, METRICS_NAMESPACE } from '../../lambdas/contract';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONTRACT = join('lambdas', 'contract.ts');
/** The code that must take its lake prefixes, metric names and variable names from the contract. */
const GUARDED_DIRS = ['lib', 'lambdas', 'local', 'bin'];

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports (`import`/`export … from './x'`, type-only ones too) of each file in `dir`, by file stem. */
function importGraph(dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(join(ROOT, dir)).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(ROOT, dir, file), 'utf8');
    const targets = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+'\.\/([\w.-]+)'/g)].map(
      (m) => m[1].replace(/\.ts$/, ''),
    );
    graph.set(file.replace(/\.ts$/, ''), [...new Set(targets)]);
  }
  return graph;
}

/** Every import cycle of the graph, each as the path that closes it (a → b → a). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      found.push([...path.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return found;
}

/** The text of every string literal and template part of a file, with its line (comments are not looked at). */
function literals(file: string): Array<{ text: string; line: number; node: ts.Node }> {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(ROOT, file), 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  const out: Array<{ text: string; line: number; node: ts.Node }> = [];
  const walk = (node: ts.Node) => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateHead(node) ||
      ts.isTemplateMiddle(node) ||
      ts.isTemplateTail(node)
    ) {
      out.push({
        text: node.text,
        line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1,
        node,
      });
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  return out;
}

const guardedFiles = () => GUARDED_DIRS.flatMap(tsFiles).filter((f) => f !== CONTRACT);

describe('one contract, one-way construct graph', () => {
  test('the import graph of the test sees the edges it must (sanity)', () => {
    const graph = importGraph('lib/constructs');
    assert.ok(graph.get('batch-pipeline')?.includes('lambda-function'));
    assert.deepEqual(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
          ['c', []],
        ]),
      ),
      [['a', 'b', 'a']],
    );
  });

  test('no import cycle among lib/constructs', () => {
    assert.deepEqual(cycles(importGraph('lib/constructs')), []);
  });

  test('Monitoring depends on no other construct of lib/constructs: it takes metric sources', () => {
    assert.deepEqual(importGraph('lib/constructs').get('monitoring'), []);
  });

  test('no lake prefix is spelled outside lambdas/contract.ts (lib, lambdas, local, bin)', () => {
    const prefixes = [...Object.keys(LAKE_ZONES), 'aws/lambda'].join('|');
    // A zone at the start of a literal or after a quote, space, '(' or '=': 'raw/…', `events/${…}`, "e.g. 'landing/'".
    const spelled = new RegExp(`(^|[\\s'"(=])(${prefixes})/`);
    const offenders = guardedFiles().flatMap((file) =>
      literals(file).flatMap(({ text, line }) => {
        const at = text.search(spelled);
        return at < 0
          ? []
          : [`${file}:${line} …${JSON.stringify(text.slice(Math.max(0, at - 20), at + 40))}…`];
      }),
    );
    assert.deepEqual(
      offenders,
      [],
      'use LAKE / LAKE_ZONES of lambdas/contract.ts (or lambdas/core/layout.ts)',
    );
  });

  test('metric names, the namespace and handler variables are not spelled outside the contract', () => {
    const metricNames = new Set<string>(Object.values(METRIC));
    const variables = new Set<string>(Object.values(HANDLER_ENV));
    const offenders = guardedFiles().flatMap((file) =>
      literals(file).flatMap(({ text, line, node }) => {
        const parent = node.parent;
        const isCountName =
          ts.isCallExpression(parent) &&
          parent.arguments[0] === node &&
          ts.isPropertyAccessExpression(parent.expression) &&
          parent.expression.name.text === 'count';
        const isMetricName =
          ts.isPropertyAssignment(parent) &&
          ts.isIdentifier(parent.name) &&
          parent.name.text === 'metricName';
        const bad =
          text === METRICS_NAMESPACE ||
          variables.has(text) ||
          (metricNames.has(text) && (isCountName || isMetricName));
        return bad ? [`${file}:${line} ${JSON.stringify(text)}`] : [];
      }),
    );
    // env.LAKE_BUCKET / process.env.LAKE_BUCKET: a variable read by name instead of HANDLER_ENV.
    for (const file of guardedFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const name of variables) {
        if (new RegExp(`\\benv\\.${name}\\b`).test(text))
          offenders.push(`${relative(ROOT, join(ROOT, file))} env.${name}`);
      }
    }
    assert.deepEqual(offenders, [], 'use METRIC, METRICS_NAMESPACE and HANDLER_ENV of lambdas/contract.ts');
  });

  test('every lake prefix ends with a slash and sits under a zone, except the one fixed key and on-failure', () => {
    const zones = Object.values(LAKE_ZONES) as string[];
    for (const [name, value] of Object.entries(LAKE)) {
      if (name === 'catalogSnapshotKey') {
        assert.ok(zones.some((z) => value.startsWith(z)) && !value.endsWith('/'), name);
        continue;
      }
      assert.ok(value.endsWith('/'), `${name}: ${value}`);
      if (name !== 'streamOnFailure')
        assert.ok(
          zones.some((z) => value.startsWith(z)),
          `${name}: ${value}`,
        );
    }
  });
});
