import { defineBitFlags } from './bit-flags.js';
import type { Seg } from './segment.js';
import type { PendingControl, Session } from './session.js';

// Shared empty sentinels (most connections have one session and no out-of-order segment): frozen
// so a stray push can never fill the one instance every connection points at.
const NO_SEGS = Object.freeze([]) as readonly Seg[] as Seg[];
export const NO_SESSIONS = Object.freeze([]) as readonly Session[] as Session[];

/**
 * One captured client connection (by its online 4-tuple): capture ordering, the online
 * response base, and its replicas (sessions). Capture-side state lives here once, not per copy.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- its flags and sequence numbers are the generated accessors below
export class OnlineConn {
  /**
   * Sessions not yet retired: shared empty until the first one (most connections have exactly
   * one), and again once they are all retired.
   */
  sessions: Session[] = NO_SESSIONS;
  /** Live (not closed) sessions. */
  live = 0;
  /** ≥ 0 once every session closed: late packets are ignored until then. */
  lingerUntil = -1;
  /** The ConnFlags booleans (generated accessors). */
  bits = 0;
  /**
   * ConnSeqs backing store as int32 (small-integer fields, no heap number per field); the
   * accessors read them back as uint32.
   */
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;

  /** Captured out-of-order segments, sorted by seq (capture gaps); shared empty until needed. */
  ooo: Seg[] = NO_SEGS;
  gapSinceUs = -1;
  fin: PendingControl | null = null;
  /** Captured TCP checksums of this connection: -1 not checked yet, 1 valid, 0 not (re-sum). */
  capturedCsumValid = -1;

  lastCapTs = 0;

  // Handshake options as captured (fake SYN: inferred).
  synWindow = 65535;
  synMss = -1;
  synWscale = -1;

  constructor(
    readonly clientIp: number,
    readonly clientPort: number,
    readonly serverIp: number,
    readonly serverPort: number,
    /** Client address after -H (pool mapping happens per replica). */
    readonly localClientIp: number,
    readonly transferIdx: number,
    readonly fromSyn: boolean,
    capIsn: number,
  ) {
    this.capIsn = capIsn;
    this.capNxt = (capIsn + 1) >>> 0;
  }
}
/**
 * OnlineConn booleans, as bits of `bits`:
 *   detached   taken off the online table (a new incarnation took the tuple)
 *   started    at least one session was opened (its sessions may all be retired since)
 *   hasBase    `base` is known; hasLast: lastCapTs / lastCapAck are
 *   synSackOk, synTs   handshake options as captured (fake SYN: inferred)
 */
const CONN_FLAG_NAMES = ['detached', 'started', 'hasBase', 'hasLast', 'synSackOk', 'synTs'] as const;
/**
 * OnlineConn sequence numbers (uint32), backed by s0..s3:
 *   capIsn      captured ISN (or first seq − 1 without a SYN)
 *   capNxt      next captured seq expected in order
 *   base        online server ISN + 1: the ack of the first ACK-bearing client packet
 *   lastCapAck  ack of the last captured packet
 */
const CONN_SEQ_NAMES = ['capIsn', 'capNxt', 'base', 'lastCapAck'] as const;
type ConnFlags = { -readonly [K in (typeof CONN_FLAG_NAMES)[number]]: boolean };
type ConnSeqs = { -readonly [K in (typeof CONN_SEQ_NAMES)[number]]: number };
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- typed by the tables
export interface OnlineConn extends ConnFlags, ConnSeqs {}
defineBitFlags(OnlineConn.prototype, CONN_FLAG_NAMES);
const SEQ_SLOTS = ['s0', 's1', 's2', 's3'] as const;
CONN_SEQ_NAMES.forEach((name, i) => {
  const slot = SEQ_SLOTS[i] as (typeof SEQ_SLOTS)[number];
  Object.defineProperty(OnlineConn.prototype, name, {
    get(this: OnlineConn): number {
      return this[slot] >>> 0;
    },
    set(this: OnlineConn, v: number) {
      this[slot] = v | 0;
    },
    enumerable: false,
    configurable: false,
  });
});
