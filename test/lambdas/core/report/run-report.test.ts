import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderRunReport } from '../../../../lambdas/core/report/run-report';
import { timelineFromState } from '../../../../lambdas/core/report/from-state';
import type { ShadowComparison } from '../../../../lambdas/core/report/model';
import { failedGateModel, failedGateState } from '../../../support/report-fixture';

/** The text of every element with `id`, tags stripped (enough for the flat markup the report uses). */
const section = (html: string, id: string): string => {
  const start = html.indexOf(`<section id="${id}">`);
  assert.ok(start >= 0, `section #${id} is in the page`);
  return html.slice(start, html.indexOf('</section>', start));
};

describe('renderRunReport', () => {
  it('shows every section with the run’s figures', () => {
    // Prepare
    const model = failedGateModel();

    // Act
    const html = renderRunReport(model);

    // Assess
    assert.match(html, /<span class="badge FAILED" id="run-status">FAILED<\/span>/);
    assert.match(section(html, 'summary'), /id="card-rows-in"><div class="value">1,042</);
    assert.match(section(html, 'summary'), /id="card-rows-quarantined"><div class="value">82</);
    assert.match(section(html, 'summary'), /id="card-checks-failed"><div class="value">4 \/ 6</);
    const timeline = section(html, 'timeline');
    assert.equal(timeline.match(/<rect /g)?.length, model.timeline.steps.length, 'one bar per attempt');
    assert.match(timeline, /ExtractOrders<\/td><td>2026-03-04T02:00:00.620Z<\/td><td class="num">900 ms/);
    assert.match(
      section(html, 'datasets'),
      /<tr id="dataset-orders"><td>orders<\/td><td class="num">240<\/td><td class="num">200<\/td><td class="num">40<\/td><td class="num">0<\/td><td class="num">16.67%/,
    );
    const checks = section(html, 'checks');
    assert.equal(checks.match(/<tr class="check">/g)?.length, 6);
    // Gate failures first, then report-only failures, then passes.
    const order = [...checks.matchAll(/<tr class="check"><td><span class="badge (\w+)">/g)].map((m) => m[1]);
    assert.deepEqual(order, ['fail', 'fail', 'fail', 'report', 'pass', 'pass']);
    assert.match(section(html, 'quarantine'), /40 rows, first 2 shown/);
    assert.match(section(html, 'quarantine'), /too large to sample here/);
    const lineage = section(html, 'lineage');
    assert.equal(lineage.match(/<g class="node/g)?.length, model.lineage.nodes.length);
    assert.equal(lineage.match(/<path class="edge"/g)?.length, model.lineage.edges.length);
    assert.match(lineage, /analytics\.fact_order/);
    const clickstream = section(html, 'clickstream');
    // Events: total + 5 event types; errors: total + 3 services.
    assert.equal(clickstream.match(/<polyline /g)?.length, 6 + 4);
    const pageViews = model.clickstream.eventMinutes
      .filter((m) => m.eventType === 'page_view')
      .reduce((sum, m) => sum + m.events, 0);
    assert.ok(clickstream.includes(`page_view</td><td class="num">${pageViews.toLocaleString('en-US')}<`));
  });

  it('a shadow run’s report shows how it differs from the published run; a run’s report has no such section', () => {
    // Prepare
    const comparison = JSON.parse(
      readFileSync(new URL('../../../fixtures/report/comparison.json', import.meta.url), 'utf8'),
    ) as ShadowComparison;

    // Act
    const shadow = renderRunReport({ ...failedGateModel(), comparison });
    const plain = renderRunReport(failedGateModel());

    // Assess
    const part = section(shadow, 'comparison');
    assert.match(
      part,
      /<span class="badge fail" id="comparison-verdict">DIFFERENT<\/span> from published run <code>2026-03-04-4f1c2a9e/,
    );
    assert.match(
      part,
      /<tr id="compare-fact_order"><td>fact_order<\/td><td class="num">120<\/td><td class="num">118<\/td><td class="num">0<\/td><td class="num">2<\/td><td class="num">0<\/td><td><pre>removed: O-20260304-000017, O-&lt;b&gt;2&lt;\/b&gt;<\/pre>/,
    );
    assert.match(
      part,
      /<code>fact_order\.total_amount<\/code><\/td><td class="num">210345.17<\/td><td class="num">200499.40<\/td><td><span class="badge fail">differs/,
    );
    assert.match(
      part,
      /dim_product\.price<\/code><\/td><td class="num">4012.50<\/td><td class="num">4012.50<\/td><td><\/td>/,
    );
    assert.match(
      part,
      /total_amount in range<\/td><td class="num">0<\/td><td class="num">2<\/td><td><span class="badge fail">differs/,
    );
    assert.ok(shadow.indexOf('id="comparison"') < shadow.indexOf('id="timeline"'), 'right after the summary');
    assert.ok(!plain.includes('id="comparison"'));
  });

  it('escapes every value that comes from data', () => {
    // Prepare
    const model = failedGateModel();

    // Act
    const html = renderRunReport(model);

    // Assess: the fixtures plant markup in a check example, a catalog file name and an error code.
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<b>new<\/b>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.match(html, /landing\/catalog\/products-&lt;b&gt;new&lt;\/b&gt;.jsonl/);
  });

  it('is self-contained: nothing to fetch, no script', () => {
    // Act
    const html = renderRunReport(failedGateModel());

    // Assess
    assert.doesNotMatch(html, /<[^>]*\s(src|href|srcset|action)\s*=/i);
    assert.doesNotMatch(html, /@import|<link|<iframe|<object/i);
    assert.deepEqual([...new Set(html.match(/url\([^)]*\)/g))], ['url(#arrow)']);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
  });

  it('says where step times come from when only the state is known', () => {
    // Prepare: the report a step inside the run writes.
    const model = { ...failedGateModel(), timeline: timelineFromState(failedGateState()) };

    // Act
    const timeline = section(renderRunReport(model), 'timeline');

    // Assess
    // Where the times are: `report` only copies the file, so it must not promise them.
    assert.match(timeline, /<code>cartflow status --env &lt;env&gt;<\/code> shows each attempt's start/);
    assert.doesNotMatch(timeline, /renders this report again/);
    assert.doesNotMatch(timeline, /<svg/, 'no Gantt chart without times');
    assert.match(
      timeline,
      /QualityGate<\/td><td>—<\/td><td class="num">—<\/td><td><span class="badge failed">/,
    );
  });

  it('renders a run that stopped before validation and a day without clickstream', () => {
    // Prepare
    const model = {
      ...failedGateModel(),
      datasets: [],
      checks: [],
      quarantine: [],
      clickstream: { eventMinutes: [], errorMinutes: [] },
      timeline: { source: 'execution' as const, steps: [] },
    };

    // Act
    const html = renderRunReport(model);

    // Assess
    assert.match(section(html, 'datasets'), /stopped before validation/);
    assert.match(section(html, 'checks'), /No check ran/);
    assert.match(section(html, 'timeline'), /no step recorded/);
    assert.match(section(html, 'clickstream'), /No clickstream event in the warehouse for 2026-03-03/);
    assert.doesNotMatch(section(html, 'clickstream'), /<svg/);
  });
});
