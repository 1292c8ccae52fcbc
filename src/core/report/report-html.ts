import { kindList } from './aggregator.js';
import { MISMATCH_KINDS } from './compare.js';
import { formatUs } from './headline.js';
import { escapeHtml as h } from './html-escape.js';
import type { EndpointReport, MismatchRecord, ReplayReport, SideLatency } from './report-types.js';
import { cdfSvg, SERIES_COLORS } from './svg-cdf.js';

/**
 * The report as one self-contained HTML page (`--report-html`): no script, no external resource
 * (a Content-Security-Policy forbids both), charts as inline SVG. Every captured string is
 * escaped.
 */

const CHARTED_ENDPOINTS = 12;
/** Mismatch rows shown per endpoint and kind; the JSON report keeps them all (up to its cap). */
const ROWS_PER_GROUP = 25;

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;font-size:16px}
.verdict.ok{background:#e6f4ea;color:#1e6b34} .verdict.bad{background:#fdecea;color:#9b1c1c}
table{border-collapse:collapse;margin:6px 0;font-size:13px} th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.meta td:first-child{color:#666} .charts{display:flex;flex-wrap:wrap;gap:14px} figure{margin:0}
figcaption{font-size:12px;color:#444;max-width:460px;word-break:break-all}
tr.group th{background:#eef3fb;text-align:left} .bar{display:inline-block;height:10px}
`;

function num(n: number): string {
  return `<td class="n">${h(String(n))}</td>`;
}

function meta(r: ReplayReport): string {
  const rows: [string, string][] = [
    ['input', r.run.input],
    ['started', r.run.startedAt],
    ['ended', r.run.endedAt],
    ['acceleration', String(r.run.acceleration)],
    ['reference', r.run.reference === 'capture' ? 'production answers from the capture' : 'Diffy mode: two baselines, noise learned'],
    ['targets', r.run.targets.map((t) => `${t.address} (${t.role})`).join(', ')],
    ['ignore rules', r.ignore.length === 0 ? 'none' : r.ignore.join('; ')],
  ];
  if (r.testPayload !== undefined) rows.push(['test answers', r.testPayload === 'forwarded' ? 'bytes forwarded by the interceptors' : `${r.testPayload}: only sizes, ends and timing compare where bytes are missing`]);
  return `<table class="meta">${rows.map(([k, v]) => `<tr><td>${h(k)}</td><td>${h(v)}</td></tr>`).join('')}</table>`;
}

function totals(r: ReplayReport): string {
  const head = '<tr><th>target</th><th>role</th><th>compared</th><th>matched</th><th>mismatched</th><th>not reached</th><th>by kind</th></tr>';
  const diffy = r.run.reference === 'baselines';
  const rows = r.totals.targets.map((t) => {
    // In Diffy mode baselines are not compared: they are the reference and its noise twin.
    const counts = diffy && t.role === 'baseline' ? '<td colspan="3">reference / noise</td>' : `${num(t.compared)}${num(t.matched)}${num(t.mismatched)}`;
    return `<tr><td>${h(t.address)}</td><td>${h(t.role)}</td>${counts}${num(t.notReached)}<td>${h(kindList(t.byKind))}</td></tr>`;
  });
  const extra = `<p>${h(`${r.totals.exchanges} requests seen, ${r.totals.skipped} skipped by ignore rules, ${r.totals.noReference} without a reference answer.`)}</p>`;
  return `<table id="totals">${head}${rows.join('')}</table>${extra}`;
}

function noise(r: ReplayReport): string {
  if (r.noise === null) return '';
  const n = r.noise;
  const rows = n.endpoints.flatMap((e) => e.fields.map((f) => `<tr><td>${h(e.endpoint)}</td><td><code>${h(f.field)}</code></td>${num(f.count)}</tr>`));
  return `<h2>Noise (baseline vs baseline)</h2><p id="noise-rate">${h(`The two baselines differed in ${(n.rate * 100).toFixed(1)}% of ${n.compared} requests; ${n.suppressed} candidate differences were only in these fields and are not reported.`)}</p>
<table id="noise"><tr><th>endpoint</th><th>field</th><th>times differed</th></tr>${rows.join('') || '<tr><td colspan="3">no noise learned</td></tr>'}</table>`;
}

function groupSummary(r: ReplayReport): string {
  const rows: string[] = [];
  for (const e of r.endpoints) {
    for (const t of e.targets) {
      for (const k of MISMATCH_KINDS) {
        const n = t.byKind[k] ?? 0;
        if (n > 0) rows.push(`<tr class="group-count"><td>${h(e.endpoint)}</td><td>${h(k)}</td><td>${h(r.run.targets[t.target]?.address ?? String(t.target))}</td>${num(n)}${num(t.compared)}</tr>`);
      }
    }
  }
  if (rows.length === 0) return '<p>No mismatch.</p>';
  return `<table id="mismatch-groups"><tr><th>endpoint</th><th>kind</th><th>target</th><th>mismatches</th><th>compared</th></tr>${rows.join('')}</table>`;
}

function side(label: 'reference' | 'test', s: MismatchRecord['reference']): string {
  const end = s.end === 'complete' ? '' : ` <b>${h(s.end)}</b>`;
  const headers = Object.entries(s.headers)
    .map(([k, v]) => `<br><small>${h(k)}: ${h(v)}</small>`)
    .join('');
  return `<td data-side="${label}"><code>${h(s.status)}</code>${headers}</td>${num(s.size)}<td><code>${h(s.digest)}</code>${end}</td><td>${h(formatUs(s.firstByteUs))} / ${h(formatUs(s.lastByteUs))}</td>`;
}

function mismatchRows(r: ReplayReport): string {
  if (r.mismatches.length === 0) return '';
  const groups = new Map<string, MismatchRecord[]>();
  for (const m of r.mismatches) {
    const key = `${m.endpoint}\u0000${m.kind}`;
    const g = groups.get(key);
    if (g === undefined) groups.set(key, [m]);
    else g.push(m);
  }
  const order = [...groups.keys()].sort();
  const body = order.map((key) => {
    const list = groups.get(key) as MismatchRecord[];
    const [endpoint, kind] = key.split('\u0000') as [string, string];
    const head = `<tr class="group"><th colspan="12">${h(endpoint)} — ${h(kind)} (${list.length})</th></tr>`;
    const more = list.length > ROWS_PER_GROUP ? `<tr class="more"><td colspan="12">${h(`${list.length - ROWS_PER_GROUP} more in the JSON report`)}</td></tr>` : '';
    const rows = list.slice(0, ROWS_PER_GROUP).map(
      (m) =>
        `<tr class="mismatch" data-kind="${h(m.kind)}"><td><code>${h(m.session)}</code></td>${num(m.index)}<td>${h(r.run.targets[m.target]?.address ?? String(m.target))}</td>` +
        side('reference', m.reference) +
        side('test', m.test) +
        `<td><code>${h(m.fields.join(' '))}</code><br><code>${h(m.request)}</code></td>` +
        `<td>${m.diff === null ? '' : `@${h(String(m.diff.offset))}<br>ref <code>${h(m.diff.reference)}</code><br>test <code>${h(m.diff.test)}</code>`}</td></tr>`,
    );
    return `<tbody>${head}${rows.join('')}${more}</tbody>`;
  });
  const cap = r.limits.mismatchesNotKept > 0 ? `<p>${h(`${r.limits.mismatchesNotKept} more mismatches were counted but not kept (cap ${r.limits.mismatchCap}).`)}</p>` : '';
  return `<table id="mismatches"><thead><tr><th>session</th><th>#</th><th>target</th><th>ref status</th><th>ref size</th><th>ref digest</th><th>ref first/last byte</th><th>test status</th><th>test size</th><th>test digest</th><th>test first/last byte</th><th>fields, request · first difference</th></tr></thead>${body.join('')}</table>${cap}`;
}

function percentileTable(endpoints: EndpointReport[], overall: SideLatency[]): string {
  const rows: string[] = [];
  const add = (name: string, sides: SideLatency[]): void => {
    for (const s of sides) {
      const cell = (p: SideLatency['firstByte']): string => (p === null ? '<td colspan="4">–</td>' : [p.p50, p.p90, p.p99, p.max].map((v) => `<td class="n">${h(formatUs(v))}</td>`).join(''));
      rows.push(`<tr><td>${h(name)}</td><td>${h(s.label)}</td>${num(s.firstByte?.count ?? 0)}${cell(s.firstByte)}${cell(s.lastByte)}</tr>`);
    }
  };
  add('all endpoints', overall);
  for (const e of endpoints) add(e.endpoint, e.latency);
  return `<table id="latency"><tr><th rowspan="2">endpoint</th><th rowspan="2">side</th><th rowspan="2">answers</th><th colspan="4">first byte</th><th colspan="4">last byte</th></tr><tr><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${rows.join('')}</table>`;
}

function charts(r: ReplayReport): string {
  const figure = (name: string, sides: SideLatency[], which: 'cdfFirstByte' | 'cdfLastByte'): string => {
    const title = `${name}: ${which === 'cdfFirstByte' ? 'first' : 'last'} byte latency CDF`;
    return `<figure>${cdfSvg(title, sides.map((s) => ({ label: s.label, points: s[which] })))}<figcaption>${h(title)}</figcaption></figure>`;
  };
  const out = [figure('all endpoints', r.latency, 'cdfFirstByte'), figure('all endpoints', r.latency, 'cdfLastByte')];
  for (const e of r.endpoints.slice(0, CHARTED_ENDPOINTS)) out.push(figure(e.endpoint, e.latency, 'cdfLastByte'));
  return `<div class="charts">${out.join('')}</div>`;
}

function outcomes(r: ReplayReport): string {
  if (r.outcomes.length === 0) return '<p>No session outcome reported.</p>';
  const rows = r.outcomes.map((o) => {
    const total = Object.values(o.counts).reduce((a, b) => a + b, 0) || 1;
    const bars = Object.entries(o.counts)
      .map(([k, n], i) => `<span class="bar" title="${h(`${k}: ${n}`)}" style="width:${((n / total) * 300).toFixed(1)}px;background:${SERIES_COLORS[i % SERIES_COLORS.length]}"></span>`)
      .join('');
    const list = Object.entries(o.counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    return `<tr><td>${h(o.address)}</td><td>${bars}</td><td>${h(list)}</td></tr>`;
  });
  return `<table id="outcomes"><tr><th>target</th><th>sessions</th><th>outcomes</th></tr>${rows.join('')}</table>`;
}

export function renderReportHtml(r: ReplayReport): string {
  const csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${h(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Replay report: ${h(r.run.input)}</title><style>${STYLE}</style></head>
<body>
<h1>Replay report</h1>
<div id="verdict" class="verdict ${r.verdict.ok ? 'ok' : 'bad'}">${h(r.verdict.text)}</div>
${meta(r)}
<h2>Totals</h2>
${totals(r)}
${noise(r)}
<h2>Mismatches by endpoint and kind</h2>
${groupSummary(r)}
<h2>Latency: reference vs test</h2>
${charts(r)}
${percentileTable(r.endpoints, r.latency)}
<h2>Session outcomes</h2>
${outcomes(r)}
${r.mismatches.length === 0 ? '' : `<h2>Mismatch details</h2>\n${mismatchRows(r)}`}
</body></html>
`;
}
