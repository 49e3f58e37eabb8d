/**
 * The report in a real browser: Debian's chromium, headless. Fails (never skips) when chromium is missing:
 * CI installs it (apt-get install chromium).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'puppeteer-core';
import { renderRunReport } from '../../../../lambdas/core/report/run-report';
import { launchChromium } from '../../../support/chromium';
import { failedGateModel } from '../../../support/report-fixture';

/** Where the screenshot stays after the test, for a human to look at. */
const OUT_DIR = join(tmpdir(), 'cartflow-report-browser');

/**
 * In-page code, as source text: it runs in chromium, where the DOM is (this project's TypeScript has no DOM
 * types). Decodes the PNG in a canvas: distinct colours and the share of pixels that are not white.
 */
const PIXEL_STATS = `async (base64) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + base64;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const { data } = context.getImageData(0, 0, image.width, image.height);
  const colours = new Set();
  let nonWhite = 0;
  for (let i = 0; i < data.length; i += 4) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    if (data[i] < 250 || data[i + 1] < 250 || data[i + 2] < 250) nonWhite++;
  }
  return { colours: colours.size, nonWhite: nonWhite / (data.length / 4) };
}`;

/** What the test reads from the rendered page. */
const DOM_FACTS = `(() => ({
  status: document.querySelector('#run-status')?.textContent,
  failure: document.querySelector('#failure')?.textContent,
  rowsIn: document.querySelector('#card-rows-in .value')?.textContent,
  quarantined: document.querySelector('#card-rows-quarantined .value')?.textContent,
  ordersRow: [...document.querySelectorAll('#dataset-orders td')].slice(0, 5).map((td) => td.textContent),
  bars: document.querySelectorAll('#timeline svg rect').length,
  checks: document.querySelectorAll('#checks tr.check').length,
  lineageNodes: document.querySelectorAll('#lineage svg g.node').length,
  lineageWidth: document.querySelector('#lineage svg')?.getBoundingClientRect().width ?? 0,
  polylines: document.querySelectorAll('#clickstream svg polyline').length,
  scripts: document.scripts.length,
  planted: document.body.textContent.includes("<script>alert('svc')</script>"),
}))()`;

interface DomFacts {
  status?: string;
  failure?: string;
  rowsIn?: string;
  quarantined?: string;
  ordersRow: string[];
  bars: number;
  checks: number;
  lineageNodes: number;
  lineageWidth: number;
  polylines: number;
  scripts: number;
  planted: boolean;
}

/** Distinct colours and the share of pixels that are not white, decoded from the PNG by the browser itself. */
async function pixelStats(browser: Browser, png: Uint8Array): Promise<{ colours: number; nonWhite: number }> {
  const page = await browser.newPage();
  try {
    return (await page.evaluate(
      `(${PIXEL_STATS})(${JSON.stringify(Buffer.from(png).toString('base64'))})`,
    )) as {
      colours: number;
      nonWhite: number;
    };
  } finally {
    await page.close();
  }
}

/** A screenshot of an empty page: what "blank" measures as. */
async function blankScreenshot(browser: Browser): Promise<Uint8Array> {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 400, height: 300 });
    return await page.screenshot({ type: 'png' });
  } finally {
    await page.close();
  }
}

describe('run report in headless chromium', () => {
  let browser: Browser;

  before(async () => {
    browser = await launchChromium();
    await mkdir(OUT_DIR, { recursive: true });
  });
  after(() => browser?.close());

  it('renders with no console error and no request, the sections and figures in the DOM, and a screenshot that is not blank', async (t) => {
    // Prepare
    const model = failedGateModel();
    const file = join(OUT_DIR, 'run-report.html');
    await writeFile(file, renderRunReport(model));
    const page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('request', (r) => requests.push(r.url()));

    // Act
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const dom = (await page.evaluate(DOM_FACTS)) as DomFacts;
    const png = await page.screenshot({ fullPage: true, type: 'png' });
    await page.close();
    const screenshot = join(OUT_DIR, 'run-report.png');
    await writeFile(screenshot, png);
    t.diagnostic(`screenshot: ${screenshot}`);
    const stats = await pixelStats(browser, png);
    const blank = await pixelStats(browser, await blankScreenshot(browser));

    // Assess
    assert.deepEqual(problems, []);
    assert.deepEqual(requests, [pathToFileURL(file).href], 'the page fetches nothing but itself');
    assert.equal(dom.status, 'FAILED');
    assert.match(dom.failure ?? '', /currency accepted/);
    assert.equal(dom.rowsIn, '1,042');
    assert.equal(dom.quarantined, '82');
    assert.deepEqual(dom.ordersRow, ['orders', '240', '200', '40', '0']);
    assert.equal(dom.bars, model.timeline.steps.length);
    assert.equal(dom.checks, model.checks.length);
    assert.equal(dom.lineageNodes, model.lineage.nodes.length);
    assert.ok(dom.lineageWidth > 1000, `lineage drawn ${dom.lineageWidth}px wide`);
    assert.equal(dom.polylines, 10);
    assert.equal(dom.scripts, 0);
    assert.equal(dom.planted, true, 'data with markup shows as text');
    // The measure tells a blank page from a drawn one.
    assert.equal(blank.colours, 1);
    assert.ok(stats.colours > 50, `${stats.colours} distinct colours`);
    assert.ok(stats.nonWhite > 0.2, `${(stats.nonWhite * 100).toFixed(1)}% of pixels not white`);
  });
});
