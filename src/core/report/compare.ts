import { parseJsonBody, type AnswerSummary } from './answer-summary.js';
import { differingRanges } from './byte-diff.js';
import type { AnswerEnd } from './exchange.js';
import type { IgnoreSet } from './ignore-rules.js';
import { generalizePath, jsonDifferences } from './json-path.js';

/**
 * Comparing two answers field by field. Each difference is a field name, so noise can be
 * learned and subtracted per field:
 *   `end:KIND` (how the test answer ended: no-response, reset, closed, timeout, unexpected-response), `status`, `header:NAME`, `size`, `body` (digest),
 *   `json:PATH` (a JSON leaf, indices as [*]), `bytes:S-E` (a differing span of equal-length bodies).
 */

/** Mismatch kinds, most telling first: a mismatch is named by the first kind among its fields. */
export const MISMATCH_KINDS = ['no-response', 'reset', 'closed', 'timeout', 'unexpected-response', 'status', 'header', 'size', 'body'] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

export interface FieldDiff {
  field: string;
  kind: MismatchKind;
}

/** Which headers are compared: a fixed meaningful set (reference from a capture), or all but framing (Diffy mode, noise learned). */
export type HeaderScope = 'selected' | 'all';

/** Compared in 'selected' scope: what changes the meaning of a response, not its timing or hop. */
export const SELECTED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-encoding',
  'content-language',
  'location',
  'cache-control',
  'www-authenticate',
  'allow',
  'access-control-allow-origin',
]);

/** Never compared: framing (covered by size and body) and hop-by-hop headers. */
const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

export interface CompareOptions {
  headers: HeaderScope;
  ignore: IgnoreSet;
}

/** Most JSON leaves named per answer; beyond it the rest is one `body` field. */
const MAX_JSON_FIELDS = 32;

function endKind(end: AnswerEnd): MismatchKind {
  return end === 'complete' ? 'unexpected-response' : end;
}

/** True when some header name carries a pipelined response's "#N " prefix. */
function hasPrefixed(m: Map<string, string>): boolean {
  for (const k of m.keys()) if (k.charCodeAt(0) === 0x23) return true;
  return false;
}

function headerDiffs(ref: Map<string, string>, test: Map<string, string>, opts: CompareOptions, out: FieldDiff[]): void {
  if (opts.headers === 'selected' && !hasPrefixed(ref) && !hasPrefixed(test)) {
    // One response each (nearly always): only the selected names can count.
    for (const name of SELECTED_HEADERS) {
      if (opts.ignore.headers.has(name)) continue;
      if (ref.get(name) !== test.get(name)) out.push({ field: `header:${name}`, kind: 'header' });
    }
    return;
  }
  const names = new Set([...ref.keys(), ...test.keys()]);
  for (const key of names) {
    const name = key.replace(/^#\d+ /, '');
    if (FRAMING_HEADERS.has(name) || opts.ignore.headers.has(name)) continue;
    if (opts.headers === 'selected' && !SELECTED_HEADERS.has(name)) continue;
    if (ref.get(key) !== test.get(key)) out.push({ field: `header:${key}`, kind: 'header' });
  }
}

/** JSON differences (indices generalised to [*]), or one `body` field past MAX_JSON_FIELDS paths. */
function jsonDiffs(ref: unknown, test: unknown, opts: CompareOptions): FieldDiff[] {
  const paths = jsonDifferences(ref, test, (p) => opts.ignore.ignoresJson(p), MAX_JSON_FIELDS);
  if (paths === null) return [{ field: 'body', kind: 'body' }];
  return [...new Set(paths.map(generalizePath))].map((p) => ({ field: `json:${p}`, kind: 'body' }));
}

function bodyDiffs(ref: AnswerSummary, test: AnswerSummary, opts: CompareOptions, out: FieldDiff[]): void {
  // Equal bytes first (native compare): JSON parsing and spans only for bodies that differ.
  if (ref.bodySize === test.bodySize && ref.body.equals(test.body)) return;
  if (ref.jsonBody && test.jsonBody) {
    const a = parseJsonBody(ref);
    const b = parseJsonBody(test);
    if (a !== undefined && b !== undefined) {
      out.push(...jsonDiffs(a, b, opts));
      return;
    }
  }
  if (ref.bodySize !== test.bodySize) out.push({ field: 'size', kind: 'size' });
  else {
    const ranges = differingRanges(ref.body, test.body);
    if (ranges.length === 0) out.push({ field: 'body', kind: 'body' });
    for (const [s, e] of ranges) out.push({ field: `bytes:${s}-${e}`, kind: 'body' });
  }
}

/** Differences of `test` from `ref` (empty when they match). */
export function compareAnswers(ref: AnswerSummary, test: AnswerSummary, opts: CompareOptions): FieldDiff[] {
  const out: FieldDiff[] = [];
  if (ref.end !== test.end) {
    const refAnswered = ref.size > 0;
    const testAnswered = test.size > 0;
    // An answer that ended differently but carried the same content is still compared below.
    if (test.end !== 'complete' || !refAnswered) {
      const kind = endKind(test.end);
      out.push({ field: `end:${kind}`, kind });
    }
    if (!refAnswered || !testAnswered) return out;
  }
  if (ref.size === 0 && test.size === 0) return out;
  if (!ref.bytesKnown || !test.bytesKnown) {
    // Content unknown on a side: the payload sizes are all there is to compare.
    if (ref.size !== test.size) out.push({ field: 'size', kind: 'size' });
    return out;
  }
  if (ref.statusKey !== test.statusKey) out.push({ field: 'status', kind: 'status' });
  if (ref.headers !== null && test.headers !== null) headerDiffs(ref.headers, test.headers, opts, out);
  bodyDiffs(ref, test, opts, out);
  return out;
}

/** The kind a set of differences is reported under (the most telling one), or null when empty. */
export function primaryKind(diffs: readonly FieldDiff[]): MismatchKind | null {
  let best: number = MISMATCH_KINDS.length;
  for (const d of diffs) best = Math.min(best, MISMATCH_KINDS.indexOf(d.kind));
  return MISMATCH_KINDS[best] ?? null;
}

/** The kind of a field name (fields travel as strings through noise learning and the report). */
export function fieldKind(field: string): MismatchKind {
  if (field === 'status' || field === 'size' || field === 'body') return field;
  if (field.startsWith('header:')) return 'header';
  const end = field.startsWith('end:') ? MISMATCH_KINDS.find((k) => k === field.slice(4)) : undefined;
  return end ?? 'body';
}
