import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { build } from 'esbuild';
import { ENV_NAMES, loadConfig } from '../../lib/config';
import { ENGINE_ENTRIES } from '../../lib/constructs/batch-pipeline';
import { DEFAULT_HANDLERS_DIR } from '../../lib/constructs/lambda-function';
import { DuckDbLayer, stageDuckDbLayer } from '../../lib/constructs/duckdb-layer';
import { cartflowFunction } from '../../lib/constructs/lambda-function';
import { BATCH_STEPS, STREAM_HANDLERS } from '../../lambdas/steps';
import { cdkJsonContext } from '../../lib/cdk-context';
import { logicalIdOf, scaffold, synth, synthWithStream } from './synth';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized JSON, asserted field by field
type Resource = { Type: string; Properties: Record<string, any> };

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bundling');
const DUCKDB_ENTRIES = new Set<string>([
  ...ENGINE_ENTRIES,
  STREAM_HANDLERS.StreamToParquet,
  STREAM_HANDLERS.LoadEvents,
]);

const scratch: string[] = [];
const scratchDir = (): string => {
  // Under the OS temp dir, away from the repository's node_modules, as /var/task is on Lambda.
  const dir = mkdtempSync(join(tmpdir(), 'cartflow-duckdb-'));
  scratch.push(dir);
  return dir;
};
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('DuckDB functions', () => {
  for (const envName of ENV_NAMES) {
    test(`${envName}: the engine functions carry the layer, its architecture, engine memory and /tmp`, () => {
      // Prepare
      const { stack, template, config } = synthWithStream(envName);
      const layerRef = { Ref: logicalIdOf(stack, stack.duckdb.layer) };
      // Act
      const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
      const byEntry = new Map(
        functions
          .filter((f) => String(f.Properties.Description).startsWith(`cartflow ${envName}: `))
          .map((f) => [String(f.Properties.Description).split(': ')[1], f.Properties]),
      );
      // Assess
      for (const entry of DUCKDB_ENTRIES) {
        const p = byEntry.get(entry);
        assert.ok(p, `no function for ${entry}`);
        assert.deepEqual(p.Layers, [layerRef], entry);
        assert.deepEqual(p.Architectures, ['x86_64'], entry);
        assert.equal(p.MemorySize, config.engine.memoryMb, entry);
        assert.deepEqual(p.EphemeralStorage, { Size: config.engine.ephemeralStorageMb }, entry);
      }
      const others = [...byEntry].filter(([entry]) => !DUCKDB_ENTRIES.has(entry));
      assert.ok(others.length > 0);
      for (const [entry, p] of others) {
        assert.equal(p.Layers, undefined, entry);
        assert.deepEqual(p.Architectures, ['arm64'], entry);
        assert.equal(p.EphemeralStorage, undefined, entry);
      }
      const batchOthers = others.filter(([entry]) =>
        (Object.values(BATCH_STEPS) as string[]).includes(entry),
      );
      for (const [entry, p] of batchOthers) assert.equal(p.MemorySize, config.lambdaMemoryMb, entry);
    });
  }

  test('every handler whose bundle reaches @duckdb/node-api is an engine function', async () => {
    // Prepare
    const entries = [...new Set<string>([...Object.values(BATCH_STEPS), ...Object.values(STREAM_HANDLERS)])];
    // Act: the import graph esbuild would bundle, without writing it.
    const importers: string[] = [];
    for (const entry of entries) {
      const { metafile } = await build({
        entryPoints: [join(DEFAULT_HANDLERS_DIR, `${entry}.ts`)],
        bundle: true,
        write: false,
        metafile: true,
        platform: 'node',
        format: 'esm',
        logLevel: 'silent',
        external: ['@duckdb/node-bindings'],
      });
      if (Object.keys(metafile.inputs).some((input) => input.includes('node_modules/@duckdb/node-api/'))) {
        importers.push(entry);
      }
    }
    // Assess: a DuckDB handler without the layer would fail its first import on Lambda.
    assert.deepEqual(
      importers.filter((entry) => !DUCKDB_ENTRIES.has(entry)),
      [],
    );
  });

  test('one layer, for Node.js 22 on x86_64, shared by every engine function', () => {
    // Prepare
    const { template } = synth('prod');
    // Assess
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs24.x'],
      CompatibleArchitectures: ['x86_64'],
    });
  });
});

