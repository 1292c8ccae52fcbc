import { summarizeAnswer, type AnswerSummary } from './answer-summary.js';
import { escapeBytes, firstDifference, type ByteDiff } from './byte-diff.js';
import { compareAnswers, fieldKind, MISMATCH_KINDS, primaryKind, SELECTED_HEADERS, type CompareOptions, type FieldDiff, type HeaderScope, type MismatchKind } from './compare.js';
import { requestInfo, type ReportProtocol } from './endpoint.js';
import { headerFilter, type HeaderFilter } from './http-message.js';
import type { Answer, Exchange, ExchangeSink, ReportRun } from './exchange.js';
import { digest64 } from './digest.js';
import { LogHistogram } from './histogram.js';
import { IgnoreSet, type IgnoreRule } from './ignore-rules.js';
import { EndpointNoise } from './noise.js';
import type { AnswerBrief, EndpointReport, MismatchRecord, ReplayReport, SideLatency, TargetTotals } from './report-types.js';

/**
 * The report core: the copier feeds every exchange and session outcome; `report()` gives the
 * report at any time. Streaming and bounded: per endpoint and side two log histograms, per
 * endpoint and target the distinct sets of differing fields with counts (so noise learned later
 * still applies to earlier requests), at most `mismatchCap` mismatch records (strings only, no
 * buffers kept), at most `endpointCap` endpoints (the rest merged into one).
 */
export interface ReportOptions {
  /** Mismatch records kept in full (default 1000); later ones are only counted. */
  mismatchCap?: number;
  /** Distinct endpoints tracked (default 200); later ones share OTHER_ENDPOINT. */
  endpointCap?: number;
  ignore?: readonly IgnoreRule[];
  /** Headers compared: default 'selected' against a capture, 'all' in Diffy mode (noise learned). */
  headers?: HeaderScope;
}

export const DEFAULT_MISMATCH_CAP = 1000;
export const DEFAULT_ENDPOINT_CAP = 200;
export const OTHER_ENDPOINT = '(other endpoints)';
/** Distinct differing-field sets kept per endpoint and target; more are counted by kind at once. */
const SIGNATURE_CAP = 256;
/** …and at most this many characters of them in all (≈ 8 MiB of strings). */
const SIGNATURE_CHARS = 4_000_000;
const REQUEST_SHOWN = 120;
/** Headers the HTTP reader needs besides the compared ones: framing and the JSON body check. */
const FRAMING_READ = ['content-length', 'transfer-encoding', 'content-type'];

type Side = 'reference' | number;

class SideStats {
  readonly firstByte = new LogHistogram();
  readonly lastByte = new LogHistogram();

  add(a: Answer): void {
    if (a.firstByteUs !== null) this.firstByte.add(a.firstByteUs);
    if (a.lastByteUs !== null) this.lastByte.add(a.lastByteUs);
  }
}

/** Per side: slot 0 the reference, slot t + 1 target t (an array: this runs per answer). */
class Sides {
  readonly slots: (SideStats | undefined)[] = [];

  add(side: Side, a: Answer): void {
    const i = side === 'reference' ? 0 : side + 1;
    let s = this.slots[i];
    if (s === undefined) this.slots[i] = s = new SideStats();
    s.add(a);
  }

  /** The sides seen, the reference first, then targets in order. */
  entries(): [Side, SideStats][] {
    const out: [Side, SideStats][] = [];
    this.slots.forEach((s, i) => {
      if (s !== undefined) out.push([i === 0 ? 'reference' : i - 1, s]);
    });
    return out;
  }
}

interface TargetCounts {
  compared: number;
  /** Sorted differing fields joined by '\n' ('' = matched) → requests. */
  signatures: Map<string, number>;
  /** Requests counted past SIGNATURE_CAP, by kind ('match' for none). */
  overflow: Map<MismatchKind | 'match', number>;
}

class EndpointStats {
  requests = 0;
  readonly sides = new Sides();
  readonly targets: TargetCounts[];
  readonly noise: EndpointNoise | null;

  constructor(
    readonly endpoint: string,
    readonly protocol: ReportProtocol,
    targets: number,
    diffy: boolean,
  ) {
    this.targets = Array.from({ length: targets }, () => ({ compared: 0, signatures: new Map(), overflow: new Map() }));
    this.noise = diffy ? new EndpointNoise() : null;
  }
}

