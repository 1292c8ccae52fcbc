import type { Buffer } from 'node:buffer';

/**
 * The replay report's input: one request (a client data burst) and the answers to it, on the
 * reference side (production, from a capture holding both directions) and on each test target.
 * The copier side (src/app: channel extension, engine, capture) produces these; the report core
 * (src/core/report) aggregates them. Pure data: no I/O behind it.
 */

/** How one side's answer to a request ended. */
export type AnswerEnd =
  | 'complete' // the response ended before the next request (or the close)
  | 'no-response' // nothing came back before the next request / the session ended
  | 'reset' // the server reset the connection while answering (or before)
  | 'closed' // the server closed (FIN) before answering completely
  | 'timeout'; // the session ended (timeout, run end) while the answer was still incomplete

export interface Answer {
  /**
   * The first bytes of the response payload, in order (at most the producer's cap, see
   * ANSWER_BYTES_CAP; `bytes.length <= size`). Owned by the report: the producer must not reuse it.
   */
  bytes: Buffer;
  /** Response payload bytes in total (may exceed bytes.length). */
  size: number;
  /** µs from the request's last byte (sent to the test target / captured for the reference) to the first and last response byte; null without a response. */
  firstByteUs: number | null;
  lastByteUs: number | null;
  end: AnswerEnd;
}

/** Response bytes kept per answer for status parsing, digest and diff; longer answers are digested over this prefix and their size compared. */
export const ANSWER_BYTES_CAP = 256 * 1024;

export interface Exchange {
  /** The captured session it belongs to ("10.0.0.5:41234>10.0.0.1:80"), stable across targets. */
  session: string;
  /** 0-based index of the request within the session. */
  index: number;
  /** Online service port (protocol sniffing falls back to it: 6379 Redis, else by content). */
  servicePort: number;
  /** The request's first bytes (same cap as answers) and its full size. */
  request: Buffer;
  requestSize: number;
  /** Production's answer (from the capture); null when the capture holds no server→client direction. */
  reference: Answer | null;
  /**
   * One entry per test target, in the order of `ReportRun.targets`; null when that target's
   * session never got to this request (its outcome says why).
   */
  tests: (Answer | null)[];
  /**
   * The targets this captured session was copied to (indexes into `tests`), when not all of them:
   * with several -x services each session goes to its own service's target only, and the others
   * are not "not reached". Absent: every target.
   */
  targets?: readonly number[];
}

/** Role of a test target: in Diffy mode, one candidate and two baselines; otherwise all are candidates. */
export type TargetRole = 'candidate' | 'baseline';

export interface ReportTarget {
  /** "10.0.0.2:80" */
  address: string;
  role: TargetRole;
}

/** Run metadata, given once when the report starts. */
export interface ReportRun {
  input: string;
  startedAt: string; // ISO time
  acceleration: number;
  targets: ReportTarget[];
  /** Where reference answers come from. */
  reference: 'capture' | 'baselines';
}

/** What the copier feeds; implemented by the report core. */
export interface ExchangeSink {
  exchange(x: Exchange): void;
  /** A test session's outcome (one per captured session per target), for the outcome breakdown. */
  sessionOutcome(session: string, target: number, outcome: string): void;
}
