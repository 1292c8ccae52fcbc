import type { CdfPoint } from './histogram.js';
import { formatUs } from './headline.js';
import { escapeHtml } from './html-escape.js';

/** One line of a CDF chart. */
export interface CdfSeries {
  label: string;
  points: CdfPoint[];
}

const W = 460;
const PLOT_H = 162;
const M = { left: 44, right: 12, top: 12 };
export const SERIES_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/**
 * A cumulative distribution chart as inline SVG (no script, no external resource): latency on a
 * log x axis, fraction of requests on y, one step line per series, a legend under the axis.
 */
export function cdfSvg(title: string, series: readonly CdfSeries[]): string {
  const used = series.filter((s) => s.points.length > 0);
  const values = used.flatMap((s) => s.points.map((p) => Math.max(1, p[0])));
  const lo = values.length === 0 ? 1 : Math.min(...values);
  const hi = values.length === 0 ? 10 : Math.max(...values, lo * 10);
  const lx0 = Math.log10(lo);
  const lx1 = Math.log10(hi);
  const pw = W - M.left - M.right;
  const ph = PLOT_H;
  // Axis labels, then one legend row per two series.
  const H = M.top + ph + 22 + Math.ceil(Math.max(1, series.length) / 2) * 13;
  const x = (v: number): number => M.left + ((Math.log10(Math.max(1, v)) - lx0) / (lx1 - lx0 || 1)) * pw;
  const y = (f: number): number => M.top + (1 - f) * ph;
  const parts: string[] = [];
  parts.push(`<svg class="cdf-chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<title>${escapeHtml(title)}</title>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`);
  // The top line (1) goes unlabelled: p99 sits just under it.
  for (const [f, label] of [
    [0, '0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [1, ''],
  ] as const) {
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y(f).toFixed(1)}" y2="${y(f).toFixed(1)}" stroke="#e3e3e3"/>`);
    if (label !== '') parts.push(`<text x="${M.left - 4}" y="${(y(f) + (f === 0.99 ? 6 : 3)).toFixed(1)}" text-anchor="end" font-size="9">${label}</text>`);
  }
  // Decades, plus 2× and 5× when the range spans less than two decades.
  const steps = lx1 - lx0 < 2 ? [1, 2, 5] : [1];
  for (let d = Math.floor(lx0); d <= Math.ceil(lx1); d++) {
    for (const m of steps) {
      const v = m * Math.pow(10, d);
      if (v < lo / 1.0001 || v > hi * 1.0001) continue;
      parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${M.top}" y2="${M.top + ph}" stroke="#e3e3e3"/>`);
      parts.push(`<text x="${x(v).toFixed(1)}" y="${M.top + ph + 12}" text-anchor="middle" font-size="9">${escapeHtml(formatUs(v))}</text>`);
    }
  }
  used.forEach((s, i) => {
    let d = `M${x(s.points[0]?.[0] ?? lo).toFixed(1)},${y(0).toFixed(1)}`;
    let prev = 0;
    for (const [v, f] of s.points) {
      d += ` L${x(v).toFixed(1)},${y(prev).toFixed(1)} L${x(v).toFixed(1)},${y(f).toFixed(1)}`;
      prev = f;
    }
    parts.push(`<path class="cdf-line" d="${d}" fill="none" stroke="${SERIES_COLORS[i % SERIES_COLORS.length]}" stroke-width="1.6"/>`);
  });
  series.forEach((s, i) => {
    const ly = M.top + ph + 28 + Math.floor(i / 2) * 13;
    const lx = M.left + (i % 2) * (pw / 2);
    parts.push(`<rect x="${lx}" y="${ly - 7}" width="10" height="3" fill="${SERIES_COLORS[used.indexOf(s) % SERIES_COLORS.length] ?? '#999'}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}" font-size="10">${escapeHtml(s.label)}${s.points.length === 0 ? ' (no data)' : ''}</text>`);
  });
  if (used.length === 0) parts.push(`<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle" font-size="11">no latency data</text>`);
  parts.push('</svg>');
  return parts.join('');
}
