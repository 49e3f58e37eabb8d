import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { FUNCTION_RUNTIME } from '../../lib/constructs/function-runtime';

const read = (path: string) => readFile(new URL(`../../${path}`, import.meta.url), 'utf8');

/** `>=22.12` → `[22, 12]`. */
async function enginesMinimum(): Promise<[number, number]> {
  const range: string = JSON.parse(await read('package.json')).engines.node;
  const match = /^>=(\d+)\.(\d+)$/.exec(range);
  assert.ok(match, `package.json engines.node is "${range}"; expected the form ">=MAJOR.MINOR"`);
  return [Number(match[1]), Number(match[2])];
}

describe('the supported Node range', () => {
  test('the README states the range that package.json engines allows', async () => {
    const [minMajor, minMinor] = await enginesMinimum();

    const readme = await read('README.md');

    assert.match(readme, new RegExp(`Node ${minMajor}\\.${minMinor} or later is all \`npm start\` needs`));
  });

  test('the tests run on a Node that engines allows', async () => {
    const [minMajor, minMinor] = await enginesMinimum();

    const [runMajor, runMinor] = process.versions.node.split('.').map(Number);

    assert.ok(
      runMajor > minMajor || (runMajor === minMajor && runMinor >= minMinor),
      `running on Node ${process.versions.node}; package.json engines needs ${minMajor}.${minMinor} or later`,
    );
  });

  test("CI runs the tests on the functions' runtime major and npm start on the oldest allowed Node", async () => {
    const [minMajor, minMinor] = await enginesMinimum();
    const runtimeMajor = Number(/^nodejs(\d+)\.x$/.exec(FUNCTION_RUNTIME.name)?.[1]);

    const ci = await read('.ci/run');

    assert.match(ci, new RegExp(`LAMBDA_NODE_BIN="\\$\\(node_bin ${runtimeMajor}\\.\\d+\\.\\d+\\)"`));
    assert.match(ci, new RegExp(`OLDEST_NODE_BIN="\\$\\(node_bin ${minMajor}\\.${minMinor}\\.0\\)"`));
    assert.ok(
      runtimeMajor >= minMajor,
      `the functions' ${FUNCTION_RUNTIME.name} is below engines ${minMajor}`,
    );
  });
});
