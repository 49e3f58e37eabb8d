import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** External addresses a page may link to; none today (the project links only to itself). */
const ALLOWED_EXTERNAL: readonly string[] = [];

/** README.md and every Markdown file under docs/. */
function pages(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith('.md') ? [path] : [];
    });
  return [join(REPO, 'README.md'), ...walk(join(REPO, 'docs'))];
}

/** The page without its fenced blocks (a `#` line inside one is not a heading). */
const withoutFences = (markdown: string): string =>
  markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');

/** The text that Markdown renders as prose: fenced blocks and code spans removed (their URLs are not links). */
const prose = (markdown: string): string => withoutFences(markdown).replace(/(`+)[\s\S]*?\1/g, '');

/** Every link target of a page: inline links and images, reference definitions, autolinks, HTML, bare URLs. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const patterns = [
    /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm,
    /<((?:https?|ftp|mailto):[^>\s]+)>/g,
    /\b(?:href|src)\s*=\s*["']([^"']+)["']/g,
    /(?<![(<"'])\b(https?:\/\/[^\s)<>]+)/g,
  ];
  const targets = patterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]));
  return [...new Set(targets)];
}

/**
 * GitHub's anchors of a page's headings (`## Second part` twice → second-part, second-part-1): lowercase,
 * punctuation but hyphens and underscores removed, spaces → hyphens; a code span keeps its text
 * (`### \`ops.schema_change\`` → opsschema_change), so headings are read before code spans are removed.
 */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = heading
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** What is wrong with each link of `file` that does not lead to a file of the repository; empty when all do. */
function brokenLinks(file: string, root = REPO): string[] {
  const markdown = readFileSync(file, 'utf8');
  const problems: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) {
      if (!ALLOWED_EXTERNAL.includes(target)) problems.push(`${target}: points outside the repository`);
      continue;
    }
    const [path, anchor] = target.split('#', 2);
    if (path.startsWith('/')) {
      problems.push(`${target}: absolute path; write it relative to the page`);
      continue;
    }
    const resolved = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
    const inside = relative(root, resolved);
    if (inside.startsWith(`..${sep}`) || inside === '..') {
      problems.push(`${target}: points outside the repository`);
    } else if (!existsSync(resolved) || !statSync(resolved).isFile()) {
      problems.push(`${target}: no such file in the repository`);
    } else if (anchor !== undefined && resolved.endsWith('.md')) {
      if (!anchors(readFileSync(resolved, 'utf8')).has(anchor)) {
        problems.push(`${target}: ${relative(root, resolved)} has no heading #${anchor}`);
      }
    }
  }
  return problems;
}

describe('Markdown links', () => {
  for (const page of pages()) {
    const name = relative(REPO, page);
    test(`${name} links only to files of the repository`, () => {
      assert.deepEqual(brokenLinks(page), [], `fix these links in ${name}`);
    });
  }

  test('the check finds each kind of bad link and accepts the good ones', () => {
    // Prepare
    const fixture = join(REPO, 'test/fixtures/docs/links/page.md');
    // Act
    const problems = brokenLinks(fixture);
    // Assess
    assert.deepEqual(problems.sort(), [
      '../../../../../elsewhere/notes.md: points outside the repository',
      '/etc/passwd: absolute path; write it relative to the page',
      'http://example.net/html: points outside the repository',
      'https://example.com/docs: points outside the repository',
      'https://example.org/bare: points outside the repository',
      'missing.md: no such file in the repository',
      'other.md#nowhere: test/fixtures/docs/links/other.md has no heading #nowhere',
    ]);
  });
});
