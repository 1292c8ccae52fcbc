import type { ByteDiff } from './byte-diff.js';
import type { MismatchKind } from './compare.js';
import type { AnswerEnd, ReportRun, TargetRole } from './exchange.js';
import type { CdfPoint, Percentiles } from './histogram.js';

/**
 * The replay report as written by `--report FILE.json` (docs/replay-report.md describes every
 * field). Plain data: JSON.stringify gives the file.
 */
export interface ReplayReport {
  /** Bumped when a field changes meaning. */
  format: 1;
  run: ReportRun & { endedAt: string };
  verdict: { ok: boolean; text: string };
  totals: {
    /** Exchanges the copier reported (one per request burst). */
    exchanges: number;
    /** …skipped by an `endpoint` ignore rule. */
    skipped: number;
    /** …without a reference answer to compare with (capture without server→client packets, a baseline that never got there). */
    noReference: number;
    targets: TargetTotals[];
  };
  outcomes: { target: number; address: string; counts: Record<string, number> }[];
  endpoints: EndpointReport[];
  /** Latency of all endpoints together, per side. */
  latency: SideLatency[];
  /** Kept mismatches (up to limits.mismatchCap), in arrival order. */
  mismatches: MismatchRecord[];
  /** Diffy mode only: how often the two baselines differed, and in what. */
  noise: NoiseReport | null;
  /** Ignore rules in force, as text ("header date", "json $.meta.id", "endpoint GET /health"). */
  ignore: string[];
  limits: { mismatchCap: number; mismatchesNotKept: number; endpointCap: number; endpointsMerged: number };
  /**
   * Added by the copier side (optional, not made by the core): whether the interceptors forwarded
   * the test answers' bytes ('forwarded'), only some did, or none ('sizes only': sizes, ends and
   * timing compared).
   */
  testPayload?: 'forwarded' | 'partly forwarded' | 'sizes only';
}

export interface TargetTotals {
  target: number;
  address: string;
  role: TargetRole;
  /** Whether this target is compared with the reference (candidates) or only feeds it (baselines). */
  compared: number;
  matched: number;
  mismatched: number;
  /** Requests the target's session never got to (its outcome says why). */
  notReached: number;
  byKind: Partial<Record<MismatchKind, number>>;
}

export interface EndpointReport {
  endpoint: string;
  protocol: 'http' | 'redis' | 'raw';
  requests: number;
  targets: { target: number; compared: number; mismatched: number; byKind: Partial<Record<MismatchKind, number>> }[];
  latency: SideLatency[];
  noise: { compared: number; differing: number; rate: number; fields: { field: string; count: number }[] } | null;
}

export interface SideLatency {
  /** 'reference' (the capture), or a target's index. */
  side: 'reference' | number;
  label: string;
  firstByte: Percentiles | null;
  lastByte: Percentiles | null;
  cdfFirstByte: CdfPoint[];
  cdfLastByte: CdfPoint[];
}

export interface AnswerBrief {
  status: string;
  /** HTTP: the selected headers present in the (first) response, lower-case names; {} otherwise. */
  headers: Record<string, string>;
  size: number;
  digest: string;
  end: AnswerEnd;
  firstByteUs: number | null;
  lastByteUs: number | null;
}

export interface MismatchRecord {
  session: string;
  index: number;
  endpoint: string;
  target: number;
  kind: MismatchKind;
  /** Every differing field (see compare.ts): "status", "header:content-type", "json:$.a", "bytes:10-20", "end:reset"… */
  fields: string[];
  /** The request's first bytes, escaped. */
  request: string;
  reference: AnswerBrief;
  test: AnswerBrief;
  /** First differing bytes of the compared payloads (the bodies for body/size kinds, else the whole answers). */
  diff: ByteDiff | null;
}

export interface NoiseReport {
  /** Baseline pair comparisons, and how many differed. */
  compared: number;
  differing: number;
  rate: number;
  /** Candidate differences dropped because they were only in noise fields. */
  suppressed: number;
  endpoints: { endpoint: string; fields: { field: string; count: number }[] }[];
}