function brief(s: AnswerSummary): AnswerBrief {
  const headers: Record<string, string> = {};
  // The meaningful headers (compare.ts SELECTED_HEADERS) of the first response, for the reader.
  for (const name of SELECTED_HEADERS) {
    const v = s.headers?.get(name);
    if (v !== undefined) headers[name] = v.length > 200 ? `${v.slice(0, 200)}…` : v;
  }
  // The digest only for kept records: matching bodies are compared byte-wise, never hashed.
  return { status: s.status, headers, size: s.size, digest: digest64(s.body), end: s.end, firstByteUs: s.firstByteUs, lastByteUs: s.lastByteUs };
}

function bump<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

export class ReportAggregator implements ExchangeSink {
  private readonly mismatchCap: number;
  private readonly endpointCap: number;
  private readonly ignore: IgnoreSet;
  private readonly headers: HeaderScope;
  private readonly diffy: boolean;
  /** Targets compared with the reference: every target against a capture, the candidates in Diffy mode. */
  private readonly compared: number[];
  /** Diffy mode: the baseline answering as reference, and its twin. */
  private readonly baselines: [number, number] | null;
  /** 0 … targets - 1. */
  private readonly allTargets: readonly number[];
  private readonly compareOptions: CompareOptions;
  private readonly headerFilter: HeaderFilter | null;
  private readonly endpoints = new Map<string, EndpointStats>();
  private endpointsMerged = 0;
  private readonly overall = new Sides();
  private readonly notReached: number[];
  private readonly outcomes = new Map<number, Map<string, number>>();
  private readonly kept: MismatchRecord[] = [];
  private exchanges = 0;
  private skipped = 0;
  private noReference = 0;
  private signatureChars = 0;

  constructor(
    private readonly run: ReportRun,
    options: ReportOptions = {},
  ) {
    this.mismatchCap = options.mismatchCap ?? DEFAULT_MISMATCH_CAP;
    this.endpointCap = Math.max(1, options.endpointCap ?? DEFAULT_ENDPOINT_CAP);
    this.ignore = new IgnoreSet(options.ignore ?? []);
    this.diffy = run.reference === 'baselines';
    this.headers = options.headers ?? (this.diffy ? 'all' : 'selected');
    const idx = run.targets.map((_, i) => i);
    if (this.diffy) {
      const base = idx.filter((i) => run.targets[i]?.role === 'baseline');
      if (base.length < 2) throw new Error('the report in Diffy mode needs two baseline targets');
      this.baselines = [base[0] as number, base[1] as number];
      this.compared = idx.filter((i) => run.targets[i]?.role === 'candidate');
    } else {
      this.baselines = null;
      this.compared = idx;
    }
    this.notReached = run.targets.map(() => 0);
    this.allTargets = idx;
    this.compareOptions = { headers: this.headers, ignore: this.ignore };
    // Comparing selected headers, the others are never read: answers skip them unparsed.
    this.headerFilter = this.headers === 'selected' ? headerFilter([...SELECTED_HEADERS, ...FRAMING_READ]) : null;
  }

  private endpointFor(name: string, protocol: ReportProtocol): EndpointStats {
    let ep = this.endpoints.get(name);
    if (ep !== undefined) return ep;
    if (this.endpoints.size >= this.endpointCap - 1 && name !== OTHER_ENDPOINT) {
      this.endpointsMerged++;
      return this.endpointFor(OTHER_ENDPOINT, protocol);
    }
    ep = new EndpointStats(name, protocol, this.run.targets.length, this.diffy);
    this.endpoints.set(name, ep);
    return ep;
  }

  exchange(x: Exchange): void {
    const info = requestInfo(x.request, x.servicePort);
    if (this.ignore.skipsEndpoint(info.endpoint)) {
      this.skipped++;
      return;
    }
    this.exchanges++;
    const ep = this.endpointFor(info.endpoint, info.protocol);
    ep.requests++;
    if (x.reference !== null) {
      ep.sides.add('reference', x.reference);
      this.overall.add('reference', x.reference);
    }
    for (let i = 0; i < x.tests.length; i++) {
      const a = x.tests[i];
      if (a === null || a === undefined) continue;
      ep.sides.add(i, a);
      this.overall.add(i, a);
    }
    const opts = this.compareOptions;
    let refAnswer: Answer | null = x.reference;
    let ref: AnswerSummary | null = null;
    if (this.baselines !== null) {
      const [b0, b1] = this.baselines;
      refAnswer = x.tests[b0] ?? null;
      const twin = x.tests[b1] ?? null;
      if (refAnswer !== null && twin !== null) {
        ref = summarizeAnswer(refAnswer, info, this.headerFilter);
        ep.noise?.learn(compareAnswers(ref, summarizeAnswer(twin, info, this.headerFilter), opts));
      }
    }
    for (const t of x.targets ?? this.allTargets) if (x.tests[t] === null || x.tests[t] === undefined) this.notReached[t] = (this.notReached[t] ?? 0) + 1;
    if (refAnswer === null) {
      this.noReference++;
      return;
    }
    ref ??= summarizeAnswer(refAnswer, info, this.headerFilter);
    for (const t of this.compared) {
      const testAnswer = x.tests[t];
      if (testAnswer === null || testAnswer === undefined) continue;
      const test = summarizeAnswer(testAnswer, info, this.headerFilter);
      const all = compareAnswers(ref, test, opts);
      // Counted unfiltered (the noise known at the end decides); kept only if not noise by now.
      const diffs = ep.noise === null ? all : all.filter((d) => !ep.noise?.isNoise(d.field));
      this.count(ep, t, all, diffs);
      if (diffs.length > 0 && this.kept.length < this.mismatchCap) this.keep(x, info.endpoint, t, ref, test, refAnswer, testAnswer, diffs);
    }
  }