describe('DuckDbLayer', () => {
  test('rejects a platform DuckDB has no Lambda binding for', () => {
    // Prepare
    const { stack } = scaffold();
    // Act + Assess
    assert.throws(
      () => new DuckDbLayer(stack, 'DuckDb', { platform: 'darwin-arm64' as 'linux-x64' }),
      /platform "darwin-arm64" must be one of linux-x64, linux-arm64/,
    );
  });

  test('says to run npm ci when the binding is not installed', () => {
    // Prepare
    const { stack } = scaffold();
    // Act + Assess
    assert.throws(
      () => new DuckDbLayer(stack, 'DuckDb', { resolveFrom: scratchDir() }),
      /@duckdb\/node-bindings is not installed under .*; run npm ci/,
    );
  });

  test('staging for a platform npm did not install names the package and the npm command', () => {
    // Prepare
    const out = scratchDir();
    // Act + Assess: this machine has the linux-x64 binding only.
    assert.throws(
      () => stageDuckDbLayer(out, 'linux-arm64', REPO_ROOT),
      /node-bindings-linux-arm64 is not installed.*npm install --no-save --os=linux --cpu=arm64 --libc=glibc @duckdb\/node-bindings-linux-arm64@/,
    );
  });

  test('stages the loader, the binary and detect-libc under nodejs/node_modules, at one version', () => {
    // Prepare
    const out = scratchDir();
    // Act
    const staged = stageDuckDbLayer(out, 'linux-x64', REPO_ROOT);
    // Assess
    const version = (
      JSON.parse(
        readFileSync(join(REPO_ROOT, 'node_modules/@duckdb/node-bindings/package.json'), 'utf8'),
      ) as { version: string }
    ).version;
    assert.deepEqual(staged.slice(0, 2), [
      `@duckdb/node-bindings@${version}`,
      `@duckdb/node-bindings-linux-x64@${version}`,
    ]);
    assert.match(staged[2] ?? '', /^detect-libc@/);
    const modules = join(out, 'nodejs', 'node_modules');
    for (const file of [
      '@duckdb/node-bindings/duckdb.js',
      '@duckdb/node-bindings-linux-x64/duckdb.node',
      '@duckdb/node-bindings-linux-x64/libduckdb.so',
      'detect-libc/package.json',
    ]) {
      assert.ok(existsSync(join(modules, file)), file);
    }
    assert.equal(existsSync(join(modules, '@duckdb/node-api')), false, 'the API is bundled, not layered');
  });
});

describe('bundling a DuckDB handler (esbuild, no Docker)', () => {
  test('the bundle leaves the binding external and opens DuckDB from the layer as Lambda resolves it', () => {
    // Prepare: a real synth (bundling on) of one engine function, into a temp cloud assembly.
    const outdir = scratchDir();
    const app = new App({ outdir, context: cdkJsonContext() });
    const stack = new Stack(app, 'Bundle');
    const engine = new DuckDbLayer(stack, 'DuckDb');
    cartflowFunction(stack, {
      config: loadConfig('dev'),
      handlersDir: FIXTURES,
      entry: 'open-duckdb',
      engine,
    });
    // Act
    app.synth();
    // A fresh cloud assembly: its asset.* directories are the layer and the function bundle.
    const dirs = readdirSync(outdir)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(outdir, name));
    const layerDir = dirs.find((d) => existsSync(join(d, 'nodejs')));
    const bundleDir = dirs.find((d) => existsSync(join(d, 'index.mjs')));
    assert.ok(layerDir && bundleDir, `assets: ${dirs.join(', ')}`);
    const bundle = readFileSync(join(bundleDir, 'index.mjs'), 'utf8');
    // Lambda puts /opt/nodejs/node_modules on NODE_PATH; the bundle's require() resolves through it.
    const output = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(pathToFileURL(join(bundleDir, 'index.mjs')).href)}); console.log(JSON.stringify(await m.handler()));`,
      ],
      {
        env: { PATH: process.env.PATH, NODE_PATH: join(layerDir, 'nodejs', 'node_modules') },
        encoding: 'utf8',
      },
    );
    // Assess
    assert.match(bundle, /@duckdb\/node-bindings/);
    assert.doesNotMatch(
      bundle,
      /node-bindings-linux-x64\/duckdb\.node/,
      'the platform loader stays in the layer',
    );
    assert.equal(existsSync(join(bundleDir, 'node_modules')), false);
    const result = JSON.parse(output) as { answer: number; version: string };
    assert.equal(result.answer, 42);
    assert.match(result.version, /^v\d+\.\d+/);
  });
});
