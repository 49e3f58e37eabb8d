/** Inline SVG charts of the run report: a step timeline, a lineage graph and minute line charts. */
import { escapeHtml as esc } from './escape';
import type { ErrorMinute, EventMinute, Lineage, TimelineStep } from './model';

/** Colours by meaning, shared with the report's CSS. */
export const COLOURS = {
  succeeded: '#2f9e44',
  failed: '#e03131',
  retried: '#f08c00',
  caught: '#9c36b5',
  replayed: '#74c0fc',
  muted: '#adb5bd',
  grid: '#e9ecef',
  ink: '#212529',
  series: ['#1c7ed6', '#2f9e44', '#f08c00', '#9c36b5', '#0ca678', '#e8590c', '#5f3dc4', '#c2255c'],
} as const;

const fmt = (n: number, digits = 0) => n.toFixed(digits);

export const duration = (ms: number): string =>
  ms >= 60_000
    ? `${fmt(ms / 60_000, 1)} min`
    : ms >= 1000
      ? `${fmt(ms / 1000, 1)} s`
      : `${Math.round(ms)} ms`;

/** A Gantt chart of timed steps: one row per attempt, the bar placed by its start in the run. */
export function timelineSvg(steps: readonly TimelineStep[]): string {
  const timed = steps.filter((s) => s.startedAt !== undefined && s.ms !== undefined);
  if (timed.length === 0) return '';
  const starts = timed.map((s) => Date.parse(s.startedAt!));
  const t0 = Math.min(...starts);
  const span = Math.max(1, Math.max(...timed.map((s, i) => starts[i] + s.ms!)) - t0);
  const labelW = 190;
  const plotW = 640;
  const rowH = 20;
  const top = 22;
  const height = top + timed.length * rowH + 8;
  const x = (t: number) => labelW + ((t - t0) / span) * plotW;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tx = labelW + f * plotW;
    return `<line x1="${fmt(tx, 1)}" y1="${top - 4}" x2="${fmt(tx, 1)}" y2="${height - 4}" stroke="${COLOURS.grid}"/>
<text x="${fmt(tx, 1)}" y="12" text-anchor="middle" class="axis">${esc(duration(f * span))}</text>`;
  });
  const rows = timed.map((s, i) => {
    const y = top + i * rowH;
    const bx = x(starts[i]);
    const bw = Math.max(2, (s.ms! / span) * plotW);
    return `<g class="step step-${s.status}"><title>${esc(`${s.state}: ${s.status}, ${duration(s.ms!)}${s.error ? ` — ${s.error}` : ''}`)}</title>
<text x="${labelW - 8}" y="${y + 14}" text-anchor="end" class="label">${esc(s.state)}</text>
<rect x="${fmt(bx, 1)}" y="${y + 3}" width="${fmt(bw, 1)}" height="${rowH - 6}" rx="3" fill="${COLOURS[s.status]}"/></g>`;
  });
  return `<svg class="chart" role="img" aria-label="Step timeline" viewBox="0 0 ${labelW + plotW + 20} ${height}" width="${labelW + plotW + 20}" height="${height}" xmlns="http://www.w3.org/2000/svg">
${ticks.join('\n')}
${rows.join('\n')}
</svg>`;
}