  private count(ep: EndpointStats, t: number, all: readonly FieldDiff[], diffs: readonly FieldDiff[]): void {
    const c = ep.targets[t];
    if (c === undefined) return;
    c.compared++;
    const sig =
      all.length === 0
        ? ''
        : all
            .map((d) => d.field)
            .sort()
            .join('\n');
    if (c.signatures.has(sig)) bump(c.signatures, sig);
    else if (c.signatures.size < SIGNATURE_CAP && this.signatureChars + sig.length <= SIGNATURE_CHARS) {
      c.signatures.set(sig, 1);
      this.signatureChars += sig.length;
    } else bump(c.overflow, primaryKind(diffs) ?? 'match');
  }

  private keep(x: Exchange, endpoint: string, t: number, ref: AnswerSummary, test: AnswerSummary, refAnswer: Answer, testAnswer: Answer, diffs: FieldDiff[]): void {
    const kind = primaryKind(diffs) as MismatchKind;
    let diff: ByteDiff | null;
    const header = diffs.find((d) => d.kind === 'header');
    if (kind === 'header' && header !== undefined && ref.headers !== null && test.headers !== null) {
      const name = header.field.slice('header:'.length);
      diff = { offset: 0, reference: `${name}: ${ref.headers.get(name) ?? '(absent)'}`, test: `${name}: ${test.headers.get(name) ?? '(absent)'}` };
    } else if (kind === 'body' || kind === 'size') diff = firstDifference(ref.body, test.body);
    else diff = firstDifference(refAnswer.bytes, testAnswer.bytes);
    this.kept.push({
      session: x.session,
      index: x.index,
      endpoint,
      target: t,
      kind,
      fields: diffs.map((d) => d.field),
      request: escapeBytes(x.request, 0, Math.min(x.request.length, REQUEST_SHOWN)) + (x.requestSize > REQUEST_SHOWN ? '…' : ''),
      reference: brief(ref),
      test: brief(test),
      diff,
    });
  }

  sessionOutcome(_session: string, target: number, outcome: string): void {
    let m = this.outcomes.get(target);
    if (m === undefined) this.outcomes.set(target, (m = new Map()));
    bump(m, outcome);
  }

  private label(side: Side): string {
    if (side === 'reference') return 'reference (capture)';
    const t = this.run.targets[side];
    return t === undefined ? `target ${side}` : `${t.address} (${t.role})`;
  }

  private latency(sides: Sides): SideLatency[] {
    return sides.entries().map(([side, s]) => {
      return {
        side,
        label: this.label(side),
        firstByte: s.firstByte.percentiles(),
        lastByte: s.lastByte.percentiles(),
        cdfFirstByte: s.firstByte.cdf(),
        cdfLastByte: s.lastByte.cdf(),
      };
    });
  }

  /** Kinds of a field set once the noise learned by now is taken out; null when nothing is left. */
  private finalKind(ep: EndpointStats, sig: string): MismatchKind | null {
    if (sig === '') return null;
    const fields = sig.split('\n').filter((f) => ep.noise === null || !ep.noise.isNoise(f));
    return primaryKind(fields.map((field) => ({ field, kind: fieldKind(field) })));
  }

