/**
 * Finds the ```mermaid diagrams of Markdown pages and renders them with the real mermaid package in a
 * chromium page (no network: the bundle is injected from node_modules).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';

/** The browser bundle of the mermaid devDependency. */
const MERMAID_BUNDLE = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');

/** One fenced ```mermaid block of a page. */
export interface MermaidBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
}

/** What rendering one block gave. */
export interface RenderOutcome {
  /** Mermaid's error (parse or render), when it threw. */
  error?: string;
  /** The output's root element is an <svg>. */
  svg: boolean;
  /** Drawn nodes (flowchart/state/class `.node`, sequence `.actor`). */
  nodes: number;
  /** Console errors and page errors raised while rendering. */
  consoleErrors: string[];
}

/** README.md and every Markdown file under docs/ of `repo`. */
export function markdownPages(repo: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
  return [join(repo, 'README.md'), ...walk(join(repo, 'docs'))];
}

/** The ```mermaid blocks of a Markdown file; an unclosed block is an error naming the file and line. */
export function mermaidBlocks(file: string): MermaidBlock[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const blocks: MermaidBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s{0,3})(`{3,})\s*mermaid\s*$/.exec(lines[i]);
    if (!open) continue;
    const close = new RegExp(`^\\s{0,3}${open[2]}\`*\\s*$`);
    const end = lines.findIndex((text, j) => j > i && close.test(text));
    if (end < 0) throw new Error(`${file}:${i + 1}: the \`\`\`mermaid block is never closed`);
    blocks.push({ file, line: i + 1, text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * In-page code, as source text (this project's TypeScript has no DOM types): renders one diagram and
 * reads the SVG back through the DOM.
 */
const RENDER = `async (id, text) => {
  try {
    const { svg } = await mermaid.render(id, text);
    const box = document.createElement('div');
    box.innerHTML = svg;
    const root = box.firstElementChild;
    return {
      svg: root?.localName === 'svg',
      nodes: box.querySelectorAll('.node, .actor').length,
    };
  } catch (error) {
    return { svg: false, nodes: 0, error: String(error?.message ?? error) };
  } finally {
    document.getElementById(id)?.remove();
    document.getElementById('d' + id)?.remove();
  }
}`;

/** A blank page with mermaid loaded and initialized; renders run one after another on it. */
export class MermaidPage {
  private readonly errors: string[] = [];
  private count = 0;

  private constructor(private readonly page: Page) {
    page.on('console', (m) => {
      if (m.type() === 'error') this.errors.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.errors.push(`page error: ${String(e)}`));
  }

  static async open(browser: Browser): Promise<MermaidPage> {
    const page = await browser.newPage();
    const opened = new MermaidPage(page);
    await page.addScriptTag({ path: MERMAID_BUNDLE });
    await page.evaluate('mermaid.initialize({ startOnLoad: false })');
    return opened;
  }

  /** Console errors raised while loading mermaid (before any render). */
  takeErrors(): string[] {
    return this.errors.splice(0);
  }

  async render(text: string): Promise<RenderOutcome> {
    this.takeErrors();
    const id = `diagram-${++this.count}`;
    const result = (await this.page.evaluate(
      `(${RENDER})(${JSON.stringify(id)}, ${JSON.stringify(text)})`,
    )) as {
      svg: boolean;
      nodes: number;
      error?: string;
    };
    return { ...result, consoleErrors: this.takeErrors() };
  }

  close(): Promise<void> {
    return this.page.close();
  }
}

/** What is wrong with a rendered block, each problem naming the file and the block's line; empty when fine. */
export function renderProblems(where: string, outcome: RenderOutcome): string[] {
  const problems: string[] = [];
  if (outcome.error !== undefined) problems.push(`${where}: mermaid failed: ${outcome.error}`);
  else if (!outcome.svg) problems.push(`${where}: the output is not an <svg>`);
  else if (outcome.nodes < 1) problems.push(`${where}: the SVG has no node`);
  for (const message of outcome.consoleErrors) problems.push(`${where}: ${message}`);
  return problems;
}
