/**
 * A run's report as one self-contained HTML page, like a quality tool's data docs: inline CSS and inline
 * SVG only — no script, font, image or link to fetch — so it opens from S3, a mail attachment or a disk.
 * Every value that comes from data is escaped.
 */
import type { CheckResult } from '../contracts';
import { percent } from '../summary';
import { escapeHtml as esc } from './escape';
import type { ErrorMinute, EventMinute, RunReportModel, ShadowComparison, TimelineStep } from './model';
import { COLOURS, duration, lineageSvg, minuteChartSvg, minuteSeries, timelineSvg } from './svg';

export type { RunReportModel } from './model';

const count = (n: number) => n.toLocaleString('en-US');

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f8f9fa; color: ${COLOURS.ink};
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #1b2733; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 20px; font-weight: 600; }
header .meta { color: #ced4da; font-size: 13px; }
main { padding: 8px 28px 40px; max-width: 1360px; }
section { background: #fff; border: 1px solid #dee2e6; border-radius: 8px; margin: 16px 0; padding: 14px 18px; overflow-x: auto; }
h2 { font-size: 16px; margin: 0 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e9ecef; vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; max-width: 640px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.SUCCEEDED, .pass, .succeeded { background: ${COLOURS.succeeded}; }
.FAILED, .fail, .failed { background: ${COLOURS.failed}; }
.RUNNING, .retried { background: ${COLOURS.retried}; }
.caught { background: ${COLOURS.caught}; }
.replayed { background: ${COLOURS.replayed}; }
.report { background: ${COLOURS.muted}; }
.failure { border-left: 4px solid ${COLOURS.failed}; background: #fff5f5; padding: 10px 14px; margin: 16px 0; border-radius: 4px; }
.note { color: #6c757d; font-size: 13px; margin: 6px 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #dee2e6; border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .what { color: #6c757d; font-size: 12px; }
svg.chart { display: block; margin: 6px 0; }
svg text { font: 11px system-ui, sans-serif; fill: ${COLOURS.ink}; }
svg text.axis { fill: #6c757d; font-size: 10px; }
svg text.layer { font-weight: 600; font-size: 12px; }
svg text.key { font: 10.5px ui-monospace, Menlo, Consolas, monospace; }
svg text.detail { fill: #495057; font-size: 10.5px; }
svg .node rect { fill: #e7f5ff; stroke: #1c7ed6; }
svg .node.not-reached rect { fill: #f8f9fa; stroke: ${COLOURS.muted}; stroke-dasharray: 4 3; }
svg .node.not-reached text { fill: #868e96; }
svg path.edge { fill: none; stroke: ${COLOURS.muted}; stroke-width: 1.2; }
`;

/** The whole page. */
export function renderRunReport(model: RunReportModel): string {
  const { run } = model;
  const title = `cartflow run ${run.runId} — ${run.businessDate}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)} <span class="badge ${esc(run.status)}" id="run-status">${esc(run.status)}</span></h1>
<div class="meta">started ${esc(run.startedAt)}${run.finishedAt ? ` · finished ${esc(run.finishedAt)}` : ''}${run.environment ? ` · environment ${esc(run.environment)}` : ''} · report generated ${esc(model.generatedAt)}${model.qualityReportKey ? ` · quality JSON <code>${esc(model.qualityReportKey)}</code>` : ''}</div>
</header>
<main>
${model.failure ? `<div class="failure" id="failure"><strong>Why it failed:</strong> ${esc(model.failure)}</div>` : ''}
${summarySection(model)}
${model.comparison ? comparisonSection(model.comparison) : ''}
${timelineSection(model)}
${datasetsSection(model)}
${checksSection(model.checks)}
${quarantineSection(model)}
${lineageSection(model)}
${clickstreamSection(model)}
</main>
</body>
</html>
`;
}

function summarySection(model: RunReportModel): string {
  const sum = (pick: (d: RunReportModel['datasets'][number]) => number) =>
    model.datasets.reduce((a, d) => a + pick(d), 0);
  const failed = model.checks.filter((c) => !c.passed).length;
  const cards: [string, string, string][] = [
    ['rows-in', count(sum((d) => d.rowsIn)), 'rows in'],
    ['rows-loaded', count(sum((d) => d.rowsLoaded)), 'rows loaded'],
    ['rows-quarantined', count(sum((d) => d.rowsQuarantined)), 'rows quarantined'],
    ['checks-failed', `${failed} / ${model.checks.length}`, 'checks with failures'],
  ];
  return `<section id="summary"><h2>Summary</h2><div class="cards">${cards
    .map(
      ([id, value, what]) =>
        `<div class="card" id="card-${id}"><div class="value">${esc(value)}</div><div class="what">${esc(what)}</div></div>`,
    )
    .join('')}</div></section>`;
}

/** Keys listed per kind of difference; the command's --json lists all. */
const SHOWN_KEYS = 20;

function comparisonSection(c: ShadowComparison): string {
  const verdict = c.differ
    ? `<span class="badge fail" id="comparison-verdict">DIFFERENT</span> from published run <code>${esc(c.publishedRun)}</code>`
    : `<span class="badge pass" id="comparison-verdict">SAME</span> as published run <code>${esc(c.publishedRun)}</code>`;
  const keys = (kind: string, list: readonly string[]) =>
    list.length === 0
      ? ''
      : `<pre>${esc(`${kind}: ${list.slice(0, SHOWN_KEYS).join(', ')}`)}${list.length > SHOWN_KEYS ? esc(` … and ${list.length - SHOWN_KEYS} more`) : ''}</pre>`;
  const tables = c.tables.map(
    (t) =>
      `<tr id="compare-${esc(t.table)}"><td>${esc(t.table)}</td><td class="num">${count(t.published)}</td><td class="num">${count(t.shadow)}</td><td class="num">${count(t.added.length)}</td><td class="num">${count(t.removed.length)}</td><td class="num">${count(t.changed.length)}</td><td>${keys('added', t.added)}${keys('removed', t.removed)}${keys('changed', t.changed)}</td></tr>`,
  );
  const sums = c.tables.flatMap((t) =>
    t.sums.map(
      (s) =>
        `<tr><td><code>${esc(t.table)}.${esc(s.column)}</code></td><td class="num">${esc(s.published)}</td><td class="num">${esc(s.shadow)}</td><td>${s.published === s.shadow ? '' : '<span class="badge fail">differs</span>'}</td></tr>`,
    ),
  );
  const checks = c.checks.map(
    (k) =>
      `<tr><td>${esc(k.dataset)}</td><td>${esc(k.check)}</td><td class="num">${count(k.published)}</td><td class="num">${count(k.shadow)}</td><td>${k.published === k.shadow ? '' : '<span class="badge fail">differs</span>'}</td></tr>`,
  );
  return `<section id="comparison"><h2>Shadow run against what is published</h2>
<p>${verdict}. This run published into the <code>shadow</code> schema only; the tables readers see are unchanged.</p>
<table><thead><tr><th>table</th><th class="num">published</th><th class="num">shadow</th><th class="num">added</th><th class="num">removed</th><th class="num">changed</th><th>keys</th></tr></thead><tbody>${tables.join('\n')}</tbody></table>
<h3>Sums of the numeric columns</h3>
<table><thead><tr><th>column</th><th class="num">published</th><th class="num">shadow</th><th></th></tr></thead><tbody>${sums.join('\n')}</tbody></table>
<h3>Quarantined rows per check</h3>
${checks.length ? `<table><thead><tr><th>dataset</th><th>check</th><th class="num">published</th><th class="num">shadow</th><th></th></tr></thead><tbody>${checks.join('\n')}</tbody></table>` : '<p class="note">No check failed a row in either run.</p>'}
</section>`;
}

function timelineSection(model: RunReportModel): string {
  const { steps, source } = model.timeline;
  const note =
    source === 'state'
      ? `<p class="note">Written by a step inside the run, which sees the run's state but not the execution's event log: the steps below are those with a result in the state, without times. <code>cartflow status --env &lt;env&gt;</code> shows each attempt's start and duration from the execution history (<code>cartflow report</code> copies this file as it is).</p>`
      : '';
  const row = (s: TimelineStep) =>
    `<tr><td>${esc(s.state)}</td><td>${s.startedAt ? esc(s.startedAt) : '—'}</td><td class="num">${s.ms !== undefined ? esc(duration(s.ms)) : '—'}</td><td><span class="badge ${esc(s.status)}">${esc(s.status)}</span></td><td>${s.error ? `<pre>${esc(s.error)}</pre>` : ''}</td></tr>`;
  return `<section id="timeline"><h2>Steps</h2>${note}${timelineSvg(steps)}
<table><thead><tr><th>state</th><th>started</th><th class="num">duration</th><th>status</th><th>error</th></tr></thead>
<tbody>${steps.length ? steps.map(row).join('\n') : '<tr><td colspan="5">no step recorded</td></tr>'}</tbody></table></section>`;
}

/** A stacked bar: valid and quarantined shares of the rows in. */
function shareBar(valid: number, quarantined: number): string {
  const total = Math.max(1, valid + quarantined);
  const w = 160;
  const vw = (valid / total) * w;
  return `<svg width="${w}" height="12" role="img" aria-label="valid and quarantined" xmlns="http://www.w3.org/2000/svg"><rect width="${vw.toFixed(1)}" height="12" fill="${COLOURS.succeeded}"/><rect x="${vw.toFixed(1)}" width="${(w - vw).toFixed(1)}" height="12" fill="${COLOURS.failed}"/></svg>`;
}

function datasetsSection(model: RunReportModel): string {
  const rows = model.datasets.map(
    (d) =>
      `<tr id="dataset-${esc(d.dataset)}"><td>${esc(d.dataset)}</td><td class="num">${count(d.rowsIn)}</td><td class="num">${count(d.rowsValid)}</td><td class="num">${count(d.rowsQuarantined)}</td><td class="num">${count(d.rowsLoaded)}</td><td class="num">${esc(percent(d.quarantineShare))}</td><td class="num">${esc(percent(d.threshold))}</td><td>${shareBar(d.rowsValid, d.rowsQuarantined)}</td><td><span class="badge ${d.passed ? 'pass' : 'fail'}">${d.passed ? 'pass' : 'FAIL'}</span></td></tr>`,
  );
  const loads = model.loads.map(
    (l) => `<tr><td>${esc(l.table)}</td><td class="num">${count(l.rows)}</td></tr>`,
  );
  return `<section id="datasets"><h2>Rows per dataset</h2>
${rows.length ? `<table><thead><tr><th>dataset</th><th class="num">rows in</th><th class="num">valid</th><th class="num">quarantined</th><th class="num">loaded</th><th class="num">quarantined share</th><th class="num">allowed</th><th>valid / quarantined</th><th>gate</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>` : '<p class="note">The run stopped before validation: no dataset was measured.</p>'}
<h3>Warehouse tables</h3>
${loads.length ? `<table><thead><tr><th>table</th><th class="num">rows loaded</th></tr></thead><tbody>${loads.join('\n')}</tbody></table>` : '<p class="note">Nothing loaded.</p>'}
</section>`;
}

function checksSection(checks: readonly CheckResult[]): string {
  // Failures first (gate-relevant before report-only), then passes, each in the rules' order.
  const rank = (c: CheckResult) => (c.passed ? 2 : c.severity === 'quarantine' ? 0 : 1);
  const sorted = checks.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i);
  const rows = sorted.map(
    ({ c }) =>
      `<tr class="check"><td><span class="badge ${c.passed ? 'pass' : c.severity === 'report' ? 'report' : 'fail'}">${c.passed ? 'pass' : 'FAIL'}</span></td><td>${esc(c.dataset)}</td><td>${esc(c.check)}</td><td>${c.column ? `<code>${esc(c.column)}</code>` : ''}</td><td>${esc(c.severity)}</td><td class="num">${count(c.failedRows)}</td><td>${c.example ? `<pre>${esc(c.example)}</pre>` : ''}</td></tr>`,
  );
  return `<section id="checks"><h2>Checks</h2>
${rows.length ? `<table><thead><tr><th>result</th><th>dataset</th><th>check</th><th>column</th><th>severity</th><th class="num">failed rows</th><th>example row</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>` : '<p class="note">No check ran.</p>'}
</section>`;
}

function quarantineSection(model: RunReportModel): string {
  const parts = model.quarantine.map((q) => {
    const head = `<h3>${esc(q.dataset)} <span class="note"><code>${esc(q.key)}</code>${q.total !== undefined ? ` · ${count(q.total)} rows, first ${q.rows.length} shown` : ''}</span></h3>`;
    if (q.note) return `${head}<p class="note">${esc(q.note)}</p>`;
    const rows = q.rows.map(
      (r) =>
        `<tr><td>${r.reasons.map((reason) => esc(reason)).join('<br>')}</td><td><pre>${esc(r.row)}</pre></td></tr>`,
    );
    return `${head}<table><thead><tr><th>reasons</th><th>row</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
  });
  return `<section id="quarantine"><h2>Quarantined rows</h2>${parts.length ? parts.join('\n') : '<p class="note">No row was quarantined.</p>'}</section>`;
}

function lineageSection(model: RunReportModel): string {
  return `<section id="lineage"><h2>Lineage</h2>
<p class="note">From the shop's tables and the catalog files to the warehouse; dashed boxes are where the run did not get to.</p>
${lineageSvg(model.lineage)}</section>`;
}

function clickstreamSection(model: RunReportModel): string {
  const { eventMinutes, errorMinutes } = model.clickstream;
  const totals = <R>(rows: readonly R[], key: (r: R) => string, value: (r: R) => number) => {
    const m = new Map<string, number>();
    for (const r of rows) m.set(key(r), (m.get(key(r)) ?? 0) + value(r));
    return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  };
  const table = (head: string, rows: [string, number][]) =>
    `<table><thead><tr><th>${esc(head)}</th><th class="num">total</th></tr></thead><tbody>${rows
      .map(([k, v]) => `<tr><td>${esc(k)}</td><td class="num">${count(v)}</td></tr>`)
      .join('')}</tbody></table>`;
  /** The minutes' chart, a line per `series` key (top 6), then their totals per `key`, largest first. */
  const chartAndTotals = <R extends EventMinute | ErrorMinute>(
    rows: readonly R[],
    value: (r: R) => number,
    chart: { label: string; series: (r: R) => string },
    totalsBy: { head: string; key: (r: R) => string },
  ) =>
    `${minuteChartSvg(minuteSeries(rows, chart.series, value, 6), chart.label)}${table(
      totalsBy.head,
      totals(rows, totalsBy.key, value),
    )}`;
  const events = eventMinutes.length
    ? chartAndTotals(
        eventMinutes,
        (r) => r.events,
        { label: 'Events per minute', series: (r) => r.eventType },
        { head: 'event type', key: (r) => r.eventType },
      )
    : `<p class="note">No clickstream event in the warehouse for ${esc(model.run.businessDate)}.</p>`;
  const errors = errorMinutes.length
    ? chartAndTotals(
        errorMinutes,
        (r) => r.errors,
        { label: 'Errors per minute', series: (r) => r.service },
        { head: 'service · error code', key: (r) => `${r.service} · ${r.errorCode}` },
      )
    : `<p class="note">No error event for ${esc(model.run.businessDate)}.</p>`;
  return `<section id="clickstream"><h2>Clickstream, ${esc(model.run.businessDate)} (UTC)</h2>
<h3>Events per minute <span class="note">analytics.agg_event_minute</span></h3>${events}
<h3>Errors per minute <span class="note">analytics.agg_error_minute</span></h3>${errors}</section>`;
}
