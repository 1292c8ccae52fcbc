/**
 * Interceptor counters: plain numbers, bumped in place on the hot path, copied by `snapshot()`
 * for the periodic log line and the exit summary.
 */
export class InterceptStats {
  /** Packets handed to us by NFQUEUE. */
  queued = 0;
  /** DROP verdicts (responses taken away from the network). */
  dropped = 0;
  /** ACCEPT verdicts for pass-listed destinations (-x). */
  passed = 0;
  /** ACCEPT verdicts for packets that are not IPv4/TCP at all (the rule queued too much). */
  foreign = 0;
  /** Truncated or malformed IPv4/TCP packets (DROP, nothing forwarded). */
  invalid = 0;
  /** Records written to copier connections, and the frames that carried them. */
  records = 0;
  frames = 0;
  /**
   * TCP payload bytes of the responses taken (÷ (dropped − invalid) is the payload per queued packet:
   * up to ~64 KB when the kernel queues GSO packets whole, ≤ MSS when it segments them first).
   */
  responseBytes = 0;
  /** Where records went: exact route, stable hash, delay table, nowhere (no copier). */
  routed = 0;
  hashed = 0;
  delayed = 0;
  delayFlushed = 0;
  delayExpired = 0;
  delayOverflow = 0;
  discarded = 0;
  /** Records refused because a copier's queue was over its byte bound. */
  backpressureDrops = 0;
  /** Records lost because their connection closed before the frame was written. */
  lostOnClose = 0;
  clientAdd = 0;
  clientDel = 0;
  routes = 0;
  connsAccepted = 0;
  connsRefused = 0;
  connsClosed = 0;
  connsLive = 0;
  badMessages = 0;
  /** Filled in by the NFQUEUE adapter: socket overruns and the kernel's own queue counters. */
  enobufs = 0;
  kernelQueueDropped = 0;
  kernelUserDropped = 0;

  snapshot(): Readonly<Record<StatName, number>> {
    const out = {} as Record<StatName, number>;
    for (const k of STAT_NAMES) out[k] = this[k];
    return out;
  }
}

export const STAT_NAMES = [
  'queued',
  'dropped',
  'passed',
  'foreign',
  'invalid',
  'records',
  'frames',
  'responseBytes',
  'routed',
  'hashed',
  'delayed',
  'delayFlushed',
  'delayExpired',
  'delayOverflow',
  'discarded',
  'backpressureDrops',
  'lostOnClose',
  'clientAdd',
  'clientDel',
  'routes',
  'connsAccepted',
  'connsRefused',
  'connsClosed',
  'connsLive',
  'badMessages',
  'enobufs',
  'kernelQueueDropped',
  'kernelUserDropped',
] as const;

export type StatName = (typeof STAT_NAMES)[number];

/** One log line: `name=value` pairs in a fixed order (grep- and journald-friendly). */
export function formatStats(s: Readonly<Record<StatName, number>>): string {
  return STAT_NAMES.map((k) => `${k}=${s[k]}`).join(' ');
}