/** Splits a key into lines of at most `width` characters, breaking after a '/' where it can. */
function wrapKey(label: string, width: number): string[] {
  const lines: string[] = [];
  let rest = label;
  while (rest.length > width) {
    const cut = rest.lastIndexOf('/', width - 1);
    const at = cut > 0 ? cut + 1 : width;
    lines.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  if (rest) lines.push(rest);
  return lines;
}

/** Columns of boxes (one per layer), edges as curves from a box's right side to the next box's left side. */
export function lineageSvg(lineage: Lineage): string {
  const colW = 250;
  const boxW = 214;
  const gap = 14;
  const lineH = 13;
  const top = 26;
  const boxes = new Map<string, { x: number; y: number; h: number }>();
  const cursor = lineage.layers.map(() => top);
  const parts: string[] = lineage.layers.map(
    (title, i) => `<text x="${i * colW + 8}" y="14" class="layer">${esc(title)}</text>`,
  );
  const nodeParts: string[] = [];
  for (const n of lineage.nodes) {
    const lines = wrapKey(n.label, 32);
    const h = 10 + lines.length * lineH + (n.detail ? lineH : 0);
    const x = n.layer * colW + 4;
    const y = cursor[n.layer];
    cursor[n.layer] += h + gap;
    boxes.set(n.id, { x, y, h });
    const text = lines
      .map((l, i) => `<tspan x="${x + 8}" y="${y + 16 + i * lineH}">${esc(l)}</tspan>`)
      .join('');
    const detail = n.detail
      ? `<text x="${x + 8}" y="${y + 16 + lines.length * lineH}" class="detail">${esc(n.detail)}</text>`
      : '';
    nodeParts.push(`<g class="node${n.reached ? '' : ' not-reached'}"><title>${esc(`${n.label}${n.detail ? ` — ${n.detail}` : ''}${n.reached ? '' : ' (not reached)'}`)}</title>
<rect x="${x}" y="${y}" width="${boxW}" height="${h}" rx="5"/>
<text class="key">${text}</text>${detail}</g>`);
  }
  for (const e of lineage.edges) {
    const a = boxes.get(e.from);
    const b = boxes.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + boxW;
    const y1 = a.y + a.h / 2;
    const x2 = b.x;
    const y2 = b.y + b.h / 2;
    const mid = (x1 + x2) / 2;
    parts.push(
      `<path class="edge" marker-end="url(#arrow)" d="M${x1} ${fmt(y1, 1)} C${mid} ${fmt(y1, 1)} ${mid} ${fmt(y2, 1)} ${x2} ${fmt(y2, 1)}"/>`,
    );
  }
  const width = lineage.layers.length * colW;
  const height = Math.max(...cursor) + 4;
  return `<svg class="chart lineage" role="img" aria-label="Lineage" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">
<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0 0 L8 4 L0 8 z" fill="${COLOURS.muted}"/></marker></defs>
${parts.join('\n')}
${nodeParts.join('\n')}
</svg>`;
}

export interface Series {
  name: string;
  /** Value per minute, keyed by the minute's epoch ms; a missing minute is 0. */
  values: Map<number, number>;
}

const minuteMs = (minute: string) => Date.parse(`${minute}:00Z`);
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** Per-minute series of a key (event type, service), plus their total; the top `limit` keys by volume. */
export function minuteSeries<R extends EventMinute | ErrorMinute>(
  rows: readonly R[],
  keyOf: (r: R) => string,
  valueOf: (r: R) => number,
  limit: number,
): Series[] {
  const byKey = new Map<string, Map<number, number>>();
  const total = new Map<number, number>();
  for (const r of rows) {
    const t = minuteMs(r.minute);
    const series = byKey.get(keyOf(r)) ?? new Map<number, number>();
    byKey.set(keyOf(r), series);
    series.set(t, (series.get(t) ?? 0) + valueOf(r));
    total.set(t, (total.get(t) ?? 0) + valueOf(r));
  }
  const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const top = [...byKey.entries()]
    .sort((a, b) => sum(b[1]) - sum(a[1]) || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([name, values]) => ({ name, values }));
  return [{ name: 'total', values: total }, ...top];
}

/** A line per series over the minutes from the first to the last with data; missing minutes are 0. */
export function minuteChartSvg(series: readonly Series[], label: string): string {
  const minutes = series.flatMap((s) => [...s.values.keys()]);
  if (minutes.length === 0) return '';
  const from = Math.min(...minutes);
  const to = Math.max(...minutes);
  const count = Math.round((to - from) / 60_000) + 1;
  const max = Math.max(1, ...series.flatMap((s) => [...s.values.values()]));
  const left = 48;
  const plotW = 760;
  const plotH = 180;
  const top = 10;
  const x = (i: number) => left + (count === 1 ? plotW / 2 : (i / (count - 1)) * plotW);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = f * max;
    return `<line x1="${left}" y1="${fmt(y(v), 1)}" x2="${left + plotW}" y2="${fmt(y(v), 1)}" stroke="${COLOURS.grid}"/>
<text x="${left - 6}" y="${fmt(y(v) + 4, 1)}" text-anchor="end" class="axis">${fmt(v)}</text>`;
  });
  const tickEvery = Math.max(1, Math.ceil(count / 8));
  const xTicks: string[] = [];
  for (let i = 0; i < count; i += tickEvery) {
    xTicks.push(
      `<text x="${fmt(x(i), 1)}" y="${top + plotH + 16}" text-anchor="middle" class="axis">${hhmm(from + i * 60_000)}</text>`,
    );
  }
  const lines = series.map((s, k) => {
    const colour = k === 0 ? COLOURS.ink : COLOURS.series[(k - 1) % COLOURS.series.length];
    const points = Array.from(
      { length: count },
      (_, i) => `${fmt(x(i), 1)},${fmt(y(s.values.get(from + i * 60_000) ?? 0), 1)}`,
    );
    return `<polyline fill="none" stroke="${colour}" stroke-width="${k === 0 ? 2 : 1.3}" points="${points.join(' ')}"><title>${esc(s.name)}</title></polyline>`;
  });
  const legend = series.map((s, k) => {
    const colour = k === 0 ? COLOURS.ink : COLOURS.series[(k - 1) % COLOURS.series.length];
    const lx = left + (k % 6) * 128;
    const ly = top + plotH + 34 + Math.floor(k / 6) * 16;
    return `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${colour}"/><text x="${lx + 14}" y="${ly}" class="label">${esc(s.name)}</text>`;
  });
  const height = top + plotH + 44 + Math.floor((series.length - 1) / 6) * 16;
  return `<svg class="chart" role="img" aria-label="${esc(label)}" viewBox="0 0 ${left + plotW + 12} ${height}" width="${left + plotW + 12}" height="${height}" xmlns="http://www.w3.org/2000/svg">
${grid.join('\n')}
${xTicks.join('\n')}
${lines.join('\n')}
${legend.join('\n')}
</svg>`;
}