  /** The report as of now; `endedAt` is an ISO time (the core has no clock). */
  report(endedAt: string): ReplayReport {
    const totals: TargetTotals[] = this.run.targets.map((t, i) => ({
      target: i,
      address: t.address,
      role: t.role,
      compared: 0,
      matched: 0,
      mismatched: 0,
      notReached: this.notReached[i] ?? 0,
      byKind: {},
    }));
    let lateNoise = 0;
    const endpoints: EndpointReport[] = [];
    for (const ep of this.endpoints.values()) {
      const targets = ep.targets.map((c, i) => {
        const byKind: Partial<Record<MismatchKind, number>> = {};
        let mismatched = 0;
        const add = (kind: MismatchKind | null, n: number): void => {
          if (kind === null) return;
          byKind[kind] = (byKind[kind] ?? 0) + n;
          mismatched += n;
        };
        for (const [sig, n] of c.signatures) {
          const kind = this.finalKind(ep, sig);
          if (kind === null && sig !== '') lateNoise += n;
          add(kind, n);
        }
        for (const [kind, n] of c.overflow) add(kind === 'match' ? null : kind, n);
        const tt = totals[i] as TargetTotals;
        tt.compared += c.compared;
        tt.mismatched += mismatched;
        tt.matched += c.compared - mismatched;
        for (const k of MISMATCH_KINDS) if (byKind[k] !== undefined) tt.byKind[k] = (tt.byKind[k] ?? 0) + (byKind[k] as number);
        return { target: i, compared: c.compared, mismatched, byKind };
      });
      const noise = ep.noise === null ? null : { compared: ep.noise.compared, differing: ep.noise.differing, rate: ep.noise.compared === 0 ? 0 : ep.noise.differing / ep.noise.compared, fields: ep.noise.learned() };
      endpoints.push({ endpoint: ep.endpoint, protocol: ep.protocol, requests: ep.requests, targets: targets.filter((t) => this.compared.includes(t.target)), latency: this.latency(ep.sides), noise });
    }
    endpoints.sort((a, b) => b.requests - a.requests || a.endpoint.localeCompare(b.endpoint));
    const mismatches = this.kept
      .map((m) => {
        const ep = this.endpoints.get(m.endpoint) ?? this.endpoints.get(OTHER_ENDPOINT);
        if (ep?.noise === null || ep === undefined) return m;
        const fields = m.fields.filter((f) => !ep.noise?.isNoise(f));
        const kind = primaryKind(fields.map((field) => ({ field, kind: fieldKind(field) })));
        return kind === null ? null : { ...m, fields, kind };
      })
      .filter((m): m is MismatchRecord => m !== null);
    const candidates = totals.filter((t) => this.compared.includes(t.target));
    const compared = candidates.reduce((n, t) => n + t.compared, 0);
    const mismatched = candidates.reduce((n, t) => n + t.mismatched, 0);
    return {
      format: 1,
      run: { ...this.run, endedAt },
      verdict: verdict(compared, mismatched, candidates),
      totals: { exchanges: this.exchanges, skipped: this.skipped, noReference: this.noReference, targets: totals },
      outcomes: [...this.outcomes].sort((a, b) => a[0] - b[0]).map(([target, counts]) => ({ target, address: this.run.targets[target]?.address ?? `target ${target}`, counts: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])) })),
      endpoints,
      latency: this.latency(this.overall),
      mismatches,
      noise: this.noiseReport(lateNoise),
      ignore: this.ignore.texts,
      limits: { mismatchCap: this.mismatchCap, mismatchesNotKept: Math.max(0, mismatched - mismatches.length), endpointCap: this.endpointCap, endpointsMerged: this.endpointsMerged },
    };
  }

  private noiseReport(lateNoise: number): ReplayReport['noise'] {
    if (!this.diffy) return null;
    let compared = 0;
    let differing = 0;
    const endpoints: { endpoint: string; fields: { field: string; count: number }[] }[] = [];
    for (const ep of this.endpoints.values()) {
      if (ep.noise === null) continue;
      compared += ep.noise.compared;
      differing += ep.noise.differing;
      const fields = ep.noise.learned();
      if (fields.length > 0) endpoints.push({ endpoint: ep.endpoint, fields });
    }
    return { compared, differing, rate: compared === 0 ? 0 : differing / compared, suppressed: lateNoise, endpoints };
  }
}

/** "status 3, body 2" in kind order. */
export function kindList(byKind: Partial<Record<MismatchKind, number>>): string {
  return MISMATCH_KINDS.filter((k) => (byKind[k] ?? 0) > 0)
    .map((k) => `${k} ${byKind[k]}`)
    .join(', ');
}

function verdict(compared: number, mismatched: number, candidates: TargetTotals[]): ReplayReport['verdict'] {
  if (compared === 0) return { ok: false, text: 'nothing compared: no request had both a reference answer and a test answer' };
  if (mismatched === 0) return { ok: true, text: `same answers: ${compared} requests compared, no mismatch` };
  const byKind: Partial<Record<MismatchKind, number>> = {};
  for (const t of candidates) for (const k of MISMATCH_KINDS) byKind[k] = (byKind[k] ?? 0) + (t.byKind[k] ?? 0);
  return { ok: false, text: `different answers: ${mismatched} of ${compared} requests differ (${kindList(byKind)})` };
}
