/**
 * Every ```mermaid diagram of README.md and docs/ renders with the real mermaid package in Debian's headless
 * chromium (GitHub renders them; a broken one shows as an error box). Fails, never skips, without chromium.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'puppeteer-core';
import { launchChromium } from '../support/chromium';
import { markdownPages, MermaidPage, mermaidBlocks, renderProblems } from '../support/mermaid';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const blocks = markdownPages(REPO).flatMap(mermaidBlocks);
const where = (file: string, line: number) => `${relative(REPO, file)}:${line}`;

describe('mermaid diagrams of README.md and docs/', () => {
  let browser: Browser;
  let page: MermaidPage;

  before(async () => {
    browser = await launchChromium();
    page = await MermaidPage.open(browser);
    assert.deepEqual(page.takeErrors(), [], 'loading mermaid logs no error');
  });
  after(() => browser?.close());

  it('the docs have diagrams to check', () => {
    assert.ok(blocks.length > 0, 'no ```mermaid block found: the scan is broken');
  });

  for (const block of blocks) {
    it(`${where(block.file, block.line)} renders to an SVG with nodes`, async () => {
      // Act
      const outcome = await page.render(block.text);

      // Assess
      assert.deepEqual(renderProblems(where(block.file, block.line), outcome), []);
    });
  }

  it('a broken diagram fails, naming the file, the line of its block and the parse error', async () => {
    // Prepare: a copy of the first diagram's page with an unclosed node shape in the diagram
    const [first] = blocks;
    const dir = await mkdtemp(join(tmpdir(), 'cartflow-mermaid-'));
    const copy = join(dir, 'broken.md');
    await writeFile(copy, `# Broken\n\n\`\`\`mermaid\n${first.text}\n  oops[never closed --> X\n\`\`\`\n`);

    try {
      // Act
      const [broken] = mermaidBlocks(copy);
      const problems = renderProblems(where(copy, broken.line), await page.render(broken.text));

      // Assess
      assert.equal(broken.line, 3);
      assert.ok(problems.length > 0, 'the broken diagram is reported');
      assert.match(problems[0], new RegExp(`broken\\.md:3: mermaid failed: .*Parse error on line \\d+`, 's'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unclosed block is an error naming the file and line', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'cartflow-mermaid-'));
    const file = join(dir, 'unclosed.md');
    await writeFile(file, 'text\n\n```mermaid\nflowchart LR\n  a --> b\n');

    try {
      // Act + Assess
      assert.throws(() => mermaidBlocks(file), /unclosed\.md:3: the ```mermaid block is never closed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
