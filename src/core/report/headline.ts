import { kindList } from './aggregator.js';
import type { ReplayReport, SideLatency } from './report-types.js';

/** µs as a short human duration: "850 µs", "12.3 ms", "2.50 s". */
export function formatUs(us: number | null | undefined): string {
  if (us === null || us === undefined || !Number.isFinite(us)) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

function p99(s: SideLatency | undefined, which: 'firstByte' | 'lastByte'): string {
  return formatUs(s?.[which]?.p99);
}

/**
 * The terminal summary of a report: the verdict, requests compared and mismatches by kind per
 * compared target, p99 reference vs test, and the noise rate in Diffy mode.
 */
export function reportHeadline(r: ReplayReport): string[] {
  const lines = [`report: ${r.verdict.text}`];
  const diffy = r.run.reference === 'baselines';
  const reference = diffy ? r.latency.find((s) => s.side !== 'reference' && r.run.targets[s.side]?.role === 'baseline') : r.latency.find((s) => s.side === 'reference');
  for (const t of r.totals.targets) {
    if (diffy && t.role !== 'candidate') continue;
    const kinds = kindList(t.byKind);
    const reached = t.notReached > 0 ? `, ${t.notReached} not reached` : '';
    lines.push(`report: ${t.address}: ${t.compared} requests compared, ${t.mismatched} mismatched${kinds === '' ? '' : ` (${kinds})`}${reached}`);
    const test = r.latency.find((s) => s.side === t.target);
    lines.push(`report: ${t.address}: p99 first byte ${p99(reference, 'firstByte')} reference vs ${p99(test, 'firstByte')} test; last byte ${p99(reference, 'lastByte')} vs ${p99(test, 'lastByte')}`);
  }
  if (r.noise !== null) {
    const fields = [...new Set(r.noise.endpoints.flatMap((e) => e.fields.map((f) => f.field)))].slice(0, 6);
    lines.push(`report: noise: baselines differed in ${(r.noise.rate * 100).toFixed(1)}% of ${r.noise.compared} requests${fields.length > 0 ? ` (${fields.join(', ')})` : ''}; ${r.noise.suppressed} candidate differences were only noise`);
  }
  if (r.totals.noReference > 0) lines.push(`report: ${r.totals.noReference} requests had no reference answer`);
  if (r.limits.mismatchesNotKept > 0) lines.push(`report: ${r.limits.mismatchesNotKept} mismatches counted but not kept (cap ${r.limits.mismatchCap})`);
  return lines;
}
